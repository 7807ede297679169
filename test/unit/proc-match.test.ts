/**
 * vrrp_track_process without the kernel: matching (keepalived 2.2.7 check_params / check_process),
 * the quorum state machine (fork_delay, terminate_delay, quorum_max), proc_event parsing on
 * datagrams captured from this kernel, and the ProcessWatch bookkeeping on a fake event source
 * and a fake /proc.
 */
import type { Logger } from 'pino';
import { describe, expect, it } from 'vitest';
import type { TrackProcessModel } from '../../src/config/model-track.js';
import { Scheduler } from '../../src/daemon/scheduler.js';
import { ProcessTracker, ProcessWatch } from '../../src/daemon/trackers/process.js';
import { checkParams, cmdlineReadLength, compileMatcher, matchCmdline, matchComm, nameProblem, Quorum } from '../../src/daemon/trackers/proc-match.js';
import { mcastRequest, parseProcDatagram, parseStat, type ProcEvent, type ProcEventSource, type ProcFs } from '../../src/os/proc-connector.js';

const nul = (...args: string[]): Buffer => Buffer.from(args.map((a) => `${a}\0`).join(''), 'latin1');
const model = (o: Partial<TrackProcessModel>): TrackProcessModel => ({
  name: 'tp', process: 'haproxy', params: [], paramMatch: null, weight: 0, weightReverse: false, quorum: 1, quorumMax: null,
  terminateDelayS: 0, forkDelayS: 0, fullCommand: false, pos: { file: 'k.conf', line: 1, col: 1 }, ...o,
});

describe('process name matching', () => {
  it('compares the whole name with the 15-byte comm: a longer name never matches (as keepalived) and is reported', () => {
    const long = compileMatcher(model({ process: 'abcdefghijklmnopq' }));
    expect(matchComm(long, 'abcdefghijklmno')).toBe(false);
    expect(nameProblem('tp', long)).toMatch(/longer than the kernel's 15-byte process name.*first 15 bytes/);
    const fifteen = compileMatcher(model({ process: 'abcdefghijklmno' }));
    expect(matchComm(fifteen, 'abcdefghijklmno')).toBe(true);
    expect(nameProblem('tp', fifteen)).toBeNull();
    expect(matchComm(fifteen, 'abcdefghijklmn')).toBe(false);
    expect(nameProblem('tp', compileMatcher(model({ process: '/usr/sbin/haproxy' })))).toMatch(/holds a '\/'/);
    // full_command compares argv[0]: long names and paths are fine
    expect(nameProblem('tp', compileMatcher(model({ process: '/usr/sbin/a-very-long-daemon-name', fullCommand: true })))).toBeNull();
  });

  it('compares bytes: a UTF-8 name against the latin1 view of what the kernel gives', () => {
    const m = compileMatcher(model({ process: 'dæmon' }));
    expect(matchComm(m, Buffer.from('dæmon', 'utf8').toString('latin1'))).toBe(true);
    expect(matchComm(m, 'dæmon')).toBe(false);
  });

  it('full_command without parameters: argv[0] only, whatever follows', () => {
    const m = compileMatcher(model({ process: '/usr/sbin/haproxy', fullCommand: true }));
    expect(matchCmdline(m, nul('/usr/sbin/haproxy', '-f', 'x.cfg'))).toBe(true);
    expect(matchCmdline(m, nul('haproxy', '-f'))).toBe(false);
    expect(matchCmdline(m, nul('/usr/sbin/haproxy2'))).toBe(false);
  });

  const table: [string, 'exact' | 'initial' | 'partial', string[], string[], boolean][] = [
    ['exact: same', 'exact', ['-f', 'a.cfg'], ['-f', 'a.cfg'], true],
    ['exact: one more', 'exact', ['-f', 'a.cfg'], ['-f', 'a.cfg', '-q'], false],
    ['exact: one less', 'exact', ['-f', 'a.cfg'], ['-f'], false],
    ['exact: longer last', 'exact', ['-f', 'a.cfg'], ['-f', 'a.cfg2'], false],
    ['exact, none configured: none given', 'exact', [], [], true],
    ['exact, none configured: some given', 'exact', [], ['-q'], false],
    ['partial: first ones', 'partial', ['-f', 'a.cfg'], ['-f', 'a.cfg', '-q'], true],
    ['partial: longer last is not equal', 'partial', ['-f', 'a.cfg'], ['-f', 'a.cfg2'], false],
    ['partial: other order', 'partial', ['-f', 'a.cfg'], ['a.cfg', '-f'], false],
    ['partial, none configured', 'partial', [], ['-x'], true],
    ['initial: last may be longer', 'initial', ['-f', 'a.cf'], ['-f', 'a.cfg'], true],
    ['initial: and more may follow', 'initial', ['-f', 'a.cf'], ['-f', 'a.cfg', '-q'], true],
    ['initial: an earlier one may not be longer', 'initial', ['-f', 'a.cf'], ['-ff', 'a.cf'], false],
    ['initial: too short', 'initial', ['-f', 'a.cfg'], ['-f', 'a.c'], false],
    ['initial: one empty parameter matches anything', 'initial', [''], ['-q'], true],
  ];
  for (const [what, mode, want, have, ok] of table) {
    it(`param_match ${what}`, () => {
      const m = compileMatcher(model({ process: 'haproxy', params: want, paramMatch: mode, fullCommand: true }));
      expect(checkParams(mode, m.params, nul(...have))).toBe(ok);
      expect(matchCmdline(m, nul('haproxy', ...have))).toBe(ok);
    });
  }

  it('reads enough of the command line to see that it is longer than configured', () => {
    const ms = [compileMatcher(model({ process: 'haproxy', params: ['-f', 'a.cfg'], paramMatch: 'exact', fullCommand: true })), compileMatcher(model({ process: 'x' }))];
    const len = cmdlineReadLength(ms);
    expect(len).toBe('haproxy'.length + 1 + '-f\0a.cfg\0'.length + 2);
    const cut = (b: Buffer): Buffer => b.subarray(0, len);
    expect(matchCmdline(ms[0]!, cut(nul('haproxy', '-f', 'a.cfg')))).toBe(true);
    expect(matchCmdline(ms[0]!, cut(nul('haproxy', '-f', 'a.cfg', '-q', 'more', 'and', 'more')))).toBe(false);
    expect(cmdlineReadLength([compileMatcher(model({ process: 'x' }))])).toBe(0);
  });

  it('parses /proc/PID/stat with a ")" in the name, and the state', () => {
    expect(parseStat('123 (we)ird) Z 1 2 3')).toEqual({ comm: 'we)ird', state: 'Z' });
    expect(parseStat('9 (sleep) S 1')).toEqual({ comm: 'sleep', state: 'S' });
    expect(parseStat('garbage')).toBeNull();
  });
});

describe('Quorum (keepalived track_process.c transitions)', () => {
  const make = (quorum: number, max: number | null, forkS = 0, termS = 0) => {
    const log: string[] = [];
    const q = new Quorum(quorum, max, forkS, termS, (kind, s) => log.push(kind ? `arm ${kind} ${s}` : 'cancel'), (up) => log.push(up ? 'UP' : 'DOWN'));
    q.init(0);
    return { q, log };
  };

  it('quorum 2: up at the second process, down when one of two exits', () => {
    const { q, log } = make(2, null);
    q.added('match');
    expect(q.haveQuorum).toBe(false);
    q.added('match');
    q.added('match');
    q.removed('exit');
    expect(log).toEqual(['UP']);
    q.removed('exit');
    expect(log).toEqual(['UP', 'DOWN']);
  });

  it('quorum_max: too many processes is down, back within the limit is up', () => {
    const { q, log } = make(1, 2);
    q.added('match');
    q.added('match');
    q.added('match');
    expect(q.haveQuorum).toBe(false);
    q.removed('exit');
    expect(q.haveQuorum).toBe(true);
    expect(log).toEqual(['UP', 'DOWN', 'UP']);
  });

  it('quorum_max 0 (quorum 0): up with no process, down with one', () => {
    const { q, log } = make(0, 0);
    expect(q.haveQuorum).toBe(true);
    q.added('match');
    q.removed('exit');
    expect(log).toEqual(['DOWN', 'UP']);
  });

  it('fork_delay only after a fork; an exit during it cancels it', () => {
    const { q, log } = make(1, null, 0.5, 0);
    q.added('fork');
    expect(log).toEqual(['arm fork 0.5']);
    expect(q.haveQuorum).toBe(false);
    q.fired();
    expect(log).toEqual(['arm fork 0.5', 'UP']);
    q.removed('exit');
    q.added('fork');
    q.removed('exit'); // during the fork delay: cancelled, stays down
    expect(log.slice(2)).toEqual(['DOWN', 'arm fork 0.5', 'cancel']);
    expect(q.haveQuorum).toBe(false);
    q.added('match'); // an exec: at once
    expect(q.haveQuorum).toBe(true);
  });

  it('terminate_delay only after an exit; a fork or an exec during it cancels it (no bounce)', () => {
    const { q, log } = make(1, null, 0, 2);
    q.added('match');
    q.removed('exit');
    expect(q.haveQuorum).toBe(true);
    q.added('fork');
    expect(log).toEqual(['UP', 'arm terminate 2', 'cancel']);
    q.removed('exit');
    q.fired();
    expect(q.haveQuorum).toBe(false);
    q.added('match');
    q.removed('unmatch'); // no longer matching after an exec: at once
    expect(log.slice(-3)).toEqual(['DOWN', 'UP', 'DOWN']);
  });

  it('a rescan count applies the delay of its direction', () => {
    const { q, log } = make(1, null, 1, 3);
    q.rescanned(2);
    expect(log).toEqual(['arm fork 1']);
    q.fired();
    q.rescanned(0);
    expect(log.slice(1)).toEqual(['UP', 'arm terminate 3']);
  });
});

describe('proc_event parsing (datagrams captured from the kernel)', () => {
  const hex = (s: string): Buffer => Buffer.from(s, 'hex');
  const FORK = '4c00000003000000b1280000000000000100000001000000b128000000000000280000000100000001000000b588b532f7120000e27d0000e27d0000f47d0000f47d00000000000000000000';
  const EXEC = '4c00000003000000bd2b0000000000000100000001000000bd2b000000000000280000000200000000000000cb0af532f7120000f47d0000f47d000000000000000000000000000000000000';
  const EXIT = '4c00000003000000be2b0000000000000100000001000000be2b000000000000280000000000008000000000d6db2333f7120000f47d0000f47d00000003000011000000e27d0000e27d0000';
  const ACK = '4c00000003000000bc2b0000000000000100000001000000bc2b00000100000028000000000000000000000037d87d2ff7120000000000000000000000000000000000000000000000000000';
  const COMM = '4c00000003000000162900000000000001000000010000001629000000000000280000000002000001000000b7e0adc5f8120000167e0000167e00007674636f6d6d74657374000000000000';
  const parse = (b: Buffer): { events: ProcEvent[]; bad: number } => {
    const events: ProcEvent[] = [];
    const bad = parseProcDatagram(b, (e) => events.push(e));
    return { events, bad };
  };

  it('fork, exec, exit, comm and the subscription ack', () => {
    expect(parse(hex(FORK)).events).toEqual([{ what: 'fork', cpu: 1, seq: 0x28b1, parentPid: 32226, parentTgid: 32226, childPid: 32244, childTgid: 32244 }]);
    expect(parse(hex(EXEC)).events).toEqual([{ what: 'exec', cpu: 0, seq: 0x2bbd, pid: 32244, tgid: 32244 }]);
    expect(parse(hex(EXIT)).events).toEqual([{ what: 'exit', cpu: 0, seq: 0x2bbe, pid: 32244, tgid: 32244, exitCode: 0x300, exitSignal: 17 }]);
    expect(parse(hex(ACK)).events).toEqual([{ what: 'ack', cpu: 0, seq: 0x2bbc, err: 0 }]);
    expect(parse(hex(COMM)).events).toEqual([{ what: 'comm', cpu: 1, seq: 0x2916, pid: 32278, tgid: 32278, comm: 'vtcommtest' }]);
  });

  it('drops what is short, of another connector, or an event flagged as an ack', () => {
    expect(parse(hex(EXEC).subarray(0, 50))).toEqual({ events: [], bad: 1 });
    const other = hex(EXEC);
    other.writeUInt32LE(2, 16); // CN_IDX_CIFS
    expect(parse(other)).toEqual({ events: [], bad: 1 });
    const acked = hex(EXEC);
    acked.writeUInt32LE(1, 28);
    expect(parse(acked)).toEqual({ events: [], bad: 1 });
    expect(parse(Buffer.concat([hex(FORK), hex(EXEC)])).events.map((e) => e.what)).toEqual(['fork', 'exec']);
  });

  it('builds the PROC_CN_MCAST_LISTEN request as keepalived sends it', () => {
    expect(mcastRequest('listen').toString('hex')).toBe('28000000030000000000000000000000' + '0100000001000000000000000000000004000000' + '01000000');
    expect(mcastRequest('ignore').readUInt32LE(36)).toBe(2);
  });
});

/** A fake kernel: events pushed by the test, and a /proc whose reads wait until released. */
class FakeSource implements ProcEventSource {
  readonly inherited = false;
  readonly counters = { datagrams: 0, events: 0, dropped: 0, overruns: 0, missed: 0 };
  onEvent: (e: ProcEvent) => void = () => undefined;
  onLost: (why: string) => void = () => undefined;
  closed = false;
  seq = 0;
  start(onEvent: (e: ProcEvent) => void, onLost: (why: string) => void): void {
    this.onEvent = onEvent;
    this.onLost = onLost;
  }
  growRcvbuf(): number {
    return 1 << 20;
  }
  close(): void {
    this.closed = true;
  }
  send(e: Record<string, unknown>): void {
    this.onEvent({ cpu: 0, seq: this.seq++, ...e } as ProcEvent);
  }
}

function fakeProc(): { fs: ProcFs; procs: Map<number, string>; hold: () => () => void } {
  const procs = new Map<number, string>();
  let gate: Promise<void> = Promise.resolve();
  const wait = async <T>(f: () => T): Promise<T> => {
    await gate;
    return f();
  };
  return {
    procs,
    hold: () => {
      let release = (): void => undefined;
      gate = new Promise((r) => (release = r));
      return () => release();
    },
    fs: {
      pids: () => wait(() => [...procs.keys()]),
      stat: (pid) => wait(() => (procs.has(pid) ? { comm: procs.get(pid)!, state: 'S' } : null)),
      comm: (pid) => wait(() => procs.get(pid) ?? null),
      cmdline: (pid) => wait(() => (procs.has(pid) ? nul(procs.get(pid)!) : null)),
    },
  };
}

const quietLog = (lines: string[] = []): Logger => {
  const f = (_o: unknown, msg?: string): void => void lines.push(String(msg ?? _o));
  return { info: f, warn: f, debug: () => undefined, error: f } as unknown as Logger;
};
const tick = (ms = 5): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('ProcessWatch bookkeeping (fake kernel)', () => {
  const setup = async (over: Partial<TrackProcessModel> = {}) => {
    const src = new FakeSource();
    const proc = fakeProc();
    proc.procs.set(10, 'haproxy');
    proc.procs.set(11, 'bash');
    const lines: string[] = [];
    const watch = new ProcessWatch({ log: quietLog(lines), source: () => src, procfs: proc.fs, rescanDelayMs: 20, confirmMs: 60_000 });
    const scheduler = new Scheduler();
    const t = new ProcessTracker(model({ quorum: 2, ...over }), { watch, scheduler, log: quietLog(lines) });
    const levels: boolean[] = [];
    t.onChange = (l) => void levels.push(l.kind === 'bool' && l.up === true);
    await t.start();
    return { src, proc, watch, t, levels, lines, scheduler };
  };

  it('start-up scan, a fork of a counted process, exits; threads ignored', async () => {
    const { src, t, levels, lines } = await setup();
    expect(t.status()).toMatchObject({ processes: 1, quorum: 2, state: 'down' });
    src.send({ what: 'fork', parentPid: 10, parentTgid: 10, childPid: 13, childTgid: 10 }); // a thread
    expect(t.status().processes).toBe(1);
    src.send({ what: 'fork', parentPid: 11, parentTgid: 11, childPid: 12, childTgid: 12 }); // bash's child
    src.send({ what: 'fork', parentPid: 10, parentTgid: 10, childPid: 14, childTgid: 14 });
    expect(t.status()).toMatchObject({ processes: 2, state: 'up' });
    src.send({ what: 'exit', pid: 13, tgid: 10, exitCode: 0, exitSignal: 0 }); // the thread
    src.send({ what: 'exit', pid: 14, tgid: 14, exitCode: 0, exitSignal: 17 });
    expect(levels).toEqual([true, false]);
    expect(lines).toContain('Quorum gained for tracked process tp');
    expect(lines).toContain('Quorum lost for tracked process tp');
  });

  it('an exec is read asynchronously but applied in order: a following exit is not undone', async () => {
    const { src, proc, t } = await setup({ quorum: 1 });
    proc.procs.set(20, 'haproxy');
    const release = proc.hold();
    src.send({ what: 'exec', pid: 20, tgid: 20 });
    src.send({ what: 'exit', pid: 20, tgid: 20, exitCode: 0, exitSignal: 17 }); // its /proc entry (a zombie) is still readable
    src.send({ what: 'exit', pid: 10, tgid: 10, exitCode: 0, exitSignal: 17 });
    expect(t.status().processes).toBe(1);
    release();
    await tick();
    expect(t.status()).toMatchObject({ processes: 0, state: 'down' });
  });

  it('an exec into another name, and a name change (PR_SET_NAME), stop the count; a change to the name starts it', async () => {
    const { src, proc, t } = await setup({ quorum: 1 });
    proc.procs.set(10, 'bash');
    src.send({ what: 'exec', pid: 10, tgid: 10 });
    await tick();
    expect(t.status().processes).toBe(0);
    src.send({ what: 'comm', pid: 11, tgid: 11, comm: 'haproxy' });
    expect(t.status().processes).toBe(1);
    src.send({ what: 'comm', pid: 11, tgid: 11, comm: 'haproxy' }); // no change
    expect(t.status().processes).toBe(1);
    src.send({ what: 'comm', pid: 11, tgid: 11, comm: 'worker' });
    expect(t.status()).toMatchObject({ processes: 0, state: 'down' });
  });

  it('lost events: /proc is counted again after the delay', async () => {
    const { src, proc, t, lines } = await setup({ quorum: 1 });
    proc.procs.set(30, 'haproxy');
    src.onLost('the kernel dropped process events (receive queue full, ENOBUFS)');
    expect(t.status().processes).toBe(1);
    await tick(60);
    expect(t.status().processes).toBe(2);
    expect(lines.some((l) => /ENOBUFS.*counting processes again from \/proc/.test(l))).toBe(true);
  });

  it('stop: no more counting, and the connector this process opened is closed with the last tracker', async () => {
    const { src, t } = await setup({ quorum: 1 });
    t.stop();
    src.send({ what: 'fork', parentPid: 10, parentTgid: 10, childPid: 40, childTgid: 40 });
    expect(t.status().processes).toBe(1);
    expect(src.closed).toBe(true);
  });
});

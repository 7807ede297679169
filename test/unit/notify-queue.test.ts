/**
 * Notify scripts in order (issue #19): the queue of one instance runs its scripts one after
 * the other on real processes, so a slow notify_backup cannot be overtaken by the next
 * notify_master (keepalived forks both at once); different instances do not wait for each
 * other; a script past its timeout is killed and reported; a full queue drops its oldest job.
 * And the Notifier's keepalived rules (vrrp_notify.c), with a recording queue.
 */
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InstanceModel } from '../../src/config/model.js';
import type { NotifyScript, SyncGroupModel } from '../../src/config/model-track.js';
import { emptyNotify } from '../../src/config/kw-notify.js';
import type { ReadyScript } from '../../src/daemon/notify/check.js';
import { Notifier } from '../../src/daemon/notify/notifier.js';
import { MAX_PENDING, NotifyQueues, type NotifyRunEvent } from '../../src/daemon/notify/queue.js';

let dir = '';
const log = pino({ level: 'silent' });
const ready = (keyword: string, argv: string[]): ReadyScript => ({ keyword, argv, uid: 0, gid: 0, at: 'test' });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vipd-nq-'));
  await writeFile(join(dir, 'rec.sh'), '#!/bin/sh\nf="$1"; d="$2"; shift 2\necho "start $*" >> "$f"\nsleep "$d"\necho "end $*" >> "$f"\n');
  await chmod(join(dir, 'rec.sh'), 0o755);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('NotifyQueues on real processes', () => {
  it('one instance: a slow notify_backup ends before the next notify_master starts; another instance does not wait', async () => {
    const f = join(dir, 'order.log');
    const events: NotifyRunEvent[] = [];
    const q = new NotifyQueues(log, (e) => events.push(e));
    const rec = (kw: string, delay: string, word: string) => ({ script: ready(kw, [join(dir, 'rec.sh'), f, delay, word]), args: [], timeoutMs: 5000 });
    q.enqueue({ instance: 'A' }, 'BACKUP', [rec('notify_backup', '0.4', 'A-backup')]);
    q.enqueue({ instance: 'A' }, 'MASTER', [rec('notify_master', '0', 'A-master')]);
    q.enqueue({ instance: 'B' }, 'MASTER', [rec('notify_master', '0', 'B-master')]);
    expect(await q.drained(5000)).toBe(true);
    const lines = (await readFile(f, 'utf8')).trim().split('\n');
    const at = (l: string): number => lines.indexOf(l);
    expect(at('end A-backup')).toBeLessThan(at('start A-master'));
    expect(at('end B-master')).toBeLessThan(at('end A-backup')); // B ran meanwhile
    expect(events.map((e) => `${e.instance} ${e.script} ${e.exitCode}`)).toEqual(expect.arrayContaining(['A notify_backup 0', 'A notify_master 0', 'B notify_master 0']));
    expect(q.counters).toMatchObject({ runs: 3, failures: 0, timeouts: 0, dropped: 0 });
  });

  it('a script past its timeout is killed, counted and reported; the next one then runs', async () => {
    const f = join(dir, 'timeout.log');
    const events: NotifyRunEvent[] = [];
    const q = new NotifyQueues(log, (e) => events.push(e));
    q.enqueue({ instance: 'A' }, 'BACKUP', [{ script: ready('notify_backup', [join(dir, 'rec.sh'), f, '30', 'hang']), args: [], timeoutMs: 300 }]);
    q.enqueue({ instance: 'A' }, 'MASTER', [{ script: ready('notify_master', [join(dir, 'rec.sh'), f, '0', 'next']), args: [], timeoutMs: 5000 }]);
    const t0 = Date.now();
    expect(await q.drained(5000)).toBe(true);
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(events[0]).toMatchObject({ script: 'notify_backup', timedOut: true });
    expect(events[1]).toMatchObject({ script: 'notify_master', exitCode: 0 });
    expect(q.counters.timeouts).toBe(1);
  });

  it('STOP runs beside a script of the same instance that hangs (keepalived forks notify_stop whatever runs)', async () => {
    const f = join(dir, 'stop.log');
    const q = new NotifyQueues(log, () => undefined);
    q.enqueue({ instance: 'A' }, 'MASTER', [{ script: ready('notify_master', [join(dir, 'rec.sh'), f, '3', 'hang']), args: [], timeoutMs: 2000 }]);
    q.runAside({ instance: 'A' }, 'STOP', [{ script: ready('notify_stop', [join(dir, 'rec.sh'), f, '0', 'stop']), args: [], timeoutMs: 1000 }]);
    const t0 = Date.now();
    for (;;) {
      const text = await readFile(f, 'utf8').catch(() => '');
      if (text.includes('end stop')) break;
      expect(Date.now() - t0).toBeLessThan(1500);
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(await readFile(f, 'utf8')).not.toContain('end hang'); // still running
    expect(await q.drained(5000)).toBe(true); // the hung one ends at its timeout
  });

  it('beyond MAX_PENDING waiting jobs the oldest waiting one is dropped and counted', async () => {
    const q = new NotifyQueues(log, () => undefined, () => ({ pid: 1, cancel: () => undefined, done: new Promise(() => undefined) }));
    for (let i = 0; i < MAX_PENDING + 3; i++) q.enqueue({ instance: 'A' }, `S${i}`, [{ script: ready('notify', ['/bin/true']), args: [], timeoutMs: 1000 }]);
    // the first runs (never ends), MAX_PENDING wait, 2 dropped
    expect(q.counters.dropped).toBe(2);
    expect(q.dropPending()).toBe(MAX_PENDING);
  });
});

describe('Notifier: keepalived 2.2.7 rules (vrrp_notify.c)', () => {
  const script = (line: number): NotifyScript => ({ argv: ['/bin/x'], user: null, pos: { file: 'k.conf', line, col: 1 } });
  function setup(notifyDeleted = false) {
    const n = { ...emptyNotify(), master: script(1), backup: script(2), fault: script(3), deleted: notifyDeleted ? script(4) : null, notifyDeleted, any: script(5), priorityChanges: true };
    const m = { name: 'VI_1', notify: n, smtpAlert: true } as unknown as InstanceModel;
    const g = { name: 'G', notify: { ...emptyNotify(), master: script(6), any: script(7) }, smtpAlert: false } as unknown as SyncGroupModel;
    const plan = new Map([...[n.master, n.backup, n.fault, n.deleted, n.any, g.notify.master, g.notify.any].filter((s): s is NotifyScript => !!s)].map((s) => [s, ready(`line${s.pos.line}`, s.argv)]));
    const jobs: string[] = [];
    const fifo: string[] = [];
    const mail: string[] = [];
    const queues = { enqueue: (o: { instance: string | null; group?: string }, state: string, calls: { script: ReadyScript; args: string[] }[]) => jobs.push(`${o.group ?? o.instance} ${state}: ${calls.map((c) => [c.script.keyword, ...c.args].join(' ')).join(', ')}`) } as unknown as NotifyQueues;
    const nt = new Notifier({ log, emit: () => undefined, plan, queues, fifo: { write: (l) => fifo.push(l) }, mail: { alert: (k, name, st, on) => mail.push(`${k} ${name} ${st} ${on}`) } });
    return { nt, m, g, jobs, fifo, mail };
  }

  it('instance: its state\'s script then `notify` with INSTANCE NAME STATE PRIORITY, the FIFO line, the mail', () => {
    const { nt, m, jobs, fifo, mail } = setup();
    nt.instance(m, 'MASTER', 150);
    expect(jobs).toEqual(['VI_1 MASTER: line1, line5 INSTANCE VI_1 MASTER 150']);
    expect(fifo).toEqual(['INSTANCE "VI_1" MASTER 150\n']);
    expect(mail).toEqual(['instance VI_1 MASTER true']);
  });

  it('group: GROUP NAME STATE 0; a member entering the state its group is already in sends nothing (after its first)', () => {
    const { nt, m, g, jobs, fifo } = setup();
    nt.group(g, 'MASTER');
    nt.instance(m, 'MASTER', 150, 'MASTER'); // first notifications of the instance: sent (notifies_sent false)
    nt.instance(m, 'FAULT', 150, 'FAULT');
    nt.instance(m, 'FAULT', 150, 'FAULT'); // already in the group's state: keepalived sends nothing
    expect(jobs).toEqual(['G MASTER: line6, line7 GROUP G MASTER 0', 'VI_1 MASTER: line1, line5 INSTANCE VI_1 MASTER 150']);
    expect(fifo[0]).toBe('GROUP "G" MASTER 0\n');
  });

  it('deleted: FAULT without notify_deleted, DELETED with it', () => {
    const a = setup(false);
    a.nt.instance(a.m, 'DELETED', 100);
    expect(a.jobs).toEqual(['VI_1 FAULT: line3, line5 INSTANCE VI_1 FAULT 100']);
    const b = setup(true);
    b.nt.instance(b.m, 'DELETED', 100);
    expect(b.jobs).toEqual(['VI_1 DELETED: line4, line5 INSTANCE VI_1 DELETED 100']);
  });

  it('priority changes and lower-priority masters: FIFO lines', () => {
    const { nt, m, fifo } = setup();
    nt.priority(m, true, 90);
    nt.lowerPriority(m, 150);
    expect(fifo).toEqual(['INSTANCE "VI_1" MASTER_PRIORITY 90\n', 'INSTANCE "VI_1" MASTER_RX_LOWER_PRI 150\n']);
  });
});

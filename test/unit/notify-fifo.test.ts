/**
 * The notify FIFO writer on real FIFOs: keepalived's line format, creation and removal, a
 * reader getting the lines, no blocking and counted drops when nobody reads, readers that go
 * and come back, the fifo script (path appended, stopped at close), refusals.
 */
import { closeSync, constants as C, openSync, readSync } from 'node:fs';
import { chmod, lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultGlobals } from '../../src/config/kw-global.js';
import type { GlobalModel } from '../../src/config/model.js';
import { FIFO_STATES, fifoLine, NotifyFifos } from '../../src/daemon/notify/fifo.js';
import type { UserDb } from '../../src/daemon/trackers/script-security.js';
import { native } from '../../src/os/native.js';

let dir = '';
let n = 0;
const opened: NotifyFifos[] = [];
const readers: number[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vipd-fifo-'));
});
afterAll(async () => {
  for (const f of opened) await f.close();
  for (const fd of readers) closeSync(fd);
  await rm(dir, { recursive: true, force: true });
});

/** No keepalived_script, whatever this host has: scripts without a user run as root. */
const db: UserDb = {
  user: async (name) => (name === 'nobody' ? { uid: 65534, gid: 65534 } : null),
  group: async (name) => (name === 'nogroup' ? 65534 : null),
};

function logger(): { log: Logger; lines: { level: string; msg: string; o: Record<string, unknown> }[] } {
  const lines: { level: string; msg: string; o: Record<string, unknown> }[] = [];
  const at = (level: string) => (o: Record<string, unknown>, msg: string) => lines.push({ level, msg, o });
  return { log: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') } as unknown as Logger, lines };
}

function globals(extra: Partial<GlobalModel>, other: Record<string, string[]> = {}): GlobalModel {
  return { ...defaultGlobals(), ...extra, other };
}

const fresh = (): string => join(dir, `f${++n}.fifo`);

async function openFifos(g: GlobalModel): Promise<{ fifos: NotifyFifos; lines: ReturnType<typeof logger>['lines'] }> {
  const { log, lines } = logger();
  const fifos = await NotifyFifos.open(g, log, { userDb: db });
  opened.push(fifos);
  return { fifos, lines };
}

/** A reader that never blocks: what is in the pipe now. */
function reader(path: string): number {
  const fd = openSync(path, C.O_RDONLY | C.O_NONBLOCK);
  readers.push(fd);
  return fd;
}
function drain(fd: number): string {
  const buf = Buffer.alloc(65536);
  let out = '';
  for (;;) {
    try {
      const k = readSync(fd, buf, 0, buf.length, null);
      if (k <= 0) return out;
      out += buf.subarray(0, k).toString();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EAGAIN') return out;
      throw e;
    }
  }
}
function closeReader(fd: number): void {
  closeSync(fd);
  readers.splice(readers.indexOf(fd), 1);
}

async function until(what: string, ok: () => Promise<boolean>, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await ok()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}
/** The open flags (octal in /proc/self/fdinfo) of this process's descriptors on `path`. */
async function flagsOf(path: string): Promise<number[]> {
  const out: number[] = [];
  for (const fd of await readdir('/proc/self/fd')) {
    if ((await readlink(`/proc/self/fd/${fd}`).catch(() => '')) !== path) continue;
    const info = await readFile(`/proc/self/fdinfo/${fd}`, 'utf8').catch(() => '');
    const m = /^flags:\s+([0-7]+)/m.exec(info);
    if (m) out.push(parseInt(m[1]!, 8));
  }
  return out;
}

const alive = async (pid: number): Promise<boolean> => {
  const st = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null);
  return st !== null && !/^\S+ \(.*\) Z/.test(st);
};

describe('fifoLine', () => {
  it("is keepalived's `TYPE \"NAME\" STATE PRIORITY\\n`", () => {
    expect(fifoLine('INSTANCE', 'VI_1', 'MASTER', 100)).toBe('INSTANCE "VI_1" MASTER 100\n');
    expect(fifoLine('GROUP', 'G1', 'BACKUP', 0)).toBe('GROUP "G1" BACKUP 0\n');
    expect(fifoLine('INSTANCE', 'VI_1', 'MASTER_RX_LOWER_PRI', 255)).toBe('INSTANCE "VI_1" MASTER_RX_LOWER_PRI 255\n');
    expect(FIFO_STATES).toEqual(['MASTER', 'BACKUP', 'FAULT', 'STOP', 'DELETED', 'MASTER_RX_LOWER_PRI', 'MASTER_PRIORITY', 'BACKUP_PRIORITY']);
  });
});

describe('NotifyFifos', () => {
  it('creates a missing FIFO (mode 0644 less the umask), a reader gets the lines, and close removes it', async () => {
    const path = fresh();
    const { fifos } = await openFifos(globals({ notifyFifo: { path, script: null } }));
    const s = await lstat(path);
    expect(s.isFIFO()).toBe(true);
    const mask = process.umask();
    expect(s.mode & 0o777).toBe(0o644 & ~mask);
    // O_RDWR (a reader itself: no EPIPE), O_NONBLOCK (never blocks), O_CLOEXEC (not in scripts)
    const want = C.O_RDWR | C.O_NONBLOCK | 0o2000000;
    expect((await flagsOf(path)).map((f) => f & want)).toEqual([want]);
    const r = reader(path);
    fifos.write(fifoLine('INSTANCE', 'VI_1', 'MASTER', 100));
    fifos.write(fifoLine('GROUP', 'G1', 'MASTER', 0));
    expect(drain(r)).toBe('INSTANCE "VI_1" MASTER 100\nGROUP "G1" MASTER 0\n');
    expect(fifos.stats()).toEqual([{ path, written: 2, dropped: 0 }]);
    await fifos.close();
    await expect(lstat(path)).rejects.toMatchObject({ code: 'ENOENT' });
    closeReader(r);
  });

  it('leaves a FIFO that existed before; chowns one it creates to the USER of the line; two FIFOs get every line', async () => {
    const pre = fresh();
    native().mkfifo(pre, 0o600);
    const mine = fresh();
    const { fifos } = await openFifos(globals({ notifyFifo: { path: pre, script: null }, vrrpNotifyFifo: { path: mine, script: null } }, { vrrp_notify_fifo: [mine, 'nobody', 'nogroup'] }));
    expect(await stat(mine)).toMatchObject({ uid: 65534, gid: 65534 });
    expect((await stat(pre)).uid).toBe(process.geteuid!());
    const [a, b] = [reader(pre), reader(mine)];
    fifos.write(fifoLine('INSTANCE', 'VI_2', 'BACKUP', 90));
    expect([drain(a), drain(b)]).toEqual(['INSTANCE "VI_2" BACKUP 90\n', 'INSTANCE "VI_2" BACKUP 90\n']);
    await fifos.close();
    expect((await lstat(pre)).isFIFO()).toBe(true);
    await expect(lstat(mine)).rejects.toMatchObject({ code: 'ENOENT' });
    closeReader(a);
    closeReader(b);
  });

  it('with nobody reading, 10000 writes never block: drops counted once the pipe is full, one warning per 10 s', async () => {
    const path = fresh();
    const { fifos, lines } = await openFifos(globals({ notifyFifo: { path, script: null } }));
    const line = fifoLine('INSTANCE', 'VI_1', 'MASTER', 100);
    const times: number[] = [];
    const t0 = performance.now();
    for (let i = 0; i < 10_000; i++) {
      const t = performance.now();
      fifos.write(line);
      times.push(performance.now() - t);
    }
    const total = performance.now() - t0;
    times.sort((x, y) => x - y);
    expect(total).toBeLessThan(2000);
    // ~0.01 ms each here; a preemption or a GC pause may hit a few (a blocking write never returns)
    expect(times[Math.floor(times.length * 0.99)]).toBeLessThan(1);
    expect(times[times.length - 1]).toBeLessThan(250);
    const [st] = fifos.stats();
    expect(st!.written + st!.dropped).toBe(10_000);
    expect(st!.written * line.length).toBeLessThanOrEqual(1 << 20); // the pipe's capacity, not more
    expect(st!.written).toBeGreaterThan(0);
    expect(st!.dropped).toBeGreaterThan(5_000);
    const warns = lines.filter((l) => l.level === 'warn' && l.msg.includes('dropped'));
    expect(warns).toHaveLength(1);
    expect(warns[0]!.o).toMatchObject({ fifo: path, dropped: 1 });
    await fifos.close(); // tells the drops not yet told
    const told = lines.filter((l) => l.level === 'warn' && l.msg.includes('dropped'));
    expect(told).toHaveLength(2);
    expect(told[1]!.o).toMatchObject({ dropped: st!.dropped - 1, droppedTotal: st!.dropped });
  });

  it('survives a reader that goes away and one that comes back', async () => {
    const path = fresh();
    const { fifos } = await openFifos(globals({ notifyFifo: { path, script: null } }));
    const r1 = reader(path);
    fifos.write(fifoLine('INSTANCE', 'A', 'BACKUP', 100));
    expect(drain(r1)).toBe('INSTANCE "A" BACKUP 100\n');
    closeReader(r1);
    expect(() => fifos.write(fifoLine('INSTANCE', 'A', 'MASTER', 100))).not.toThrow();
    const r2 = reader(path);
    fifos.write(fifoLine('INSTANCE', 'A', 'FAULT', 0));
    expect(drain(r2)).toBe('INSTANCE "A" MASTER 100\nINSTANCE "A" FAULT 0\n'); // the line of the gap waited in the pipe
    expect(fifos.stats()[0]).toMatchObject({ written: 3, dropped: 0 });
    closeReader(r2);
    await fifos.close();
  });

  it('starts the fifo script with the path appended; it reads the lines and is stopped (SIGTERM to its group) at close', async () => {
    const path = fresh();
    const out = join(dir, 'script.out');
    const sh = join(dir, 'reader.sh');
    // reads until EOF, then waits for more (never exits by itself): only the SIGTERM stops it
    await writeFile(sh, `#!/bin/sh\nfor a; do last=$a; done\nprintf '%s\\n' "$@" > ${out}.args\nexec 3<"$last"\nwhile :; do if read -r l <&3; then echo "$l" >> ${out}; else sleep 0.05; fi; done\n`);
    await chmod(sh, 0o755);
    const { fifos, lines } = await openFifos(globals({ notifyFifo: { path, script: [sh, 'first arg'] } }));
    fifos.write(fifoLine('INSTANCE', 'VI_1', 'BACKUP', 100));
    fifos.write(fifoLine('INSTANCE', 'VI_1', 'MASTER', 100));
    await until('the script to read both lines', async () => (await readFile(out, 'utf8').catch(() => '')).split('\n').length >= 3);
    expect(await readFile(out, 'utf8')).toBe('INSTANCE "VI_1" BACKUP 100\nINSTANCE "VI_1" MASTER 100\n');
    expect(await readFile(`${out}.args`, 'utf8')).toBe(`first arg\n${path}\n`);
    const pid = fifos.scripts()[0]!.pid!;
    expect(await alive(pid)).toBe(true);
    const t = Date.now();
    await fifos.close();
    expect(Date.now() - t).toBeLessThan(1500);
    expect(await alive(pid)).toBe(false);
    const end = lines.find((l) => l.msg.includes('notify fifo script terminated'));
    expect(end).toMatchObject({ level: 'info', o: { signal: 'SIGTERM' } });
  });

  it('logs a fifo script that ends by itself, with its exit code', async () => {
    const path = fresh();
    const { fifos, lines } = await openFifos(globals({ notifyFifo: { path, script: ['/bin/sh', '-c', 'exit 7'] } }));
    await until('the script exit to be logged', async () => lines.some((l) => l.msg.includes('notify fifo script terminated')));
    expect(lines.find((l) => l.msg.includes('notify fifo script terminated'))).toMatchObject({ level: 'warn', o: { exitCode: 7 } });
    fifos.write(fifoLine('INSTANCE', 'VI_1', 'MASTER', 100)); // still written (kept in the pipe)
    expect(fifos.stats()[0]).toMatchObject({ written: 1, dropped: 0 });
    await fifos.close();
  });

  it('refuses a path that is not a FIFO (regular file, directory, symbolic link), touching nothing', async () => {
    const file = join(dir, 'plain');
    await writeFile(file, 'keep me\n');
    const d = join(dir, 'adir');
    await mkdir(d);
    const target = fresh();
    native().mkfifo(target, 0o600);
    const link = join(dir, 'link.fifo');
    await symlink(target, link);
    for (const [p, kind] of [[file, 'regular file'], [d, 'directory'], [link, 'symbolic link']] as const) {
      const { log } = logger();
      await expect(NotifyFifos.open(globals({ notifyFifo: { path: p, script: null } }), log, { userDb: db })).rejects.toThrow(`notify_fifo ${p}: exists and is a ${kind}, not a FIFO`);
    }
    expect(await readFile(file, 'utf8')).toBe('keep me\n');
  });

  it('checks everything before creating anything: a fifo script that cannot run leaves no FIFO behind', async () => {
    const a = fresh();
    const b = fresh();
    const sh = join(dir, 'r2.sh');
    await writeFile(sh, '#!/bin/sh\ncat "$1"\n');
    await chmod(sh, 0o755);
    const { log } = logger();
    // the temp dir is 0700 root: user nobody cannot reach the script
    const g = globals({ notifyFifo: { path: a, script: null }, vrrpNotifyFifo: { path: b, script: [sh] } }, { vrrp_notify_fifo_script_user: ['nobody'] });
    await expect(NotifyFifos.open(g, log, { userDb: db })).rejects.toThrow(/^vrrp_notify_fifo .*: vrrp_notify_fifo_script: .*not searchable/);
    await expect(lstat(a)).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(lstat(b)).rejects.toMatchObject({ code: 'ENOENT' });
    const { log: log2 } = logger();
    await expect(NotifyFifos.open(globals({ notifyFifo: { path: a, script: null } }, { notify_fifo: [a, 'nosuchuser'] }), log2, { userDb: db })).rejects.toThrow(/user 'nosuchuser' does not exist/);
    await expect(lstat(a)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it("ignores vrrp_notify_fifo when it is notify_fifo's path, as keepalived does", async () => {
    const path = fresh();
    const { fifos, lines } = await openFifos(globals({ notifyFifo: { path, script: null }, vrrpNotifyFifo: { path, script: ['/bin/cat'] } }));
    expect(lines.some((l) => l.level === 'warn' && l.msg.includes('ignored'))).toBe(true);
    expect(fifos.stats()).toEqual([{ path, written: 0, dropped: 0 }]);
    expect(fifos.scripts()).toEqual([]);
    const r = reader(path);
    fifos.write(fifoLine('INSTANCE', 'X', 'STOP', 0));
    expect(drain(r)).toBe('INSTANCE "X" STOP 0\n'); // once
    closeReader(r);
    await fifos.close();
  });
});

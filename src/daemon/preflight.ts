/**
 * Checks that run before the daemon touches anything (src/cli/vipd-daemon.ts runs them in
 * order: capabilities, pid files, the instance lock, addresses shared with another vipd), and
 * the pid files themselves. Each failure is one line that says what to do (PreflightError,
 * with its exit code); none of them adds or removes an address or sends a packet.
 */
import { constants as fsc } from 'node:fs';
import { mkdir, open, readFile, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import type { DaemonConfig } from '../config/model.js';
import { lockHolders, type LockInfo } from '../os/instance-lock.js';
import { formatIP, parseIP } from '../protocol/addr.js';

/** A refusal to start: one line (without `vipd: `) and the exit code (0: keepalived's "already running"). */
export class PreflightError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

/** Capabilities the daemon needs, with what for (bit numbers of linux/capability.h). */
export const NEEDED_CAPS = [
  { bit: 13, name: 'CAP_NET_RAW', why: 'the VRRP and packet sockets' },
  { bit: 12, name: 'CAP_NET_ADMIN', why: 'adding and removing VIPs' },
] as const;

/** The needed capabilities missing from the CapEff line of /proc/PID/status text (all of them when the line is absent). */
export function missingCapabilities(procStatus: string): (typeof NEEDED_CAPS)[number][] {
  const m = /^CapEff:\s*([0-9a-fA-F]+)\s*$/m.exec(procStatus);
  const eff = m ? BigInt(`0x${m[1]}`) : 0n;
  return NEEDED_CAPS.filter((c) => (eff & (1n << BigInt(c.bit))) === 0n);
}

/** Refuse without CAP_NET_RAW / CAP_NET_ADMIN (instead of a later `socket failed: EPERM`). */
export async function checkCapabilities(statusFile = '/proc/self/status'): Promise<void> {
  const missing = missingCapabilities(await readFile(statusFile, 'utf8'));
  if (!missing.length) return;
  const list = missing.map((c) => `${c.name} (${c.why})`).join(' and ');
  throw new PreflightError(`missing capability ${list}: run as root, or grant ${missing.map((c) => c.name).join(' ')} (systemd: AmbientCapabilities=CAP_NET_RAW CAP_NET_ADMIN)`);
}

/** A live process named by a pid file (keepalived's check before it starts); stale or unreadable files are removed. */
export async function runningPid(file: string, log: Logger): Promise<number | null> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return null;
  }
  const pid = Number(text.trim());
  if (!Number.isInteger(pid) || pid <= 0) {
    log.info({ file }, 'removing an unreadable pid file');
    await unlink(file).catch(() => undefined);
    return null;
  }
  if (pid === process.pid) return null;
  try {
    process.kill(pid, 0);
    return pid;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EPERM') return pid;
    log.info({ file, stalePid: pid }, 'removing a stale pid file (no such process)');
    await unlink(file).catch(() => undefined);
    return null;
  }
}

/**
 * Refuse when a pid file names a live process. keepalived 2.2.7 then says the daemon is
 * already running and exits 0 (`keepalivedMode`); `vipd run` exits 1.
 */
export async function checkPidFiles(files: readonly string[], keepalivedMode: boolean, log: Logger): Promise<void> {
  for (const f of files) {
    const pid = await runningPid(f, log);
    if (pid === null) continue;
    if (keepalivedMode) throw new PreflightError(`already running (pid ${pid} in ${f}); not started`, 0);
    throw new PreflightError(`pid file ${f} names a running process (pid ${pid}): stop it first, or remove the file if that process is not vipd`);
  }
}

/** Write `pid` to `file` as keepalived does: mode 0644, truncated, never through a symlink. */
export async function writePidFile(file: string, pid: number): Promise<void> {
  await mkdir(dirname(file), { recursive: true, mode: 0o755 });
  const fh = await open(file, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_TRUNC | fsc.O_NOFOLLOW, 0o644);
  try {
    await fh.writeFile(`${pid}\n`);
  } finally {
    await fh.close();
  }
}

/** Every address `c` manages (VIPs and excluded VIPs), in canonical text (formatIP). */
export function configAddresses(c: DaemonConfig): string[] {
  const canon = (a: string): string => {
    const p = parseIP(a);
    return p ? formatIP(p.family, p.bytes) : a;
  };
  return [...new Set(c.instances.flatMap((i) => [...i.vips, ...i.vipsExcluded].map((v) => canon(v.address))))];
}

/** Every virtual router `c` runs, as `INTERFACE/IPvFAMILY/VRID` (one per VRRP socket and VRID). */
export function configRouters(c: DaemonConfig): string[] {
  return [...new Set(c.instances.map((i) => `${i.interface}/IPv${i.family}/VRID ${i.vrid}`))];
}

function holderText(h: LockInfo): string {
  return `another vipd (pid ${h.pid}, ${h.config}, control socket ${h.controlSocket})`;
}

/**
 * Refuse when another vipd of this network namespace (a lock under another key) manages one
 * of `addresses`: at start each would remove the other's VIP as a leftover, and then both
 * would add and remove it. Call with our own lock held: of two daemons starting at once, each
 * then sees the other and both refuse, rather than both run.
 */
export async function checkSharedAddresses(ownLock: string, addresses: readonly string[], holders = lockHolders, routers: readonly string[] = []): Promise<void> {
  const mine = new Set(addresses);
  const myRouters = new Set(routers);
  for (const { name, info } of await holders(ownLock)) {
    if (!info) continue; // (a holder that does not answer is not known to manage anything)
    const shared = info.addresses.filter((a) => mine.has(a));
    // one VRID on one link and family is one virtual router: two daemons would both advertise it
    const router = (info.routers ?? []).find((r) => myRouters.has(r));
    if (!shared.length && router) throw new PreflightError(`${router} is also run by ${holderText(info)} in this network namespace (lock @${name}); one virtual router needs one daemon: stop that one, or give this instance another virtual_router_id`);
    if (!shared.length) continue;
    const what = shared.length === 1 ? shared[0] : `${shared.slice(0, 3).join(', ')}${shared.length > 3 ? ` and ${shared.length - 3} more` : ''}`;
    throw new PreflightError(`${what} ${shared.length === 1 ? 'is' : 'are'} also managed by ${holderText(info)} in this network namespace (lock @${name}); one address needs one daemon: stop that one, or remove the address from one of the configurations`);
  }
}

/** The message for a lock held by someone else; `hint`: how to run a second daemon (per front end). */
export function lockHeldText(name: string, holder: LockInfo | null, ownConfig: string, hint: string): string {
  const who = holder ? `another vipd (pid ${holder.pid})` : 'another process (it did not say which; `ss -xlp | grep vipd:lock` shows it)';
  const what = holder && holder.config === ownConfig ? 'runs this configuration' : `runs with this control socket${holder ? ` (its configuration: ${holder.config})` : ''}`;
  return `${who} ${what} in this network namespace (lock @${name}); stop it first${hint ? `, or ${hint}` : ''}`;
}

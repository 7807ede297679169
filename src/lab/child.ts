/** Children of the lab (HAProxy, backends, clients, monitors): stopped by handle, never by a pid number. */
import type { ChildProcess } from 'node:child_process';

/** Has this child of ours not exited yet (by its exit event, never by probing a pid)? */
export function childRunning(p: ChildProcess | null | undefined): p is ChildProcess {
  return Boolean(p?.pid) && p!.exitCode === null && p!.signalCode === null;
}

/**
 * Send `sig` to a child of ours that still runs; wait up to `graceMs` for its exit, then
 * SIGKILL it. ChildProcess.kill is a no-op once Node has reaped the child, so a pid reused
 * since is never signalled.
 */
export async function stopChild(p: ChildProcess | null | undefined, sig: NodeJS.Signals, graceMs = 3000): Promise<void> {
  if (!childRunning(p)) return;
  const done = new Promise((r) => p.once('exit', r));
  p.kill(sig);
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([done, new Promise((r) => (timer = setTimeout(r, graceMs)))]);
  clearTimeout(timer);
  if (childRunning(p)) {
    p.kill('SIGKILL');
    await done;
  }
}

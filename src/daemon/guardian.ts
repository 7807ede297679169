/**
 * Crash guardian: a tiny `sh` process that holds a pipe from the daemon. When the daemon dies
 * for any reason, SIGKILL included, the pipe closes and the guardian deletes the VIPs the
 * daemon may have held, so a killed master does not keep answering for them. On a clean exit
 * the daemon has already removed them: it writes `clean` and the guardian exits without
 * deleting anything (a daemon restarted at once may already hold them again).
 *
 * Each instance's VIPs are kept for `holdMs` (2 advert intervals) after the death: clients
 * keep being answered meanwhile, and no backup can take over that early (it waits
 * Master_Down_Interval > 3 intervals after the last advert, which preceded the death), so two
 * hosts never hold the address at once.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { VipConfig } from '../config/model.js';

const SAFE = /^[0-9a-zA-Z.:/_@-]+$/;

export class Guardian {
  private proc: ChildProcess | null = null;

  /** `wrap`: a command prefix for the shell (tests run it in a namespace with `ip netns exec`). */
  constructor(private readonly wrap: string[] = []) {}

  /** (Re)start the guardian for this set of VIPs (with their devices and hold times). */
  arm(vips: { vip: VipConfig; dev: string; holdMs: number }[]): void {
    // One `ip -batch` per hold time, not a shell and an `ip` per VIP: with 1000 VIPs that was
    // 2000 processes at every exit. Each batch is an argument of its own (at most 128 KiB
    // each on Linux): 500 lines a batch.
    const byHold = new Map<string, string[]>();
    for (const { vip, dev, holdMs } of vips) {
      if (!SAFE.test(vip.address) || !SAFE.test(dev)) continue;
      const hold = (Math.max(0, holdMs) / 1000).toFixed(3);
      const lines = byHold.get(hold) ?? [];
      lines.push(`addr del ${vip.address}/${vip.prefixLen} dev ${dev}\n`);
      byHold.set(hold, lines);
    }
    const batches: string[] = [];
    const jobs: string[] = [];
    for (const [hold, lines] of byHold) {
      for (let i = 0; i < lines.length; i += 500) {
        batches.push(lines.slice(i, i + 500).join(''));
        jobs.push(`(sleep ${hold}; printf %s "\${${batches.length}}" | ip -force -batch - 2>/dev/null) &`);
      }
    }
    const script = `IFS= read -r w; [ "$w" = clean ] && exit 0; ${jobs.join(' ')} wait`;
    const [cmd, ...args] = [...this.wrap, 'sh', '-c', script, 'vipd-guardian', ...batches];
    const next = spawn(cmd!, args, { stdio: ['pipe', 'ignore', 'ignore'], detached: true });
    next.on('error', () => undefined);
    next.stdin!.on('error', () => undefined);
    next.unref();
    const old = this.proc;
    this.proc = next;
    // The old guardian is ours; SIGKILL makes it die without running its deletes.
    if (old?.pid && old.exitCode === null) old.kill('SIGKILL');
  }

  /** Clean exit, the VIPs removed: the guardian goes without deleting anything. */
  release(): void {
    this.proc?.stdin?.end('clean\n');
    this.proc = null;
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }
}

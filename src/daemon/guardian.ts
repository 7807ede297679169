/**
 * Crash guardian: a tiny `sh` process that holds a pipe from the daemon. When the daemon dies
 * for any reason, SIGKILL included, the pipe closes and the guardian deletes the VIPs the
 * daemon may have held, so a killed master does not keep answering for them. On a clean exit
 * the daemon has already removed them and the deletes are no-ops.
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

  /** (Re)start the guardian for this set of VIPs (with their devices and hold times). */
  arm(vips: { vip: VipConfig; dev: string; holdMs: number }[]): void {
    const jobs = vips
      .filter(({ vip, dev }) => SAFE.test(vip.address) && SAFE.test(dev))
      .map(({ vip, dev, holdMs }) => `(sleep ${(Math.max(0, holdMs) / 1000).toFixed(3)}; ip addr del ${vip.address}/${vip.prefixLen} dev ${dev} 2>/dev/null) &`);
    const script = `cat >/dev/null; ${jobs.join(' ')} wait`;
    const next = spawn('sh', ['-c', script], { stdio: ['pipe', 'ignore', 'ignore'], detached: true });
    next.on('error', () => undefined);
    next.stdin!.on('error', () => undefined);
    next.unref();
    const old = this.proc;
    this.proc = next;
    // The old guardian is ours; SIGKILL makes it die without running its deletes.
    if (old?.pid && old.exitCode === null) old.kill('SIGKILL');
  }

  /** Clean exit: let the guardian run (harmless) and go. */
  release(): void {
    this.proc?.stdin?.end();
    this.proc = null;
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }
}

/**
 * vipctl handover / maintenance: ask the daemon (src/daemon/handover.ts) and say per instance
 * what happened. Exit 0 done; 2 refused (nothing changed: the instance is still MASTER at its
 * priority, or the request named nothing it can act on); 1 failed (it changed, not as asked:
 * e.g. another router than --to won, or maintenance is on but nobody took over).
 */
import type { HandoverOutcome, MaintenanceOutcome } from '../daemon/handover.js';
import { EXIT_DAEMON_FAILED, request } from './control-client.js';
import { CliError } from './errors.js';

export const EXIT_HANDOVER_REFUSED = 2;
export const EXIT_HANDOVER_FAILED = 1;
const out = (l: string): void => void process.stdout.write(`${l}\n`);

/** One line per instance (pure, for tests). */
export function handoverLine(o: HandoverOutcome | MaintenanceOutcome): string {
  const m = 'maintenance' in o ? `maintenance ${o.maintenance ? 'on ' : 'off'} ` : '';
  if (!o.ok) return `${m}${o.kind === 'failed' ? 'failed ' : 'refused'}  ${o.instance}: ${o.error ?? 'no reason given'}`;
  if (o.skipped) return `${m}skipped  ${o.instance}: ${o.skipped}`;
  if (o.master !== undefined) return `${m}handed over  ${o.instance}: new master ${o.master ?? '?'} (priority ${o.priority ?? '?'}) in ${o.ms} ms, by ${o.method === 'resign' ? 'priority 0 with the VIPs kept until it was heard' : 'preemption'}`;
  return `${m}${o.instance}: ${'state' in o ? o.state : ''}`.trimEnd();
}

/** The worst outcome's exit code: 1 if any failed, else 2 if any was refused, else 0. */
export function outcomeExit(os: readonly HandoverOutcome[]): number {
  if (os.some((o) => !o.ok && o.kind === 'failed')) return EXIT_HANDOVER_FAILED;
  if (os.some((o) => !o.ok)) return EXIT_HANDOVER_REFUSED;
  return 0;
}

async function ask(socket: string, cmd: string, args: Record<string, unknown>, json: boolean): Promise<void> {
  const r = await request(socket, cmd, args);
  const { kind } = r as { kind?: string };
  if (json) out(JSON.stringify({ ok: r.ok, ...(r.ok ? { result: r.result } : { error: r.error, kind: kind ?? null }) }));
  if (!r.ok) throw new CliError(json ? '' : `${cmd} refused, nothing changed: ${r.error ?? 'no reason given'}`, kind === 'refused' ? EXIT_HANDOVER_REFUSED : EXIT_DAEMON_FAILED);
  const os = r.result as HandoverOutcome[];
  if (!json) for (const o of os) out(handoverLine(o));
  const code = outcomeExit(os);
  if (code) throw new CliError('', code);
}

export function handover(socket: string, o: { instance?: string; all?: boolean; to?: string; json?: boolean }): Promise<void> {
  if (o.all && o.instance) throw new CliError('handover: name an instance or --all, not both', 2);
  return ask(socket, 'handover', { ...(o.instance ? { instance: o.instance } : {}), ...(o.all ? { all: true } : {}), ...(o.to ? { to: o.to } : {}) }, Boolean(o.json));
}

export function maintenance(socket: string, onOff: string, o: { instance?: string; all?: boolean; json?: boolean }): Promise<void> {
  if (onOff !== 'on' && onOff !== 'off') throw new CliError(`maintenance: 'on' or 'off', not '${onOff}'`, 2);
  if (o.all && o.instance) throw new CliError('maintenance: name an instance or --all, not both', 2);
  return ask(socket, 'maintenance', { on: onOff === 'on', ...(o.instance ? { instance: o.instance } : {}), ...(o.all ? { all: true } : {}) }, Boolean(o.json));
}

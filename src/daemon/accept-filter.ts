/**
 * The accept-mode filter of a configuration (RFC 9568 6.4.3: a non-owner master with
 * Accept_Mode False drops traffic to its addresses), as keepalived 2.2.7 configures its
 * nftables: `nftables [TABLE]` (vipd's default table: `vipd`, family inet), `nftables_priority`,
 * `nftables_counters`, `nftables_ifindex`. keepalived turns nftables on by itself as soon as
 * one instance lacks accept mode; so does vipd, whether or not `nftables` is written.
 */
import type { Logger } from 'pino';
import type { DaemonConfig } from '../config/model.js';
import { AcceptModeFilter, nftVersion } from '../os/nft.js';
import type { AddressFilter } from './reconciler/kernel.js';

/** The filter's settings from the configuration's global_defs. */
export function filterOptions(c: DaemonConfig): { table: string; priority: number; counters: boolean; ifindex: boolean } {
  const o = c.global.other;
  return {
    table: o.nftables?.[0] ?? 'vipd',
    priority: o.nftables_priority?.[0] !== undefined ? Number(o.nftables_priority[0]) : -1,
    counters: 'nftables_counters' in o,
    ifindex: 'nftables_ifindex' in o,
  };
}

/** True when some instance of `c` drops traffic to its addresses as MASTER. */
export function needsFilter(c: DaemonConfig): boolean {
  return c.instances.some((m) => !m.acceptMode && m.priority !== 255);
}

/**
 * Before anything is touched: `nft` must work when the configuration needs the filter (a
 * master that cannot drop traffic it must not accept would break RFC 9568 6.4.3 silently).
 */
export async function checkFilter(c: DaemonConfig): Promise<void> {
  if (!needsFilter(c)) return;
  const m = c.instances.find((i) => !i.acceptMode && i.priority !== 255)!;
  try {
    await nftVersion();
  } catch (e) {
    throw new Error(`${m.pos.file}:${m.pos.line}: instance ${m.name} has no accept mode (no_accept or vrrp_strict): vipd drops traffic to its addresses with nftables, and ${(e as Error).message}`);
  }
}

export function acceptFilter(c: DaemonConfig, log: Logger): AddressFilter {
  const o = filterOptions(c);
  const f = new AcceptModeFilter({ ...o, log: (msg) => log.warn({ table: o.table }, `accept-mode filter: ${msg}`) });
  return {
    set: (entries) => f.set(entries),
    settled: () => f.settled(),
    remove: () => f.remove(),
    deleteCommand: () => AcceptModeFilter.deleteCommand(o.table),
    stats: () => ({ runs: f.runs, errors: f.errors }),
  };
}

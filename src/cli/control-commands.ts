/** vipctl status / who-owns / watch: talk to the daemon, or (who-owns --listen) to the wire. */
import { canonicalIP } from '../protocol/addr.js';
import type { InstanceStatus, WhoOwns } from '../daemon/status.js';
import { LINKTYPE_ETHERNET } from '../protocol/pcap.js';
import { request, watch } from './control-client.js';
import { SniffModel } from './sniff-report.js';
import { CliError } from './errors.js';
import { capture } from './sniff.js';

export const EXIT_NO_MASTER = 3;
export const EXIT_NOT_CONFIGURED = 4;
const out = (l: string): void => void process.stdout.write(`${l}\n`);

function table(rows: string[][]): string {
  const w = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(w[i]!)).join('  ').trimEnd()).join('\n');
}

function ago(ms: number | null): string {
  if (ms === null) return '-';
  return ms < 10_000 ? `${ms}ms ago` : `${(ms / 1000).toFixed(0)}s ago`;
}

export async function status(socket: string, json: boolean): Promise<void> {
  const r = await request(socket, 'status');
  if (!r.ok) throw new CliError(`status: ${r.error}`);
  const res = r.result as { instances: InstanceStatus[] };
  if (json) return out(JSON.stringify(res));
  const rows = [['INSTANCE', 'IF', 'FAM', 'VRID', 'VER', 'STATE', 'PRIO', 'INT', 'VIPS', 'HELD', 'MASTER', 'MASTER MAC', 'LAST ADVERT', 'TRANS', 'LAST CHANGE', 'SENT/RCVD', 'PRIO0 S/R', 'DROPS']];
  for (const i of res.instances) {
    const drops = Object.entries(i.stats.drops).map(([k, v]) => `${k}=${v}`).join(',') || '0';
    rows.push([
      i.name, i.interface, `v${i.family}`, String(i.vrid), `v${i.version}`, i.state,
      i.priority === i.effectivePriority ? String(i.priority) : `${i.priority}/${i.effectivePriority}`,
      `${i.advertIntervalMs}ms`, i.vips.join(','), i.vipsHeld ? 'yes' : 'no',
      i.master.address ? `${i.master.address}${i.master.self ? ' (self)' : ''}` : '-', i.master.mac ?? '-',
      i.master.self ? '-' : ago(i.master.lastAdvertAgoMs), String(i.transitions),
      i.lastTransition ? `${i.lastTransition.time} ${i.lastTransition.from}->${i.lastTransition.to} (${i.lastTransition.reason})` : '-',
      `${i.stats.advertsSent}/${i.stats.advertsReceived}`, `${i.stats.priorityZeroSent}/${i.stats.priorityZeroReceived}`, drops,
    ]);
  }
  out(table(rows));
}

/** Exit code of who-owns: 0 owner known, 3 configured but no master, 4 not configured. */
function whoExit(w: WhoOwns): number {
  if (!w.configured) return EXIT_NOT_CONFIGURED;
  return w.master ? 0 : EXIT_NO_MASTER;
}

export async function whoOwns(address: string, o: { socket: string; json: boolean; listen?: string; timeout: number }): Promise<number> {
  const want = canonicalIP(address.split('/')[0] ?? '');
  if (!want) throw new CliError(`who-owns: '${address}' is not an IP address`);
  let w: WhoOwns;
  if (o.listen) {
    // No daemon here: the master is the sender of adverts that list the address.
    const model = new SniffModel();
    let found: WhoOwns | null = null;
    await capture(o.listen, o.timeout, (data, time) => {
      const ev = model.onFrame(LINKTYPE_ETHERNET, data, time);
      if (ev?.type === 'vrrp' && ev.valid && (ev.priority ?? 0) > 0 && ev.addresses.includes(want)) {
        found = { configured: true, address: want, instance: `vrid ${ev.vrid}`, state: 'unknown (from the wire)', master: { address: ev.src, mac: ev.srcMac, self: false, priority: ev.priority, lastAdvertAgoMs: 0 } };
        return true;
      }
      return false;
    });
    w = found ?? { configured: false, address: want };
  } else {
    const r = await request(o.socket, 'who-owns', { address: want });
    if (!r.ok) throw new CliError(`who-owns: ${r.error}`);
    w = r.result as WhoOwns;
  }
  if (o.json) out(JSON.stringify(w));
  else if (!w.configured) out(o.listen ? `${want}: no advert listing it seen on ${o.listen} in ${o.timeout}s` : `${want}: not configured on this host`);
  else if (!w.master) out(`${want}: instance ${w.instance} (${w.state}), no master known`);
  else out(`${want}: master ${w.master.address} (${w.master.mac ?? 'MAC unknown'})${w.master.self ? ', this host' : ''}, instance ${w.instance}, state here ${w.state}`);
  return o.listen && !w.configured ? EXIT_NO_MASTER : whoExit(w);
}

export async function watchEvents(socket: string, json: boolean): Promise<void> {
  await watch(socket, (e) => {
    const ev = e as Record<string, unknown>;
    if (json) return out(JSON.stringify(ev));
    const { time, type, instance, ...rest } = ev;
    out(`${String(time)} ${String(type)} ${String(instance)} ${Object.entries(rest).map(([k, v]) => `${k}=${v === null ? '-' : String(v)}`).join(' ')}`);
  });
}

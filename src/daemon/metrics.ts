/**
 * Prometheus metrics on an opt-in listen address (prom-client). Values are read from the
 * runners at scrape time, so the VRRP path pays nothing for them.
 */
import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Registry } from 'prom-client';
import type { InstanceStatus } from './status.js';

const STATES: Record<string, number> = { INIT: 0, BACKUP: 1, MASTER: 2, FAULT: 3 };

export function metricsRegistry(status: () => InstanceStatus[]): Registry {
  const reg = new Registry();
  const labels = ['instance', 'interface', 'vrid', 'family'] as const;
  const lv = (i: InstanceStatus): Record<(typeof labels)[number], string> => ({ instance: i.name, interface: i.interface, vrid: String(i.vrid), family: `ipv${i.family}` });
  const gauge = (name: string, help: string, value: (i: InstanceStatus) => number): void => {
    new Gauge({
      name, help, labelNames: labels, registers: [reg],
      collect() {
        this.reset();
        for (const i of status()) this.set(lv(i), value(i));
      },
    });
  };
  const counter = (name: string, help: string, value: (i: InstanceStatus) => number): void => {
    new Counter({
      name, help, labelNames: labels, registers: [reg],
      collect() {
        this.reset();
        for (const i of status()) this.inc(lv(i), value(i));
      },
    });
  };
  gauge('vipd_instance_state', 'VRRP state: 0 init, 1 backup, 2 master, 3 fault', (i) => STATES[i.state] ?? -1);
  gauge('vipd_instance_priority', 'Configured priority', (i) => i.priority);
  gauge('vipd_instance_effective_priority', 'Priority after trackers', (i) => i.effectivePriority);
  gauge('vipd_instance_vips_held', '1 when this host holds the instance VIPs', (i) => (i.vipsHeld ? 1 : 0));
  gauge('vipd_master_last_advert_age_seconds', 'Age of the last advert from the current master (0 when self)', (i) => (i.master.lastAdvertAgoMs ?? -1000) / 1000);
  counter('vipd_adverts_sent_total', 'Adverts sent', (i) => i.stats.advertsSent);
  counter('vipd_adverts_received_total', 'Valid adverts received', (i) => i.stats.advertsReceived);
  counter('vipd_priority_zero_sent_total', 'Priority-0 adverts sent', (i) => i.stats.priorityZeroSent);
  counter('vipd_priority_zero_received_total', 'Priority-0 adverts received', (i) => i.stats.priorityZeroReceived);
  counter('vipd_transitions_total', 'State transitions', (i) => i.stats.transitions);
  new Counter({
    name: 'vipd_packets_dropped_total', help: 'Received packets dropped, by reason (RFC 9568 7.1)', labelNames: [...labels, 'reason'], registers: [reg],
    collect() {
      this.reset();
      for (const i of status()) for (const [reason, n] of Object.entries(i.stats.drops)) this.inc({ ...lv(i), reason }, n ?? 0);
    },
  });
  return reg;
}

/** `host:port` or `port` (then 127.0.0.1). */
export async function serveMetrics(listen: string, reg: Registry): Promise<Server> {
  const m = /^(?:\[?([^\]]+)\]?:)?(\d+)$/.exec(listen);
  if (!m) throw new Error(`--metrics: expected HOST:PORT or PORT, got ${listen}`);
  const host = m[1] ?? '127.0.0.1';
  const server = createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end('see /metrics\n');
      return;
    }
    reg.metrics().then(
      (body) => res.writeHead(200, { 'Content-Type': reg.contentType }).end(body),
      (e: Error) => res.writeHead(500).end(e.message),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(Number(m[2]), host, resolve);
  });
  return server;
}

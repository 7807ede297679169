/**
 * What a lab node's kernel holds, as `ip` shows it (the operator's view, independent of
 * vipd's own rtnetlink code): addresses, routes of every table and rules of both families,
 * read in one `sh -c` per snapshot; the configured objects found in a snapshot; and an
 * `ip -ts monitor address` whose lines carry the time each address came and went.
 */
import type { ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { createInterface } from 'node:readline';
import { expect } from 'vitest';
import type { NetnsLab } from '../../src/lab/netns.js';

/** Normalised lines (no ifindex, no `\` continuation, single spaces); rules prefixed with their family. */
export interface Snapshot {
  addrs: string[];
  routes: string[];
  rules: string[];
}

const SEP = '@@vipd-snapshot@@';
const SCRIPT = [
  'ip -o addr show',
  `echo ${SEP}`,
  'ip -d -4 route show table all',
  'ip -d -6 route show table all',
  `echo ${SEP}`,
  "ip -4 rule show | sed 's/^/4 /'",
  "ip -6 rule show | sed 's/^/6 /'",
].join('; ');

const norm = (l: string): string => l.replace(/\\/g, ' ').replace(/\s+/g, ' ').trim();

/** The node's addresses (`ip -o addr`), routes (`ip -d route show table all`, v4 and v6) and rules (`ip rule`, v4 and v6). */
export function snapshot(lab: NetnsLab, node: string): Snapshot {
  const parts = lab.exec(lab.node(node).ns, ['sh', '-c', SCRIPT]).split(`${SEP}\n`);
  if (parts.length !== 3) throw new Error(`snapshot of ${node}: unexpected output\n${parts.join(SEP)}`);
  const lines = (s: string): string[] => s.split('\n').map(norm).filter(Boolean);
  return {
    addrs: lines(parts[0]!).map((l) => l.replace(/^\d+: /, '')),
    routes: lines(parts[1]!),
    rules: lines(parts[2]!),
  };
}

/** Lines of `after` not in `before` (what a daemon added), kept only if they match `keep`. */
export function added(after: Snapshot, before: Snapshot, keep: RegExp): Snapshot {
  const d = (a: string[], b: string[]): string[] => a.filter((l) => !b.includes(l) && keep.test(l)).sort();
  return { addrs: d(after.addrs, before.addrs), routes: d(after.routes, before.routes), rules: d(after.rules, before.rules) };
}

/** One configured object and how to recognise it in a snapshot. */
export interface Expected {
  label: string;
  in: keyof Snapshot;
  re: RegExp;
}

/** The labels of `objs` present in `s`, in the order of `objs`. */
export function heldIn(s: Snapshot, objs: readonly Expected[]): string[] {
  return objs.filter((o) => s[o.in].some((l) => o.re.test(l))).map((o) => o.label);
}

/** Labels of `objs` the node holds now. */
export function held(lab: NetnsLab, node: string, objs: readonly Expected[]): string[] {
  return heldIn(snapshot(lab, node), objs);
}

/** Wait until the node holds exactly the labels `want` of `objs` (then expect it, with what it holds). */
export async function expectHeld(lab: NetnsLab, node: string, objs: readonly Expected[], want: readonly string[], timeoutMs: number): Promise<number> {
  const t0 = Date.now();
  const end = t0 + timeoutMs;
  let s = snapshot(lab, node);
  let got = heldIn(s, objs);
  while (JSON.stringify(got) !== JSON.stringify(want) && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 20));
    s = snapshot(lab, node);
    got = heldIn(s, objs);
  }
  expect({ node, held: got }, JSON.stringify(s, null, 1)).toEqual({ node, held: [...want] });
  return Date.now() - t0;
}

/** An address event seen by `ip -ts monitor address`: epoch microseconds (the monitor's clock, when it read the event). */
export interface AddrEvent {
  us: number;
  op: 'add' | 'del';
  line: string;
}

/** `ip -ts monitor address` in a node's namespace; stop() ends it (by its pid). */
export class AddrMonitor {
  readonly events: AddrEvent[] = [];
  private readonly proc: ChildProcess;

  constructor(lab: NetnsLab, node: string) {
    this.proc = lab.spawn(lab.node(node).ns, ['ip', '-ts', 'monitor', 'address'], { stdio: ['ignore', 'pipe', 'pipe'] });
    createInterface({ input: this.proc.stdout! }).on('line', (l) => {
      // [2026-11-29T20:22:01.123456] Deleted 3: eth0    inet 192.0.2.1/24 ...
      const m = /^\[(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.(\d{6})\] (Deleted )?(.*)$/.exec(l);
      if (!m) return;
      const us = Date.parse(`${m[1]}Z`) * 1000 + Number(m[2]);
      this.events.push({ us, op: m[3] ? 'del' : 'add', line: norm(m[4]!) });
    });
  }

  /** Has it started listening? (the first line is not printed before an event: give it a moment) */
  async ready(): Promise<void> {
    await new Promise((r) => setTimeout(r, 150));
    if (this.proc.exitCode !== null) throw new Error('ip monitor exited at once');
  }

  /** The time of the first event matching `re` and `op`, or undefined. */
  first(op: 'add' | 'del', re: RegExp): number | undefined {
    return this.events.find((e) => e.op === op && re.test(e.line))?.us;
  }

  stop(): void {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill('SIGTERM');
  }
}

/** One request to a vipd control socket (docs/control-api.md): its `result`, or a thrown error. */
export function control<T>(socket: string, cmd: string, args: Record<string, unknown> = {}, timeoutMs = 3000): Promise<T> {
  return new Promise((resolve, reject) => {
    const c = connect(socket);
    const timer = setTimeout(() => {
      c.destroy();
      reject(new Error(`control ${cmd}: no answer in ${timeoutMs} ms`));
    }, timeoutMs);
    let buf = '';
    c.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    c.on('data', (d) => {
      buf += d.toString();
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(timer);
      c.end();
      const r = JSON.parse(buf.slice(0, nl)) as { ok: boolean; result?: T; error?: string };
      if (r.ok) resolve(r.result as T);
      else reject(new Error(`control ${cmd}: ${r.error}`));
    });
    c.write(`${JSON.stringify({ api: 1, id: 1, cmd, ...args })}\n`);
  });
}

/** Messages the kernel dropped for the rtnetlink sockets of the node's namespace (the Drops column of /proc/net/netlink). */
export function rtnetlinkDrops(lab: NetnsLab, node: string): number {
  const rows = lab.exec(lab.node(node).ns, ['cat', '/proc/net/netlink']).trim().split('\n');
  const head = rows[0]!.trim().split(/\s+/);
  const eth = head.indexOf('Eth');
  const drops = head.indexOf('Drops');
  if (eth < 0 || drops < 0) throw new Error(`/proc/net/netlink: unexpected header ${rows[0]}`);
  return rows.slice(1).map((r) => r.trim().split(/\s+/)).filter((f) => f[eth] === '0').reduce((s, f) => s + Number(f[drops]), 0);
}

/**
 * `rounds` x 256 /32 addresses of 203.0.113.0/24 added then deleted on `dev` with one
 * `ip -batch` (2 x 256 x rounds operations, each an address and a local-route event for
 * every rtnetlink listener). Returns the number of operations.
 */
export function floodAddressEvents(lab: NetnsLab, node: string, dev: string, rounds: number): number {
  const ops: string[] = [];
  for (let round = 0; round < rounds; round++) {
    for (let k = 0; k < 256; k++) ops.push(`addr add 203.0.113.${k}/32 dev ${dev}`);
    for (let k = 0; k < 256; k++) ops.push(`addr del 203.0.113.${k}/32 dev ${dev}`);
  }
  lab.exec(lab.node(node).ns, ['ip', '-batch', '-'], { input: `${ops.join('\n')}\n` });
  return ops.length;
}

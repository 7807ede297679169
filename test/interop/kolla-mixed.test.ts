/**
 * A mixed cluster loaded with the SAME Kolla-Ansible keepalived.conf
 * (../shared/data/keepalived-conf/07_kolla-ansible-loadbalancer.conf): real keepalived 2.2.7 on
 * r1, vipd on r2, two segments (eth0 and eth1, each its own bridge), a client on both. The
 * file has no vrrp_version line (VRRPv2), a 40-byte PASS auth_pass (keepalived sends its first
 * 8 bytes), `state BACKUP` + `nopreempt`, VIPs 192.0.2.250 on eth0 and 198.51.100.250 on eth1,
 * track_interface and a track_script (vipd warns about those and does not act on them yet).
 *
 * Checked: one master at a time (logs, `vipctl status`, `ip addr` in every namespace), tshark
 * decodes both routers' adverts as VRRPv2 with simple-text auth "PLACEHOL" and no expert
 * warning, keepalived logs no complaint about vipd's adverts, the client's neighbour entries
 * follow the master; failover both ways (SIGTERM and SIGKILL of keepalived, SIGTERM and
 * SIGKILL of vipd), and nopreempt: a restarted keepalived at higher priority stays BACKUP.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { cliCommand } from '../../src/lab/cli-command.js';
import { NetnsLab, run } from '../../src/lab/netns.js';
import { KeepalivedProcess } from '../helpers/keepalived.js';
import { requireTool } from '../helpers/tools.js';
import { VipdProcess } from '../helpers/vipd.js';
import { fieldList, tsharkComplaints, WireCapture, type Layers } from '../helpers/wire-capture.js';

const SOURCE = resolve(__dirname, '../../../shared/data/keepalived-conf/07_kolla-ansible-loadbalancer.conf');
const lab = new NetnsLab('vt', 'q');
const dir = mkdtempSync(join(tmpdir(), 'vipd-kolla-'));
const SCRIPT = join(dir, 'check_alive.sh');
const VIP0 = '192.0.2.250'; // dev eth0 in the file
const VIP1 = '198.51.100.250'; // dev eth1 in the file
const ADDR = { r1: '192.0.2.11', r2: '192.0.2.12' };
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
let procs: { stop(): Promise<void> }[] = [];
let captures: WireCapture[] = [];

/**
 * The file exactly as Kolla ships it, with two textual substitutions and nothing else:
 *  1. the line `    priority 1` becomes `    priority <prio>` (Kolla's template renders one
 *     priority per host; two routers need different ones);
 *  2. `script "/check_alive.sh"` becomes `script "<this run's temp dir>/check_alive.sh"`, a
 *     script that exists (`exit 0`) instead of the host's /check_alive.sh.
 */
function kolla(prio: number): string {
  const src = readFileSync(SOURCE, 'utf8');
  const out = src.replace(/^(\s*)priority 1$/m, `$1priority ${prio}`).replace('script "/check_alive.sh"', `script "${SCRIPT}"`);
  const a = src.split('\n');
  const b = out.split('\n');
  const changed = a.flatMap((line, i) => (line === b[i] ? [] : [`${line.trim()} -> ${b[i]!.trim()}`]));
  expect(changed).toEqual([`script "/check_alive.sh" -> script "${SCRIPT}"`, `priority 1 -> priority ${prio}`]);
  return out;
}

/** r1, r2 and a client on two segments: eth0 192.0.2.N/24 (br0) and eth1 198.51.100.N/24 (br1). */
function buildLab(): void {
  lab.build([{ name: 'r1', n: 11 }, { name: 'r2', n: 12 }, { name: 'client', n: 50 }]);
  lab.addLan(1, ['r1', 'r2', 'client']);
  for (const name of ['r1', 'r2', 'client']) {
    const n = lab.node(name);
    // addLan's 192.0.2.(64+N)/32 replaced by an address of the eth1 segment's own network
    lab.exec(n.ns, ['ip', 'addr', 'del', `192.0.2.${64 + n.n}/32`, 'dev', 'eth1']);
    lab.exec(n.ns, ['ip', 'addr', 'add', `198.51.100.${n.n}/24`, 'dev', 'eth1']);
  }
}

function macOf(node: string, ifname: string): string {
  const m = /link\/ether ([0-9a-f:]{17})/.exec(lab.exec(lab.node(node).ns, ['ip', '-o', 'link', 'show', 'dev', ifname]));
  if (!m) throw new Error(`no MAC on ${node} ${ifname}`);
  return m[1]!;
}

/** For each VIP, every `node:dev/prefix` that carries it, over all interfaces of all namespaces. */
function placement(): Record<string, string[]> {
  const got: Record<string, string[]> = { [VIP0]: [], [VIP1]: [] };
  for (const node of ['r1', 'r2', 'client']) {
    const out = lab.exec(lab.node(node).ns, ['ip', '-o', '-4', 'addr', 'show']);
    for (const m of out.matchAll(/^\d+:\s+(\S+)\s+inet ([\d.]+)\/(\d+)/gm)) got[m[2]!]?.push(`${node}:${m[1]}/${m[3]}`);
  }
  return got;
}

/** Wait until both VIPs are in `node` only, each on the device the file names, as /32. */
async function expectVipsOnlyOn(node: string, timeoutMs: number): Promise<void> {
  const want = { [VIP0]: [`${node}:eth0/32`], [VIP1]: [`${node}:eth1/32`] };
  const end = Date.now() + timeoutMs;
  let got = placement();
  while (JSON.stringify(got) !== JSON.stringify(want) && Date.now() < end) {
    await sleep(50);
    got = placement();
  }
  expect(got).toEqual(want);
}

/**
 * The client pings each VIP on its segment (VIP0 on eth0, VIP1 on eth1) and its neighbour
 * entry for the VIP names `node`'s MAC on that segment (moved there by the new master's
 * gratuitous ARP on that device, not by the entry's own timeout).
 */
async function expectClientReaches(node: string, timeoutMs = 4000): Promise<void> {
  const ns = lab.node('client').ns;
  for (const [vip, ifname] of [[VIP0, 'eth0'], [VIP1, 'eth1']] as const) {
    const want = macOf(node, ifname);
    const end = Date.now() + timeoutMs;
    let got = { vip, replied: false, lladdr: '' };
    for (;;) {
      const replied = /\b1 received\b/.test(lab.exec(ns, ['ping', '-n', '-c', '1', '-W', '1', vip], { allowFail: true }));
      const lladdr = /lladdr ([0-9a-f:]{17})/.exec(lab.exec(ns, ['ip', 'neigh', 'show', vip, 'dev', ifname]))?.[1] ?? '';
      got = { vip, replied, lladdr };
      if ((replied && lladdr === want) || Date.now() > end) break;
      await sleep(100);
    }
    expect(got, `the client's entry for ${vip} on ${ifname} must name ${node}'s ${ifname} (its gratuitous ARP on that device)`).toEqual({ vip, replied: true, lladdr: want });
  }
}

interface InstanceStatus {
  name: string;
  state: string;
  version: number;
  priority: number;
  vipsHeld: boolean;
  master: { address: string; mac: string; self: boolean; priority: number } | null;
  stats: { drops: Record<string, number> };
}

function vipctlStatus(vd: VipdProcess): InstanceStatus[] {
  const r = spawnSync('ip', ['netns', 'exec', lab.node(vd.node).ns, ...cliCommand('vipctl'), 'status', '--json', '--socket', vd.socket], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  return (JSON.parse(r.stdout) as { instances: InstanceStatus[] }).instances;
}

/** What keepalived 2.2.7 logs when it drops a received advert (vrrp.c): none may appear. */
const KA_REJECTS = /invalid TTL|wrong version|Invalid auth type|received a \d+ auth|invalid passwd|interval mismatch|Invalid packet type|unexpected ip number count|expected \d+ VIPs|not present in MASTER advert|Invalid VRRPv2 checksum|ip_tot_len mismatch/;

/**
 * Every VRRP packet of the capture, as tshark decodes it: VRRPv2 advert, VRID 51, simple-text
 * auth "PLACEHOL", interval 1 s, both VIPs, good checksum, TTL 255 to 224.0.0.18, no expert
 * info or malformed mark. Returns the priorities seen per source address.
 */
function checkAdverts(packets: Layers[]): Record<string, number[]> {
  const prios: Record<string, number[]> = {};
  for (const l of packets) {
    const v = l.vrrp ?? {};
    const tv = (v['vrrp.typever_tree'] ?? {}) as Record<string, string>;
    const src = String(l.ip?.['ip.src']);
    expect({
      src,
      complaints: tsharkComplaints(l),
      version: tv['vrrp.version'],
      type: tv['vrrp.type'],
      vrid: v['vrrp.virt_rtr_id'],
      authType: v['vrrp.auth_type'],
      auth: v['vrrp.auth_string'],
      interval: v['vrrp.adver_int'],
      count: v['vrrp.addr_count'],
      addrs: fieldList(v['vrrp.ip_addr']).sort(),
      checksum: v['vrrp.checksum.status'],
      ttl: l.ip?.['ip.ttl'],
      dst: l.ip?.['ip.dst'],
    }).toEqual({ src, complaints: [], version: '2', type: '1', vrid: '51', authType: '1', auth: 'PLACEHOL', interval: '1', count: '2', addrs: [VIP0, VIP1], checksum: '1', ttl: '255', dst: '224.0.0.18' });
    const p = Number(v['vrrp.prio']);
    if (!(prios[src] ??= []).includes(p)) prios[src].push(p);
  }
  for (const p of Object.values(prios)) p.sort((x, y) => x - y);
  return prios;
}

async function capture(name: string): Promise<WireCapture> {
  const c = new WireCapture(lab, 'client', 'eth0', join(dir, `${name}.pcap`), 'ip proto 112');
  captures.push(c);
  await c.start();
  return c;
}

beforeAll(() => {
  NetnsLab.requireRoot();
  for (const t of ['keepalived', 'tshark', 'tcpdump', 'ping']) requireTool(t);
  // No NetnsLab.cleanStale() here: the names carry this worker's pid, so nothing stale can
  // collide, and cleanStale() as written deletes the labs of runs that are still alive.
  writeFileSync(SCRIPT, '#!/bin/sh\nexit 0\n');
  chmodSync(SCRIPT, 0o755);
  buildLab();
});

/** Namespaces of this lab that no longer exist (removed by someone else during the run). */
function vanished(): string[] {
  const list = run('ip', ['netns', 'list'], { allowFail: true }).split('\n').map((l) => l.split(' ')[0]);
  return [lab.sw, ...[...lab.nodes.values()].map((n) => n.ns)].filter((ns) => !list.includes(ns));
}

afterEach(async () => {
  const gone = vanished();
  for (const p of procs) await p.stop();
  for (const c of captures) await c.stop();
  procs = [];
  captures = [];
  if (gone.length) throw new Error(`lab namespaces removed by another process during the test: ${gone.join(' ')}`);
});
afterAll(async () => {
  for (const p of procs) await p.stop();
  for (const c of captures) await c.stop();
  lab.destroy();
  rmSync(dir, { recursive: true, force: true });
});

describe('Kolla keepalived.conf: keepalived 2.2.7 and vipd in one cluster', () => {
  it('keepalived 2.2.7 itself accepts the file in the namespace of r1 and cuts the password to 8 bytes', () => {
    const conf = join(dir, 'check.conf');
    writeFileSync(conf, kolla(150));
    const r = spawnSync('ip', ['netns', 'exec', lab.node('r1').ns, 'keepalived', '-t', '-l', '-n', '-f', conf], { encoding: 'utf8' });
    const said = r.stdout + r.stderr;
    expect(said).toMatch(/Line 25\) Truncating auth_pass to 8 characters/);
    // 6: keepalived's config-test exit for "script security not enabled" (the file runs a
    // script as root without enable_script_security): a notice, nothing else is wrong.
    expect({ code: r.status, said }).toMatchObject({ code: 6, said: expect.stringMatching(/SECURITY VIOLATION - scripts are being executed but script_security not enabled/) });
  });

  it('keepalived at 150 is master, vipd at 100 backup; SIGTERM and SIGKILL of keepalived, nopreempt, SIGTERM of vipd', async () => {
    const cap = await capture('ka-first');
    const ka = new KeepalivedProcess(lab, 'r1', dir, kolla(150));
    const vd = new VipdProcess(lab, 'r2', dir, kolla(100));
    procs.push(vd, ka);

    // 1. keepalived first: BACKUP (state BACKUP), then MASTER after Master_Down_Interval
    await ka.start();
    await ka.waitState('MASTER', 8000);
    expect(ka.log).toMatch(/VRRP_Script\(check_alive\) succeeded/);
    vd.start();
    await vd.waitState('BACKUP', 10_000);
    await sleep(2000); // keepalived's adverts keep vipd BACKUP (and vipctl below takes longer)
    expect([ka.state, vd.state]).toEqual(['MASTER', 'BACKUP']);
    expect(vd.lines.filter((l) => l.to === 'MASTER')).toEqual([]);
    await expectVipsOnlyOn('r1', 0);
    const [st] = vipctlStatus(vd);
    expect(st).toMatchObject({ name: 'kolla_internal_vip_51', version: 2, state: 'BACKUP', priority: 100, vipsHeld: false, master: { address: ADDR.r1, mac: macOf('r1', 'eth0'), self: false, priority: 150 } });
    expect(st!.stats.drops).toEqual({});
    await expectClientReaches('r1');

    // 2a. SIGTERM keepalived: it sends priority 0 and removes its VIPs; vipd takes over
    vd.setMark();
    let t0 = Date.now();
    ka.signal('SIGTERM');
    await vd.waitState('MASTER', 8000);
    const afterKaTerm = Date.now() - t0;
    await ka.exited();
    await expectVipsOnlyOn('r2', 3000);
    await expectClientReaches('r2');

    // 3. keepalived restarted at the higher priority: nopreempt keeps it BACKUP under vipd
    vd.setMark();
    await ka.start();
    await ka.waitState('BACKUP', 5000);
    await sleep(4000); // more than its Master_Down_Interval (3 + 106/256 = 3.41 s at 150): it would have taken over by now
    expect(ka.log).not.toMatch(/Entering MASTER STATE/);
    expect(ka.state).toBe('BACKUP');
    expect(vd.lines.slice(vd.mark).filter((l) => l.to)).toEqual([]);
    await expectVipsOnlyOn('r2', 0);
    // ...until vipd stops: SIGTERM, priority 0, keepalived takes over at once
    ka.setMark();
    t0 = Date.now();
    vd.signal('SIGTERM');
    await ka.waitState('MASTER', 3000);
    const afterVdTerm = Date.now() - t0;
    expect(await vd.exited()).toBe(0);
    await expectVipsOnlyOn('r1', 3000);
    await expectClientReaches('r1');

    // 2b. vipd back as backup; keepalived SIGKILLed (VRRP child first: no priority 0)
    vd.start();
    vd.setMark(); // start() emptied the log: from its first line on
    await vd.waitState('BACKUP', 10_000);
    await sleep(1000);
    expect(vd.state).toBe('BACKUP');
    vd.setMark();
    t0 = Date.now();
    await ka.crash();
    await vd.waitState('MASTER', 8000);
    const afterKaKill = Date.now() - t0;
    await expectClientReaches('r2');
    // keepalived cannot clean up after SIGKILL: its VIPs stay in r1 (it removes them when it
    // starts again); vipd's are where the file says, as /32
    const where = placement();
    expect(where[VIP0]).toContain('r2:eth0/32');
    expect(where[VIP1]).toContain('r2:eth1/32');
    console.log(`kolla mixed: vipd master ${afterKaTerm} ms after keepalived's SIGTERM, ${afterKaKill} ms after its SIGKILL; keepalived master ${afterVdTerm} ms after vipd's SIGTERM; after keepalived's SIGKILL: ${JSON.stringify(where)}`);
    await vd.stop();
    for (const [vip, dev] of [[VIP0, 'eth0'], [VIP1, 'eth1']] as const) lab.exec(lab.node('r1').ns, ['ip', 'addr', 'del', `${vip}/32`, 'dev', dev], { allowFail: true });

    expect(ka.log).not.toMatch(KA_REJECTS);
    await cap.stop();
    const prios = checkAdverts(cap.dissect());
    // keepalived: 150, and 0 on SIGTERM; vipd: 100, and 0 on SIGTERM
    expect(prios).toEqual({ [ADDR.r1]: [0, 150], [ADDR.r2]: [0, 100] });
  });

  it('vipd at 150 is master, keepalived at 100 joins as backup; kill -9 vipd: keepalived takes over, no VIP left in vipd', async () => {
    const cap = await capture('vipd-first');
    const vd = new VipdProcess(lab, 'r2', dir, kolla(150));
    const ka = new KeepalivedProcess(lab, 'r1', dir, kolla(100));
    procs.push(vd, ka);

    vd.start();
    await vd.waitState('MASTER', 10_000);
    await ka.start();
    await ka.waitState('BACKUP', 5000);
    await sleep(2000);
    expect([ka.state, vd.state]).toEqual(['BACKUP', 'MASTER']);
    expect(ka.log).not.toMatch(/Entering MASTER STATE/);
    await expectVipsOnlyOn('r2', 0);
    expect(vipctlStatus(vd)[0]).toMatchObject({ state: 'MASTER', priority: 150, vipsHeld: true, master: { address: ADDR.r2, self: true } });
    await expectClientReaches('r2');

    // kill -9: no priority 0; keepalived waits Master_Down_Interval; vipd's crash guardian
    // removes the VIPs from r2 (after two advert intervals), so only r1 holds them
    ka.setMark();
    const t0 = Date.now();
    vd.signal('SIGKILL');
    await ka.waitState('MASTER', 8000);
    const afterVdKill = Date.now() - t0;
    await expectVipsOnlyOn('r1', 8000 - (Date.now() - t0));
    const clean = Date.now() - t0;
    await expectClientReaches('r1');
    console.log(`kolla mixed: keepalived master ${afterVdKill} ms after vipd's SIGKILL; VIPs only in r1 after ${clean} ms`);

    expect(ka.log).not.toMatch(KA_REJECTS);
    await ka.stop();
    await cap.stop();
    expect(checkAdverts(cap.dissect())).toEqual({ [ADDR.r1]: [0, 100], [ADDR.r2]: [150] });
  });
});

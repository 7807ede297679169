/**
 * A start that checks before it touches (issue #16): a refused `vipd run` leaves the system as
 * it found it. A second daemon for the same configuration in the same namespace is refused by
 * the instance lock with one line, and the first one's VIP is never deleted (an `ip monitor`
 * in the namespace sees every address change); a bad or busy --metrics is refused before any
 * VIP is added or advert sent (a sniffer on the LAN); missing capabilities are named; a
 * kill -9'd daemon leaves no lock behind.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliCommand } from '../../src/lab/cli-command.js';
import { labConfig } from '../../src/lab/conf.js';
import { NetnsLab } from '../../src/lab/netns.js';
import { expectHolders, holdersOf } from '../helpers/holders.js';
import { Sniffer } from '../helpers/sniffer.js';
import { teardown, VipdProcess } from '../helpers/vipd.js';

const lab = new NetnsLab('vt', 's');
const dir = mkdtempSync(join(tmpdir(), 'vipd-safe-'));
const ROUTERS = ['r1', 'r2'];
const VIP = '192.0.2.200';
/** r2's instance is its VIP's owner (priority 255): MASTER, VIP and adverts at once when it starts. */
const OWNER_VIP = '192.0.2.201';
const daemons: VipdProcess[] = [];
const others: ChildProcess[] = [];
let sniff: Sniffer;
let first: VipdProcess;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const conf = (): string => labConfig('r1', [{ vrid: 51, priority: 150, advertInt: 0.1, version: 3, vips: [`${VIP}/24`] }]);
const ownerConf = (): string => labConfig('r2', [{ vrid: 52, priority: 255, state: 'MASTER', advertInt: 0.1, version: 3, vips: [`${OWNER_VIP}/24`] }]);

function vipd(node: string, config: string, tag: string, extra: string[] = []): VipdProcess {
  const p = new VipdProcess(lab, node, dir, config, tag);
  p.extraArgs = extra;
  daemons.push(p);
  p.start();
  return p;
}

/** Every address change in a node's namespace while it runs (`ip -o monitor address`). */
function addressMonitor(node: string): { lines: string[]; ready: Promise<void> } {
  const p = lab.spawn(lab.node(node).ns, ['ip', '-o', 'monitor', 'address']);
  others.push(p);
  const lines: string[] = [];
  createInterface({ input: p.stdout! }).on('line', (l) => lines.push(l));
  // (ip monitor prints nothing when it is ready: give it a moment to subscribe)
  return { lines, ready: sleep(300) };
}

/** Wait for a vipd that must be refused: its exit code and stderr. */
async function refused(p: VipdProcess): Promise<{ code: number | null; stderr: string }> {
  const code = await p.exited(20_000);
  return { code, stderr: p.stderr };
}

beforeAll(() => {
  NetnsLab.requireRoot();
  NetnsLab.cleanStale();
  lab.build([{ name: 'r1', n: 1 }, { name: 'r2', n: 2 }, { name: 'client', n: 100 }]);
  sniff = new Sniffer(lab, 'client');
});

afterAll(async () => {
  for (const p of others) if (p.pid && p.exitCode === null && p.signalCode === null) p.kill('SIGTERM');
  await sniff?.stop();
  await teardown(lab, dir, daemons);
});

describe('vipd run refuses before it touches anything', () => {
  it('a second `vipd run` of the same configuration in the same namespace: exit 1, one line naming the first; its VIP never leaves, it stays MASTER', async () => {
    first = vipd('r1', conf(), 'r1');
    await first.waitState('MASTER');
    await expectHolders(lab, ROUTERS, `${VIP}/24`, ['r1'], 5000);
    const mon = addressMonitor('r1');
    await mon.ready;
    first.setMark();
    const pid = first.lines[0]!.pid as number;
    const second = vipd('r1', conf(), 'r1'); // same file, same control socket
    const r = await refused(second);
    await sleep(500);
    expect(mon.lines.filter((l) => l.includes(VIP))).toEqual([]); // never deleted, not even for a moment
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^vipd: another vipd \\(pid ${pid}\\) runs this configuration in this network namespace \\(lock @vipd:lock:${first.socket.replace(/[.]/g, '\\.')}\\); stop it first, or give this one its own --control-socket`));
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(holdersOf(lab, ROUTERS, `${VIP}/24`)).toEqual(['r1']);
    expect(first.proc!.exitCode).toBeNull();
    expect(first.lines.slice(first.mark).filter((l) => l.to)).toEqual([]); // no transition: still MASTER
    expect(first.state).toBe('MASTER');
  });

  it('the same configuration under another control socket: exit 1 naming the shared VIP and the first daemon; its VIP is untouched', async () => {
    const mon = addressMonitor('r1');
    await mon.ready;
    const pid = first.lines[0]!.pid as number;
    const other = vipd('r1', conf(), 'r1-other');
    const r = await refused(other);
    await sleep(500);
    expect(mon.lines.filter((l) => l.includes(VIP))).toEqual([]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^vipd: ${VIP.replace(/\./g, '\\.')} is also managed by another vipd \\(pid ${pid}, [^)]*vipd-r1\\.conf, control socket [^)]*\\) in this network namespace`));
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(holdersOf(lab, ROUTERS, `${VIP}/24`)).toEqual(['r1']);
    expect(first.state).toBe('MASTER');
  });

  it('another configuration with the same VRID on the same link (other VIPs): exit 1 naming the virtual router; the first stays MASTER', async () => {
    const pid = first.lines[0]!.pid as number;
    const other = vipd('r1', labConfig('r1', [{ vrid: 51, priority: 100, advertInt: 0.1, version: 3, vips: ['192.0.2.222/24'] }]), 'r1-samevrid');
    const r = await refused(other);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^vipd: eth0/IPv4/VRID 51 is also run by another vipd \\(pid ${pid}, [^)]*\\) in this network namespace .*give this instance another virtual_router_id\n$`));
    expect(holdersOf(lab, ROUTERS, '192.0.2.222/24')).toEqual([]);
    expect(first.state).toBe('MASTER');
  });

  it('--metrics abc: exit 2 with one line; no VIP ever added, no advert sent', async () => {
    await sniff.ready();
    const mon = addressMonitor('r2');
    await mon.ready;
    const from = sniff.mark;
    const p = vipd('r2', ownerConf(), 'r2-badmetrics', ['--metrics', 'abc']);
    const r = await refused(p);
    await sleep(500);
    expect(mon.lines.filter((l) => l.includes(OWNER_VIP))).toEqual([]);
    expect(sniff.lines.filter((l) => l.time >= from && (l.src === lab.node('r2').ipv4 || l.senderIp === OWNER_VIP))).toEqual([]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe("vipd: --metrics: expected HOST:PORT, [IPV6]:PORT or PORT (1-65535), got 'abc'\n");
  });

  it('--metrics on a busy port: exit 1 with one line naming the address; no VIP ever added, no advert sent', async () => {
    // a listener on the port in r2's namespace (127.0.0.1 there is r2's own)
    const holder = lab.spawn(lab.node('r2').ns, ['python3', '-c', 'import socket,time;s=socket.socket();s.bind(("127.0.0.1",9651));s.listen();print("bound",flush=True);time.sleep(60)']);
    others.push(holder);
    await new Promise<void>((resolve) => holder.stdout!.once('data', () => resolve()));
    const mon = addressMonitor('r2');
    await mon.ready;
    const from = sniff.mark;
    const p = vipd('r2', ownerConf(), 'r2-busymetrics', ['--metrics', '127.0.0.1:9651']);
    const r = await refused(p);
    await sleep(500);
    expect(mon.lines.filter((l) => l.includes(OWNER_VIP))).toEqual([]);
    expect(sniff.lines.filter((l) => l.time >= from && (l.src === lab.node('r2').ipv4 || l.senderIp === OWNER_VIP))).toEqual([]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^vipd: cannot serve metrics on 127\.0\.0\.1:9651: the port is in use/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    holder.kill('SIGTERM');
  });

  it('the same start with a free port runs: the owner is MASTER at once and its adverts are seen (the two tests above could see them)', async () => {
    const from = sniff.mark;
    const p = vipd('r2', ownerConf(), 'r2-ok', ['--metrics', '127.0.0.1:9652']);
    await p.waitState('MASTER');
    await sniff.waitFor((l) => l.type === 'vrrp' && l.src === lab.node('r2').ipv4 && l.vrid === 52, 3000, 'advert from r2', from);
    await expectHolders(lab, ROUTERS, `${OWNER_VIP}/24`, ['r2'], 3000);
    await p.stop();
    expect(await p.exited()).toBe(0);
  });

  it('without CAP_NET_RAW and CAP_NET_ADMIN: exit 1 naming both, nothing sent', async () => {
    const from = sniff.mark;
    const argv = ['setpriv', '--bounding-set', '-net_raw,-net_admin', '--', ...cliCommand('vipd'), 'run', '-f', join(dir, 'vipd-r2-ok.conf'), '--control-socket', join(dir, 'nocap.sock')];
    const p = lab.spawn(lab.node('r2').ns, argv);
    others.push(p);
    let stderr = '';
    p.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => p.once('close', (c) => resolve(c)));
    expect(code).toBe(1);
    expect(stderr).toMatch(/^vipd: missing capability CAP_NET_RAW \(the VRRP and packet sockets\) and CAP_NET_ADMIN \(adding and removing VIPs\): run as root, or grant CAP_NET_RAW CAP_NET_ADMIN/);
    expect(stderr.trim().split('\n')).toHaveLength(1);
    await sleep(300);
    expect(sniff.lines.filter((l) => l.time >= from && l.src === lab.node('r2').ipv4)).toEqual([]);
  });

  it('a kill -9\'d daemon leaves no lock: the next start of the same configuration runs and becomes MASTER', async () => {
    first.signal('SIGKILL');
    await first.exited();
    daemons.splice(daemons.indexOf(first), 1); // (gone: teardown signals only live ones)
    const again = vipd('r1', conf(), 'r1');
    await again.waitState('MASTER', 10_000);
    expect(again.stderr).not.toMatch(/another vipd/);
    await expectHolders(lab, ROUTERS, `${VIP}/24`, ['r1'], 5000);
    expect(again.proc!.exitCode).toBeNull();
  });
});

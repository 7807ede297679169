/**
 * Control socket and vipctl in the netns lab: who-owns agrees everywhere (daemon and wire),
 * status on a backup knows the master and its MAC, watch sees transitions, non-root is refused,
 * a stalled watcher does not delay adverts, metrics scrape, sd_notify READY=1.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:net';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliCommand } from '../../src/lab/cli-command.js';
import { labConfig, type LabInstance } from '../../src/lab/conf.js';
import { NetnsLab } from '../../src/lab/netns.js';
import { Sniffer } from '../helpers/sniffer.js';
import { VipdProcess } from '../helpers/vipd.js';

const lab = new NetnsLab('vt', 'c');
const dir = mkdtempSync(join(tmpdir(), 'vipd-ctl-'));
const VIP = '192.0.2.200';
const d: Record<string, VipdProcess> = {};
let sniff: Sniffer;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const base = (prio: number): LabInstance => ({ name: 'VI_51', vrid: 51, priority: prio, advertInt: 0.1, version: 3, vips: [`${VIP}/24`] });
const slow: LabInstance = { name: 'SLOW', vrid: 98, priority: 50, advertInt: 40, version: 3, vips: ['192.0.2.198/24'] };
const many = (prio: number, advertInt = 1): LabInstance[] => Array.from({ length: 40 }, (_, k) => ({ name: `X${k}`, vrid: 100 + k, priority: prio, advertInt, version: 3 as const, vips: [`203.0.113.${k + 1}/24`] }));

function vipctl(node: string, args: string[], env: Record<string, string> = {}): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync('ip', ['netns', 'exec', lab.node(node).ns, ...cliCommand('vipctl'), ...args], { encoding: 'utf8', env: { ...process.env, ...env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
function whoOwns(node: string): { code: number | null; json: { master?: { address: string; mac: string; self: boolean } } } {
  const args = node === 'client' ? ['who-owns', VIP, '--json', '--listen', 'eth0', '--timeout', '3'] : ['who-owns', VIP, '--json', '--socket', d[node]!.socket];
  const r = vipctl(node, args);
  return { code: r.code, json: r.stdout ? JSON.parse(r.stdout) : {} };
}

beforeAll(async () => {
  NetnsLab.requireRoot();
  NetnsLab.cleanStale();
  lab.build([{ name: 'r1', n: 1 }, { name: 'r2', n: 2 }, { name: 'r3', n: 3 }, { name: 'client', n: 100 }]);
  sniff = new Sniffer(lab, 'client');
  d.r1 = new VipdProcess(lab, 'r1', dir, labConfig('r1', [base(150), ...many(10)]));
  d.r1.extraArgs = ['--metrics', '127.0.0.1:9650', '--control-max-buffer', '8192'];
  d.r2 = new VipdProcess(lab, 'r2', dir, labConfig('r2', [base(100)]));
  d.r3 = new VipdProcess(lab, 'r3', dir, labConfig('r3', [base(50), slow]));
  for (const r of ['r1', 'r2', 'r3']) d[r]!.start();
  await d.r1.waitFor((l) => l.to === 'MASTER' && l.instance === 'VI_51', 10_000, 'r1 master');
  await d.r2.waitState('BACKUP');
  await d.r3.waitState('BACKUP');
  await sleep(500);
});
afterAll(async () => {
  for (const p of Object.values(d)) await p.stop();
  await sniff?.stop();
  lab.destroy();
  rmSync(dir, { recursive: true, force: true });
});

describe('vipctl and the control socket', () => {
  it('who-owns names the same master in every router and from the wire in the client', () => {
    for (const n of ['r1', 'r2', 'r3', 'client']) {
      const w = whoOwns(n);
      expect(w.code, n).toBe(0);
      const trail = ['r1', 'r2', 'r3'].map((r) => `${r}: ${d[r]!.lines.filter((l) => l.to).filter((l) => l.instance === "VI_51").map((l) => `${String(l.time)} ${l.from}->${l.to} (${l.reason})`).join('; ')}`).join('\n');
      expect(w.json.master, `${n}\n${trail}`).toMatchObject({ address: '192.0.2.1', mac: lab.node('r1').mac, self: n === 'r1' });
    }
  });

  it('who-owns exit codes: 4 not configured, 3 configured without a master, 2 bad address', () => {
    expect(vipctl('r2', ['who-owns', '192.0.2.77', '--socket', d.r2!.socket]).code).toBe(4);
    const none = vipctl('r3', ['who-owns', '192.0.2.198', '--json', '--socket', d.r3!.socket]);
    expect(none.code).toBe(3);
    expect(JSON.parse(none.stdout)).toMatchObject({ configured: true, instance: 'SLOW', state: 'BACKUP', master: null });
    const bad = vipctl('r2', ['who-owns', 'not-an-ip', '--socket', d.r2!.socket]);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim()).toBe("vipctl: who-owns: 'not-an-ip' is not an IP address");
  });

  it('status --json on a backup knows the master, its MAC and the age of its last advert', () => {
    const r = vipctl('r2', ['status', '--json', '--socket', d.r2!.socket]);
    expect(r.code).toBe(0);
    const inst = (JSON.parse(r.stdout) as { instances: Record<string, unknown>[] }).instances[0]!;
    expect(inst).toMatchObject({ name: 'VI_51', interface: 'eth0', family: 4, vrid: 51, version: 3, state: 'BACKUP', priority: 100, effectivePriority: 100, advertIntervalMs: 100, vips: [`${VIP}/24`], vipsHeld: false, master: { address: '192.0.2.1', mac: lab.node('r1').mac, self: false } });
    const m = inst.master as { lastAdvertAgoMs: number };
    expect(m.lastAdvertAgoMs).toBeLessThan(500);
    expect((inst.stats as { advertsReceived: number }).advertsReceived).toBeGreaterThan(5);
    const human = vipctl('r2', ['status', '--socket', d.r2!.socket]);
    expect(human.stdout).toMatch(/^VI_51\s+BACKUP\s+100\s+192\.0\.2\.200\s+192\.0\.2\.1\s+\d+s ago$/m);
    const wide = vipctl('r2', ['status', '-o', 'wide', '--socket', d.r2!.socket]);
    expect(wide.stdout).toMatch(/VI_51\s+eth0\s+v4\s+51\s+v3\s+BACKUP\s+100\s+100\s+100ms\s+192\.0\.2\.200\/24\s+no\s+192\.0\.2\.1\s+02:00:00:00:00:01/);
  });

  it('errors: no daemon, and a non-root user is refused by the socket', () => {
    const none = vipctl('r2', ['status', '--socket', join(dir, 'nothing.sock')]);
    expect(none.code).toBe(5);
    expect(none.stderr).toMatch(/no vipd answers on/);
    const r = spawnSync('ip', ['netns', 'exec', lab.node('r2').ns, 'setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', ...cliCommand('vipctl'), 'status', '--socket', d.r2!.socket], { encoding: 'utf8', env: { ...process.env, HOME: '/tmp' } });
    expect(r.stderr).toMatch(/permission denied/);
    expect(r.status).toBe(6);
  });

  it('watch sees the transition when the master is killed; who-owns follows everywhere', async () => {
    const w = spawn('ip', ['netns', 'exec', lab.node('r2').ns, ...cliCommand('vipctl'), 'watch', '--json', '--socket', d.r2!.socket]);
    const events: Record<string, unknown>[] = [];
    createInterface({ input: w.stdout }).on('line', (l) => events.push(JSON.parse(l) as Record<string, unknown>));
    // vipctl start-up: connected once the daemon's end shows in ss (the control socket's path as local address), then its watch request
    const r2ns = lab.node('r2').ns;
    const connected = (): boolean => lab.exec(r2ns, ['ss', '-xH', 'state', 'established']).split('\n').some((l) => l.includes(d.r2!.socket));
    for (let i = 0; i < 100 && !connected(); i++) await sleep(50);
    expect(connected(), 'vipctl watch connected').toBe(true);
    await sleep(200);
    d.r2!.setMark();
    d.r1!.signal('SIGKILL');
    await d.r2!.waitState('MASTER', 5000);
    await sleep(300);
    w.kill('SIGTERM');
    expect(events).toContainEqual(expect.objectContaining({ type: 'transition', instance: 'VI_51', from: 'BACKUP', to: 'MASTER', reason: 'master down timer expired' }));
    for (const n of ['r2', 'r3', 'client']) expect(whoOwns(n).json.master, n).toMatchObject({ address: '192.0.2.2', mac: lab.node('r2').mac });
  });

  it('a stalled watcher is dropped and does not delay adverts; metrics scrape and move', async () => {
    d.r1!.start();
    await d.r1!.waitFor((l) => l.to === 'MASTER' && l.instance === 'VI_51', 10_000, 'r1 master again');
    // a client that asks to watch and never reads
    const c = connect(d.r1!.socket);
    c.write('{"api":1,"id":1,"cmd":"watch"}\n');
    c.pause();
    await sleep(200);
    const from = sniff.mark;
    for (let k = 0; k < 12; k++) {
      // another VRRP version restarts the 40 instances (priority and advert_int change in place)
      d.r1!.rewrite(labConfig('r1', [base(150), ...many(10).map((i) => ({ ...i, version: k % 2 ? (3 as const) : (2 as const) }))]));
      d.r1!.signal('SIGHUP');
      await sleep(250);
    }
    const until = sniff.mark;
    await sleep(200);
    const ads = sniff.adverts(51, from).filter((a) => a.src === '192.0.2.1' && a.time <= until);
    const gaps = ads.slice(1).map((a, i) => (a.time - ads[i]!.time) * 1000);
    console.log(`VRID 51 adverts during 12 reloads with a stalled watcher: ${ads.length}, max gap ${Math.max(...gaps).toFixed(1)} ms`);
    expect(ads.length).toBeGreaterThan(20);
    expect(Math.max(...gaps)).toBeLessThan(250);
    const dump = spawnSync('ip', ['netns', 'exec', lab.node('r1').ns, process.execPath, '-e', `const c=require('net').connect(${JSON.stringify(d.r1!.socket)});c.write('{"api":1,"id":1,"cmd":"dump"}\\n');let s='';c.on('data',(b)=>{s+=b;if(s.includes('\\n')){process.stdout.write(s);c.destroy()}})`], { encoding: 'utf8' });
    expect((JSON.parse(dump.stdout) as { result: { droppedWatchers: number } }).result.droppedWatchers).toBeGreaterThanOrEqual(1);
    c.destroy();
    // metrics, in r1's namespace (loopback is per namespace)
    const scrape = (): string => spawnSync('ip', ['netns', 'exec', lab.node('r1').ns, process.execPath, '-e', "fetch('http://127.0.0.1:9650/metrics').then(r=>r.text()).then(t=>process.stdout.write(t))"], { encoding: 'utf8' }).stdout;
    const a = scrape();
    expect(a).toMatch(/vipd_instance_state\{instance="VI_51",interface="eth0",vrid="51",family="ipv4"\} 2/);
    const sent = (t: string): number => Number(/vipd_adverts_sent_total\{instance="VI_51"[^}]*\} (\d+)/.exec(t)?.[1]);
    await sleep(500);
    expect(sent(scrape())).toBeGreaterThan(sent(a));
    expect(a).toMatch(/# TYPE vipd_packets_dropped_total counter/);
    expect(a).toMatch(/vipd_transitions_total\{instance="VI_51"/);
  });

  it('sd_notify: READY=1 reaches NOTIFY_SOCKET once instances run', async () => {
    const sock = join(dir, 'notify.sock');
    const py = spawn('python3', ['-c', `import socket;s=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM);s.bind(${JSON.stringify(sock)});print('bound',flush=True);print(s.recv(100).decode(),flush=True)`]);
    let got = '';
    py.stdout.on('data', (b: Buffer) => (got += b.toString()));
    while (!got.includes('bound')) await sleep(20);
    const p = new VipdProcess(lab, 'r3', dir, labConfig('r3x', [{ ...base(20), vrid: 97, name: 'N', vips: ['192.0.2.197/24'] }]), 'notify');
    process.env.NOTIFY_SOCKET = sock;
    try {
      p.start();
    } finally {
      delete process.env.NOTIFY_SOCKET;
    }
    await new Promise((r) => py.once('exit', r));
    await p.stop();
    expect(got).toContain('READY=1');
  });
});

/**
 * `npm run lab`: three routers and a client in network namespaces; vipd (or keepalived on one
 * router) elects a master, the master is killed (SIGKILL) and the takeover is measured from
 * packets captured in the client namespace, the old master returns and preempts, then stops
 * gracefully (priority 0). `--scenario openstack` runs the reference deployment instead
 * (src/lab/openstack/scenario.ts). Everything is torn down at the end (namespaces, daemons, the
 * temporary directory), also on failure and Ctrl-C; with --keep the lab stays up and the
 * commands to explore it and to tear it down are printed, runnable from the clone.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { masterDownIntervalUs, skewTimeUs } from '../core/timers.js';
import { cliCommand, cliCommandLine, shellWord } from './cli-command.js';
import { labConfig } from './conf.js';
import { LabDaemon } from './daemon-proc.js';
import { NetnsLab } from './netns.js';

const VIP = '192.0.2.200';
const VRID = 51;
const ROUTERS = [{ name: 'r1', n: 1, prio: 150 }, { name: 'r2', n: 2, prio: 100 }, { name: 'r3', n: 3, prio: 50 }];

interface Opts {
  keep: boolean;
  keepalived: string | null;
}

function parseArgs(argv: string[]): Opts {
  const o: Opts = { keep: false, keepalived: null };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--keep') o.keep = true;
    else if (argv[i] === '--keepalived') o.keepalived = argv[++i] ?? '';
    else throw new Error(`unknown option ${argv[i]} (use --keep, --keepalived rN; or --scenario openstack [--keepalived] [--short] [--json] [--keep]: docs/openstack.md)`);
  }
  if (o.keepalived !== null && !ROUTERS.some((r) => r.name === o.keepalived)) throw new Error('--keepalived takes r1, r2 or r3');
  return o;
}

const t0 = Date.now();
const say = (msg: string): void => console.log(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(5)}s] ${msg}`);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Advert {
  time: number;
  src: string;
  priority: number;
  type: string;
  vrid?: number;
  senderIp?: string;
}


async function main(): Promise<number> {
  const o = parseArgs(process.argv.slice(2));
  NetnsLab.requireRoot();
  NetnsLab.cleanStale();
  const lab = new NetnsLab('vl');
  const dir = mkdtempSync(join(tmpdir(), 'vipd-lab-'));
  const routers: LabDaemon[] = [];
  const configs: string[] = [];
  let sniffer: ChildProcess | null = null;
  const cleanup = async (): Promise<void> => {
    for (const r of routers) await r.signal('SIGTERM');
    sniffer?.kill('SIGTERM'); // a no-op once it has exited
    lab.destroy();
    rmSync(dir, { recursive: true, force: true });
  };
  for (const [sig, code] of [['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129]] as const) process.once(sig, () => void cleanup().then(() => process.exit(code)));
  try {
    lab.build([...ROUTERS.map(({ name, n }) => ({ name, n })), { name: 'client', n: 100 }]);
    say(`lab up: namespaces ${lab.prefix}-{sw,r1,r2,r3,client}; VRRPv3, VRID ${VRID}, VIP ${VIP}, adverts every 100 ms`);
    say(`vipd is ${cliCommand('vipd').join(' ')}`);
    const ads: Advert[] = [];
    sniffer = lab.spawn(lab.node('client').ns, [...cliCommand('vipctl'), 'sniff', '-i', 'eth0', '--json']);
    createInterface({ input: sniffer.stdout! }).on('line', (l) => ads.push(JSON.parse(l) as Advert));
    for (const r of ROUTERS) {
      const ka = o.keepalived === r.name;
      const router = new LabDaemon(lab, ka ? 'keepalived' : 'vipd', r.name, dir);
      configs.push(labConfig(`${lab.prefix}-${r.name}`, [{ vrid: VRID, priority: r.prio, advertInt: 0.1, version: 3, vips: [`${VIP}/24`] }], ['vrrp_version 3']));
      routers.push(router);
      router.start(configs.at(-1)!);
      say(`started ${ka ? 'keepalived' : 'vipd'} on ${r.name} (priority ${r.prio})`);
    }
    const master = async (want: string, since: number, timeoutMs = 8000): Promise<Advert> => {
      const ip = `192.0.2.${ROUTERS.find((r) => r.name === want)!.n}`;
      const end = Date.now() + timeoutMs;
      for (;;) {
        // mastership is settled when the last three adverts all come from `want`
        const recent = ads.filter((a) => a.type === 'vrrp' && a.vrid === VRID && a.time >= since).slice(-3);
        if (recent.length === 3 && recent.every((a) => a.src === ip && a.priority > 0)) return recent[0]!;
        if (Date.now() > end) throw new Error(`${want} did not become master (last adverts: ${JSON.stringify(recent)})`);
        await sleep(20);
      }
    };
    const show = (who: string): void => {
      const holders = ROUTERS.filter((r) => lab.addresses(r.name).includes(`${VIP}/24`)).map((r) => r.name);
      lab.exec(lab.node('client').ns, ['ping', '-c', '1', '-W', '1', VIP], { allowFail: true });
      const neigh = lab.exec(lab.node('client').ns, ['ip', 'neigh', 'show', VIP]).trim();
      const mac = /lladdr (\S+)/.exec(neigh)?.[1] ?? '?';
      const macOwner = ROUTERS.find((r) => lab.node(r.name).mac === mac)?.name ?? '?';
      say(`${who} is master: VIP held by [${holders.join(', ')}]; client's neighbour entry ${VIP} -> ${mac} (${macOwner})`);
      if (holders.length > 1) say(`WARNING: the VIP is on ${holders.join(' and ')} (keepalived leaves its VIP behind when killed)`);
      if (!holders.includes(who) || macOwner !== who) throw new Error('the VIP is not where the wire says the master is');
    };
    const takeover = (oldIp: string, newIp: string, since: number): number => {
      const v = ads.filter((a) => a.type === 'vrrp' && a.vrid === VRID);
      const first = v.find((a) => a.time >= since && a.src === newIp && a.priority > 0)!;
      const last = [...v].reverse().find((a) => a.src === oldIp && a.time < first.time)!;
      return (first.time - last.time) * 1000;
    };

    await master('r1', 0, 15_000);
    await sleep(500);
    show('r1');
    const mdi = masterDownIntervalUs(3, 100, 100_000) / 1000;
    let since = Date.now() / 1000;
    say(`SIGKILL ${o.keepalived === 'r1' ? 'keepalived' : 'vipd'} on r1`);
    await routers[0]!.crash();
    await master('r2', since);
    const crashMs = takeover('192.0.2.1', '192.0.2.2', since);
    say(`r2 took over: last advert of r1 -> first advert of r2 = ${crashMs.toFixed(1)} ms (Master_Down_Interval ${mdi.toFixed(1)} ms)`);
    await sleep(300);
    show('r2');
    since = Date.now() / 1000;
    routers[0]!.start(configs[0]!);
    say('restarted r1 (priority 150): it must preempt r2');
    await master('r1', since, 15_000);
    await sleep(300);
    show('r1');
    since = Date.now() / 1000;
    say('SIGTERM r1: it must send priority 0 and hand over at once');
    await routers[0]!.signal('SIGTERM');
    await master('r2', since);
    const zero = ads.find((a) => a.type === 'vrrp' && a.time >= since && a.src === '192.0.2.1' && a.priority === 0);
    const first = ads.find((a) => a.type === 'vrrp' && a.time >= since && a.src === '192.0.2.2');
    const skew = skewTimeUs(3, 100, 100_000) / 1000;
    if (zero && first) say(`priority 0 from r1 -> first advert of r2 = ${((first.time - zero.time) * 1000).toFixed(1)} ms (Skew_Time ${skew.toFixed(1)} ms)`);
    else throw new Error('no priority-0 advert seen from r1');
    await sleep(300);
    show('r2');
    if (o.keep) {
      keepMessage(lab, routers, dir);
      for (const r of routers) r.proc?.unref();
      sniffer.kill('SIGTERM');
      return 0;
    }
    say('stopping everything');
    await cleanup();
    say(`done in ${((Date.now() - t0) / 1000).toFixed(1)} s; namespaces removed`);
    return 0;
  } catch (e) {
    say(`FAILED: ${(e as Error).message}`);
    for (const r of routers) {
      const tail = r.logTail(20);
      if (tail) say(`last lines of ${r.impl} on ${r.node}:\n${tail}`);
    }
    await cleanup();
    return 1;
  }
}

/**
 * --keep: what runs, and commands that work from the clone (`ip netns exec` + this vipctl,
 * e.g. `node dist/bin/vipctl.cjs`). The teardown kills what runs in the lab's namespaces at
 * that moment (`ip netns pids`), never a pid printed earlier that may have exited since.
 */
function keepMessage(lab: NetnsLab, routers: LabDaemon[], dir: string): void {
  const vipctl = cliCommandLine('vipctl');
  const names = [...lab.nodes.values()].map((n) => n.ns).concat(lab.sw).join(' ');
  const running = routers.filter((r) => r.running());
  say(`--keep: left running: ${running.map((r) => `${r.impl} on ${r.node}`).join(', ') || 'no daemon'}. From this directory:`);
  for (const r of running) {
    if (r.controlSocket) console.log(`  ip netns exec ${lab.prefix}-${r.node} ${vipctl} status --socket ${shellWord(r.controlSocket)}`);
  }
  console.log(`  ip netns exec ${lab.prefix}-client ${vipctl} who-owns ${VIP} --listen eth0`);
  console.log(`  ip netns exec ${lab.prefix}-client ${vipctl} sniff -i eth0`);
  console.log(`  ip netns exec ${lab.prefix}-client ip neigh show ${VIP}`);
  console.log(`  logs and configurations: ${dir}`);
  say('tear down:');
  console.log(`  for n in ${names}; do ip netns pids $n | xargs -r kill; done; sleep 1; for n in ${names}; do ip netns del $n; done; rm -rf ${shellWord(dir)}`);
}

const argv = process.argv.slice(2);
const eq = argv.findIndex((a) => a.startsWith('--scenario='));
if (eq >= 0) argv.splice(eq, 1, '--scenario', argv[eq]!.slice('--scenario='.length));
const scenario = argv.indexOf('--scenario');
const job = scenario < 0 ? main() : argv[scenario + 1] === 'openstack'
  ? import('./openstack/scenario.js').then((m) => m.openstackScenario(argv.filter((_, i) => i !== scenario && i !== scenario + 1)))
  : Promise.reject(new Error(argv[scenario + 1] === undefined ? '--scenario needs a name (there is: openstack)' : `unknown scenario '${argv[scenario + 1]}' (there is: openstack)`));
job.then((code) => process.exit(code), (e: Error) => {
  console.error(`lab: ${e.message}`);
  process.exit(2);
});

/**
 * `npm run lab -- --scenario openstack [--keepalived] [--short] [--json] [--keep]`: the
 * reference deployment in namespaces: three controllers (ctl1..3), each with HAProxy on the
 * VIP in front of an API backend running on all three, and a client sending an HTTP request
 * to the VIP every 10 ms. The controllers start on keepalived 2.2.7 with a Kolla-style
 * keepalived.conf and are migrated one at a time to vipd (with --keepalived: restarted one at
 * a time on keepalived, the comparison run); then the master's HAProxy, daemon and link fail
 * and come back, its daemon is stopped, a reload changes its priority, and the VIP is moved
 * off it on purpose (vipctl handover, maintenance; keepalived: stopped). One line per step;
 * --json prints the whole result as one JSON document on stdout (progress goes to stderr).
 * Exit 0 when every check holds, 1 when one fails in a vipd run or the scenario cannot go on.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Impl } from '../daemon-proc.js';
import { NetnsLab } from '../netns.js';
import { Controller, type RenderEnv } from './controller.js';
import { checks, keepMessage, stepLine, type Check } from './report.js';
import { KOLLA, ORDER, SHORT, STEPS, master, waitFor, type Ctx, type StepResult } from './steps.js';
import { ClientLoop, Holders, Wire } from './watch.js';

export const VIP = '192.0.2.250';
export const API_PORT = 5000;
const VRID = 51;
/** Kolla's priorities: the host's index in the loadbalancer group + 1. */
const CONTROLLERS = [{ name: 'ctl1', n: 11, priority: 1 }, { name: 'ctl2', n: 12, priority: 2 }, { name: 'ctl3', n: 13, priority: 3 }];
/** 40 characters, as kolla-genpwd makes them (VRRPv2 PASS carries the first 8). */
const AUTH_PASS = 'vipdLabKollaStyle40CharacterPassword0123';

interface Opts {
  impl: Impl;
  short: boolean;
  json: boolean;
  keep: boolean;
}

export interface ScenarioResult {
  scenario: 'openstack';
  impl: Impl;
  short: boolean;
  vip: string;
  steps: StepResult[];
  checks: Check[];
  ok: boolean;
  error?: string;
}

function parseArgs(argv: string[]): Opts {
  const o: Opts = { impl: 'vipd', short: false, json: false, keep: false };
  for (const a of argv) {
    if (a === '--keepalived') o.impl = 'keepalived';
    else if (a === '--short') o.short = true;
    else if (a === '--json') o.json = true;
    else if (a === '--keep') o.keep = true;
    else throw new Error(`unknown option ${a} (the openstack scenario takes --keepalived, --short, --json, --keep)`);
  }
  return o;
}

export async function openstackScenario(argv: string[]): Promise<number> {
  const o = parseArgs(argv);
  const t0 = Date.now();
  const say = (msg: string): void => {
    const line = `[${((Date.now() - t0) / 1000).toFixed(1).padStart(5)}s] ${msg}`;
    if (o.json) process.stderr.write(`${line}\n`);
    else console.log(line);
  };
  NetnsLab.requireRoot();
  NetnsLab.cleanStale();
  const t = o.short ? SHORT : KOLLA;
  const lab = new NetnsLab('vl', 'o');
  const dir = mkdtempSync(join(tmpdir(), 'vipd-openstack-'));
  const env: RenderEnv = {
    CONTROLLERS: CONTROLLERS.map((c) => `${c.name}=192.0.2.${c.n}`).join(' '), VIP, API_PORT: String(API_PORT), BACKEND_PORT: '15000',
    ADVERT_INT: '1', CHECK_INTERVAL: String(t.interval), CHECK_FALL: String(t.fall), CHECK_RISE: String(t.rise), AUTH_PASS,
  };
  const result: ScenarioResult = { scenario: 'openstack', impl: o.impl, short: o.short, vip: VIP, steps: [], checks: [], ok: false };
  let ctls: Controller[] = [];
  const client = new ClientLoop(lab, 'client', `http://${VIP}:${API_PORT}/`);
  const holders = new Holders(lab, CONTROLLERS.map((c) => c.name), VIP);
  const wire = new Wire(lab, 'client', VRID);
  let cleaning: Promise<void> | null = null;
  const cleanup = (): Promise<void> => (cleaning ??= (async () => {
    for (const c of ctls) c.markClosing(); // a step in flight starts nothing more
    await Promise.all([client.stop(), holders.stop(), wire.stop(), ...ctls.map((c) => c.close())]);
    lab.destroy();
    rmSync(dir, { recursive: true, force: true });
  })());
  // Ctrl-C, a timeout's or a CI job's SIGTERM, a closed terminal: the same teardown
  for (const [sig, code] of [['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129]] as const) {
    process.once(sig, () => {
      say(`${sig}: tearing the lab down`);
      void cleanup().then(() => process.exit(code));
    });
  }
  try {
    lab.build([...CONTROLLERS.map(({ name, n }) => ({ name, n })), { name: 'client', n: 100 }]);
    ctls = CONTROLLERS.map((c) => new Controller(lab, c.name, `192.0.2.${c.n}`, c.priority, dir, env));
    for (const c of ctls) {
      for (const f of ['ipv4', 'ipv6']) lab.exec(lab.node(c.name).ns, ['sysctl', '-qw', `net.${f}.ip_nonlocal_bind=1`]);
      await c.startBackend(o.keep);
    }
    for (const c of ctls) await c.startHaproxy();
    say(`lab up: namespaces ${lab.prefix}-{sw,${CONTROLLERS.map((c) => c.name).join(',')},client}; HAProxy on ${VIP}:${API_PORT} on each controller, backends on all three`);
    say(`keepalived.conf: Kolla-style (VRRPv2, PASS, nopreempt, priorities 1-3, check_alive every ${t.interval} s, fall ${t.fall}, rise ${t.rise}); files in ${dir}`);
    holders.start();
    wire.start();
    // the cluster as operators have it today: keepalived 2.2.7 on every controller
    for (const c of [...ctls].reverse()) c.startDaemon('keepalived');
    const m = await waitFor('a master', 20_000, () => master(ctls));
    await waitFor('two backups', 10_000, () => ctls.every((c) => c === m || c.transitions().at(-1)?.state === 'BACKUP'));
    say(`keepalived 2.2.7 on ctl1..3: ${m.name} is MASTER`);
    client.start();
    await waitFor('the first answer through the VIP', 10_000, () => client.requests.some((r) => !r.err));
    say(`client: GET http://${VIP}:${API_PORT}/ every 10 ms, 500 ms timeout, a new connection each`);
    const ctx: Ctx = { ctls, impl: o.impl, client, holders, wire, t, say };
    for (const name of ORDER) {
      const r = await STEPS[name]!(ctx);
      result.steps.push(r);
      say(stepLine(r));
    }
    result.checks = checks(result.steps);
    result.ok = result.checks.every((c) => c.ok);
    for (const c of result.checks) say(`${c.ok ? 'ok  ' : 'FAIL'} ${c.name}: ${c.detail}`);
    if (o.keep) {
      await Promise.all([client.stop(), holders.stop(), wire.stop()]);
      for (const c of ctls) for (const p of [c.daemon?.proc, c.haproxy, c.backend]) p?.unref();
      keepMessage(lab, ctls, dir, say, o.json ? (l) => process.stderr.write(`${l}\n`) : (l) => console.log(l));
    } else {
      await cleanup();
      say(`done in ${((Date.now() - t0) / 1000).toFixed(1)} s; namespaces and ${dir} removed`);
    }
  } catch (e) {
    result.error = (e as Error).message;
    say(`FAILED: ${result.error}`);
    for (const c of ctls) {
      const tail = c.daemon?.logTail(15);
      if (tail) say(`last lines of ${c.daemon!.impl} on ${c.name}:\n${tail}`);
    }
    await cleanup();
  }
  if (o.json) process.stdout.write(`${JSON.stringify(result)}\n`);
  if (result.error) return 1;
  return result.ok || o.impl === 'keepalived' ? 0 : 1;
}

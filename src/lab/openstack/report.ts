/** The OpenStack scenario's verdicts and lines (issue #22's "what must hold"). */
import { join } from 'node:path';
import { cliCommandLine, shellWord } from '../cli-command.js';
import type { NetnsLab } from '../netns.js';
import type { Controller } from './controller.js';
import type { StepResult } from './steps.js';

/**
 * Two holders for at most this long (ms) are a takeover race, not a stale VIP: with Kolla's
 * priorities 1, 2, 3 the backups' Skew_Times differ by 3.9 ms (VRRPv2, advert_int 1), so on a
 * busy host two backups can both reach MASTER on a priority-0 advert or a silent master, each
 * adding the VIP, until the lower one hears the other's first advert and lets go (RFC 9568
 * 6.4.3; keepalived alike). Every overlap is reported; a stale VIP lasts seconds.
 */
export const RACE_MS = 100;

/** Steps where vipd hands over on purpose and both hold the VIP ~50 ms by design (docs/handover.md). */
const MAKE_BEFORE_BREAK = new Set(['handover', 'maintenance']);

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

/** One line per step: what the client saw, who was master, what the kernel and the wire showed. */
export function stepLine(r: StepResult): string {
  const extra = [
    r.twoHoldersMs > 0 ? `VIP on ${r.twoHolders.join(' and ')} at once for ${r.twoHoldersMs} ms${MAKE_BEFORE_BREAK.has(r.step) && r.impl === 'vipd' ? ' (make-before-break: the old master waits for the new one\'s gratuitous ARP)' : ''}` : '',
    r.dualMasterAdverts > 0 ? `${r.dualMasterAdverts} adverts from two masters` : '',
    r.staleVip.length ? `stale VIP on ${r.staleVip.join(', ')}` : '',
    r.deadAnswers ? `${r.deadAnswers} answers from the dead master after the takeover` : '',
    r.faultMs !== undefined ? `FAULT after ${r.faultMs} ms` : '',
    r.takeoverMs !== undefined ? `new master after ${r.takeoverMs} ms` : '',
  ].filter(Boolean);
  return `${r.step.padEnd(12)} failed ${r.failed}/${r.requests}, longest gap ${r.maxGapMs} ms, answered by ${r.before ?? '-'} -> ${r.after ?? '-'}`
    + `; master ${r.masterBefore ?? '-'} -> ${r.masterAfter ?? '-'}${extra.length ? `; ${extra.join('; ')}` : ''} (${r.action})`;
}

/** What must hold, from the steps' results (a missing step fails its checks). */
export function checks(steps: StepResult[]): Check[] {
  const s = (name: string): StepResult | undefined => steps.find((x) => x.step === name);
  const out: Check[] = [];
  const add = (name: string, ok: boolean, detail: string): void => void out.push({ name, ok, detail });
  const hk = s('haproxy-kill');
  add('the VIP leaves a master whose HAProxy died', Boolean(hk?.masterAfter && hk.masterAfter !== hk.masterBefore && hk.after === hk.masterAfter),
    hk ? `master ${hk.masterBefore} -> ${hk.masterAfter}, answers through ${hk.before} -> ${hk.after}` : 'step missing');
  const k9 = s('kill-9');
  add('no stale VIP after kill -9', Boolean(k9 && k9.staleVip.length === 0 && k9.deadAnswers === 0),
    k9 ? `VIP left on [${k9.staleVip.join(', ')}], ${k9.deadAnswers ?? 0} answers from the dead master after the takeover` : 'step missing');
  const rl = s('reload');
  add('no loss on reload', Boolean(rl && rl.failed === 0 && rl.masterAfter === rl.masterBefore && rl.advertised === 100),
    rl ? `failed ${rl.failed}, master ${rl.masterBefore} -> ${rl.masterAfter}, advertised priority ${rl.advertised ?? '-'}` : 'step missing');
  const quiet = ['steady', 'haproxy-back', 'daemon-back', 'link-up'].map(s);
  add('no loss in steps that leave the master alone', quiet.every((x) => x && x.failed === 0),
    quiet.map((x, i) => `${x?.step ?? ['steady', 'haproxy-back', 'daemon-back', 'link-up'][i]} ${x ? x.failed : 'missing'}`).join(', '));
  const mg = s('migrate');
  add('the migration never has two masters, at most one outage', Boolean(mg && mg.twoHoldersMs <= RACE_MS && mg.dualMasterAdverts === 0 && mg.outages <= 1),
    mg ? `two holders ${mg.twoHoldersMs} ms, two-master adverts ${mg.dualMasterAdverts}, outages ${mg.outages} (failed ${mg.failed})` : 'step missing');
  for (const [name, what] of [['handover', 'a planned handover loses no request'], ['maintenance', 'maintenance of the master loses no request']] as const) {
    const h = s(name);
    add(what, Boolean(h && h.failed === 0 && h.masterAfter && h.masterAfter !== h.masterBefore),
      h ? `failed ${h.failed}, master ${h.masterBefore} -> ${h.masterAfter}` : 'step missing');
  }
  const both = steps.filter((x) => x.twoHoldersMs > 0);
  add(`never two holders of the VIP beyond a takeover race or a handover's make-before-break (${RACE_MS} ms)`, both.every((x) => x.twoHoldersMs <= RACE_MS),
    both.length ? both.map((x) => `${x.step}: ${x.twoHolders.join('+')} ${x.twoHoldersMs} ms`).join(', ') : 'none in any step');
  return out;
}

/**
 * --keep: what runs and commands that work from the clone, among them the same client loop
 * the scenario ran (its summary line every second). The teardown kills what runs in the
 * lab's namespaces at that moment (`ip netns pids`), never a pid printed earlier.
 */
export function keepMessage(lab: NetnsLab, ctls: Controller[], dir: string, say: (m: string) => void, print: (line: string) => void): void {
  const vipctl = cliCommandLine('vipctl');
  const names = [...lab.nodes.values()].map((n) => n.ns).concat(lab.sw).join(' ');
  say(`--keep: left running: ${ctls.map((c) => `${c.daemon?.running() ? c.daemon.impl : 'no daemon'} + HAProxy on ${c.name}`).join(', ')}. From this directory:`);
  print(`  ip netns exec ${lab.prefix}-client node packaging/vagrant/provision/client.mjs --url http://192.0.2.250:5000/`);
  for (const c of ctls) if (c.daemon?.controlSocket) print(`  ip netns exec ${lab.prefix}-${c.name} ${vipctl} status --socket ${shellWord(c.daemon.controlSocket)}`);
  print(`  ip netns exec ${lab.prefix}-client ${vipctl} who-owns 192.0.2.250 --listen eth0`);
  print(`  files (keepalived.conf, haproxy.cfg, logs, notify records): ${join(dir, 'ctlN')}`);
  say('tear down:');
  print(`  for n in ${names}; do ip netns pids $n | xargs -r kill; done; sleep 1; for n in ${names}; do ip netns del $n; done; rm -rf ${shellWord(dir)}`);
}

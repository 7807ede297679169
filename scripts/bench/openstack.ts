/**
 * Issue #22's side-by-side: the OpenStack scenario (src/lab/openstack/scenario.ts) run as a child
 * process, `node dist/lab/main.js --scenario openstack --json [--short] [--keepalived]`, with
 * keepalived and vipd alternately (keepalived, vipd, keepalived, ...) so that drift on a shared
 * machine hits both. Each run builds its own namespaces and prints one JSON document
 * (ScenarioResult) on stdout; its stderr (the progress lines) is kept for the report when the
 * run breaks. A broken run (no JSON, `error` set, a signal, an exit code that does not match
 * its checks) is listed with its error and the tail of its stderr, and left out of the figures.
 */
import { spawn } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { Impl } from '../../src/lab/daemon-proc.js';
import type { ScenarioResult } from '../../src/lab/openstack/scenario.js';
import { ORDER, type StepResult } from '../../src/lab/openstack/steps.js';

const MAIN = fileURLToPath(new URL('../../dist/lab/main.js', import.meta.url));
const MAIN_SHOWN = 'dist/lab/main.js';
/** A Kolla-timed run takes ~75 s, a short one ~50 s: a run still going after this is broken. */
const RUN_LIMIT_MS = 600_000;
/** The steps that leave the master alone, and reload: the issue wants no failed request there. */
const NO_LOSS = ['steady', 'haproxy-back', 'daemon-back', 'link-up', 'reload'];
/** In a step where no request failed, longest gaps this close are the client's rhythm and the machine's scheduling. */
const NOISE_MS = 15;

/** What each step does, whatever the controller names of a run (the table's "what"). */
const STEP_TEXT: Record<string, string> = {
  steady: 'nothing: the client alone',
  migrate: 'keepalived 2.2.7 -> the implementation, one controller at a time, backups first, the master last',
  'haproxy-kill': 'kill -9 HAProxy on the master (track_script check_alive)',
  'haproxy-back': 'HAProxy back on that controller: BACKUP after rise (nopreempt)',
  'kill-9': "kill -9 the master's daemon (its HAProxy runs on)",
  'daemon-back': 'the daemon started again on that controller: BACKUP',
  'link-down': 'ip link set eth0 down on the master',
  'link-up': 'eth0 up again: BACKUP',
  sigterm: "SIGTERM the master's daemon, then start it again",
  reload: "the master's priority -> 100 in its file, SIGHUP",
  handover: 'vipd: vipctl handover on the master; keepalived (no such command): SIGTERM the master, start it again',
  maintenance: 'vipd: vipctl maintenance on, 2 s, off on the master; keepalived: the master stopped 2 s, then started',
};

export interface OpenstackRun {
  impl: Impl;
  /** 1-based repetition of this implementation */
  rep: number;
  /** node's arguments, the script relative to the repository */
  args: string[];
  seconds: number;
  /** /proc/loadavg's first figure when the run started (the machine may be shared) */
  load1: number;
  exitCode: number | null;
  signal: string | null;
  result: ScenarioResult | null;
  /** why the run is not counted (null: it is) */
  broken: string | null;
  stderr: string;
}

function runOnce(impl: Impl, rep: number, short: boolean): Promise<OpenstackRun> {
  const args = [MAIN, '--scenario', 'openstack', '--json', ...(short ? ['--short'] : []), ...(impl === 'keepalived' ? ['--keepalived'] : [])];
  const t0 = Date.now();
  const load1 = loadavg()[0]!;
  return new Promise((resolve) => {
    const p = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    p.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    p.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    // SIGINT: the scenario tears its lab down and exits 130; SIGKILL only if it does not within a minute
    const timer = setTimeout(() => {
      timedOut = true;
      p.kill('SIGINT');
      setTimeout(() => p.exitCode === null && p.signalCode === null && p.kill('SIGKILL'), 60_000).unref();
    }, RUN_LIMIT_MS);
    const finish = (exitCode: number | null, signal: string | null, spawnError?: Error): void => {
      clearTimeout(timer);
      let result: ScenarioResult | null = null;
      let broken: string | null = null;
      const last = stdout.trim().split('\n').at(-1) ?? '';
      try {
        result = JSON.parse(last) as ScenarioResult;
      } catch (e) {
        broken = `no JSON result on stdout (${(e as Error).message}): ${JSON.stringify(last.slice(0, 200))}`;
      }
      const expected = result && (result.ok || impl === 'keepalived') ? 0 : 1;
      if (spawnError) broken = `cannot run ${process.execPath}: ${spawnError.message}`;
      else if (timedOut) broken = `still running after ${RUN_LIMIT_MS / 1000} s: interrupted`;
      else if (signal) broken = `killed by ${signal}`;
      else if (result?.error) broken = `the scenario broke: ${result.error}`;
      else if (result && exitCode !== expected) broken = `exit code ${exitCode}, expected ${expected} (checks ${result.ok ? 'held' : 'failed'})`;
      else if (result && result.impl !== impl) broken = `the result is for ${result.impl}, not ${impl}`;
      resolve({ impl, rep, args: [MAIN_SHOWN, ...args.slice(1)], seconds: (Date.now() - t0) / 1000, load1, exitCode, signal, result, broken, stderr });
    };
    p.once('error', (e) => finish(null, null, e));
    p.once('close', (code, sig) => finish(code, sig));
  });
}

/** reps runs of each implementation, alternating: keepalived, vipd, keepalived, vipd, ... */
export async function openstackBench(impls: Impl[], reps: number, short: boolean, log: (m: string) => void): Promise<OpenstackRun[]> {
  const runs: OpenstackRun[] = [];
  for (let r = 1; r <= reps; r++) {
    for (const impl of impls) {
      log(`openstack ${impl} run ${r}/${reps}${short ? ' (--short)' : ''} ...`);
      const x = await runOnce(impl, r, short);
      runs.push(x);
      if (x.broken) {
        log(`openstack ${impl} run ${r}: BROKEN after ${x.seconds.toFixed(0)} s: ${x.broken}\n${tail(x.stderr, 15)}`);
        continue;
      }
      const held = x.result!.checks.filter((c) => c.ok).length;
      log(`openstack ${impl} run ${r}: ${x.seconds.toFixed(0)} s, checks ${held}/${x.result!.checks.length}; ${x.result!.steps.map((s) => `${s.step} ${s.failed}/${s.maxGapMs}ms`).join(', ')}`);
      for (const c of x.result!.checks.filter((c) => !c.ok)) log(`  FAIL ${c.name}: ${c.detail}`);
    }
  }
  return runs;
}

/** What --check counts against vipd: a broken run, a check that failed. */
export function openstackProblems(runs: OpenstackRun[]): string[] {
  return runs.filter((x) => x.impl === 'vipd').flatMap((x) => x.broken
    ? [`vipd openstack run ${x.rep}: broken: ${x.broken}`]
    : x.result!.checks.filter((c) => !c.ok).map((c) => `vipd openstack run ${x.rep}: check '${c.name}' failed: ${c.detail}`));
}

/** Implementations every run of which broke (the bench fails then, --check or not). */
export function openstackAllBroken(runs: OpenstackRun[], impls: Impl[]): Impl[] {
  return impls.filter((i) => runs.filter((x) => x.impl === i).every((x) => x.broken));
}

const tail = (s: string, n: number): string => s.trimEnd().split('\n').slice(-n).join('\n');
const cell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
/** lower median, as the other sections */
const med = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;
const mmm = (xs: number[]): string => (xs.length ? `${med(xs)} (${Math.min(...xs)}–${Math.max(...xs)})` : 'no run');

interface Per {
  steps: StepResult[];
  n: number;
}

/** The report: runs, the per-step table, the checks, the issue's targets. */
export function openstackSection(runs: OpenstackRun[], impls: Impl[], reps: number, short: boolean, command: string): string[] {
  const good = (i: Impl): ScenarioResult[] => runs.filter((x) => x.impl === i && !x.broken).map((x) => x.result!);
  const per = (i: Impl, step: string): Per => {
    const rs = good(i);
    return { steps: rs.flatMap((r) => r.steps.filter((s) => s.step === step)), n: rs.length };
  };
  const ka: Impl = 'keepalived';
  const vd: Impl = 'vipd';
  const has = (i: Impl): boolean => impls.includes(i);
  const cpu = cpus();
  const md = [`### OpenStack reference deployment (issue #22): what a client of the VIP sees, step by step${short ? ' (--short timings)' : ''}`, ''];
  md.push(`Command: \`npm run bench -- ${command}\`; each run: \`node dist/lab/main.js --scenario openstack --json${short ? ' --short' : ''} [--keepalived]\` as a child process, ${reps} run(s) per implementation, alternating ${impls.join(', ')}, ... Machine: ${cpu.length} × ${cpu[0]?.model ?? '?'}.`, '');
  md.push(`Three controllers (ctl1..3, Kolla-style keepalived.conf: VRRPv2, PASS, nopreempt, priorities 1-3, advert_int 1, \`check_alive\` tracking HAProxy every ${short ? '1 s, fall 2, rise 2' : '2 s, fall 2, rise 10'}), each with HAProxy on the VIP 192.0.2.250:5000 in front of an API backend on all three; the client sends GET to the VIP every 10 ms (a new connection each, 500 ms timeout). The cluster starts on keepalived 2.2.7; \`migrate\` moves it to the implementation measured (keepalived: restarted one at a time on keepalived). Per step, over the whole step (from before the action to after the cluster settled): failed requests, and the longest gap between two answers (ms), as the median (min–max) over the runs that did not break; two holders: the longest time two controllers' kernels held the VIP at once (ms) and in how many runs; stale VIP: runs in which a controller other than the master still held the VIP at the end of the step. kill -9: answers from the dead master's HAProxy after the new master's first answer.`, '');
  md.push('| run | impl | exit | s | load1 at start | result |', '| --- | --- | --- | --- | --- | --- |');
  for (const x of runs) {
    const res = x.broken ? `**broken**: ${cell(x.broken)}` : `checks held ${x.result!.checks.filter((c) => c.ok).length}/${x.result!.checks.length}`;
    md.push(`| ${x.rep} | ${x.impl} | ${x.signal ?? x.exitCode} | ${x.seconds.toFixed(0)} | ${x.load1.toFixed(2)} | ${res} |`);
  }
  md.push('');
  for (const x of runs.filter((y) => y.broken)) md.push(`${x.impl} run ${x.rep} broke (\`node ${x.args.join(' ')}\`); the last lines of its stderr:`, '', '```', tail(x.stderr, 25) || '(nothing)', '```', '');

  const seen = [...new Set(runs.flatMap((x) => x.result?.steps.map((s) => s.step) ?? []))];
  const steps = [...ORDER, ...seen.filter((s) => !(ORDER as readonly string[]).includes(s))];
  const holders = (p: Per): string => {
    if (!p.n) return 'no run';
    const two = p.steps.filter((s) => s.twoHoldersMs > 0);
    const stale = p.steps.filter((s) => s.staleVip.length > 0);
    return `${two.length ? Math.max(...two.map((s) => s.twoHoldersMs)) : 0} ms in ${two.length}/${p.n}, stale ${stale.length}/${p.n}`;
  };
  md.push('| step | what | keepalived failed med (min–max) | vipd failed med (min–max) | keepalived longest gap ms med (min–max) | vipd longest gap ms med (min–max) | two holders (longest, runs) / stale VIP (runs): keepalived vs vipd |');
  md.push(`| ${Array(7).fill('---').join(' | ')} |`);
  for (const step of steps) {
    const k = per(ka, step);
    const v = per(vd, step);
    const col = (p: Per, f: (s: StepResult) => number): string => mmm(p.steps.map(f));
    md.push(`| ${step} | ${cell(STEP_TEXT[step] ?? '')} | ${col(k, (s) => s.failed)} | ${col(v, (s) => s.failed)} | ${col(k, (s) => s.maxGapMs)} | ${col(v, (s) => s.maxGapMs)} | ${holders(k)} vs ${holders(v)} |`);
  }
  md.push('');

  // where the time of the failover steps goes: the check's detection, then the protocol's takeover
  const timed = steps.filter((step) => [...per(ka, step).steps, ...per(vd, step).steps].some((s) => s.takeoverMs !== undefined));
  if (timed.length) {
    md.push('Where the time goes, from the notify records (ms from the action; median (min–max)): `FAULT` when the old master entered FAULT (the check\'s `fall` × `interval`, or the link), `new master` when the new one entered MASTER.', '');
    md.push('| step | keepalived FAULT | vipd FAULT | keepalived new master | vipd new master |', '| --- | --- | --- | --- | --- |');
    const col = (p: Per, f: (s: StepResult) => number | undefined): string => mmm(p.steps.map(f).filter((x): x is number => x !== undefined));
    for (const step of timed) {
      const k = per(ka, step);
      const v = per(vd, step);
      md.push(`| ${step} | ${col(k, (s) => s.faultMs)} | ${col(v, (s) => s.faultMs)} | ${col(k, (s) => s.takeoverMs)} | ${col(v, (s) => s.takeoverMs)} |`);
    }
    md.push('');
  }

  const names = [...new Set(runs.flatMap((x) => x.result?.checks.map((c) => c.name) ?? []))];
  md.push(`| check (src/lab/openstack/report.ts) | ${impls.map((i) => `${i}: held in`).join(' | ')} | where it failed |`, `| ${Array(impls.length + 2).fill('---').join(' | ')} |`);
  if (!names.length) md.push(`| no run completed | ${impls.map(() => '0/0').join(' | ')} | |`);
  for (const name of names) {
    const held = impls.map((i) => {
      const rs = good(i);
      return `${rs.filter((r) => r.checks.some((c) => c.name === name && c.ok)).length}/${rs.length}`;
    });
    const fails = runs.filter((x) => !x.broken).flatMap((x) => x.result!.checks.filter((c) => c.name === name && !c.ok).map((c) => `${x.impl} run ${x.rep}: ${c.detail}`));
    md.push(`| ${name} | ${held.join(' | ')} | ${cell(fails.join('; '))} |`);
  }
  md.push('');

  // the issue's targets, per step, for vipd; keepalived's figures beside them as the reference
  md.push(`Targets of issue #22, evaluated per step for vipd over its runs that did not break (keepalived's figures for reference): client outage = the median longest gap, vipd's ≤ keepalived's; no failed request in any run of reload and of the steps that leave the master alone; after kill -9 no stale VIP and no answer from the dead master in any run. In a step where no request failed in any run of either, the longest gap is the client's 10 ms rhythm plus a request's time and the machine's scheduling: vipd up to ${NOISE_MS} ms above keepalived there is reported as within noise.`, '');
  md.push('| step | target | vipd | keepalived | |', '| --- | --- | --- | --- | --- |');
  const verdict = (ok: boolean | null): string => (ok === null ? 'not measured' : ok ? 'met' : '**not met**');
  for (const step of steps) {
    const k = per(ka, step);
    const v = per(vd, step);
    const kg = k.steps.length ? med(k.steps.map((s) => s.maxGapMs)) : null;
    const vg = v.steps.length ? med(v.steps.map((s) => s.maxGapMs)) : null;
    const diff = vg === null || kg === null ? '' : ` (${vg - kg >= 0 ? '+' : ''}${vg - kg} ms)`;
    // where no request failed in any run of either, the gap is the client's rhythm: a few ms either way is noise
    const quiet = [...k.steps, ...v.steps].every((s) => s.failed === 0);
    const ok = vg === null || kg === null || !has(ka) ? null : vg <= kg || (quiet && vg - kg <= NOISE_MS);
    const noise = ok && vg !== null && kg !== null && vg > kg ? ` within noise (no failed request, ≤ ${NOISE_MS} ms)` : '';
    md.push(`| ${step} | outage: median longest gap, vipd ≤ keepalived | ${vg === null ? 'no run' : `${vg} ms`} | ${kg === null ? 'no run' : `${kg} ms`} | ${verdict(ok)}${diff}${noise} |`);
    if (NO_LOSS.includes(step)) {
      const failed = (p: Per): string => (p.steps.length ? `${p.steps.map((s) => s.failed).join(', ')} failed` : 'no run');
      md.push(`| ${step} | no failed request in any run | ${failed(v)} | ${failed(k)} | ${verdict(v.steps.length ? v.steps.every((s) => s.failed === 0) : null)} |`);
    }
    if (step === 'kill-9') {
      const dead = (p: Per): string => (p.steps.length ? p.steps.map((s) => `stale [${s.staleVip.join(', ')}], ${s.deadAnswers ?? '-'} dead answers`).join('; ') : 'no run');
      md.push(`| ${step} | no stale VIP, no answer from the dead master, in any run | ${cell(dead(v))} | ${cell(dead(k))} | ${verdict(v.steps.length ? v.steps.every((s) => s.staleVip.length === 0 && s.deadAnswers === 0) : null)} |`);
    }
  }
  md.push('');
  return md;
}

/**
 * Makes the TrackerManager of a configuration, with every check that can fail done first
 * (Daemon.prepare, before anything is touched): each vrrp_script's user resolved and its file
 * checked (found, executable, secure under enable_script_security: script-security.ts);
 * the kernel's process connector available for vrrp_track_process.
 *
 * A script that fails its check is disabled and dropped from its instances, as keepalived
 * 2.2.7 does (vrrp.c check_vrrp_script_security) — but never quietly: an error with the
 * file:line of its vrrp_script, the path and what to do, and `disabled` in vipctl status.
 */
import type { Logger } from 'pino';
import type { DaemonConfig } from '../../config/model.js';
import type { TrackerEffect } from '../../core/priority.js';
import { procConnectorProblem } from '../../os/proc-connector.js';
import { fifoPos } from '../../config/kw-notify.js';
import { checkNotify } from '../notify/check.js';
import { NotifyFifos } from '../notify/fifo.js';
import type { Scheduler } from '../scheduler.js';
import { initTrackFile, TrackFileTracker } from './file.js';
import { InterfaceTracker } from './interface.js';
import { trackerRefs, TrackerManager } from './manager.js';
import { ProcessTracker, ProcessWatch } from './process.js';
import { VrrpScriptTracker } from './script.js';
import { checkScriptSecure, resolveScriptUser, securitySummary, systemUserDb, type ScriptCheck } from './script-security.js';
import type { Tracker, TrackerKind } from './types.js';

export interface TrackerDeps {
  scheduler: Scheduler;
  log: Logger;
  /** The link state of an interface now (the daemon looked every tracked interface up). */
  linkUp: (ifname: string) => boolean;
}

interface ScriptPlan {
  /** Order among the tracked scripts (their first runs are spread by it). */
  index: number;
  uid: number;
  gid: number;
  argv: string[];
  disabled: string | null;
}

/** Check every tracked vrrp_script of `c` (its user, then its file); logs what keepalived reports, with file:line. */
async function checkScripts(c: DaemonConfig, log: Logger): Promise<Map<string, ScriptPlan>> {
  const used = new Set(c.instances.flatMap((i) => trackerRefs(i, c)).filter((r) => r.kind === 'script').map((r) => r.name));
  const db = systemUserDb();
  const plans = new Map<string, ScriptPlan>();
  const checks: ScriptCheck[] = [];
  /** A note about the default user is the same for every script: told once. */
  const told = new Set<string>();
  for (const s of c.scripts) {
    if (!used.has(s.name)) continue;
    const at = `${s.pos.file}:${s.pos.line}`;
    const who = await resolveScriptUser(s.user, c.global, db);
    if (!who.ok) {
      log.error({ script: s.name, at }, `${at}: vrrp_script ${s.name} disabled: ${who.error} (keepalived 2.2.7 removes the script; the instances run without it)`);
      plans.set(s.name, { index: plans.size, uid: 0, gid: 0, argv: s.script, disabled: who.error });
      continue;
    }
    for (const n of who.notes) {
      if (told.has(n)) continue;
      told.add(n);
      log.warn({ script: s.name, at }, `${at}: vrrp_script ${s.name}: ${n}`);
    }
    const chk = await checkScriptSecure(s.script, { uid: who.uid, gid: who.gid, enableScriptSecurity: c.global.enableScriptSecurity });
    checks.push(chk);
    for (const w of chk.warnings) log.warn({ script: s.name, at }, `${at}: vrrp_script ${s.name}: ${w}`);
    if (chk.disabled) log.error({ script: s.name, at }, `${at}: vrrp_script ${s.name} disabled: ${chk.disabled} (keepalived 2.2.7 removes the script; the instances run without it)`);
    plans.set(s.name, { index: plans.size, uid: who.uid, gid: who.gid, argv: chk.argv, disabled: chk.disabled });
  }
  const summary = securitySummary(checks.filter((k) => !k.disabled), c.global.enableScriptSecurity);
  if (summary) log.warn({}, summary);
  return plans;
}

/** Refuse a configuration that tracks processes where the kernel's process events cannot be had (another network namespace). */
async function checkProcesses(c: DaemonConfig): Promise<void> {
  const tracked = c.instances.flatMap((i) => trackerRefs(i, c)).filter((r) => r.kind === 'process');
  if (!tracked.length) return;
  const problem = await procConnectorProblem();
  if (problem) {
    const p = c.trackProcesses.find((x) => x.name === tracked[0]!.name)!;
    throw new Error(`${p.pos.file}:${p.pos.line}: vrrp_track_process ${p.name}: ${problem}`);
  }
}

/**
 * What `vipd check-config` and `keepalived -t` add to the file's own checks (keepalived's
 * config test reports them too): each tracked vrrp_script and each notify script that will be
 * disabled on this host (errors) and the scripts' warnings (user, PATH search, no `#!`).
 * Touches nothing.
 */
export async function scriptProblems(c: DaemonConfig): Promise<{ errors: string[]; warnings: string[] }> {
  const errors: string[] = [];
  const warnings: string[] = [];
  const collect = { error: (_o: unknown, m: string) => errors.push(m), warn: (_o: unknown, m: string) => warnings.push(m) } as unknown as Logger;
  await checkScripts(c, collect);
  await checkNotify(c, collect);
  for (const m of await NotifyFifos.problems(c.global)) {
    const f = m.startsWith('vrrp_') ? c.global.vrrpNotifyFifo : c.global.notifyFifo;
    const pos = f ? fifoPos.get(f) : undefined;
    errors.push(`${pos ? `${pos.file}:${pos.line}: ` : ''}${m}: vipd runs without the FIFO`);
  }
  return { errors, warnings };
}

export async function buildTrackers(c: DaemonConfig, deps: TrackerDeps, onEffect: (instance: string, key: string, effect: TrackerEffect) => void): Promise<TrackerManager> {
  const { log, scheduler } = deps;
  await checkProcesses(c);
  let plans = await checkScripts(c, log);
  let watch: ProcessWatch | null = null;
  const make = (kind: TrackerKind, name: string, cfg: DaemonConfig, reload: boolean): Tracker => {
    switch (kind) {
      case 'interface':
        return new InterfaceTracker(name, deps.linkUp(name), log);
      case 'file':
        return new TrackFileTracker(cfg.trackFiles.find((f) => f.name === name)!, { log, reload });
      case 'script': {
        const model = cfg.scripts.find((s) => s.name === name)!;
        const p = plans.get(name)!;
        // first runs spread over a second (keepalived starts them all at once: 50 scripts are
        // 50 processes on one tick, competing with the adverts for the CPU)
        const firstRunDelayUs = Math.floor((p.index / Math.max(1, plans.size)) * 1e6);
        return new VrrpScriptTracker(model, { scheduler, log, uid: p.uid, gid: p.gid, argv: p.argv, firstRunDelayUs, ...(p.disabled ? { disabled: p.disabled } : {}) });
      }
      case 'process':
        watch ??= new ProcessWatch({ log });
        return new ProcessTracker(cfg.trackProcesses.find((p) => p.name === name)!, { watch, scheduler, log });
    }
  };
  const m = new TrackerManager(c, make, log, onEffect);
  m.prepare = async (next) => {
    if (!watch) await checkProcesses(next); // a running watch holds the connector (a second open would fail: in use)
    plans = await checkScripts(next, log);
  };
  m.onStop = () => watch?.close();
  // keepalived runs init_file for every track_file block, tracked or not (track_file.c)
  const tracked = new Set(c.instances.flatMap((i) => trackerRefs(i, c)).filter((r) => r.kind === 'file').map((r) => r.name));
  m.onStart = async () => {
    for (const f of c.trackFiles) if (!tracked.has(f.name)) await initTrackFile(f, log);
  };
  return m;
}

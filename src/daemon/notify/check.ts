/**
 * The start-up check of every notify script (instances, sync groups, startup_script,
 * shutdown_script), before anything is touched: its user resolved and its file checked as
 * keepalived 2.2.7 does (vrrp.c check_vrrp_script_security → notify.c
 * check_notify_script_secure): a script that is not found, not executable by its user, or
 * insecure under enable_script_security is dropped — never quietly: an error with the file:line
 * of its keyword, the path and what to do. The `<…` file-open form is not executable in
 * keepalived's sense (SC_SYSTEM only) and is dropped for notify scripts too.
 */
import type { Logger } from 'pino';
import type { DaemonConfig } from '../../config/model.js';
import type { NotifyModel, NotifyScript, ScriptUser } from '../../config/model-track.js';
import { checkScriptSecure, resolveScriptUser, systemUserDb } from '../trackers/script-security.js';

/** A notify script ready to run: the argv as resolved (PATH search, symlinks) and its identity. */
export interface ReadyScript {
  /** The keyword, `notify_master` … (for logs and `vipctl watch`). */
  keyword: string;
  argv: string[];
  uid: number;
  gid: number;
  /** `file:line` of the keyword, or `global_defs KEYWORD` when the model keeps no position. */
  at: string;
}

/** The checked scripts of a configuration, by model object (null: dropped, the error was logged). */
export type NotifyPlan = Map<NotifyScript, ReadyScript | null>;

const FIELDS: [keyof NotifyModel, string][] = [
  ['master', 'notify_master'], ['backup', 'notify_backup'], ['fault', 'notify_fault'], ['stop', 'notify_stop'],
  ['deleted', 'notify_deleted'], ['any', 'notify'], ['masterRxLowerPri', 'notify_master_rx_lower_pri'],
];

/** Every notify script of `c` with its owner's label (`vrrp_instance VI_1`, `vrrp_sync_group G`). */
export function notifyScripts(c: DaemonConfig): { owner: string; keyword: string; script: NotifyScript }[] {
  const out: { owner: string; keyword: string; script: NotifyScript }[] = [];
  const add = (owner: string, n: NotifyModel): void => {
    for (const [f, kw] of FIELDS) {
      const s = n[f];
      if (s && typeof s === 'object') out.push({ owner, keyword: kw, script: s });
    }
  };
  for (const i of c.instances) add(`vrrp_instance ${i.name}`, i.notify);
  for (const g of c.syncGroups) add(`vrrp_sync_group ${g.name}`, g.notify);
  return out;
}

type StartStop = { keyword: string; script: NotifyScript; timeoutS: number };
const startStopMade = new WeakMap<DaemonConfig, StartStop[]>();

/** global_defs startup_script / shutdown_script as NotifyScripts (the model keeps them as words, without a position); the same objects for one configuration. */
export function startStopScripts(c: DaemonConfig): StartStop[] {
  const made = startStopMade.get(c);
  if (made) return made;
  const o = c.global.other;
  const out: StartStop[] = [];
  for (const k of ['startup_script', 'shutdown_script']) {
    const argv = o[k];
    if (!argv?.length) continue;
    const u = o[`${k}_user`];
    const user: ScriptUser | null = u?.length ? { user: u[0]!, group: u[1] ?? null } : null;
    out.push({ keyword: k, script: { argv, user, pos: { file: c.file, line: 0, col: 0 } }, timeoutS: Number(o[`${k}_timeout`]?.[0] ?? 10) });
  }
  startStopMade.set(c, out);
  return out;
}

/**
 * Check every notify script of `c` and the start/stop scripts; `log.error` for each one
 * dropped (with file:line, as keepalived reports it), `log.warn` for its warnings. Never throws.
 */
export async function checkNotify(c: DaemonConfig, log: Pick<Logger, 'error' | 'warn'>): Promise<NotifyPlan> {
  const plan: NotifyPlan = new Map();
  const db = systemUserDb();
  const told = new Set<string>();
  const all = [
    ...notifyScripts(c).map((x) => ({ ...x, label: `${x.owner}: ${x.keyword}` })),
    ...startStopScripts(c).map((x) => ({ ...x, label: `global_defs ${x.keyword}` })),
  ];
  for (const { keyword, script, label } of all) {
    const at = script.pos.line ? `${script.pos.file}:${script.pos.line}` : `${script.pos.file}: global_defs ${keyword}`;
    const who = await resolveScriptUser(script.user, c.global, db);
    if (!who.ok) {
      log.error({ at, script: keyword }, `${at}: ${label} ${script.argv[0]} not run: ${who.error} (keepalived 2.2.7 drops the script)`);
      plan.set(script, null);
      continue;
    }
    for (const n of who.notes) {
      if (told.has(n)) continue;
      told.add(n);
      log.warn({ at, script: keyword }, `${at}: ${label}: ${n}`);
    }
    const chk = await checkScriptSecure(script.argv, { uid: who.uid, gid: who.gid, enableScriptSecurity: c.global.enableScriptSecurity });
    for (const w of chk.warnings) log.warn({ at, script: keyword }, `${at}: ${label}: ${w}`);
    const f = chk.flags;
    // notify.c check_notify_script_secure: dropped when inhibited, not found or not executable
    const why = f.notFound ? `${script.argv[0]} not found` : f.inhibit ? chk.disabled ?? 'insecure (enable_script_security)'
      : !f.executable ? (f.system ? `the '<…' file-open form is not a notify script` : `${chk.argv[0]} is not executable by uid ${who.uid}`) : null;
    if (why) {
      log.error({ at, script: keyword }, `${at}: ${label} not run: ${why} (keepalived 2.2.7 drops the script)`);
      plan.set(script, null);
      continue;
    }
    plan.set(script, { keyword, argv: chk.argv, uid: who.uid, gid: who.gid, at });
  }
  return plan;
}

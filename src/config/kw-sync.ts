/**
 * `track_*` reference lists (of instances and sync groups), `vrrp_sync_group`, and the checks
 * that need the whole file (`crossCheckTracking`), as keepalived 2.2.7 does them
 * (vrrp_track.c alloc_track_*, vrrp_sync.c vrrp_sync_set_group, vrrp.c
 * vrrp_complete_instance / sync_group_tracking_init / vrrp_complete_init).
 *
 * Where keepalived reports a configuration error and then runs without what the file says (a
 * tracker it drops, a weight it ignores, a member it skips), vipd refuses the file: the
 * error says what keepalived would have done. Where keepalived reports something but runs the
 * file as written (a one-member group, an unused script), vipd warns.
 */
import type { DaemonConfig, InstanceModel } from './model.js';
import type { SyncGroupModel, TrackRef } from './model-track.js';
import { after, emptyNotify, fifoPos, groupNotifyKeywords, implemented, mailPos, mark, quiet, type NotifyCtx } from './kw-notify.js';
import type { Pos } from './lexer.js';
import { suggest, type Builder, type Kw, type Table } from './spec.js';
import type { Statement } from './tree.js';

export type RefKind = 'interface' | 'script' | 'file' | 'process' | 'bfd';
type Lists = Pick<InstanceModel, 'trackInterfaces' | 'trackScripts' | 'trackFiles' | 'trackProcesses' | 'trackBfd'>;
const FIELD: Record<RefKind, keyof Lists> = { interface: 'trackInterfaces', script: 'trackScripts', file: 'trackFiles', process: 'trackProcesses', bfd: 'trackBfd' };

/** Weight range per kind (vrrp_track.c, track_file.c); `clamp`: ±254 is reported and made ±253; `noreverse` accepted. */
const SPEC: Record<RefKind, { max: number; clamp: boolean; noreverse: boolean }> = {
  interface: { max: 254, clamp: true, noreverse: false },
  script: { max: 254, clamp: true, noreverse: true },
  file: { max: 254, clamp: false, noreverse: true },
  process: { max: 254, clamp: false, noreverse: true },
  bfd: { max: 253, clamp: false, noreverse: true },
};

/** Which parts of a reference were written (the rest comes from the tracked object). */
const written = new WeakMap<TrackRef, { weight: boolean; reverse: boolean }>();

/** One `NAME [weight N [reverse|noreverse]]` line of a track_* block; null after an error (keepalived ignores such a line). */
function refLine(b: Builder, s: Statement, kind: RefKind, where: string): TrackRef | null {
  const spec = SPEC[kind];
  const ref: TrackRef = { name: s.keyword, weight: 0, reverse: false, pos: s.pos };
  const w = s.args.map((a) => a.text);
  const at = (i: number) => s.args[i]?.pos ?? s.pos;
  if (s.block) b.err(s.pos, `${where}: '${s.keyword}' takes no block`);
  if (kind === 'interface' && (Buffer.byteLength(s.keyword) > 15 || s.keyword.includes('/'))) {
    b.err(s.pos, `${where}: '${s.keyword}' is not an interface name (at most 15 bytes, no '/')`);
    return null;
  }
  if (w.length === 0) {
    written.set(ref, { weight: false, reverse: false });
    return ref;
  }
  if (w[0] !== 'weight') return b.err(at(0), `${where}: unknown option '${w[0]}' for ${s.keyword} (NAME [weight N [reverse]]; one entry per line; keepalived 2.2.7 ignores the line)`), null;
  if (w.length === 1) return b.err(at(0), `${where}: 'weight' of ${s.keyword} needs a value (keepalived 2.2.7 ignores the line)`), null;
  const v = /^[+-]?\d+$/.test(w[1]!) ? Number(w[1]) : NaN;
  if (!(Math.abs(v) <= spec.max)) return b.err(at(1), `${where}: weight of ${s.keyword} must be an integer from -${spec.max} to ${spec.max}, got '${w[1]}'`), null;
  if (spec.clamp && Math.abs(v) === 254) return b.err(at(1), `${where}: weight of ${s.keyword} cannot be ${v}: the range is -253..253 (keepalived 2.2.7 reports it and uses ${v > 0 ? 253 : -253})`), null;
  ref.weight = v;
  if (w.length >= 3) {
    if (w[2] === 'reverse') ref.reverse = true;
    else if (!(w[2] === 'noreverse' && spec.noreverse)) return b.err(at(2), `${where}: unknown weight option '${w[2]}' for ${s.keyword} (${spec.noreverse ? 'reverse or noreverse' : 'reverse'})`), null;
  }
  if (w.length > 3) return b.err(at(3), `${where}: unexpected '${w[3]}' after the weight of ${s.keyword} (keepalived 2.2.7 ignores it; vipd refuses it as a likely typo)`), null;
  written.set(ref, { weight: true, reverse: w.length >= 3 });
  return ref;
}

/** A `track_*` keyword of an instance or a sync group: one entry per line, a name twice is an error (keepalived: "duplicate … ignoring"). */
export function refKw<C extends Lists & { name: string }>(name: string, kind: RefKind, issue: number, note: string, status: 'implemented' | 'planned' | 'outside' = 'implemented'): Kw<C> {
  const max = SPEC[kind].max;
  return {
    name, status, note, repeat: true, ...(status === 'planned' ? { issue } : {}),
    syntax: `{ NAME [weight -${max}..${max} [reverse${SPEC[kind].noreverse ? '|noreverse' : ''}]] … }`,
    kaDefault: kind === 'interface' ? 'weight 0 (down: FAULT)' : `the ${kind}'s own weight`,
    handle: (b, st, ctx) => {
      if (st.args.length) b.err(st.args[0]!.pos, `'${name}' takes a { block } with one entry per line`);
      const list = ctx[FIELD[kind]];
      for (const s of b.block(st)) {
        const ref = refLine(b, s, kind, `${name} of ${ctx.name}`);
        if (!ref) continue;
        const dup = list.find((r) => r.name === ref.name);
        if (dup) b.err(s.pos, `${name} of ${ctx.name}: ${ref.name} listed twice (first at line ${dup.pos.line}; keepalived 2.2.7 reports it and ignores the second)`);
        else {
          mark(ref);
          list.push(ref);
        }
      }
    },
  };
}

// ---------------------------------------------------------------- vrrp_sync_group

type GroupDraft = Omit<SyncGroupModel, 'smtpAlert'> & NotifyCtx;

const groupTable: Table<GroupDraft> = {
  block: 'vrrp_sync_group',
  keywords: [
    implemented('group', '{ INSTANCE … }', 'required', 'The member instances (names may share a line).', (b, st, g) => {
      if (g.instances.length) {
        b.err(st.pos, `'group' given twice in vrrp_sync_group ${g.name}: keepalived 2.2.7 keeps the first and reports an error`);
        return;
      }
      if (st.args.length) b.err(st.args[0]!.pos, `'group' takes a { block } of instance names`);
      g.instances = b.block(st).flatMap((s) => [s.keyword, ...s.args.map((a) => a.text)]);
      if (st.block && !g.instances.length) b.err(st.pos, `vrrp_sync_group ${g.name}: empty group block (keepalived 2.2.7 reports it and removes the group)`);
    }, true),
    ...(groupNotifyKeywords as unknown as Kw<GroupDraft>[]),
    refKw<GroupDraft>('track_interface', 'interface', 18, 'Applies the interface\'s state to every member (weight 0: FAULT).'),
    refKw<GroupDraft>('track_script', 'script', 18, 'Applies the script\'s result to every member.'),
    refKw<GroupDraft>('track_file', 'file', 18, 'Applies the file\'s value to every member.'),
    refKw<GroupDraft>('track_process', 'process', 18, 'Applies the process quorum to every member.'),
    refKw<GroupDraft>('track_bfd', 'bfd', 18, 'vipd has no BFD; keepalived\'s bfd_instance sessions would change the members\' priority or put them in FAULT (run FRR bfdd).', 'outside'),
    implemented('sync_group_tracking_weight', '', 'off', 'Members keep their weighted trackers (keepalived otherwise refuses them).', (b, st, g) => {
      if (b.flag(st)) g.trackingWeight = true;
    }),
    implemented('global_tracking', '', 'off', 'Deprecated name of sync_group_tracking_weight (keepalived 2.2.7 reports the deprecation).', (b, st, g) => {
      if (!b.flag(st)) return;
      g.trackingWeight = true;
      b.warn(st.pos, `'global_tracking' is deprecated: it means sync_group_tracking_weight (keepalived 2.2.7 reports it as a configuration error and applies it)`);
    }),
  ],
};

/** `vrrp_sync_group NAME { … }`. */
export const syncGroupKw: Kw<DaemonConfig> = {
  name: 'vrrp_sync_group', syntax: 'NAME { group { INSTANCE … } … }', status: 'implemented', repeat: true, sub: groupTable as Table<never>,
  note: 'The member instances move together (keepalived 2.2.7\'s rules): MASTER only when all can, BACKUP or FAULT when one is; the group\'s notify_* run once per group transition.',
  handle: (b, st, c) => {
    const name = st.args[0]?.text ?? '?';
    if (st.args.length !== 1) b.err(st.pos, 'vrrp_sync_group needs exactly one name (keepalived 2.2.7 skips the block)');
    const g: GroupDraft = {
      name, instances: [], notify: emptyNotify(), smtpAlert: null, trackingWeight: false,
      trackInterfaces: [], trackScripts: [], trackFiles: [], trackProcesses: [], trackBfd: [], pos: st.pos,
    };
    const broken = b.walk(quiet(groupTable), b.block(st), g, `vrrp_sync_group ${name}`);
    if (!g.instances.length && !broken.has('group') && st.block) b.err(st.pos, `vrrp_sync_group ${name} has no 'group { INSTANCE … }' (keepalived 2.2.7 reports it and removes the group)`);
    const first = c.syncGroups.find((x) => x.name === name);
    if (first) b.err(st.pos, `vrrp_sync_group ${name} already defined at line ${first.pos.line} (keepalived 2.2.7 skips this one)`);
    else c.syncGroups.push(g as SyncGroupModel);
  },
};

// ---------------------------------------------------------------- whole-file checks

interface Named { name: string; pos: Pos; weight?: number; weightReverse?: boolean }

function duplicates(b: Builder, items: readonly Named[], what: string): void {
  items.forEach((x, i) => {
    const first = items.findIndex((y) => y.name === x.name);
    if (first < i) b.err(x.pos, `${what} ${x.name} defined twice (first at line ${items[first]!.pos.line}); keepalived 2.2.7 uses the first without a word, vipd refuses the ambiguity`);
  });
}

/**
 * Resolves references to `defs` (first definition wins, as keepalived's find_*_by_name), with
 * defaults from the object. A name whose definition (keyword `what` or one of `alias`) was
 * refused with an error is not reported again as missing.
 */
function resolve(b: Builder, refs: TrackRef[], defs: readonly Named[], kw: string, what: string, owner: string, alias: string[] = []): void {
  for (const r of refs) {
    const d = defs.find((x) => x.name === r.name);
    if (!d && [what, ...alias].some((k) => b.isBroken(k, r.name))) continue;
    if (!d) {
      const s = suggest(r.name, defs.map((x) => x.name));
      b.err(r.pos, `${kw} of ${owner}: no ${what} ${r.name}${s ? ` (did you mean '${s}'?)` : ''}; keepalived 2.2.7 reports "not found" and runs without it`);
    } else if (after(d, r)) {
      b.err(r.pos, `${kw} of ${owner}: ${what} ${r.name} is defined after this line (line ${d.pos.line}); keepalived 2.2.7 looks names up while reading, reports "not found" and runs without it: move the ${what} above`);
    } else {
      const w = written.get(r);
      if (!w?.weight) r.weight = d.weight ?? 0;
      if (!w?.reverse) r.reverse = d.weightReverse ?? false;
    }
  }
}

/**
 * What needs the whole file, after every block is read and each instance is finished
 * (priority 255 known): track_* names resolved against their definitions (defined earlier,
 * as keepalived requires) and defaults taken from them; sync group members resolved and
 * `instance.syncGroup` set; the tracker weights keepalived refuses for an address owner or a
 * member of a group without sync_group_tracking_weight; own interface tracked; unused
 * scripts; notify_priority_changes and smtp_alert defaults; notify FIFO conflicts.
 * Nothing here touches the host: whether script users, interfaces, files or the SMTP host
 * exist is checked when the daemon starts.
 */
export function crossCheckTracking(b: Builder, c: DaemonConfig): void {
  duplicates(b, c.scripts, 'vrrp_script');
  duplicates(b, c.trackFiles, 'track_file');
  duplicates(b, c.trackProcesses, 'vrrp_track_process');
  const owners: { o: Lists; name: string }[] = [...c.instances.map((i) => ({ o: i, name: i.name })), ...c.syncGroups.map((g) => ({ o: g, name: `sync group ${g.name}` }))];
  for (const { o, name } of owners) {
    resolve(b, o.trackScripts, c.scripts, 'track_script', 'vrrp_script', name);
    resolve(b, o.trackFiles, c.trackFiles, 'track_file', 'track_file', name, ['vrrp_track_file']);
    resolve(b, o.trackProcesses, c.trackProcesses, 'track_process', 'vrrp_track_process', name);
  }

  const byName = new Map(c.instances.map((i) => [i.name, i]));
  for (const g of c.syncGroups) {
    const members: InstanceModel[] = [];
    let broken = 0;
    for (const n of g.instances) {
      const i = byName.get(n);
      if (!i && b.isBroken('vrrp_instance', n)) {
        broken++; // its error is told
        continue;
      }
      if (!i) {
        const s = suggest(n, byName.keys());
        b.err(g.pos, `vrrp_sync_group ${g.name}: no vrrp_instance ${n}${s ? ` (did you mean '${s}'?)` : ''}; keepalived 2.2.7 reports it and leaves it out`);
      } else if (i.syncGroup !== null) {
        b.err(g.pos, `vrrp_sync_group ${g.name}: ${n} is already in sync group ${i.syncGroup}; an instance can be in one group only (keepalived 2.2.7 reports it and leaves it out of ${g.name})`);
      } else {
        i.syncGroup = g.name;
        members.push(i);
      }
    }
    if (members.length === 1 && !broken) b.warn(g.pos, `vrrp_sync_group ${g.name} has one member (${members[0]!.name}): keepalived 2.2.7 reports "this probably isn't what you want" and runs it`);
    g.smtpAlert = (g.smtpAlert as boolean | null) ?? c.global.mail.alert;
    if (members.some((m) => m.priority === 255)) {
      for (const r of [...g.trackInterfaces, ...g.trackScripts, ...g.trackFiles, ...g.trackProcesses]) {
        if (r.weight) b.err(r.pos, `sync group ${g.name}: ${r.name} has weight ${r.weight}, but a member is the address owner (priority 255), whose priority cannot change: keepalived 2.2.7 reports it and uses weight 0`);
      }
    }
    for (const m of members) {
      for (const r of m.trackInterfaces) {
        if (g.trackInterfaces.some((x) => x.name === r.name)) b.err(r.pos, `${m.name}: track_interface ${r.name} is also tracked by its sync group ${g.name}; keepalived 2.2.7 reports it: track it in one place`);
      }
      for (const r of [...m.trackScripts, ...m.trackProcesses]) {
        if ([...g.trackScripts, ...g.trackProcesses].some((x) => x.name === r.name)) b.warn(r.pos, `${m.name}: ${r.name} is also tracked by its sync group ${g.name}; keepalived 2.2.7 logs it and uses the group's weight unless this one is 0`);
      }
    }
  }

  const groups = new Map(c.syncGroups.map((g) => [g.name, g]));
  const globalPrio = c.global.other['vrrp_notify_priority_changes']?.[0] === 'true';
  for (const i of c.instances) {
    const g = i.syncGroup ? groups.get(i.syncGroup) : undefined;
    i.notify.priorityChanges = i.notify.priorityChanges ?? g?.notify.priorityChanges ?? globalPrio;
    for (const r of i.trackInterfaces) {
      if (r.name !== i.interface) continue;
      // vrrp.c vrrp_complete_instance drops the line; the instance tracks its own interface anyway (weight 0) unless dont_track_primary
      const same = !r.weight && !i.dontTrackPrimary;
      const msg = `${i.name}: track_interface ${r.name} is the instance's own interface: keepalived 2.2.7 reports it and ignores the line`;
      if (same) b.warn(r.pos, `${msg} (the instance tracks it anyway: down means FAULT)`);
      else b.err(r.pos, `${msg}, so ${r.weight ? `weight ${r.weight} is not applied` : 'dont_track_primary wins'}; remove the line or dont_track_primary`);
    }
    const why = i.priority === 255 ? 'it is the address owner (priority 255), whose priority cannot change' : g && !g.trackingWeight ? `it is in sync group ${g.name} without sync_group_tracking_weight` : null;
    if (!why) continue;
    for (const [kw, refs] of [['track_interface', i.trackInterfaces], ['track_script', i.trackScripts], ['track_file', i.trackFiles]] as const) {
      for (const r of refs) {
        if (!r.weight) continue;
        const fix = kw === 'track_file' && r.weight === 1 ? 'specify weight 0 (1 is the file\'s default)' : 'use weight 0 (down: FAULT)';
        b.err(r.pos, `${i.name}: ${kw} ${r.name} has weight ${r.weight}, but ${why}: keepalived 2.2.7 reports it and ${kw === 'track_interface' && i.priority !== 255 ? 'uses weight 0' : 'drops the tracker'}; ${fix}`);
      }
    }
  }

  const used = new Set(owners.flatMap(({ o }) => o.trackScripts.map((r) => r.name)));
  // a broken track_script or instance may be the one that used it: its error is already told
  if (!['track_script', 'vrrp_instance', 'vrrp_sync_group'].some((k) => b.isBroken(k))) for (const s of c.scripts) if (!used.has(s.name)) b.warn(s.pos, `vrrp_script ${s.name} is not used by any track_script (keepalived 2.2.7 reports it and never runs it)`);

  for (const key of ['notifyFifo', 'vrrpNotifyFifo'] as const) {
    const f = c.global[key];
    if (f && !f.path) {
      b.warn(fifoPos.get(f) ?? { file: c.file, line: 0, col: 0 }, `${key === 'notifyFifo' ? '' : 'vrrp_'}notify_fifo_script without ${key === 'notifyFifo' ? '' : 'vrrp_'}notify_fifo: keepalived 2.2.7 never runs it`);
      c.global[key] = null;
    }
  }
  const mail = c.global.mail;
  const seen = mailPos.get(mail);
  const alerting = mail.alert || c.instances.some((i) => i.smtpAlert) || c.syncGroups.some((g) => g.smtpAlert);
  if ((seen || alerting) && !(mail.emails.length && mail.smtpServer)) {
    const missing = [!mail.smtpServer && 'smtp_server', !mail.emails.length && 'notification_email'].filter(Boolean).join(' and ');
    b.warn(seen ?? { file: c.file, line: 0, col: 0 }, `${seen ? `'${seen.keyword}' is set but ` : 'smtp_alert is on but '}no mail is sent: no ${missing} in global_defs (keepalived 2.2.7 sends none either, without saying so)`);
  }
  if (c.global.notifyFifo && c.global.vrrpNotifyFifo?.path === c.global.notifyFifo.path) {
    b.warn(fifoPos.get(c.global.vrrpNotifyFifo) ?? { file: c.file, line: 0, col: 0 }, `vrrp_notify_fifo is notify_fifo's path (${c.global.notifyFifo.path}): keepalived 2.2.7 ignores vrrp_notify_fifo and its script`);
    c.global.vrrpNotifyFifo = null;
  }
}


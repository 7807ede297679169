/**
 * Health trackers of keepalived.conf(5), keepalived 2.2.7: `vrrp_script`, `track_file` (and
 * its deprecated synonym `vrrp_track_file`), `vrrp_track_process`, and the `track_*` /
 * `dont_track_primary` keywords of `vrrp_instance`. Defaults are keepalived's own
 * (vrrp_data.c alloc_vrrp_script / alloc_vrrp_process, track_file.c track_file_handler).
 * This file is also the entry point of the tracker, notify and sync-group tables for the
 * parser (re-exports from kw-notify.ts and kw-sync.ts).
 */
import { commandLine, keepalivedShellForm, mark, quiet } from './kw-notify.js';
import { refKw, syncGroupKw } from './kw-sync.js';
import type { DaemonConfig, InstanceModel } from './model.js';
import type { TrackFileModel, TrackProcessModel, VrrpScriptModel } from './model-track.js';
import type { Builder, Kw, Table } from './spec.js';
import type { Statement } from './tree.js';

export { crossCheckTracking } from './kw-sync.js';
export { emptyNotify, globalNotifyKeywords, groupNotifyKeywords, keepalivedShellForm, notifyKeywords, splitQuotedEscaped, type NotifyCtx } from './kw-notify.js';

/** A keyword vipd acts on (src/daemon/trackers). */
function impl<C>(name: string, syntax: string, kaDefault: string, note: string, handle: Kw<C>['handle'], repeat = false): Kw<C> {
  return { name, syntax, status: 'implemented', kaDefault, note, handle, repeat };
}

/** `weight N [reverse]` of a tracker definition: [weight, reverse] or null after an error. */
function weightLine(b: Builder, st: Statement, max: number): [number, boolean] | null {
  const w = b.words(st, 1, 2);
  if (!w) return null;
  const v = b.intAt(st, 0, -max, max);
  if (v === null) return null;
  if (w[1] !== undefined && w[1] !== 'reverse') {
    b.err(st.args[1]!.pos, `unknown weight option '${w[1]}' (only 'reverse'; keepalived 2.2.7 reports it)`);
    return null;
  }
  return [v, w[1] === 'reverse'];
}

const weighed = new WeakSet<object>();
/**
 * A second `weight` in a track_file / vrrp_track_process block: keepalived keeps the first
 * (with an error) when it differs from the default (`kept`), else silently takes the second.
 */
function secondWeight(b: Builder, st: Statement, o: { weight: number }, kept: boolean): boolean {
  if (!weighed.has(o)) {
    weighed.add(o);
    return true;
  }
  if (kept) b.err(st.pos, `'weight' given twice: keepalived 2.2.7 keeps the first (${o.weight}) and reports an error`);
  else b.warn(st.pos, `'weight' given again: the first (the default ${o.weight}) is overridden, as keepalived 2.2.7 does`);
  return !kept;
}

/**
 * The block of a named top-level tracker: exactly one name, then the block walked quietly.
 * Returns the name and the keywords written but broken (a misspelt or bad required keyword:
 * its error is already told, so "has no …" stays quiet).
 */
function named<C>(b: Builder, st: Statement, table: Table<C>, ctx: C): { name: string; broken: Set<string> } {
  if (st.args.length !== 1) b.err(st.pos, `'${st.keyword}' needs exactly one name`);
  const broken = b.walk(quiet(table), b.block(st), ctx, `${st.keyword} ${st.args[0]?.text ?? '?'}`);
  return { name: st.args[0]?.text ?? '?', broken };
}

// ---------------------------------------------------------------- vrrp_script

const scriptTable: Table<VrrpScriptModel> = {
  block: 'vrrp_script',
  keywords: [
    impl('script', 'CMD|"CMD ARGS…"', 'required', 'The command, split as keepalived does (quotes, escapes) and run without a shell; exit 0 is success. Only the first word after `script` counts.', (b, st, s) => {
      const c = commandLine(b, st, false);
      if (c) s.script = c.argv;
    }),
    impl('interval', 'SECONDS (1..4294)', '1', 'The script runs every interval, on a fixed grid (a run still going when the next is due skips it, counted).', (b, st, s) => {
      s.intervalS = b.int(st, 1, 4294) ?? s.intervalS;
    }),
    impl('timeout', 'SECONDS (1..4294)', 'the interval', 'A run still going after this long is a failure: SIGTERM, then SIGKILL 2 s later, to its whole process group.', (b, st, s) => {
      s.timeoutS = b.int(st, 1, 4294) ?? s.timeoutS;
    }),
    impl('weight', '-253..253 [reverse]', '0', 'Added to (reverse: taken from) the priority of tracking instances while the script succeeds if positive, while it fails if negative; 0: failure means FAULT.', (b, st, s) => {
      const w = weightLine(b, st, 253);
      if (w) [s.weight, s.weightReverse] = w;
    }),
    impl('rise', '1..2147483647', '1', 'Successes in a row before the script counts as OK.', (b, st, s) => {
      s.rise = b.int(st, 1, 2147483647) ?? s.rise;
    }),
    impl('fall', '1..2147483647', '1', 'Failures in a row before the script counts as failed.', (b, st, s) => {
      s.fall = b.int(st, 1, 2147483647) ?? s.fall;
    }),
    impl('user', 'USER [GROUP]', 'global script_user', 'The script runs as this user (checked when vipd starts: an unknown user disables the script with an error, as keepalived drops it).', (b, st, s) => {
      const w = b.words(st, 1, 2);
      if (w) s.user = { user: w[0]!, group: w[1] ?? null };
    }),
    impl('init_fail', '', 'off (one success is enough)', 'The script counts as failed until it first succeeds. Without it, a weight-0 script that has not run yet holds its instance in FAULT at start without a notify (keepalived\'s "FAULT STATE (init)").', (b, st, s) => {
      if (b.flag(st)) s.initFail = true;
    }),
  ],
};

const scriptKw: Kw<DaemonConfig> = {
  name: 'vrrp_script', syntax: 'NAME { script …; interval …; … }', status: 'implemented', repeat: true, sub: scriptTable as Table<never>,
  note: 'Runs the command every interval in its own process group and changes the priority of (or faults) the instances that track it; a script not found, not executable or insecure is dropped with an error naming the file and line, as keepalived drops it.',
  handle: (b, st, c) => {
    // vrrp_data.c alloc_vrrp_script: interval 1 s, timeout 0 (= interval), weight 0, rise 1, fall 1
    const s: VrrpScriptModel = { name: '', script: [], intervalS: 1, timeoutS: 0, weight: 0, weightReverse: false, rise: 1, fall: 1, user: null, initFail: false, pos: st.pos };
    const { name, broken } = named(b, st, scriptTable, s);
    s.name = name;
    if (!s.script.length) {
      if (!broken.has('script')) b.err(st.pos, `vrrp_script ${s.name} has no 'script' (keepalived 2.2.7 reports it and removes the script)`);
      return;
    }
    s.timeoutS ||= s.intervalS; // vrrp_scheduler.c vrrp_script_thread: timeout 0 means the interval
    const sh = keepalivedShellForm(s.script);
    if (sh && /\/dev\/(tcp|udp)\//.test(sh)) {
      b.warn(st.pos, `vrrp_script ${s.name}: keepalived 2.2.7 runs \`${sh}\` with /bin/sh -c; /dev/tcp and /dev/udp are bash's, so where /bin/sh is dash (Debian, Ubuntu) the check fails whatever the port's state`);
    }
    mark(s);
    c.scripts.push(s);
  },
};

// ---------------------------------------------------------------- track_file

const fileTable: Table<TrackFileModel> = {
  block: 'track_file',
  keywords: [
    impl('file', 'PATH', 'required', 'The file whose number (times the weight) is added to the priority; non-zero with weight 0 means FAULT.', (b, st, f) => {
      if (f.file) b.err(st.pos, `'file' given twice: keepalived 2.2.7 keeps the first (${f.file}) and reports an error`);
      else f.file = b.word(st) ?? '';
    }, true),
    impl('weight', '-254..254 [reverse]', '1', 'The file\'s number is multiplied by this.', (b, st, f) => {
      if (!secondWeight(b, st, f, f.weight !== 1)) return; // track_file.c: a weight other than the default 1 is kept
      const w = weightLine(b, st, 254);
      if (w) [f.weight, f.weightReverse] = w;
    }, true),
    impl('init_file', '[VALUE] [overwrite]', 'off', 'Writes VALUE (default 0) to the file at start if it is missing (always with overwrite, except on a reload); the directory must exist.', (b, st, f) => {
      if (st.block) b.err(st.pos, `'init_file' takes no block`);
      f.initFile = { value: 0, overwrite: false };
      for (const a of st.args) {
        if (a.text === 'overwrite') f.initFile.overwrite = true;
        else if (/^\s*[-\d]/.test(a.text)) {
          const v = /^[-+]?\d+$/.test(a.text.trim()) ? Number(a.text) : NaN;
          if (!(Math.abs(v) <= 254)) b.err(a.pos, `init_file value must be an integer from -254 to 254, got '${a.text}'`);
          else f.initFile.value = v;
        } else b.err(a.pos, `unknown init_file option '${a.text}' (VALUE, overwrite)`);
      }
    }),
  ],
};

function fileKw(name: string): Kw<DaemonConfig> {
  const deprecated = name === 'vrrp_track_file';
  return {
    name, syntax: 'NAME { file PATH; weight N [reverse]; init_file [VALUE] [overwrite] }', status: 'implemented', repeat: true, sub: fileTable as Table<never>,
    note: deprecated ? 'Deprecated name of track_file (keepalived 2.2.7 logs it).' : 'Watches the file\'s directory (inotify) and applies its number to the instances that track it; a missing directory drops the tracker with an error, as keepalived does.',
    handle: (b, st, c) => {
      const f: TrackFileModel = { name: '', file: '', weight: 1, weightReverse: false, initFile: null, pos: st.pos };
      const { name: fname, broken } = named(b, st, fileTable, f);
      f.name = fname;
      if (deprecated) b.warn(st.pos, `'vrrp_track_file' is deprecated: write 'track_file' (keepalived 2.2.7 logs the same)`);
      if (!f.file) {
        if (!broken.has('file')) b.err(st.pos, `${name} ${f.name} has no 'file' (keepalived 2.2.7 reports it and ignores the block)`);
        return;
      }
      mark(f);
      c.trackFiles.push(f);
    },
  };
}

// ---------------------------------------------------------------- vrrp_track_process

/** keepalived's read_decimal_unsigned: at most 6 decimals (µs), here 0.000001..3600 s. */
function delay(b: Builder, st: Statement): number | null {
  const w = b.word(st);
  if (w === null) return null;
  const v = /^\d+(\.\d{1,6})?$/.test(w) ? Number(w) : NaN;
  if (!(v >= 0.000001 && v <= 3600)) {
    b.err(st.args[0]!.pos, `'${st.keyword}' must be seconds from 0.000001 to 3600 (at most 6 decimals), got '${w}'`);
    return null;
  }
  return v;
}

const processTable: Table<TrackProcessModel> = {
  block: 'vrrp_track_process',
  keywords: [
    impl('process', 'NAME|PATH [PARAM …]', 'required', 'The process to count; with parameters the whole command line is matched.', (b, st, p) => {
      if (p.process) {
        b.err(st.pos, `'process' given twice: keepalived 2.2.7 keeps the first (${p.process}) and reports an error`);
        return;
      }
      const w = b.words(st, 1, Infinity);
      if (!w) return;
      [p.process = '', ...p.params] = w;
      if (p.params.length) {
        p.paramMatch ??= 'exact';
        p.fullCommand = true;
      }
    }, true),
    impl('param_match', '[initial|partial]', 'exact when parameters are given', 'How the parameters are compared (partial: the first ones; initial: the last may be longer).', (b, st, p) => {
      const w = b.words(st, 0, 1);
      if (!w) return;
      if (w[0] !== undefined && w[0] !== 'initial' && w[0] !== 'partial') b.err(st.args[0]!.pos, `param_match takes nothing, 'initial' or 'partial', got '${w[0]}'`);
      else {
        p.paramMatch = (w[0] as 'initial' | 'partial' | undefined) ?? 'exact';
        p.fullCommand = true;
      }
    }),
    impl('weight', '-254..254 [reverse]', '0', 'Added to the priority while the quorum is met (reverse: while it is not); 0: no quorum means FAULT.', (b, st, p) => {
      if (!secondWeight(b, st, p, p.weight !== 0)) return; // vrrp_parser.c vrrp_tprocess_weight_handler keeps a non-zero weight
      const w = weightLine(b, st, 254);
      if (w) [p.weight, p.weightReverse] = w;
    }, true),
    impl('quorum', '1..65535', '1', 'Processes needed for the tracker to be up.', (b, st, p) => {
      const v = b.int(st, 1, 65535);
      if (v !== null && p.quorumMax !== null && v > p.quorumMax) b.err(st.args[0]!.pos, `quorum ${v} is above quorum_max ${p.quorumMax} (keepalived 2.2.7 reports it and ignores the line)`);
      else if (v !== null) p.quorum = v;
    }),
    impl('quorum_max', '0..65535', 'no limit', 'More processes than this count as down (0: any running process means down).', (b, st, p) => {
      const v = b.int(st, 0, 65535);
      if (v === null) return;
      if ((v || p.quorum > 1) && v < p.quorum) {
        b.err(st.args[0]!.pos, `quorum_max ${v} is below quorum ${p.quorum} (keepalived 2.2.7 reports it and ignores the line)`);
        return;
      }
      p.quorumMax = v;
      p.quorum = v === 0 ? 0 : p.quorum || 1;
    }),
    impl('delay', 'SECONDS', '0', 'Sets both terminate_delay and fork_delay.', (b, st, p) => {
      const v = delay(b, st);
      if (v !== null) p.terminateDelayS = p.forkDelayS = v;
    }),
    impl('terminate_delay', 'SECONDS', '0', 'Waits this long after the quorum is lost before counting the tracker down.', (b, st, p) => {
      p.terminateDelayS = delay(b, st) ?? p.terminateDelayS;
    }),
    impl('fork_delay', 'SECONDS', '0', 'Waits this long after the quorum is gained before counting the tracker up.', (b, st, p) => {
      p.forkDelayS = delay(b, st) ?? p.forkDelayS;
    }),
    impl('full_command', '', 'off (the process name)', 'Match against /proc/PID/cmdline instead of the process name.', (b, st, p) => {
      if (b.flag(st)) p.fullCommand = true;
    }),
  ],
};

const processKw: Kw<DaemonConfig> = {
  name: 'vrrp_track_process', syntax: 'NAME { process …; weight …; quorum …; … }', status: 'implemented', repeat: true, sub: processTable as Table<never>,
  note: 'Follows process starts and exits through the kernel\'s process connector and applies the quorum to the instances that track it (the connector exists in the initial network namespace only: start vipd there, with --namespace or net_namespace, as keepalived needs).',
  handle: (b, st, c) => {
    // vrrp_data.c alloc_vrrp_process: zeroed, quorum 1, quorum_max UINT_MAX
    const p: TrackProcessModel = {
      name: '', process: '', params: [], paramMatch: null, weight: 0, weightReverse: false, quorum: 1, quorumMax: null,
      terminateDelayS: 0, forkDelayS: 0, fullCommand: false, pos: st.pos,
    };
    const { name, broken } = named(b, st, processTable, p);
    p.name = name;
    if (!p.process) {
      if (!broken.has('process')) b.err(st.pos, `vrrp_track_process ${p.name} has no 'process' (keepalived 2.2.7 reports it and removes the block)`);
      return;
    }
    mark(p);
    c.trackProcesses.push(p);
  },
};

/** Top-level keywords: vrrp_script, track_file, vrrp_track_file, vrrp_track_process, vrrp_sync_group. */
export const topTrackKeywords: Kw<DaemonConfig>[] = [scriptKw, fileKw('track_file'), fileKw('vrrp_track_file'), processKw, syncGroupKw];

/** The track_* and dont_track_primary keywords of vrrp_instance. */
export const instanceTrackKeywords: Kw<InstanceModel>[] = [
  refKw<InstanceModel>('track_interface', 'interface', 18, 'Adds the weight while the interface is up (negative: takes it while down); weight 0: down means FAULT.'),
  refKw<InstanceModel>('track_script', 'script', 18, 'Applies the vrrp_script\'s result to the priority, or FAULT for weight 0.'),
  refKw<InstanceModel>('track_file', 'file', 18, 'Applies the track_file\'s value to the priority, or FAULT for weight 0.'),
  refKw<InstanceModel>('track_process', 'process', 18, 'Applies the vrrp_track_process\'s quorum to the priority, or FAULT for weight 0.'),
  refKw<InstanceModel>('track_bfd', 'bfd', 18, 'vipd has no BFD; keepalived\'s bfd_instance sessions would change the priority or put the instance in FAULT (run FRR bfdd).', 'outside'),
  impl('dont_track_primary', '', 'off', 'The instance\'s own interface going down is not a FAULT.', (b, st, i) => {
    if (b.flag(st)) i.dontTrackPrimary = true;
  }),
];

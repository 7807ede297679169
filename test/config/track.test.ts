/**
 * Trackers, notify scripts, mail and sync groups read as keepalived 2.2.7 reads them
 * (src/config/kw-track.ts, kw-notify.ts, kw-sync.ts): the field corpus into the model, script
 * lines split into argv exactly as keepalived splits them (checked against keepalived itself),
 * typos inside each block, and crafted edge cases compared with `keepalived -t` run here.
 *
 * The harness walks only these tables (the instance and global_defs keywords of other
 * tables are skipped), then does what the loader does after the walk: an instance's
 * priority 255 for `state MASTER` without `priority`, smtp_alert's global default, and
 * crossCheckTracking.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fsSource } from '../../src/config/fs-source.js';
import { defaultGlobals } from '../../src/config/kw-global.js';
import { lineWords } from '../../src/config/kw-notify.js';
import { crossCheckTracking, emptyNotify, globalNotifyKeywords, instanceTrackKeywords, keepalivedShellForm, notifyKeywords, splitQuotedEscaped, topTrackKeywords } from '../../src/config/kw-track.js';
import type { DaemonConfig, InstanceModel } from '../../src/config/model.js';
import { Builder, type Kw, type Table } from '../../src/config/spec.js';
import { parseFile, type Statement } from '../../src/config/tree.js';
import { hostInterface, keepalivedArgv, keepalivedCheck } from '../helpers/keepalived-check-track.js';

const instKws = [...instanceTrackKeywords, ...(notifyKeywords as unknown as Kw<InstanceModel>[])];
const instTable: Table<InstanceModel> = { block: 'vrrp_instance', keywords: instKws };
const globalTable: Table<DaemonConfig> = { block: 'global_defs', keywords: globalNotifyKeywords };
const topTable: Table<DaemonConfig> = { block: 'the top level', keywords: topTrackKeywords };
const mine = (t: Table<never>, st: Statement) => t.keywords.some((k) => k.name === st.keyword);

function instance(st: Statement, c: DaemonConfig, b: Builder): InstanceModel {
  const block = st.block ?? [];
  const word = (k: string) => block.find((s) => s.keyword === k)?.args[0]?.text;
  const i = {
    name: st.args[0]!.text, interface: word('interface') ?? '', priority: Number(word('priority') ?? (word('state') === 'MASTER' ? 255 : 100)),
    dontTrackPrimary: false, trackInterfaces: [], trackScripts: [], trackFiles: [], trackProcesses: [], trackBfd: [], notify: emptyNotify(),
    smtpAlert: null as unknown as boolean, syncGroup: null, other: {}, pos: st.pos,
  } as unknown as InstanceModel;
  b.walk(instTable, block.filter((s) => mine(instTable as Table<never>, s)), i, `vrrp_instance ${i.name}`);
  i.smtpAlert = (i.smtpAlert as boolean | null) ?? c.global.mail.alert;
  return i;
}

async function read(path: string): Promise<{ c: DaemonConfig; b: Builder }> {
  const stmts = await parseFile(path, fsSource);
  const b = new Builder();
  b.know(topTable as Table<never>, instTable as Table<never>, globalTable as Table<never>);
  const c = {
    file: path, routerId: null, vrrpPriority: null, vrrpRtPriority: null, netNamespace: null, instanceName: null, global: defaultGlobals(), instances: [],
    scripts: [], trackFiles: [], trackProcesses: [], syncGroups: [], staticAddresses: [], staticRoutes: [], staticRules: [], garpGroups: [], ifDelays: [], warnings: [],
  } as DaemonConfig;
  for (const st of stmts) if (st.keyword === 'global_defs') b.walk(globalTable, (st.block ?? []).filter((s) => mine(globalTable as Table<never>, s)), c);
  for (const st of stmts) {
    if (st.keyword === 'vrrp_instance') c.instances.push(instance(st, c, b));
    else if (mine(topTable as Table<never>, st)) b.walk(topTable, [st], c);
  }
  crossCheckTracking(b, c);
  return { c, b };
}

async function parse(text: string) {
  const dir = mkdtempSync(join(tmpdir(), 'vipd-track-'));
  try {
    writeFileSync(join(dir, 'keepalived.conf'), text.replace(/\bIFACE\b/g, hostInterface()));
    return await read(join(dir, 'keepalived.conf'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
const msgs = (d: { pos: { line: number }; message: string }[]) => d.map((e) => `${e.pos.line}: ${e.message}`);
const corpus = (f: string) => read(join(__dirname, '../../../shared/data/keepalived-conf', f));

describe('the field corpus into the tracker / notify / sync group model', () => {
  it('02: sync groups with notify scripts split into argv, members marked', async () => {
    const { c, b } = await corpus('02_acassen-vrrp-sync.conf');
    expect(b.errors).toEqual([]);
    const [g1, g2] = c.syncGroups;
    expect(g1).toMatchObject({ name: 'G1', instances: ['VI_1', 'VI_2', 'VI_5', 'VI_6', 'VI_7', 'VI_8', 'VI_9'], smtpAlert: false, trackingWeight: false });
    expect(g1!.notify.backup).toMatchObject({ argv: ['/usr/local/bin/vrrp.back', 'arg1', 'arg2'], user: null });
    expect(g1!.notify.master?.argv).toEqual(['/usr/local/bin/vrrp.mast', 'arg1', 'arg2']);
    expect(g1!.notify.fault?.argv).toEqual(['/usr/local/bin/vrrp.fault', 'arg1', 'arg2']);
    expect(g2).toMatchObject({ name: 'G2', instances: ['VI_3', 'VI_4'] });
    expect(c.instances.map((i) => [i.name, i.syncGroup])).toEqual([['VI_1', 'G1'], ['VI_2', 'G1'], ['VI_3', 'G2'], ['VI_4', 'G2'], ['VI_5', 'G1'], ['VI_6', 'G1'], ['VI_7', 'G1'], ['VI_8', 'G1'], ['VI_9', 'G1']]);
    expect(c.instances[0]!.notify.priorityChanges).toBe(false);
  });

  it('04: scripts with keepalived defaults, weights taken from the script unless the track line gives one', async () => {
    const { c, b } = await corpus('04_acassen-vrrp-localcheck.conf');
    expect(b.errors).toEqual([]);
    const s = Object.fromEntries(c.scripts.map((x) => [x.name, x]));
    expect(s['chk_sshd']).toMatchObject({ script: ['killall', '-0', 'sshd'], intervalS: 2, timeoutS: 2, weight: -4, weightReverse: false, fall: 2, rise: 2, user: null, initFail: false });
    expect(s['chk_haproxy']).toMatchObject({ script: ['killall', '-0', 'haproxy'], intervalS: 2, timeoutS: 2, weight: 0, fall: 1, rise: 1 });
    // a redirection: one word, which keepalived runs with /bin/sh -c (no execve)
    expect(s['chk_http_port']).toMatchObject({ script: ['</dev/tcp/127.0.0.1/80'], intervalS: 1, timeoutS: 1, weight: -2 });
    expect(keepalivedShellForm(s['chk_http_port']!.script)).toBe('</dev/tcp/127.0.0.1/80');
    expect(keepalivedShellForm(s['chk_sshd']!.script)).toBeNull();
    expect(msgs(b.warnings).filter((w) => w.includes('dash'))).toHaveLength(3);
    const [v1, v2] = c.instances;
    expect(v1!.trackInterfaces.map((r) => [r.name, r.weight, r.reverse])).toEqual([['eth1', 2, false], ['eth2', -2, false], ['eth3', 0, false]]);
    expect(v1!.trackScripts.map((r) => [r.name, r.weight])).toEqual([['chk_sshd', -4], ['chk_haproxy', 2], ['chk_http_port', -2], ['chk_https_port', -2], ['chk_smtp_port', -2]]);
    expect(v2!.trackScripts.map((r) => [r.name, r.weight])).toEqual([['chk_haproxy', 2], ['chk_http_port', -2], ['chk_https_port', -2], ['chk_smtp_port', -2]]);
    expect(c.instances[2]!.trackScripts).toEqual([]);
  });

  it('05: instance notify scripts (runs of spaces are one separator) and smtp_alert', async () => {
    const { c, b } = await corpus('05_acassen-vrrp-scripts.conf');
    expect(b.errors).toEqual([]);
    const v1 = c.instances[0]!;
    expect(v1.smtpAlert).toBe(true);
    expect(v1.notify.backup?.argv).toEqual(['/usr/local/bin/vrrp.sh', 'BACKUP', 'VI_1']);
    expect(v1.notify.master?.argv).toEqual(['/usr/local/bin/vrrp.sh', 'MASTER', 'VI_1']);
    expect(v1.notify.fault?.argv).toEqual(['/usr/local/bin/vrrp.sh', 'FAULT', 'VI_1']);
    expect(c.instances[1]!.smtpAlert).toBe(false);
    expect(c.syncGroups[0]).toMatchObject({ instances: ['VI_2', 'VI_3'] });
    expect(c.instances.map((i) => i.syncGroup)).toEqual([null, 'G1', 'G1']);
  });

  it('07, 11, 14: single-command scripts (quoted or not), unweighted track_interface', async () => {
    const k = await corpus('07_kolla-ansible-loadbalancer.conf');
    expect(k.b.errors).toEqual([]);
    expect(k.c.scripts[0]).toMatchObject({ name: 'check_alive', script: ['/check_alive.sh'], intervalS: 2, timeoutS: 2, fall: 2, rise: 10, weight: 0 });
    expect(k.c.instances[0]).toMatchObject({ trackInterfaces: [{ name: 'eth1', weight: 0, reverse: false }], trackScripts: [{ name: 'check_alive', weight: 0 }] });
    const o = await corpus('11_octavia-amphora.conf');
    expect(o.b.errors).toEqual([]);
    expect(o.c.scripts[0]).toMatchObject({ script: ['/var/lib/octavia/vrrp/check_script.sh'], intervalS: 5, fall: 2, rise: 2 });
    const u = await corpus('14_kubeadm-ha-considerations.conf');
    expect(u.b.errors).toEqual([]);
    expect(u.c.scripts[0]).toMatchObject({ script: ['/etc/keepalived/check_apiserver.sh'], intervalS: 3, weight: -2, fall: 10, rise: 2 });
    expect(u.c.instances[0]!.trackScripts).toMatchObject([{ name: 'check_apiserver', weight: -2 }]);
  });

  it('10: Neutron tracks the instance\'s own interface: a warning, as the instance tracks it anyway', async () => {
    const { c, b } = await corpus('10_neutron-l3-ha.conf');
    expect(b.errors).toEqual([]);
    expect(c.instances[0]!.trackInterfaces).toMatchObject([{ name: 'eth0', weight: 0 }]);
    expect(msgs(b.warnings)).toContain("15: VR_1: track_interface eth0 is the instance's own interface: keepalived 2.2.7 reports it and ignores the line (the instance tracks it anyway: down means FAULT)");
    expect(c.global.mail.from).toBe('neutron@openstack.local');
  });

  it('09: script security globals, a sync group with `notify`, unweighted scripts on its members', async () => {
    const { c, b } = await corpus('09_openstack-ansible-haproxy.conf');
    expect(b.errors).toEqual([]);
    expect(c.global).toMatchObject({ enableScriptSecurity: true, scriptUser: { user: 'root', group: null } });
    expect(c.scripts[1]).toMatchObject({ name: 'pingable_check_script', script: ['/etc/keepalived/pingable_check.sh', '1', '192.0.2.1'], intervalS: 10, fall: 2, rise: 4 });
    expect(c.syncGroups[0]!.notify.any?.argv).toEqual(['/etc/keepalived/haproxy_notify.sh']);
    expect(c.instances.map((i) => [i.syncGroup, i.trackScripts.map((r) => r.weight)])).toEqual([['haproxy', [0, 0]], ['haproxy', [0, 0]]]);
  });

  it('15: `timeout` wrapped commands stay several words', async () => {
    const { c, b } = await corpus('15_openshift-onprem-masters.conf');
    expect(b.errors).toEqual([]);
    expect(c.scripts.map((s) => [s.name, s.script, s.weight])).toEqual([
      ['chk_ocp_lb', ['/usr/bin/timeout', '1.9', '/etc/keepalived/chk_ocp_script.sh'], 20],
      ['chk_ocp_both', ['/usr/bin/timeout', '1.9', '/etc/keepalived/chk_ocp_script_both.sh'], 5],
      ['chk_ingress', ['/usr/bin/timeout', '0.9', '/usr/bin/curl', '-o', '/dev/null', '-Lfs', 'http://localhost:1936/healthz/ready'], 20],
      ['chk_default_ingress', ['/usr/bin/timeout', '4.9', '/etc/keepalived/chk_default_ingress.sh'], 50],
    ]);
    expect(c.instances[1]!.trackScripts.map((r) => [r.name, r.weight])).toEqual([['chk_ingress', 20], ['chk_default_ingress', 50]]);
    expect(msgs(b.warnings).some((w) => w.includes("'vrrp_script' is read but not acted on yet"))).toBe(false); // trackers run (issue #18)
  });
});

describe('script lines: the argv keepalived 2.2.7 builds, asked of keepalived itself', () => {
  const lines = [
    '"/usr/bin/timeout 1.9 /etc/keepalived/chk.sh"',
    '"</dev/tcp/127.0.0.1/80"',
    '"/bin/echo \'a b\' \\"c d\\" e\\\\tf"',
    '\'/bin/echo x y\' z',
    '/bin/echo\\ q "r"s',
    '/bin/echo#x',
    '"/bin/echo \'a # b\'"',
    '"/bin/echo \'\'"',
    '"/bin/echo   a    b"',
    '"/bin/echo \\\\x41\\\\102 \\\\cA"',
    '"/bin/echo \'a"',
    '"/bin/echo a\\\\"',
  ];
  it.each(lines)('script %s', async (line) => {
    const ka = keepalivedArgv(line);
    const { c, b } = await parse(`vrrp_script probe {\n  script ${line}\n}\n`);
    if (ka === null) {
      expect(c.scripts).toEqual([]);
      expect(b.errors.length).toBeGreaterThan(0);
    } else {
      expect(b.errors).toEqual([]);
      expect(c.scripts[0]!.script).toEqual(ka);
    }
  });

  it('words after the command of `script` are ignored, as keepalived does, with a warning', async () => {
    const { c, b } = await parse('vrrp_script s {\n  script /bin/true "extra arg"\n}\n');
    expect(keepalivedArgv('/bin/true "extra arg"')).toEqual(['/bin/true']);
    expect(c.scripts[0]!.script).toEqual(['/bin/true']);
    expect(msgs(b.warnings).join('\n')).toMatch(/'extra arg' ignored, as keepalived 2\.2\.7 does/);
  });

  it('escapes of the first pass, when the lexer gives the raw text (\\t is a TAB, \\x41 an A)', () => {
    const pos = { file: 'f', line: 1, col: 8 };
    const arg = { text: 'ignored', quoted: true, pos, raw: '"/bin/echo \\x41 a\\tb"' } as Statement['args'][number];
    const st: Statement = { keyword: 'script', pos: { ...pos, col: 1 }, block: null, args: [arg] };
    expect(lineWords(st)).toEqual({ words: ['/bin/echo A a\tb'] });
    expect(lineWords({ ...st, line: 'script "/bin/echo \\x41 a\\tb" root' } as Statement)).toEqual({ words: ['/bin/echo A a\tb', 'root'] });
    expect(splitQuotedEscaped('/bin/echo A a\tb')).toEqual({ words: ['/bin/echo', 'A', 'a', 'b'] });
    expect(splitQuotedEscaped('a \\x00')).toMatchObject({ error: expect.stringContaining('0x00') });
    expect(splitQuotedEscaped("'a")).toEqual({ error: "missing terminating '" });
  });
});

describe('typos inside each block are errors with a suggestion', () => {
  it.each([
    ['vrrp_script s {\n  script /bin/true\n  intervall 2\n}\n', "3: unknown keyword 'intervall' in vrrp_script s (did you mean 'interval'?)"],
    ['track_file f {\n  file /tmp/x\n  wieght 2\n}\n', "3: unknown keyword 'wieght' in track_file f (did you mean 'weight'?)"],
    ['vrrp_track_process p {\n  process haproxy\n  quorom 2\n}\n', "3: unknown keyword 'quorom' in vrrp_track_process p (did you mean 'quorum'?)"],
    ['vrrp_sync_group g {\n  group {\n    A\n    B\n  }\n  notify_mastr /bin/true\n}\n', "6: unknown keyword 'notify_mastr' in vrrp_sync_group g (did you mean 'notify_master'?)"],
    ['vrrp_sync_group g {\n  group {\n    A\n  }\n  notify_deleted /bin/true\n}\n', "5: 'notify_deleted' belongs in vrrp_instance, not in vrrp_sync_group g"],
  ])('%s', async (text, want) => {
    const { b } = await parse(text);
    expect(msgs(b.errors)).toContain(want);
  });
});

const SEC = 'global_defs {\n  enable_script_security\n  script_user root\n}\n';
const inst = (name: string, vrid: number, body = '', prio = 100) =>
  `vrrp_instance ${name} {\n  interface IFACE\n  virtual_router_id ${vrid}\n  priority ${prio}\n  virtual_ipaddress {\n    192.0.2.${vrid}/24\n  }\n${body}}\n`;
const script = (name: string, body = '') => `vrrp_script ${name} {\n  script /bin/true\n${body}}\n`;
const tracks = (kw: string, ...lines: string[]) => `  ${kw} {\n${lines.map((l) => `    ${l}\n`).join('')}  }\n`;
const group = (name: string, members: string[], body = '') => `vrrp_sync_group ${name} {\n  group {\n${members.map((m) => `    ${m}\n`).join('')}  }\n${body}}\n`;

/**
 * vipd's verdict beside keepalived's: `vipd` is 'ok', 'warn' (a warning containing `vipdMsg`)
 * or 'error' (an error containing `vipdMsg`); `ka` is keepalived -t's exit code and a line of
 * its output. `laxer`/`stricter` name where vipd deliberately differs from keepalived's exit code.
 */
interface Case { name: string; conf: string; vipd: 'ok' | 'warn' | 'error'; vipdMsg?: string; ka: number; kaMsg?: RegExp; differs?: string }

const cases: Case[] = [
  { name: 'unknown script referenced', conf: SEC + script('chk') + inst('V', 51, tracks('track_script', 'chk_x')), vipd: 'error', vipdMsg: 'no vrrp_script chk_x', ka: 5, kaMsg: /track script chk_x not found/ },
  { name: 'script defined after the instance that tracks it', conf: SEC + inst('V', 51, tracks('track_script', 'chk')) + script('chk'), vipd: 'error', vipdMsg: 'is defined after this line', ka: 5, kaMsg: /track script chk not found/ },
  { name: 'track_script weight out of range', conf: SEC + script('chk') + inst('V', 51, tracks('track_script', 'chk weight 300')), vipd: 'error', vipdMsg: 'from -254 to 254', ka: 5, kaMsg: /outside range/ },
  { name: 'track_script weight 254 (keepalived clamps to 253 with an error)', conf: SEC + script('chk') + inst('V', 51, tracks('track_script', 'chk weight 254')), vipd: 'error', vipdMsg: 'cannot be 254', ka: 5, kaMsg: /cannot be \+\/-254/ },
  { name: 'vrrp_script weight out of range', conf: SEC + script('chk', '  weight -254\n') + inst('V', 51, tracks('track_script', 'chk')), vipd: 'error', vipdMsg: 'from -253 to 253', ka: 5, kaMsg: /weight -254 must be in \[-253, 253\]/ },
  { name: 'misspelt weight option in a track line', conf: SEC + script('chk') + inst('V', 51, tracks('track_script', 'chk weigth 2')), vipd: 'error', vipdMsg: "unknown option 'weigth'", ka: 5, kaMsg: /unknown track script option weigth/ },
  { name: 'two track names on one line', conf: SEC + script('a') + script('b') + inst('V', 51, tracks('track_script', 'a b')), vipd: 'error', vipdMsg: "unknown option 'b'", ka: 5, kaMsg: /unknown track script option b/ },
  { name: 'track_script listed twice', conf: SEC + script('chk') + inst('V', 51, tracks('track_script', 'chk', 'chk weight 2')), vipd: 'error', vipdMsg: 'listed twice', ka: 5, kaMsg: /duplicate track_script chk/ },
  { name: 'reverse weight from the script, noreverse on the track line', conf: SEC + script('chk', '  weight 10 reverse\n') + inst('V', 51, tracks('track_script', 'chk weight 5 noreverse')), vipd: 'ok', ka: 0 },
  { name: 'sync group member missing', conf: SEC + group('G', ['A', 'B']) + inst('A', 51), vipd: 'error', vipdMsg: 'no vrrp_instance B', ka: 5, kaMsg: /Virtual router B specified in sync group G doesn't exist/ },
  { name: 'instance in two sync groups', conf: SEC + group('G1', ['A', 'B']) + group('G2', ['B', 'C']) + inst('A', 51) + inst('B', 52) + inst('C', 53), vipd: 'error', vipdMsg: 'already in sync group G1', ka: 5, kaMsg: /cannot exist in more than one sync group/ },
  // vipd warns: keepalived -t fails the file but runs the group as written
  { name: 'sync group with one member', conf: SEC + group('G', ['A']) + inst('A', 51), vipd: 'warn', vipdMsg: 'has one member', ka: 5, kaMsg: /only 1 virtual router/, differs: 'laxer' },
  { name: 'sync group without group block', conf: `${SEC}vrrp_sync_group G {\n  notify /bin/true\n}\n${inst('A', 51)}`, vipd: 'error', vipdMsg: "has no 'group", ka: 5, kaMsg: /Sync group G has no virtual router/ },
  { name: 'weighted track_script on a sync group member', conf: SEC + script('chk', '  weight 10\n') + group('G', ['A', 'B']) + inst('A', 51, tracks('track_script', 'chk')) + inst('B', 52), vipd: 'error', vipdMsg: 'without sync_group_tracking_weight', ka: 5, kaMsg: /ignoring tracked script chk with weights due to SYNC group/ },
  { name: 'the same with sync_group_tracking_weight', conf: SEC + script('chk', '  weight 10\n') + group('G', ['A', 'B'], '  sync_group_tracking_weight\n') + inst('A', 51, tracks('track_script', 'chk')) + inst('B', 52), vipd: 'ok', ka: 0 },
  { name: 'address owner with a weighted track_script', conf: SEC + script('chk', '  weight 10\n') + inst('A', 51, tracks('track_script', 'chk'), 255), vipd: 'error', vipdMsg: 'address owner', ka: 5, kaMsg: /address_owner/ },
  { name: 'weighted track_interface naming the instance\'s own interface', conf: SEC + inst('A', 51, tracks('track_interface', 'IFACE weight 10')), vipd: 'error', vipdMsg: 'weight 10 is not applied', ka: 5, kaMsg: /since own interface/ },
  // vipd warns (Neutron's L3 agent writes this): keepalived -t fails the file, but the instance tracks its own interface anyway
  { name: 'unweighted track_interface naming the instance\'s own interface', conf: SEC + inst('A', 51, tracks('track_interface', 'IFACE')), vipd: 'warn', vipdMsg: 'tracks it anyway', ka: 5, kaMsg: /since own interface/, differs: 'laxer' },
  { name: 'track_file weight 1 by default on a sync group member', conf: `${SEC}track_file tf {\n  file /etc/hostname\n}\n${group('G', ['A', 'B'])}${inst('A', 51, tracks('track_file', 'tf'))}${inst('B', 52)}`, vipd: 'error', vipdMsg: 'specify weight 0', ka: 5, kaMsg: /ignoring weight from tracked file tf/ },
  { name: 'track_file used before its definition', conf: `${SEC}${inst('A', 51, tracks('track_file', 'tf weight 0'))}track_file tf {\n  file /etc/hostname\n}\n`, vipd: 'error', vipdMsg: 'defined after', ka: 5, kaMsg: /track file tf not found/ },
  { name: 'address owner in a group with a weighted track_interface', conf: `${SEC.replace('}', '  dynamic_interfaces\n}')}${group('G', ['A', 'B'], tracks('track_interface', 'vipdx0 weight 5'))}${inst('A', 51)}${inst('B', 52, '', 255)}`, vipd: 'error', vipdMsg: 'member is the address owner', ka: 5, kaMsg: /Cannot have weighted track interface 'vipdx0' with member having priority 255/ },
  { name: 'an interface tracked by an instance and its group', conf: `${SEC.replace('}', '  dynamic_interfaces\n}')}${group('G', ['A', 'B'], tracks('track_interface', 'vipdx0'))}${inst('A', 51, tracks('track_interface', 'vipdx0'))}${inst('B', 52)}`, vipd: 'error', vipdMsg: 'also tracked by its sync group', ka: 5, kaMsg: /track_interface vipdx0 is configured on VRRP instance and sync group/ },
  // keepalived takes MASTER and A as user and group, finds no user MASTER and drops the script without a word (-t exits 0);
  // vipd reads the same user and group; whether the user exists is for the daemon to check when it starts
  { name: 'notify_master with unquoted arguments', conf: SEC + inst('A', 51, '  notify_master /bin/echo MASTER A\n'), vipd: 'ok', ka: 0 },
  { name: 'track_file weight given twice', conf: `${SEC}track_file tf {\n  file /etc/hostname\n  weight 5\n  weight 3\n}\n${inst('A', 51, tracks('track_file', 'tf'))}`, vipd: 'error', vipdMsg: 'keeps the first (5)', ka: 5, kaMsg: /Weight already set for track file tf/ },
  { name: 'track_file weight 1 then another', conf: `${SEC}track_file tf {\n  file /etc/hostname\n  weight 1\n  weight 3 reverse\n}\n${inst('A', 51, tracks('track_file', 'tf'))}`, vipd: 'warn', vipdMsg: 'is overridden', ka: 0 },
  { name: 'vrrp_track_process with parameters and delays', conf: `${SEC}vrrp_track_process p {\n  process haproxy -f "/etc/haproxy/haproxy.cfg"\n  param_match partial\n  weight 10 reverse\n  quorum_max 0\n  delay 0.5\n  fork_delay 1.25\n}\n${inst('A', 51, tracks('track_process', 'p'))}`, vipd: 'ok', ka: 0 },
  { name: 'notify with quoted arguments and a user', conf: SEC + inst('A', 51, '  notify "/bin/echo \'a b\' c" root\n  notify_master /bin/true\n  notify_deleted\n'), vipd: 'ok', ka: 0 },
  { name: 'notify_master given twice', conf: SEC + inst('A', 51, '  notify_master /bin/true\n  notify_master /bin/false\n'), vipd: 'error', vipdMsg: 'given twice', ka: 5, kaMsg: /notify_master script already specified/ },
  { name: 'notify with an unterminated quote', conf: SEC + inst('A', 51, '  notify "/bin/echo \'a"\n'), vipd: 'error', vipdMsg: 'missing terminating', ka: 5, kaMsg: /missing terminating '/ },
  { name: 'smtp_server with a port', conf: `global_defs {\n  enable_script_security\n  smtp_server 192.0.2.25 2525\n  smtp_connect_timeout 5\n  smtp_alert\n  notification_email {\n    ops@example.org noc@example.org\n  }\n}\n${inst('A', 51)}`, vipd: 'ok', ka: 0 },
  { name: 'smtp_server port out of range', conf: `global_defs {\n  smtp_server 192.0.2.25 70000\n}\n${inst('A', 51)}`, vipd: 'error', vipdMsg: 'from 1 to 65535', ka: 5, kaMsg: /Invalid smtp server/ },
  { name: 'smtp_alert with a bad value', conf: SEC + inst('A', 51, '  smtp_alert maybe\n'), vipd: 'error', vipdMsg: 'true/on/yes', ka: 5, kaMsg: /Invalid vrrp_instance smtp_alert parameter maybe/ },
  { name: 'vrrp_script interval 0', conf: SEC + script('chk', '  interval 0\n') + inst('A', 51, tracks('track_script', 'chk')), vipd: 'error', vipdMsg: 'from 1 to 4294', ka: 5, kaMsg: /interval must be greater than 0/ },
  { name: 'vrrp_script interval with decimals', conf: SEC + script('chk', '  interval 1.5\n') + inst('A', 51, tracks('track_script', 'chk')), vipd: 'error', vipdMsg: "got '1.5'", ka: 5, kaMsg: /invalid number '1.5'/ },
  { name: 'vrrp_script without script', conf: `${SEC}vrrp_script chk {\n  interval 2\n}\n${inst('A', 51)}`, vipd: 'error', vipdMsg: "has no 'script'", ka: 5, kaMsg: /No script set for vrrp_script chk/ },
  // keepalived -t stops before its unused-script check; running, it logs "script chk is not used" and never runs it
  { name: 'vrrp_script not used', conf: SEC + script('chk') + inst('A', 51), vipd: 'warn', vipdMsg: 'is not used', ka: 0 },
  // vipd refuses the ambiguity; keepalived silently tracks the first (find_script_by_name) and drops the second as unused
  { name: 'two vrrp_script with one name', conf: SEC + script('chk') + script('chk', '  weight 5\n') + inst('A', 51, tracks('track_script', 'chk')), vipd: 'error', vipdMsg: 'defined twice', ka: 0, differs: 'stricter' },
  { name: 'vrrp_track_process quorum_max below quorum', conf: `${SEC}vrrp_track_process p {\n  process haproxy\n  quorum 5\n  quorum_max 2\n}\n${inst('A', 51, tracks('track_process', 'p'))}`, vipd: 'error', vipdMsg: 'below quorum', ka: 5, kaMsg: /quorum_max is less than quorum/ },
  // vipd warns: keepalived -t fails the file but applies sync_group_tracking_weight
  { name: 'deprecated global_tracking', conf: SEC + script('chk', '  weight 10\n') + group('G', ['A', 'B'], '  global_tracking\n') + inst('A', 51, tracks('track_script', 'chk')) + inst('B', 52), vipd: 'warn', vipdMsg: 'deprecated', ka: 5, kaMsg: /global_tracking is deprecated/, differs: 'laxer' },
  { name: 'notify FIFOs and startup script', conf: `global_defs {\n  enable_script_security\n  script_user root\n  notify_fifo /run/vipd-test.fifo\n  notify_fifo_script "/bin/echo fifo"\n  vrrp_notify_priority_changes\n  startup_script /bin/true\n}\n${inst('A', 51, '  notify_priority_changes false\n')}`, vipd: 'ok', ka: 0 },
];

describe('crafted edge cases against keepalived -t', () => {
  it.each(cases)('$name', async (k) => {
    const ka = keepalivedCheck(k.conf);
    expect(ka.exitCode, ka.output).toBe(k.ka);
    if (k.kaMsg) expect(ka.output).toMatch(k.kaMsg);
    const { b } = await parse(k.conf);
    const errs = msgs(b.errors).join('\n');
    if (k.vipd === 'error') expect(errs).toContain(k.vipdMsg);
    else expect(errs).toBe('');
    if (k.vipd === 'warn') expect(msgs(b.warnings).join('\n')).toContain(k.vipdMsg);
    // vipd's verdict (refuses the file or not) is keepalived's (-t fails or not), except where stated
    if (!k.differs) expect(b.errors.length > 0).toBe(k.ka !== 0);
  });

  it('the model of the notify / mail / FIFO case', async () => {
    const { c } = await parse(cases.find((k) => k.name === 'notify FIFOs and startup script')!.conf);
    expect(c.global.notifyFifo).toEqual({ path: '/run/vipd-test.fifo', script: ['/bin/echo', 'fifo'] });
    expect(c.global.other['startup_script']).toEqual(['/bin/true']);
    expect(c.global.other['startup_script_timeout']).toEqual(['10']);
    expect(c.instances[0]!.notify.priorityChanges).toBe(false);
    const u = (await parse(cases.find((k) => k.name === 'notify_master with unquoted arguments')!.conf)).c.instances[0]!.notify.master;
    expect(u).toMatchObject({ argv: ['/bin/echo'], user: { user: 'MASTER', group: 'A' } });
    const n = (await parse(cases.find((k) => k.name.startsWith('notify with quoted'))!.conf)).c.instances[0]!.notify;
    expect(n.any).toMatchObject({ argv: ['/bin/echo', 'a b', 'c'], user: { user: 'root', group: null } });
    expect(n.notifyDeleted).toBe(true);
    expect(n.deleted).toBeNull();
    const m = (await parse(cases.find((k) => k.name === 'smtp_server with a port')!.conf)).c;
    expect(m.global.mail).toMatchObject({ smtpServer: { host: '192.0.2.25', port: 2525 }, connectTimeoutS: 5, alert: true, emails: ['ops@example.org', 'noc@example.org'] });
    expect(m.instances[0]!.smtpAlert).toBe(true);
    const tf = (await parse(cases.find((k) => k.name === 'track_file weight 1 then another')!.conf)).c;
    expect(tf.trackFiles[0]).toMatchObject({ file: '/etc/hostname', weight: 3, weightReverse: true, initFile: null });
    expect(tf.instances[0]!.trackFiles[0]).toMatchObject({ name: 'tf', weight: 3, reverse: true });
    const p = (await parse(cases.find((k) => k.name.startsWith('vrrp_track_process with'))!.conf)).c;
    expect(p.trackProcesses[0]).toMatchObject({
      process: 'haproxy', params: ['-f', '/etc/haproxy/haproxy.cfg'], paramMatch: 'partial', fullCommand: true, weight: 10, weightReverse: true, quorum: 0, quorumMax: 0, terminateDelayS: 0.5, forkDelayS: 1.25,
    });
    expect(p.instances[0]!.trackProcesses[0]).toMatchObject({ weight: 10, reverse: true });
    const r = (await parse(cases.find((k) => k.name.startsWith('reverse weight'))!.conf)).c.instances[0]!.trackScripts[0];
    expect(r).toMatchObject({ weight: 5, reverse: false });
    const d = (await parse(SEC + script('chk', '  weight 10 reverse\n') + inst('V', 51, tracks('track_script', 'chk')))).c.instances[0]!.trackScripts[0];
    expect(d).toMatchObject({ weight: 10, reverse: true });
  });
});

/**
 * The configuration loader's messages, word for word (issue #16, "Messages"): what vipd says
 * about authentication it drops, a file it cannot read, an unbalanced brace, and a typo — one
 * mistake, one error, never a cascade of "required" errors for the block it broke. Where the
 * verdict is keepalived 2.2.7's, keepalived -t is run on the same text here
 * (test/helpers/keepalived-check.ts: its own network namespace, root needed as in CI).
 * The CLI cases run `src/cli/vipd.ts` and check its whole stderr and exit code.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fsSource } from '../../src/config/fs-source.js';
import { loadKeepalivedConfig } from '../../src/config/keepalived.js';
import { ConfigErrors, type DaemonConfig } from '../../src/config/model.js';
import { formatErrors, formatWarnings } from '../../src/cli/vipd-config.js';
import { keepalivedCheck } from '../helpers/keepalived-check.js';

const dir = mkdtempSync(join(tmpdir(), 'vipd-msg-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

/** Writes `text` as `cN.conf` in the test's directory; returns its path. */
function write(text: string): string {
  const f = join(dir, `c${++n}.conf`);
  writeFileSync(f, text);
  return f;
}

/** The loader's errors and warnings on `text`, printed as the CLI prints them, paths relative to the test's directory. */
async function load(text: string): Promise<{ errors: string[]; warnings: string[]; config: DaemonConfig | null }> {
  const rel = (s: string): string[] => s.replaceAll(`${dir}/`, '').split('\n').filter((l) => l !== '');
  try {
    const config = await loadKeepalivedConfig(write(text), fsSource, { configId: 'test' });
    return { errors: [], warnings: rel(formatWarnings(config.warnings)), config };
  } catch (e) {
    if (!(e instanceof ConfigErrors)) throw e;
    return { errors: rel(formatErrors(e.errors)), warnings: rel(formatWarnings(e.warnings)), config: null };
  }
}

const root = resolve(__dirname, '../..');
function vipd(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/vipd.ts', ...args], { cwd: root, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr.replaceAll(`${dir}/`, '') };
}

const instance = (head: string, auth: string, vip = '192.0.2.10/24'): string =>
  `${head}vrrp_instance VI_1 {\n    interface eth0\n    virtual_router_id 51\n${auth}    virtual_ipaddress {\n        ${vip}\n    }\n}\n`;
const AUTH = '    authentication {\n        auth_type PASS\n        auth_pass secret\n    }\n';

describe('authentication: what vipd says where keepalived drops it', () => {
  it('without vrrp_version, authentication is VRRPv2\'s (keepalived\'s default): no message at all, the password is sent', async () => {
    const text = instance('', AUTH);
    const r = await load(text);
    expect(r.errors).toEqual([]);
    expect(r.warnings).toEqual([]);
    expect(r.config!.instances[0]).toMatchObject({ version: 2, authType: 1, authPass: 'secret' });
    const ka = await keepalivedCheck(text);
    expect([ka.exitCode, ka.errors]).toEqual([0, []]);
  });

  const cases = [
    {
      name: 'version 3 in the instance', text: instance('', `    version 3\n${AUTH}`), ka: 'VRRP version 3 does not support authentication. Ignoring.',
      says: "c:5:5: warning: vrrp_instance VI_1: VRRPv3 has no authentication (RFC 9568): keepalived ignores `authentication` (`keepalived -t` reports it as an error), and so does vipd; remove `authentication`, or change `version 3` to `version 2` (keepalived's default) to keep the password (on every router of this VRID)",
    },
    {
      name: 'global vrrp_version 3', text: instance('global_defs {\n    vrrp_version 3\n}\n', AUTH), ka: 'VRRP version 3 does not support authentication. Ignoring.',
      says: "c:7:5: warning: vrrp_instance VI_1: VRRPv3 has no authentication (RFC 9568): keepalived ignores `authentication` (`keepalived -t` reports it as an error), and so does vipd; remove `authentication`, or add `version 2` to this instance to keep the password (global_defs has `vrrp_version 3`; keepalived's default is VRRPv2; on every router of this VRID)",
    },
    {
      name: 'an IPv6 instance', text: instance('', AUTH, '2001:db8::10/64'), ka: 'VRRP version 3 does not support authentication. Ignoring.',
      says: 'c:4:5: warning: vrrp_instance VI_1: VRRPv3 has no authentication (RFC 9568), and IPv6 is VRRPv3 only: keepalived ignores `authentication` (`keepalived -t` reports it as an error), and so does vipd; remove `authentication`',
    },
    {
      name: 'vrrp_strict', text: instance('global_defs {\n    vrrp_strict\n}\n', AUTH), ka: 'Strict mode does not support authentication. Ignoring.',
      says: 'c:7:5: warning: vrrp_instance VI_1: vrrp_strict allows no authentication: keepalived ignores `authentication` (`keepalived -t` reports it as an error), and so does vipd; remove `authentication`, or remove `vrrp_strict` to keep the password (on every router of this VRID)',
    },
    {
      name: 'auth_type without auth_pass', text: instance('', '    authentication {\n        auth_type PASS\n    }\n'), ka: 'Authentication specified but no password given. Ignoring',
      says: 'c:4:5: warning: vrrp_instance VI_1: auth_type PASS without auth_pass: keepalived uses no authentication (`keepalived -t` reports it as an error), and so does vipd; add `auth_pass` with the password of the other routers, or remove `auth_type`',
    },
    {
      name: 'auth_pass without auth_type', text: instance('', '    authentication {\n        auth_pass secret\n    }\n'), ka: null,
      says: 'c:4:5: warning: vrrp_instance VI_1: auth_pass without auth_type: keepalived uses no authentication, and so does vipd; add `auth_type PASS` to use the password (on every router of this VRID)',
    },
  ];
  it.each(cases)('$name: keepalived drops it, vipd too, and says what to change', async ({ text, ka, says }) => {
    const r = await load(text);
    expect(r.errors).toEqual([]);
    const auth = r.warnings.filter((w) => /vrrp_instance VI_1: .*auth/.test(w)).map((w) => w.replace(/^c\d+\.conf/, 'c'));
    expect(auth).toEqual([says]);
    // never "drop the password" where the password would be sent: only where keepalived sends none
    expect(auth[0]).not.toMatch(/remove `auth_pass`|delete/);
    expect(r.config!.instances[0]).toMatchObject({ authType: 0, authPass: null });
    const k = await keepalivedCheck(text);
    if (ka === null) expect([k.exitCode, k.errors]).toEqual([0, []]);
    else expect([k.exitCode, k.errors.filter((e) => /uthentication/.test(e))]).toEqual([5, [`(VI_1) ${ka}`]]);
  });
});

describe('a file that cannot be read: `vipd: cannot read FILE: REASON`, exit 2', () => {
  const missing = join(dir, 'nowhere', 'keepalived.conf');
  it.each([
    ['check-config', ['check-config', missing]],
    ['run -f', ['run', '-f', missing]],
    ['keepalived\'s command line (-f, nothing started)', ['-f', missing]],
  ])('%s', (_, args) => {
    expect(vipd(args)).toEqual({ code: 2, stdout: '', stderr: 'vipd: cannot read nowhere/keepalived.conf: no such file\n' });
  });

  it('a directory', () => {
    expect(vipd(['check-config', dir])).toEqual({ code: 2, stdout: '', stderr: `vipd: cannot read ${dir}: a directory\n` });
  });

  it('an include of a missing file is an error at the include line (keepalived logs "Config files missing" and reads on); a glob that matches nothing a warning, as keepalived', async () => {
    const text = `include ${dir}/nowhere/extra.conf\ninclude ${dir}/nowhere/*.conf\n`;
    const r = await load(text);
    expect(r.errors).toEqual([`c${n}.conf:1:1: cannot read included file nowhere/extra.conf: no such file (keepalived 2.2.7 logs "Config files missing" and reads on without it)`]);
    expect(r.warnings).toEqual([`c${n}.conf:2:1: warning: include 'nowhere/*.conf' matched no file: nothing included, as keepalived 2.2.7 does`]);
    const ka = await keepalivedCheck(text);
    expect(ka.exitCode).toBe(0);
    expect(ka.errors).toEqual([`(Line 1) Config files missing '${dir}/nowhere/extra.conf'.`, `(Line 2) Config files missing '${dir}/nowhere/*.conf'.`]);
  });
});

const VI = 'vrrp_instance VI_1 {\n    interface eth0\n    virtual_router_id 51\n    virtual_ipaddress {\n        192.0.2.10/24\n    }\n}\n';

describe('a network namespace that does not exist', () => {
  it('`--namespace NAME` or net_namespace: one line that says what to do, exit 1 (not nsenter\'s own error)', () => {
    const name = `vipd-nosuch-${process.pid}`;
    const r = vipd(['run', '-f', write(instance('', '')), '--namespace', name]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`vipd: no network namespace ${name} (/run/netns/${name} does not exist): create it first (ip netns add ${name}) or fix --namespace / net_namespace\n`);
  });
});

describe('braces: the block never closed, named where it opened; an extra one explained', () => {
  const cases = [
    { name: 'the last } missing', text: VI.slice(0, -2), says: "1:1: vrrp_instance VI_1 opened here is never closed (missing '}')", ka: "There are 1 missing '}'s or extra '{'s" },
    {
      name: 'the } of virtual_ipaddress missing (the instance\'s } closes it)', text: VI.replace('    }\n', ''), ka: "There are 1 missing '}'s or extra '{'s",
      says: "4:5: virtual_ipaddress opened here is never closed (missing '}'): the '}' at line 6 closed it but is indented as vrrp_instance VI_1 (line 1), which then runs to the end of the file",
    },
    { name: 'an extra }', text: `${VI}}\n`, says: "8:1: unexpected '}': no block is open here (an extra '}'? the last block, vrrp_instance VI_1 of line 1, was closed at line 7)", ka: "(Line 8) Extra '}' found" },
    {
      name: 'an extra } inside the instance', text: VI.replace('    }\n', '    }\n    }\n'), ka: "(Line 8) Extra '}' found",
      says: "8:1: unexpected '}': no block is open here. vrrp_instance VI_1 (line 1) was already closed by the '}' at line 7, which is indented deeper than it: an extra '}' there, or a '{' missing before it?",
    },
    {
      name: 'the { of virtual_ipaddress missing', text: VI.replace('virtual_ipaddress {', 'virtual_ipaddress'), ka: "(Line 7) Extra '}' found",
      says: "7:1: unexpected '}': no block is open here. vrrp_instance VI_1 (line 1) was already closed by the '}' at line 6, which is indented deeper than it: an extra '}' there, or a '{' missing before it?",
    },
  ];
  it.each(cases)('$name', async ({ text, says, ka }) => {
    const r = await load(text);
    expect(r.errors).toEqual([`c${n}.conf:${says}`]);
    const k = await keepalivedCheck(text);
    expect(k.exitCode).toBe(5);
    expect(k.errors).toContain(ka);
  });

  it('the CLI: the error, the summary, exit 2', () => {
    const f = write(VI.slice(0, -2));
    expect(vipd(['check-config', f])).toEqual({
      code: 2, stdout: '', stderr: `c${n}.conf:1:1: vrrp_instance VI_1 opened here is never closed (missing '}')\nvipd: 1 error in the configuration; nothing was changed\n`,
    });
  });
});

/** A valid VRRPv3 file (virtual_ipaddress required) using each block with a required keyword. */
const BASE = `global_defs {
    vrrp_version 3
}
vrrp_script chk {
    script "/bin/true"
    interval 2
}
vrrp_instance VI_1 {
    state BACKUP
    interface eth0
    virtual_router_id 51
    priority 100
    virtual_ipaddress {
        192.0.2.10/24
    }
    track_script {
        chk
    }
}
vrrp_instance VI_2 {
    interface eth0
    virtual_router_id 52
    virtual_ipaddress {
        192.0.2.11/24
    }
}
vrrp_sync_group G1 {
    group {
        VI_1
        VI_2
    }
}
`;
function edit(from: string, to: string): string {
  expect(BASE).toContain(from);
  return BASE.replace(from, to);
}

describe('one mistake, one error: no "required" cascade for the block it broke', () => {
  it('the file itself loads, and a keyword really missing is still required', async () => {
    expect((await load(BASE)).errors).toEqual([]);
    expect((await load(edit('    interface eth0\n    virtual_router_id 51\n', '    virtual_router_id 51\n'))).errors)
      .toEqual([`c${n}.conf:8:1: vrrp_instance VI_1: 'interface' is required (keepalived refuses it too: "Unknown interface")`]);
    expect((await load(edit('    virtual_router_id 51\n', ''))).errors).toEqual([`c${n}.conf:8:1: vrrp_instance VI_1: 'virtual_router_id' is required`]);
    expect((await load(edit('    script "/bin/true"\n', ''))).errors[0]).toBe(`c${n}.conf:4:1: vrrp_script chk has no 'script' (keepalived 2.2.7 reports it and removes the script)`);
  });

  const kaUnknown = (w: string) => `(keepalived.conf: Line ${w}'`;
  const cases: { name: string; from: string; to: string; says: string; ka?: string }[] = [
    { name: 'interface misspelt', from: 'interface eth0\n    virtual_router_id 51', to: 'interfce eth0\n    virtual_router_id 51', says: "10:5: unknown keyword 'interfce' in vrrp_instance VI_1 (did you mean 'interface'?)", ka: kaUnknown("10) Unknown keyword 'interfce") },
    { name: 'virtual_router_id misspelt', from: 'virtual_router_id 51', to: 'virtual_router_idd 51', says: "11:5: unknown keyword 'virtual_router_idd' in vrrp_instance VI_1 (did you mean 'virtual_router_id'?)", ka: kaUnknown("11) Unknown keyword 'virtual_router_idd") },
    { name: 'virtual_router_id out of range', from: 'virtual_router_id 51', to: 'virtual_router_id 0', says: "11:23: 'virtual_router_id' must be an integer from 1 to 255, got '0'" },
    { name: 'interface with an empty name', from: 'interface eth0\n    virtual_router_id 51', to: 'interface ""\n    virtual_router_id 51', says: "10:15: '' is not a valid interface name (1 to 15 bytes, no '/')" },
    { name: 'virtual_ipaddress misspelt', from: '    virtual_ipaddress {\n        192.0.2.10', to: '    virtual_ipadress {\n        192.0.2.10', says: "13:5: unknown keyword 'virtual_ipadress' in vrrp_instance VI_1 (did you mean 'virtual_ipaddress'?)" },
    { name: 'virtual_ipaddress with its address on its line', from: '    virtual_ipaddress {\n        192.0.2.10/24\n    }\n', to: '    virtual_ipaddress 192.0.2.10/24\n', says: "13:23: 'virtual_ipaddress' takes a { block } of addresses, not arguments on its line" },
    { name: 'virtual_ipaddress with its only address bad', from: '192.0.2.10/24', to: '192.0.2.300/24', says: "14:9: virtual_ipaddress of VI_1: invalid IP address '192.0.2.300/24' (keepalived 2.2.7 skips the address)" },
    { name: 'script misspelt', from: '    script "/bin', to: '    scrpt "/bin', says: "5:5: unknown keyword 'scrpt' in vrrp_script chk (did you mean 'script'?)", ka: kaUnknown("5) Unknown keyword 'scrpt") },
    { name: 'vrrp_script misspelt', from: 'vrrp_script chk', to: 'vrrp_scirpt chk', says: "4:1: unknown keyword 'vrrp_scirpt' in the top level (did you mean 'vrrp_script'?)" },
    { name: 'vrrp_instance misspelt', from: 'vrrp_instance VI_1', to: 'vrrp_instanc VI_1', says: "8:1: unknown keyword 'vrrp_instanc' in the top level (did you mean 'vrrp_instance'?)" },
    { name: 'track_script misspelt', from: 'track_script {', to: 'track_scrip {', says: "16:5: unknown keyword 'track_scrip' in vrrp_instance VI_1 (did you mean 'track_script'?)" },
    { name: 'group misspelt', from: '    group {', to: '    grup {', says: "28:5: unknown keyword 'grup' in vrrp_sync_group G1 (did you mean 'group'?)", ka: kaUnknown("28) Unknown keyword 'grup") },
    { name: 'group empty', from: '    group {\n        VI_1\n        VI_2\n    }', to: '    group {\n    }', says: '28:5: vrrp_sync_group G1: empty group block (keepalived 2.2.7 reports it and removes the group)' },
  ];
  it.each(cases)('$name', async ({ from, to, says, ka }) => {
    const text = edit(from, to);
    const r = await load(text);
    expect(r.errors).toEqual([`c${n}.conf:${says}`]);
    // nor a warning that something is missing or unused because of it
    expect(r.warnings.filter((w) => /no virtual_ipaddress|not used by any|without priority|has one member/.test(w))).toEqual([]);
    if (ka) expect((await keepalivedCheck(text)).errors.some((e) => e.startsWith(ka))).toBe(true);
  });

  it('track_file without its file, vrrp_track_process without its process (misspelt): one error each, no "has no", no "not found"', async () => {
    const r = await load(`track_file tf {\n    fiel /run/x\n}\nvrrp_track_process tp {\n    proces haproxy\n}\n${VI.replace('    virtual_ipaddress', '    track_file {\n        tf weight 0\n    }\n    track_process {\n        tp\n    }\n    virtual_ipaddress')}`);
    expect(r.errors).toEqual([
      `c${n}.conf:2:5: unknown keyword 'fiel' in track_file tf (did you mean 'file'?)`,
      `c${n}.conf:5:5: unknown keyword 'proces' in vrrp_track_process tp (did you mean 'process'?)`,
    ]);
  });

  it('a bad priority with state MASTER: no "address owner" warning besides the error', async () => {
    const r = await load(edit('    state BACKUP\n    interface eth0\n    virtual_router_id 51\n    priority 100\n', '    state MASTER\n    interface eth0\n    virtual_router_id 51\n    priority abc\n'));
    expect(r.errors).toEqual([`c${n}.conf:12:14: 'priority' must be an integer from 1 to 255, got 'abc'`]);
    expect(r.warnings.filter((w) => /address owner|priority 255/.test(w))).toEqual([]);
  });

  it('a misspelt auth_type: the error only, no "auth_pass without auth_type"', async () => {
    const r = await load(instance('', '    authentication {\n        auth_typ PASS\n        auth_pass secret\n    }\n'));
    expect(r.errors).toEqual([`c${n}.conf:5:9: unknown keyword 'auth_typ' in authentication of VI_1 (did you mean 'auth_type'?)`]);
    expect(r.warnings).toEqual([]);
  });
});

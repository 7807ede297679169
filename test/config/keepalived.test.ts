import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { fsSource } from '../../src/config/fs-source.js';
import { loadKeepalivedConfig } from '../../src/config/keepalived.js';
import { ConfigErrors } from '../../src/config/model.js';
import { parseFile } from '../../src/config/tree.js';

function write(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'vipd-conf-'));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}
async function load(text: string, extra: Record<string, string> = {}) {
  const dir = write({ 'keepalived.conf': text, ...extra });
  return loadKeepalivedConfig(join(dir, 'keepalived.conf'), fsSource);
}
async function errors(text: string, extra: Record<string, string> = {}): Promise<string[]> {
  try {
    await load(text, extra);
  } catch (e) {
    if (e instanceof ConfigErrors) return e.errors.map((x) => `${x.pos.line}:${x.pos.col} ${x.message}`);
    throw e;
  }
  return [];
}

const BASIC = `! Configuration File for keepalived
global_defs {
    router_id ctl1          # comment
    vrrp_version 3
    vrrp_garp_master_delay 2
    vrrp_garp_master_repeat 3
}

vrrp_instance VI_1 {
    state MASTER
    interface eth0
    virtual_router_id 51
    priority 150
    advert_int 0.1
    nopreempt
    preempt_delay 5
    virtual_ipaddress {
        192.0.2.200/24 dev eth0 label eth0:vip
        192.0.2.201
    }
}
vrrp_instance "VI 6"
{
    interface eth0
    virtual_router_id 52
    virtual_ipaddress {
        2001:DB8::200/64
    }
}
`;

describe('keepalived.conf subset', () => {
  it('reads the usual layout into the model', async () => {
    const c = await load(BASIC);
    expect(c.routerId).toBe('ctl1');
    const [a, b] = c.instances;
    expect(a).toMatchObject({
      name: 'VI_1', interface: 'eth0', vrid: 51, priority: 150, version: 3, advertIntervalUs: 100_000, preempt: false,
      preemptDelayUs: 5_000_000, initialState: 'MASTER', family: 4, garpMasterDelayS: 2, garpMasterRepeat: 3,
      vips: [{ address: '192.0.2.200', prefixLen: 24, dev: 'eth0', label: 'eth0:vip', family: 4 }, { address: '192.0.2.201', prefixLen: 32, dev: null, label: null, family: 4 }],
    });
    expect(b).toMatchObject({ name: 'VI 6', family: 6, priority: 100, advertIntervalUs: 1_000_000, preempt: true, vips: [{ address: '2001:db8::200', prefixLen: 64 }] });
  });

  it('VRRPv2 with simple password and unicast peers', async () => {
    const c = await load(`vrrp_instance V { version 2
 interface eth0
 virtual_router_id 7
 authentication {
   auth_type PASS
   auth_pass secret12
 }
 unicast_src_ip 192.0.2.1
 unicast_peer {
   192.0.2.2
   192.0.2.3
 }
 virtual_ipaddress {
   192.0.2.100/24
 }
}`);
    expect(c.instances[0]).toMatchObject({ version: 2, authType: 1, authPass: 'secret12', unicastSrc: '192.0.2.1', unicastPeers: ['192.0.2.2', '192.0.2.3'], advertIntervalUs: 1_000_000 });
  });

  it('include with a glob, relative to the including file, in order', async () => {
    const c = await load('include conf.d/*.conf\n', {
      'conf.d/b.conf': 'vrrp_instance B {\n interface eth0\n virtual_router_id 2\n virtual_ipaddress {\n 192.0.2.2\n }\n}\n',
      'conf.d/a.conf': 'vrrp_instance A {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n 192.0.2.1\n }\n}\n',
      'conf.d/ignored.txt': 'garbage',
    });
    expect(c.instances.map((i) => i.name)).toEqual(['A', 'B']);
  });

  it('refuses unknown and unsupported keywords by name with line:column', async () => {
    expect(await errors('global_defs {\n  router_id x\n  enable_script_security\n}\n')).toEqual(["3:3 unknown keyword 'enable_script_security' in global_defs"]);
    const e = await errors('vrrp_script chk {\n script "true"\n}\nvrrp_instance V {\n interface eth0\n virtual_router_id 1\n track_script {\n  chk\n }\n virtual_ipaddress {\n 192.0.2.1\n }\n}\n');
    expect(e).toEqual(["1:1 keepalived keyword 'vrrp_script' is not supported by vipd yet", "7:2 keepalived keyword 'track_script' is not supported by vipd yet"]);
  });

  it('process scheduling: vrrp_priority (nice, negative allowed) and vrrp_rt_priority, with their ranges', async () => {
    const inst = 'vrrp_instance V {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n 192.0.2.1\n }\n}\n';
    const c = await load(`global_defs {\n vrrp_priority -20\n vrrp_rt_priority 50\n}\n${inst}`);
    expect([c.vrrpPriority, c.vrrpRtPriority]).toEqual([-20, 50]);
    expect([(await load(inst)).vrrpPriority, (await load(inst)).vrrpRtPriority]).toEqual([null, null]);
    expect(await errors(`global_defs {\n vrrp_priority 20\n vrrp_rt_priority 0\n vrrp_rlimit_rttime 10000\n vrrp_rx_bufs_policy ADVERT\n}\n${inst}`)).toEqual([
      "2:16 'vrrp_priority' must be an integer from -20 to 19, got '20'",
      "3:19 'vrrp_rt_priority' must be an integer from 1 to 99, got '0'",
      "4:2 keepalived keyword 'vrrp_rlimit_rttime' is not supported by vipd yet",
      "5:2 keepalived keyword 'vrrp_rx_bufs_policy' is not supported by vipd yet",
    ]);
  });

  it('lists every error, each with its position', async () => {
    const e = await errors(`vrrp_instance V {
  interface eth0
  virtual_router_id 300
  priority 0
  advert_int 0.015
  state LEADER
  virtual_ipaddress {
    192.0.2.300/24
    192.0.2.5/40
    2001:db8::1
    192.0.2.6
  }
}
vrrp_instance V {
  virtual_router_id 1
  virtual_ipaddress {
    192.0.2.9
  }
}
`);
    expect(e).toEqual([
      "3:21 'virtual_router_id' must be an integer from 1 to 255, got '300'",
      "4:12 'priority' must be an integer from 1 to 255, got '0'",
      "6:9 state must be MASTER or BACKUP, got 'LEADER'",
      "8:5 '192.0.2.300/24' is not an IPv4 or IPv6 address",
      "9:5 bad prefix length in '192.0.2.5/40' (0..32)",
      '1:1 vrrp_instance V: IPv4 and IPv6 addresses in one instance (use one instance per family)',
      '5:14 VRRPv3 advert_int is 0.01 to 40.95 s in steps of 0.01 (RFC 9568 5.2.7)',
      "14:1 vrrp_instance V: 'interface' is required",
      '14:1 vrrp_instance V defined twice (first at line 1)',
    ]);
  });

  it('rejects protocol contradictions', async () => {
    expect(await errors('global_defs {\n vrrp_version 2\n}\nvrrp_instance V {\n interface eth0\n virtual_router_id 1\n advert_int 0.5\n virtual_ipaddress {\n  2001:db8::1\n }\n}\n')).toEqual([
      '4:1 vrrp_instance V: VRRPv2 has no IPv6 (RFC 3768); use version 3',
      '7:13 VRRPv2 advert_int is whole seconds (RFC 3768 5.3.7)',
    ]);
    expect(await errors('vrrp_instance A {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n 192.0.2.1\n }\n}\nvrrp_instance B {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n 192.0.2.2\n }\n}\n'))
      .toEqual(['8:1 vrrp_instance B: VRID 1 on eth0 (IPv4) already used by A']);
  });

  it('syntax errors: unbalanced braces, unterminated quotes, missing include', async () => {
    expect(await errors('vrrp_instance V {\n interface eth0\n')).toEqual(["3:1 missing '}' at end of file"]);
    expect(await errors('}\n')).toEqual(["1:1 unexpected '}'"]);
    expect(await errors('vrrp_instance "V {\n')).toEqual(['1:15 unterminated quoted string']);
    expect((await errors('include /nonexistent/vipd.conf\n'))[0]).toMatch(/^1:1 cannot read included file \/nonexistent\/vipd.conf: no such file/);
  });

  it('any white space separates words; quoted strings keep escaped quotes and backslashes', async () => {
    // form feed, vertical tab and no-break space: the first lexer looped for ever on them
    const c = await load('vrrp_instance\f"V \\"x\\" \\\\y" {\n\vinterface eth0\u00a0\n virtual_router_id\t7\n virtual_ipaddress {\n  192.0.2.7\n }\n}\n');
    expect(c.instances[0]).toMatchObject({ name: 'V "x" \\y', interface: 'eth0', vrid: 7 });
  });

  it('the statement tree of 1000 instances stays small (no token objects, arguments at their length)', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const text = Array.from({ length: 1000 }, (_, k) => `vrrp_instance VI_${k} {\n    state BACKUP\n    interface eth0\n    virtual_router_id ${(k % 255) + 1}\n    priority 150\n    advert_int 1\n    version 3\n    virtual_ipaddress {\n        198.51.100.${(k % 254) + 1}/32\n    }\n}\n`).join('\n');
    const dir = write({ 'big.conf': text });
    gc();
    const before = process.memoryUsage().heapUsed;
    const tree = await parseFile(join(dir, 'big.conf'), fsSource);
    gc();
    const perInstance = (process.memoryUsage().heapUsed - before) / 1000;
    expect(tree).toHaveLength(1000);
    // measured 2.9 KB; the token array and pushed-to argument arrays made it 4.1 KB
    expect(perInstance).toBeLessThan(3500);
  });
});

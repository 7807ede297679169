/**
 * Rules (src/os/rtnl-rule.ts): the requests byte for byte against what keepalived 2.2.7 sent
 * for the same lines (captured with `strace -xx -e write=all` of keepalived in a test
 * namespace; the sequence number zeroed), keepalived's numbering of rules without a priority,
 * parses of kernel messages, the identity keys, the ip -batch lines. Models come from the
 * real config parser (src/config/kw-net-rule.ts).
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_RT_NAMES, parseRuleBlock } from '../../src/config/kw-net.js';
import type { RuleModel } from '../../src/config/model-net.js';
import { Builder } from '../../src/config/spec.js';
import { parseFile, type FileSource } from '../../src/config/tree.js';
import { cstr, nlmsg, rtattr, RTM_NEWROUTE, RTM_NEWRULE, splitMessages, u32 } from '../../src/os/rtnl-msg.js';
import { keepalivedRulePriorities, modelRuleKey, parseRuleMsg, ruleDelLine, ruleKey, ruleRequest } from '../../src/os/rtnl-rule.js';

async function parseRules(lines: string[], block = 'virtual_rules'): Promise<RuleModel[]> {
  const text = `${block} {\n${lines.join('\n')}\n}\n`;
  const src: FileSource = { read: async () => text, glob: async () => [], resolve: (_f, p) => p };
  const [st] = await parseFile('/mem/keepalived.conf', src);
  const b = new Builder();
  const rules = parseRuleBlock(b, st!, DEFAULT_RT_NAMES);
  expect(b.errors.map((e) => e.message)).toEqual([]);
  return rules;
}
const ifindexOf = (): number => {
  throw new Error('rules go by interface name');
};
const hex = (b: Buffer): string => {
  const c = Buffer.from(b);
  c.writeUInt32LE(0, 8);
  return c.toString('hex');
};

const RULES = [
  'from 198.51.100.5/32 table 1 priority 100',
  'to 203.0.113.0/24 table 100 priority 200',
  'fwmark 0x10/0xff table 300 priority 300',
  'iif eth0 table 100 priority 400',
  'oif eth1 prohibit priority 500',
  'from 2001:db8::/64 table 100 priority 600',
  'not from 192.0.2.0/24 blackhole priority 700 no_track',
  'from 192.0.2.9 priority 800 goto 810',
  'fwmark 7 table 100 priority 1000 inet6',
  'from 192.0.2.0/24 ipproto 6 dport 80-80 table 100 priority 1100',
  'table main suppress_prefixlength 0 priority 1200',
];
/** keepalived 2.2.7's RTM_NEWRULE (flags REQUEST|ACK|CREATE|EXCL) for each line of RULES. */
const KA_RULE_ADD = [
  '3400000020000506000000000000000002002000010000010000000008000200c633640508000600640000000500150012000000',
  '3400000020000506000000000000000002180000640000010000000008000100cb00710008000600c80000000500150012000000',
  '4400000020000506000000000000000002000000000000010000000008000f002c010000080006002c01000008000a001000000008001000ff0000000500150012000000',
  '3800000020000506000000000000000002000000640000010000000008000600900100000900030065746830000000000500150012000000',
  '3800000020000506000000000000000002000000000000080000000008000600f40100000900110065746831000000000500150012000000',
  '400000002000050600000000000000000a00400064000001000000001400020020010db800000000000000000000000008000600580200000500150012000000',
  '2c00000020000506000000000000000002001800000000060200000008000200c000020008000600bc020000',
  '3c00000020000506000000000000000002002000000000020000000008000200c000020908000600200300000500150012000000080004002a030000',
  '340000002000050600000000000000000a000000640000010000000008000600e803000008000a00070000000500150012000000',
  '4400000020000506000000000000000002001800640000010000000008000200c0000200080006004c040000050015001200000005001600060000000800180050005000',
  '3400000020000506000000000000000002000000fe0000010000000008000600b004000008000e00000000000500150012000000',
];

describe('ruleRequest: keepalived 2.2.7\'s bytes', () => {
  it('add and delete of each line are what keepalived sent', async () => {
    const rules = await parseRules(RULES);
    expect(rules.map((r) => hex(ruleRequest('add', r, ifindexOf, 9)))).toEqual(KA_RULE_ADD);
    // the delete is the same message as RTM_DELRULE (33) with REQUEST|ACK, as keepalived sent it
    expect(rules.map((r) => hex(ruleRequest('del', r, ifindexOf, 9)))).toEqual(KA_RULE_ADD.map((h) => `${h.slice(0, 8)}21000500${h.slice(16)}`));
  });

  it('by hand: table above 255 in FRA_TABLE, l3mdev, tunnel-id, uidrange, sport, tos, realms, suppress_ifgroup', async () => {
    const [l3, many] = await parseRules([
      'iif eth0 l3mdev priority 10',
      'from 192.0.2.0/24 tos 0x10 uidrange 1000-2000 sport 1000-2000 tunnel-id 258 realms 1/2 suppress_ifgroup 5 table 1000 priority 20 no_track',
    ]);
    const a = ruleRequest('add', l3!, undefined, 1).toString('hex');
    expect(a.slice(32, 56)).toBe('020000000000000100000000'); // table 0, FR_ACT_TO_TBL
    expect(a).toContain('0500130001000000'); // FRA_L3MDEV 1
    const b = ruleRequest('add', many!, undefined, 1);
    expect([...b.subarray(16, 24)]).toEqual([2, 0, 24, 0x10, 0, 0, 0, 1]);
    const h = b.toString('hex');
    expect(h.slice(56, 72)).toBe('08000f00e8030000'); // FRA_TABLE 1000 first
    for (const attr of [
      '08000b0002000100', // FRA_FLOW (1 << 16) | 2
      '08000d0005000000', // FRA_SUPPRESS_IFGROUP 5
      '0c000c000000000000000102', // FRA_TUN_ID 258, big-endian
      '0c001400e8030000d0070000', // FRA_UID_RANGE
      '08001700e803d007', // FRA_SPORT_RANGE
    ]) expect(h).toContain(attr);
    expect(h).not.toContain('05001500'); // no_track: no FRA_PROTOCOL
  });
});

describe('rules without a priority', () => {
  it('keepalived numbers them 16384 downwards per family in file order; vipd refuses to send one unnumbered', async () => {
    const rules = await parseRules(['from 192.0.2.1 table 1', 'from 2001:db8::1 table 1', 'from 192.0.2.2 table 1 priority 5', 'from 192.0.2.3 table 1']);
    expect(() => ruleRequest('add', rules[0]!, undefined, 1)).toThrow(/without a priority/);
    expect(() => modelRuleKey(rules[0]!)).toThrow(/keepalivedRulePriorities/);
    expect(() => ruleDelLine(rules[0]!)).toThrow(/without a priority/);
    expect(keepalivedRulePriorities(rules).map((r) => r.priority)).toEqual([16384, 16384, 5, 16383]);
    expect(rules[0]!.priority).toBeNull(); // copies
  });
});

/** A rule as the kernel reports it (fib_nl_fill_rule: FRA_TABLE, FRA_PRIORITY, FRA_PROTOCOL always; FWMASK with a mark). */
function kernelRule(hdr: number[], attrs: Buffer[]): Buffer {
  return nlmsg(RTM_NEWRULE, 0, 0, [Buffer.from([...hdr, 0, 0, 0, 0]), ...attrs]);
}

describe('parseRuleMsg and the keys', () => {
  it('Octavia\'s rule from a dump: the fields, and the key of the model line (ip rule add gives it without protocol)', async () => {
    const m = kernelRule([2, 0, 32, 0, 1, 0, 0, 1], [rtattr(15, u32(1)), rtattr(2, Buffer.from([198, 51, 100, 5])), rtattr(6, u32(100)), rtattr(21, Buffer.of(0))]);
    const r = parseRuleMsg(splitMessages(m)[0]!)!;
    expect(r).toMatchObject({ family: 4, priority: 100, from: '198.51.100.5/32', to: null, table: 1, action: 'table', protocol: 0, fwmark: 0, iif: null });
    const [octavia, other] = await parseRules(['from 198.51.100.5/32 table 1 priority 100', 'from 198.51.100.5/32 table 2 priority 100']);
    expect(ruleKey(r)).toBe('4 pref 100 from 198.51.100.5/32 table 1');
    expect(modelRuleKey(octavia!)).toBe(ruleKey(r));
    expect(modelRuleKey(other!)).not.toBe(ruleKey(r));
  });

  it('kernel defaults: a fwmark without mask has mask 0xffffffff; an unset suppressor is -1', async () => {
    const m = kernelRule([10, 0, 0, 0, 100, 0, 0, 1], [
      rtattr(15, u32(100)), rtattr(14, u32(0xffffffff)), rtattr(6, u32(1000)), rtattr(10, u32(7)), rtattr(16, u32(0xffffffff)), rtattr(3, cstr('eth0')),
    ]);
    const r = parseRuleMsg(splitMessages(m)[0]!)!;
    expect([r.fwmark, r.fwmask, r.suppressPrefixLength, r.iif, r.family]).toEqual([7, 0xffffffff, null, 'eth0', 6]);
    const [mark, masked] = await parseRules(['fwmark 7 iif eth0 table 100 priority 1000 inet6', 'fwmark 7/0xff iif eth0 table 100 priority 1000 inet6']);
    expect(modelRuleKey(mark!)).toBe(ruleKey(r));
    expect(modelRuleKey(masked!)).not.toBe(ruleKey(r));
  });

  it('every request parses back to the fields of its model', async () => {
    const rules = await parseRules(RULES);
    for (const model of rules) {
      const r = parseRuleMsg({ ...splitMessages(ruleRequest('add', model, undefined, 1))[0]!, type: RTM_NEWRULE })!;
      expect(r.family).toBe(model.family);
      expect(r.priority).toBe(model.priority);
      expect([r.from, r.to, r.iif, r.oif, r.invert]).toEqual([model.from, model.to, model.iif, model.oif, model.invert]);
      expect(r.action).toBe(model.action);
      expect(r.gotoTarget).toBe(model.gotoTarget);
      expect(r.protocol).toBe(model.protocol ?? 0);
    }
  });

  it('skips other messages and families', () => {
    const m = splitMessages(kernelRule([2, 0, 0, 0, 254, 0, 0, 1], []))[0]!;
    expect(parseRuleMsg(m)).not.toBeNull();
    expect(parseRuleMsg({ ...m, type: RTM_NEWROUTE })).toBeNull();
    expect(parseRuleMsg({ ...m, body: Buffer.concat([Buffer.of(7), m.body.subarray(1)]) })).toBeNull();
    expect(parseRuleMsg({ ...m, body: m.body.subarray(0, 8) })).toBeNull();
  });
});

describe('ruleDelLine', () => {
  it('ip rule words (the DS field in hex, as ip reads it)', async () => {
    const [tos] = await parseRules(['from 192.0.2.0/24 tos 16 table 1 priority 5']);
    expect(ruleDelLine(tos!)).toBe('rule del from 192.0.2.0/24 priority 5 tos 0x10 protocol 18 table 1');
    const rules = await parseRules(RULES);
    expect(rules.map(ruleDelLine)).toEqual([
      'rule del from 198.51.100.5/32 priority 100 protocol 18 table 1',
      'rule del to 203.0.113.0/24 priority 200 protocol 18 table 100',
      'rule del priority 300 fwmark 16/255 protocol 18 table 300',
      'rule del priority 400 iif eth0 protocol 18 table 100',
      'rule del priority 500 oif eth1 protocol 18 prohibit',
      'rule del from 2001:db8::/64 priority 600 protocol 18 table 100',
      'rule del not from 192.0.2.0/24 priority 700 blackhole',
      'rule del from 192.0.2.9/32 priority 800 protocol 18 goto 810',
      'rule del priority 1000 fwmark 7 protocol 18 table 100', // for ip -6
      'rule del from 192.0.2.0/24 priority 1100 ipproto 6 dport 80-80 protocol 18 table 100',
      'rule del priority 1200 suppress_prefixlength 0 protocol 18 table 254',
    ]);
  });
});

/**
 * Routes, rules and addresses with all their options on a real kernel, in a namespace of this
 * test (documentation addresses only). For each line of a representative list, read by the
 * config parser: our request adds it (Rtnl.op), `ip` shows it as it shows the same line added
 * by `ip` itself (protocol and scope aside: keepalived's are its own), the dump's key equals
 * the model's, events come for the add and the delete, our delete and the crash guardian's
 * `ip -force -batch -` line remove it; and what `ip` adds from the same line has the model's
 * key too. Then a burst: the monitor, subscribed to routes and rules as well, loses nothing.
 */
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_RT_NAMES, parseRouteBlock, parseRuleBlock, parseVipBlock } from '../../src/config/kw-net.js';
import type { RouteModel, RuleModel, VipConfig } from '../../src/config/model-net.js';
import { Builder } from '../../src/config/spec.js';
import { parseFile, type FileSource } from '../../src/config/tree.js';
import { NetnsLab } from '../../src/lab/netns.js';
import { addrDelLine, addrKey } from '../../src/os/rtnl-addr.js';
import { modelRouteKey, routeDelLine } from '../../src/os/rtnl-route.js';
import { modelRuleKey, ruleDelLine } from '../../src/os/rtnl-rule.js';

const SRC = fileURLToPath(new URL('../../src', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const lab = new NetnsLab('vt', 'j');
let ns = '';
const IFINDEX: Record<string, number> = {};
const ifindexOf = (n: string): number => {
  const i = IFINDEX[n];
  if (i === undefined) throw new Error(`no interface ${n}`);
  return i;
};

/**
 * The agent in the namespace (plain JavaScript run by node with tsx, importing src/os): one
 * Rtnl and one RtnlMonitor; JSON lines in, JSON lines out. `apply` sends one request through
 * Rtnl.op and answers its errno; `dump` gives the keys of a dump; `events` the keys of the
 * events so far (waiting up to timeoutMs for one that contains `want`); `burst` adds then
 * deletes `count` /32 addresses at once and counts what the monitor saw.
 */
const AGENT = `
import { createInterface } from 'node:readline';
const SRC = process.env.VIPD_SRC;
const { Rtnl, RtnlMonitor } = await import(SRC + '/os/rtnl.ts');
const R = await import(SRC + '/os/rtnl-route.ts');
const U = await import(SRC + '/os/rtnl-rule.ts');
const A = await import(SRC + '/os/rtnl-addr.ts');
const rtnl = new Rtnl();
const mon = new RtnlMonitor();
const events = [];
let lost = 0;
const keyOf = (e) => e.type === 'route' ? R.routeKey(e.route) : e.type === 'rule' ? U.ruleKey(e.rule)
  : e.type === 'addr' ? A.addrKey(e.addr.family, e.addr.ifindex, e.addr.address, e.addr.prefixLen) : e.link.name;
mon.on('event', (e) => events.push({ type: e.type, op: e.op, pid: e.pid, key: keyOf(e) }));
mon.on('lost', () => lost++);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const ops = {
  portId: () => rtnl.portId,
  links: async () => Object.fromEntries((await rtnl.links()).map((l) => [l.name, l.index])),
  apply: ({ kind, op, model, ifindex }) => new Promise((resolve) => {
    const idx = (n) => { if (ifindex[n] === undefined) throw new Error('no interface ' + n); return ifindex[n]; };
    const build = (seq) => kind === 'route' ? R.routeRequest(op, model, idx, seq) : kind === 'rule' ? U.ruleRequest(op, model, idx, seq)
      : A.addrRequest(op, A.vipAddrSpec(model, idx(model.dev)), seq);
    rtnl.op(op + ' ' + kind, build, resolve);
  }),
  dump: async ({ kind }) => kind === 'route' ? (await rtnl.routes()).map((r) => ({ key: R.routeKey(r), info: r }))
    : kind === 'rule' ? (await rtnl.rules()).map((r) => ({ key: U.ruleKey(r), info: r }))
    : (await rtnl.addresses()).map((a) => ({ key: A.addrKey(a.family, a.ifindex, a.address, a.prefixLen), info: a })),
  events: async ({ want, timeoutMs }) => {
    const end = Date.now() + (timeoutMs ?? 2000);
    while (want && !events.some((e) => want.every((w) => e.op === w.op && e.key === w.key)) && Date.now() < end) await sleep(5);
    return events.splice(0);
  },
  burst: async ({ count, ifindex }) => {
    events.length = 0;
    const t0 = Date.now();
    let errors = 0;
    const all = (op) => Promise.all(Array.from({ length: count }, (_, k) => new Promise((res) => rtnl.addressOp(op,
      { family: 4, address: Uint8Array.of(203, 0, 113 + (k >> 8), k & 255), prefixLen: 32, ifindex }, (e) => { if (e) errors++; res(); }))));
    await all('add');
    await all('del');
    const want = 2 * count;
    const end = Date.now() + 10000;
    while (events.filter((e) => e.type === 'addr').length < want && Date.now() < end) await sleep(10);
    await sleep(200);
    const n = (t) => events.filter((e) => e.type === t).length;
    const r = { errors, lost, addr: n('addr'), route: n('route'), ms: Date.now() - t0 };
    events.length = 0;
    return r;
  },
};
createInterface({ input: process.stdin }).on('line', async (line) => {
  const m = JSON.parse(line);
  try { process.stdout.write(JSON.stringify({ id: m.id, ok: true, result: await ops[m.op](m.args ?? {}) }) + '\\n'); }
  catch (e) { process.stdout.write(JSON.stringify({ id: m.id, ok: false, error: String(e && e.stack || e) }) + '\\n'); }
}).on('close', () => { mon.close(); rtnl.close(); process.exit(0); });
process.stdout.write(JSON.stringify({ ready: true }) + '\\n');
`;

let proc: ChildProcess | null = null;
const waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
let stderr = '';
let seq = 0;
function call<T>(op: string, args: Record<string, unknown> = {}): Promise<T> {
  const id = ++seq;
  return new Promise<T>((resolve, reject) => {
    waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
    proc!.stdin!.write(`${JSON.stringify({ id, op, args })}\n`);
  });
}

interface Keyed<T> {
  key: string;
  info: T;
}
interface Ev {
  type: string;
  op: 'new' | 'del';
  pid: number;
  key: string;
}

/** The models of `lines` in a `block { }`, through the real parser (no error allowed). */
async function parse(block: string, lines: string[]): Promise<{ vips: VipConfig[]; routes: RouteModel[]; rules: RuleModel[] }> {
  const text = `${block} {\n${lines.join('\n')}\n}\n`;
  const src: FileSource = { read: async () => text, glob: async () => [], resolve: (_f, p) => p };
  const [st] = await parseFile('/mem/keepalived.conf', src);
  const b = new Builder();
  const out = { vips: [] as VipConfig[], routes: [] as RouteModel[], rules: [] as RuleModel[] };
  if (block.endsWith('routes')) out.routes = parseRouteBlock(b, st!, DEFAULT_RT_NAMES);
  else if (block.endsWith('rules')) out.rules = parseRuleBlock(b, st!, DEFAULT_RT_NAMES);
  else out.vips = parseVipBlock(b, st!, block);
  expect(b.errors.map((e) => e.message)).toEqual([]);
  return out;
}

const ip = (args: string[], input?: string): string => lab.exec(ns, ['ip', ...args], input === undefined ? {} : { input });
/** What `ip` shows, one object a line (`-o`), blanks collapsed. */
function shown(kind: 'route' | 'rule' | 'addr'): string[] {
  const out = kind === 'route' ? ip(['-o', '-4', 'route', 'show', 'table', 'all']) + ip(['-o', '-6', 'route', 'show', 'table', 'all'])
    : kind === 'rule' ? ip(['rule', 'show']) + ip(['-6', 'rule', 'show'])
    : ip(['-o', 'addr', 'show']);
  return out.split('\n').map((l) => l.replace(/\\/g, ' ').replace(/\s+/g, ' ').trim()).filter(Boolean);
}
/**
 * The lines of `after` not in `before`, without what differs by design: the protocol
 * (keepalived's 18), a route's scope (keepalived's is global unless given, ip's link for a
 * route without gateway: checked in the dump instead), an address's lifetimes (counting down).
 */
function added(kind: 'route' | 'rule' | 'addr', before: string[], after: string[]): string[] {
  return after.filter((l) => !before.includes(l)).map((l) => {
    const x = l.replace(/ proto \S+/, '').replace(/ valid_lft \S+ preferred_lft \S+/, '');
    return kind === 'route' ? x.replace(/ scope \S+/, '') : x;
  });
}

beforeAll(async () => {
  NetnsLab.requireRoot();
  NetnsLab.cleanStale();
  lab.build([{ name: 'r1', n: 1 }]);
  lab.addLan(1, ['r1']);
  ns = lab.node('r1').ns;
  ip(['addr', 'add', '198.51.100.5/24', 'dev', 'eth1']);
  proc = lab.spawn(ns, [process.execPath, '--import', 'tsx', '--input-type=module', '-e', AGENT], { cwd: ROOT, env: { ...process.env, VIPD_SRC: SRC } });
  proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const ready = new Promise<void>((resolve, reject) => {
    createInterface({ input: proc!.stdout! }).on('line', (line) => {
      const m = JSON.parse(line) as { ready?: boolean; id: number; ok: boolean; result?: unknown; error?: string };
      if (m.ready) return resolve();
      const w = waiting.get(m.id);
      waiting.delete(m.id);
      if (m.ok) w?.resolve(m.result);
      else w?.reject(new Error(m.error));
    });
    proc!.on('exit', (code) => {
      reject(new Error(`agent exited (${code}): ${stderr}`));
      for (const w of waiting.values()) w.reject(new Error(`agent exited (${code}): ${stderr}`));
    });
  });
  await Promise.race([ready, new Promise((_r, j) => setTimeout(() => j(new Error(`agent did not start: ${stderr}`)), 20000))]);
  Object.assign(IFINDEX, await call<Record<string, number>>('links'));
});

afterAll(async () => {
  if (proc && proc.exitCode === null) {
    const exited = new Promise((r) => proc!.once('exit', r));
    proc.stdin!.end();
    await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
    if (proc.exitCode === null && proc.pid) proc.kill('SIGKILL');
  }
  lab.destroy();
});

interface Case {
  /** The keepalived.conf line. */
  line: string;
  /** The same for `ip … add` (words), when ip can say it. */
  ipLine: string[] | null;
}

/** One object through its whole life; `kind`-specific bits come from the caller. */
async function lifecycle(kind: 'route' | 'rule' | 'addr', model: RouteModel | RuleModel | VipConfig, key: string, c: Case, delLine: string, ipWords: string[]): Promise<void> {
  const dumpKeys = async (): Promise<string[]> => (await call<Keyed<unknown>[]>('dump', { kind })).map((x) => x.key);
  const apply = (op: 'add' | 'del'): Promise<number> => call<number>('apply', { kind, op, model, ifindex: IFINDEX });
  await call('events');
  const before = shown(kind);
  expect(await dumpKeys(), `${c.line}: not there before`).not.toContain(key);
  // add with our request
  expect(await apply('add'), `${c.line}: add`).toBe(0);
  const ours = added(kind, before, shown(kind));
  expect(ours.length, `${c.line}: ip shows it`).toBeGreaterThan(0);
  expect((await dumpKeys()).filter((k) => k === key), `${c.line}: dump key ${key}`).toHaveLength(1);
  const evAdd = await call<Ev[]>('events', { want: [{ op: 'new', key }] });
  const port = await call<number>('portId');
  const pids = evAdd.filter((e) => e.op === 'new' && e.key === key).map((e) => e.pid);
  // IPv6 address events never say who (pid 0), and come again when DAD ends (`-nodad`)
  if (kind === 'addr' && model.family === 6) expect(pids.length && pids.every((p) => p === 0), `${c.line}: event for the add (pid 0)`).toBe(true);
  else expect(pids, `${c.line}: event for the add, with our port id`).toEqual([port]);
  // our delete
  expect(await apply('del'), `${c.line}: delete`).toBe(0);
  expect(await dumpKeys()).not.toContain(key);
  expect(added(kind, before, shown(kind)), `${c.line}: gone from ip`).toEqual([]);
  const evDel = await call<Ev[]>('events', { want: [{ op: 'del', key }] });
  expect(evDel.some((e) => e.op === 'del' && e.key === key), `${c.line}: event for the delete`).toBe(true);
  // the crash guardian's line (an IPv6 rule needs `ip -6`: see ruleDelLine; the other IPv6 lines work there too)
  expect(await apply('add')).toBe(0);
  ip([...(model.family === 6 ? ['-6'] : []), '-force', '-batch', '-'], `${delLine}\n`);
  expect(await dumpKeys(), `${c.line}: removed by '${delLine}'`).not.toContain(key);
  await call('events', { want: [{ op: 'del', key }] }); // the re-add's and the batch's events, drained
  // what ip adds from the same line: shown the same way, same key
  if (c.ipLine) {
    ip([...ipWords, 'add', ...c.ipLine]);
    const evIp = (await call<Ev[]>('events', { want: [{ op: 'new', key }] })).filter((e) => e.op === 'new' && e.key === key);
    if (kind === 'addr' && model.family === 6) expect(evIp.length, `${c.line}: event for ip's add`).toBeGreaterThan(0);
    else expect(evIp.map((e) => e.pid !== port && e.pid !== 0), `${c.line}: ip's add is someone else's`).toEqual([true]);
    expect(added(kind, before, shown(kind)), `${c.line}: as ip shows its own`).toEqual(ours);
    expect((await dumpKeys()).filter((k) => k === key), `${c.line}: ip's has the key`).toHaveLength(1);
    ip([...ipWords, 'del', ...c.ipLine]);
    expect(await dumpKeys()).not.toContain(key);
  }
  await call('events');
}

const ROUTES: Case[] = [
  { line: 'default via 192.0.2.254 dev eth0', ipLine: ['default', 'via', '192.0.2.254', 'dev', 'eth0'] },
  { line: '0.0.0.0/0 via 198.51.100.1 dev eth1 no_track protocol static', ipLine: ['0.0.0.0/0', 'via', '198.51.100.1', 'dev', 'eth1', 'proto', 'static'] },
  { line: '198.51.100.0/24 dev eth1 src 198.51.100.5 scope link table 1', ipLine: ['198.51.100.0/24', 'dev', 'eth1', 'src', '198.51.100.5', 'scope', 'link', 'table', '1'] },
  { line: 'default via 198.51.100.1 dev eth1 onlink table 1', ipLine: ['default', 'via', '198.51.100.1', 'dev', 'eth1', 'onlink', 'table', '1'] },
  { line: '192.0.2.128/25 dev eth0 src 192.0.2.1 table 100', ipLine: ['192.0.2.128/25', 'dev', 'eth0', 'src', '192.0.2.1', 'table', '100'] },
  { line: '203.0.113.16/28 via 192.0.2.254', ipLine: ['203.0.113.16/28', 'via', '192.0.2.254'] },
  { line: 'blackhole 203.0.113.0/25', ipLine: ['blackhole', '203.0.113.0/25'] },
  { line: 'unreachable 203.0.113.128/26 table 1000', ipLine: ['unreachable', '203.0.113.128/26', 'table', '1000'] },
  { line: 'prohibit 203.0.113.192/26', ipLine: ['prohibit', '203.0.113.192/26'] },
  { line: '198.51.100.128/25 via 192.0.2.252 or 192.0.2.253', ipLine: ['198.51.100.128/25', 'nexthop', 'via', '192.0.2.252', 'nexthop', 'via', '192.0.2.253'] },
  { line: '198.51.100.128/25 dev eth0 nexthop via 192.0.2.252 weight 2 nexthop via 192.0.2.253', ipLine: ['198.51.100.128/25', 'nexthop', 'via', '192.0.2.252', 'dev', 'eth0', 'weight', '2', 'nexthop', 'via', '192.0.2.253', 'dev', 'eth0'] },
  { line: '203.0.113.0/24 dev eth0 mtu lock 1400 advmss 1360 metric 7 append', ipLine: ['203.0.113.0/24', 'dev', 'eth0', 'mtu', 'lock', '1400', 'advmss', '1360', 'metric', '7'] },
  { line: '203.0.113.64/26 encap ip id 5 dst 192.0.2.9 ttl 10 dev eth0', ipLine: ['203.0.113.64/26', 'encap', 'ip', 'id', '5', 'dst', '192.0.2.9', 'ttl', '10', 'dev', 'eth0'] },
  { line: '2001:db8:9::/48 encap ip6 id 7 dst 2001:db8::9 hoplimit 3 dev eth0', ipLine: ['2001:db8:9::/48', 'encap', 'ip6', 'id', '7', 'dst', '2001:db8::9', 'hoplimit', '3', 'dev', 'eth0'] },
  { line: '2001:db8:1::/48 via 2001:db8::fe dev eth0 metric 200', ipLine: ['2001:db8:1::/48', 'via', '2001:db8::fe', 'dev', 'eth0', 'metric', '200'] },
  { line: '2001:db8:2::/48 via 2001:db8::fe', ipLine: ['2001:db8:2::/48', 'via', '2001:db8::fe'] },
  { line: 'blackhole 2001:db8:3::/48 table 100', ipLine: ['blackhole', '2001:db8:3::/48', 'table', '100'] },
  { line: '2001:db8:4::/48 nexthop via 2001:db8::fd dev eth0 nexthop via 2001:db8::fe dev eth0', ipLine: ['2001:db8:4::/48', 'nexthop', 'via', '2001:db8::fd', 'dev', 'eth0', 'nexthop', 'via', '2001:db8::fe', 'dev', 'eth0'] },
  { line: '2001:db8:5::/48 from 2001:db8:6::/48 via 2001:db8::fe', ipLine: ['2001:db8:5::/48', 'from', '2001:db8:6::/48', 'via', '2001:db8::fe'] },
];

const RULES: Case[] = [
  { line: 'from 198.51.100.5/32 table 1 priority 100', ipLine: ['from', '198.51.100.5/32', 'table', '1', 'priority', '100'] },
  { line: 'to 203.0.113.0/24 table 100 priority 200', ipLine: ['to', '203.0.113.0/24', 'table', '100', 'priority', '200'] },
  { line: 'fwmark 0x10/0xff table 300 priority 300', ipLine: ['fwmark', '0x10/0xff', 'table', '300', 'priority', '300'] },
  { line: 'fwmark 0x20 table 100 priority 310', ipLine: ['fwmark', '0x20', 'table', '100', 'priority', '310'] },
  { line: 'iif eth0 table 100 priority 400', ipLine: ['iif', 'eth0', 'table', '100', 'priority', '400'] },
  { line: 'oif eth1 prohibit priority 500', ipLine: ['oif', 'eth1', 'prohibit', 'priority', '500'] },
  { line: 'from 2001:db8::/64 table 100 priority 600', ipLine: ['from', '2001:db8::/64', 'table', '100', 'priority', '600'] },
  { line: 'not from 192.0.2.0/24 blackhole priority 700 no_track', ipLine: ['not', 'from', '192.0.2.0/24', 'blackhole', 'priority', '700'] },
  { line: 'from 192.0.2.0/24 unreachable priority 710', ipLine: ['from', '192.0.2.0/24', 'unreachable', 'priority', '710'] },
  { line: 'from 192.0.2.9 priority 800 goto 810', ipLine: ['from', '192.0.2.9', 'priority', '800', 'goto', '810'] },
  { line: 'from 192.0.2.10 nop priority 820', ipLine: ['from', '192.0.2.10', 'nop', 'priority', '820'] },
  { line: 'fwmark 7 table 100 priority 1000 inet6', ipLine: ['fwmark', '7', 'table', '100', 'priority', '1000'] },
  { line: 'from 192.0.2.0/24 ipproto 6 dport 80-80 table 100 priority 1100', ipLine: ['from', '192.0.2.0/24', 'ipproto', '6', 'dport', '80', 'table', '100', 'priority', '1100'] },
  { line: 'table main suppress_prefixlength 0 priority 1200', ipLine: ['table', 'main', 'suppress_prefixlength', '0', 'priority', '1200'] },
  { line: 'from 192.0.2.0/24 tos 0x10 uidrange 1000-2000 table 1000 priority 1300', ipLine: ['from', '192.0.2.0/24', 'tos', '0x10', 'uidrange', '1000-2000', 'table', '1000', 'priority', '1300'] },
];

const VIPS4: Case[] = [
  { line: '198.51.100.9/24 brd + dev eth0 scope link label eth0:v1', ipLine: ['198.51.100.9/24', 'brd', '+', 'dev', 'eth0', 'scope', 'link', 'label', 'eth0:v1'] },
  { line: '192.0.2.101 peer 192.0.2.201 dev eth0', ipLine: ['192.0.2.101', 'peer', '192.0.2.201', 'dev', 'eth0'] },
  { line: '192.0.2.102/24 dev eth0 noprefixroute', ipLine: ['192.0.2.102/24', 'dev', 'eth0', 'noprefixroute'] },
];
const VIPS6: Case[] = [
  { line: '2001:db8::100/64 dev eth0 preferred_lft 30', ipLine: ['2001:db8::100/64', 'dev', 'eth0', 'preferred_lft', '30', 'nodad'] },
  { line: '2001:db8::101/128 dev eth0', ipLine: ['2001:db8::101/128', 'dev', 'eth0', 'preferred_lft', '0', 'nodad'] },
  { line: '2001:db8::102/64 dev eth0 -nodad home', ipLine: ['2001:db8::102/64', 'dev', 'eth0', 'home'] },
  { line: '2001:db8::103/64 dev eth0 mngtmpaddr noprefixroute', ipLine: ['2001:db8::103/64', 'dev', 'eth0', 'mngtmpaddr', 'noprefixroute', 'nodad'] },
];

describe('routes on a real kernel', () => {
  for (const c of ROUTES) {
    it(c.line, async () => {
      const { routes: [r] } = await parse('virtual_routes', [c.line]);
      const key = modelRouteKey(r!, ifindexOf);
      // the protocol is part of a route's key: ip adds the same line with keepalived's protocol
      const withProto = c.ipLine && !c.ipLine.includes('proto') && !c.ipLine.includes('protocol') ? { ...c, ipLine: [...c.ipLine.slice(0, c.ipLine.indexOf('nexthop') === -1 ? undefined : c.ipLine.indexOf('nexthop')), 'proto', String(r!.protocol ?? 18), ...(c.ipLine.includes('nexthop') ? c.ipLine.slice(c.ipLine.indexOf('nexthop')) : [])] } : c;
      await lifecycle('route', r!, key, withProto, routeDelLine(r!), r!.family === 6 ? ['-6', 'route'] : ['route']);
      // keepalived's scope (global unless given) and protocol (18 unless given) are what the kernel holds
      await call('apply', { kind: 'route', op: 'add', model: r, ifindex: IFINDEX });
      const dumped = (await call<Keyed<{ scope: number; protocol: number; table: number }>[]>('dump', { kind: 'route' })).find((x) => x.key === key)!;
      expect([dumped.info.scope, dumped.info.protocol, dumped.info.table]).toEqual([r!.family === 6 ? 0 : (r!.scope ?? 0), r!.protocol ?? 18, r!.table]);
      expect(await call('apply', { kind: 'route', op: 'del', model: r, ifindex: IFINDEX })).toBe(0);
    });
  }
  it('add mode answers EEXIST for a second add; delete of a missing route answers ESRCH', async () => {
    const { routes: [r, typed] } = await parse('virtual_routes', ['198.51.100.0/25 via 192.0.2.254 add', 'blackhole 198.51.100.128/25']);
    for (const m of [r!, typed!]) {
      expect(await call('apply', { kind: 'route', op: 'add', model: m, ifindex: IFINDEX })).toBe(0);
      expect(await call('apply', { kind: 'route', op: 'add', model: m, ifindex: IFINDEX })).toBe(17); // keepalived: a typed route is sent as `add` too
      expect(await call('apply', { kind: 'route', op: 'del', model: m, ifindex: IFINDEX })).toBe(0);
      expect(await call('apply', { kind: 'route', op: 'del', model: m, ifindex: IFINDEX })).toBe(3);
    }
  });
});

describe('rules on a real kernel', () => {
  for (const c of RULES) {
    it(c.line, async () => {
      const { rules: [r] } = await parse('virtual_rules', [c.line]);
      await lifecycle('rule', r!, modelRuleKey(r!), c, ruleDelLine(r!), r!.family === 6 ? ['-6', 'rule'] : ['rule']);
    });
  }
  it('a second add answers EEXIST (NLM_F_EXCL), a delete of a missing rule ENOENT', async () => {
    const { rules: [r] } = await parse('virtual_rules', ['from 198.51.100.5/32 table 1 priority 100']);
    const apply = (op: string): Promise<number> => call<number>('apply', { kind: 'rule', op, model: r, ifindex: IFINDEX });
    expect([await apply('add'), await apply('add'), await apply('del'), await apply('del')]).toEqual([0, 17, 0, 2]);
  });
});

describe('addresses with their options on a real kernel', () => {
  for (const [block, cases] of [['virtual_ipaddress', VIPS4], ['virtual_ipaddress_excluded', VIPS6]] as const) {
    for (const c of cases) {
      it(c.line, async () => {
        const { vips: [v] } = await parse(block, [c.line]);
        await lifecycle('addr', v!, addrKey(v!.family, ifindexOf(v!.dev!), v!.address, v!.prefixLen), c, addrDelLine(v!, v!.dev!), v!.family === 6 ? ['-6', 'addr'] : ['addr']);
      });
    }
  }
  it('the kernel holds the options: label, brd, scope, peer, flags, lifetimes', async () => {
    const { vips: v4 } = await parse('virtual_ipaddress', VIPS4.map((c) => c.line));
    const { vips: v6 } = await parse('virtual_ipaddress_excluded', VIPS6.map((c) => c.line));
    for (const v of [...v4, ...v6]) expect(await call('apply', { kind: 'addr', op: 'add', model: v, ifindex: IFINDEX })).toBe(0);
    type A = { address: string; label: string | null; broadcast: string | null; scope: number; peer: string | null; flags: number; preferredLft: number | null; validLft: number | null };
    const got = new Map((await call<Keyed<A>[]>('dump', { kind: 'addr' })).map((x) => [x.info.address, x.info]));
    expect(got.get('198.51.100.9')).toMatchObject({ label: 'eth0:v1', broadcast: '198.51.100.255', scope: 253 });
    expect(got.get('192.0.2.101')).toMatchObject({ peer: '192.0.2.201' });
    expect(got.get('192.0.2.102')!.flags & 0x200).toBe(0x200); // noprefixroute
    const f = (a: string): number => got.get(a)!.flags;
    expect([f('2001:db8::100') & 0x02, f('2001:db8::102') & 0x02, f('2001:db8::102') & 0x10, f('2001:db8::103') & 0x300]).toEqual([0x02, 0, 0x10, 0x300]);
    expect(got.get('2001:db8::100')!.preferredLft).toBeGreaterThan(25);
    expect(got.get('2001:db8::100')!.validLft).toBeNull();
    expect([got.get('2001:db8::101')!.preferredLft, f('2001:db8::101') & 0x20]).toEqual([0, 0x20]); // /128: deprecated
    for (const v of [...v4, ...v6]) expect(await call('apply', { kind: 'addr', op: 'del', model: v, ifindex: IFINDEX })).toBe(0);
    expect(shown('addr').filter((l) => /198\.51\.100\.9|192\.0\.2\.10[12]|2001:db8::10[0-3]/.test(l))).toEqual([]);
  });
});

describe('the monitor with route and rule events', () => {
  it('1000 address adds and deletes at once: every address and route event, none lost', async () => {
    const r = await call<{ errors: number; lost: number; addr: number; route: number; ms: number }>('burst', { count: 1000, ifindex: ifindexOf('eth0') });
    expect(r.errors).toBe(0);
    expect(r.lost).toBe(0);
    expect(r.addr).toBe(2000);
    expect(r.route).toBeGreaterThanOrEqual(2000); // each /32 has its local route (table local)
    console.log(`burst: 2000 address operations -> ${r.addr} address and ${r.route} route events in ${r.ms} ms, ${r.lost} lost`);
  });
});

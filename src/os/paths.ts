/**
 * Default run-time paths (control socket, pid files) that never collide between daemons on one
 * host: one set per network namespace and per configuration id. vipd and vipctl both call
 * `runtimePaths(currentNetns(), id)`, so vipctl run inside a namespace finds that namespace's
 * daemon without being told.
 *
 * keepalived 2.2.7 separates its daemons the same way, but only when told: with `--namespace
 * NAME` (or `net_namespace`) it bind-mounts /run/keepalived/NAME over /run/keepalived in a
 * private mount namespace, so its pid files, seen from outside, are
 * /run/keepalived/NAME/keepalived.pid and /run/keepalived/NAME/vrrp.pid; with `instance I`
 * they are /run/keepalived/keepalived_I.pid and /run/keepalived/vrrp_I.pid; otherwise
 * /run/keepalived.pid and /run/keepalived_vrrp.pid (so two keepalived started in two
 * namespaces with `ip netns exec` collide unless given -p/-r, which is why Neutron passes them).
 * vipd uses the same names, but finds the namespace itself, whichever way it was entered.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Where named network namespaces live (`ip netns add NAME` makes /run/netns/NAME). */
export const NETNS_DIR = '/run/netns';

/**
 * The run-time state directory, keepalived's RUNSTATEDIR: /run. VIPD_RUNSTATEDIR moves it
 * (tests, trials without root); the default paths below are under it.
 */
export function runStateDir(): string {
  return process.env.VIPD_RUNSTATEDIR || '/run';
}
/**
 * Inode of the initial network namespace on kernels that give namespaces fixed inode numbers
 * (0xEFFFFFF9); dynamically allocated namespace inodes start at 0xF0000000, so no other
 * namespace ever has it.
 */
export const INIT_NET_INO = 0xeffffff9;

/** How vipd names the network namespace it runs in. */
export type NetnsIdentity = { kind: 'root' } | { kind: 'named'; name: string } | { kind: 'unnamed'; inode: number };

/** Device and inode of a namespace file (nsfs): equal pairs mean the same namespace. */
export interface NsStat {
  dev: number;
  ino: number;
}

/** What the rule looks at: the namespace to name, pid 1's, and the named ones. */
export interface NetnsProbe {
  /** The namespace to name (normally /proc/self/ns/net); null when it cannot be read. */
  self: NsStat | null;
  /** /proc/1/ns/net; null when unreadable (no CAP_SYS_PTRACE over pid 1, or not root). */
  init: NsStat | null;
  /** /run/netns/* in name order. */
  named: { name: string; stat: NsStat }[];
}

const same = (a: NsStat, b: NsStat): boolean => a.dev === b.dev && a.ino === b.ino;

/**
 * The naming rule (pure):
 * 1. the namespace of pid 1 (or, when pid 1's cannot be read, the fixed initial inode): root;
 * 2. else the first name under /run/netns (sorted) bound to it: that name;
 * 3. else, if pid 1's namespace could be read (so this one is known to differ): unnamed, by inode;
 * 4. else root (cannot tell: e.g. a non-root vipctl; the common case is the root namespace).
 */
export function identifyNetns(p: NetnsProbe): NetnsIdentity {
  const self = p.self;
  if (!self) return { kind: 'root' };
  if (p.init ? same(self, p.init) : self.ino === INIT_NET_INO) return { kind: 'root' };
  const hit = p.named.find((n) => same(n.stat, self));
  if (hit) return { kind: 'named', name: hit.name };
  return p.init ? { kind: 'unnamed', inode: self.ino } : { kind: 'root' };
}

function statOrNull(path: string): NsStat | null {
  try {
    const s = statSync(path);
    return { dev: s.dev, ino: s.ino };
  } catch {
    return null;
  }
}

/** Read what `identifyNetns` needs (synchronous: start-up and vipctl only). */
export function probeNetns(target = '/proc/self/ns/net'): NetnsProbe {
  let names: string[] = [];
  try {
    names = readdirSync(NETNS_DIR).sort();
  } catch {
    // no named namespaces on this host
  }
  const named: NetnsProbe['named'] = [];
  for (const name of names) {
    const stat = statOrNull(join(NETNS_DIR, name));
    if (stat) named.push({ name, stat });
  }
  return { self: statOrNull(target), init: statOrNull('/proc/1/ns/net'), named };
}

/** The namespace this process runs in, named by the rule above. */
export function currentNetns(): NetnsIdentity {
  return identifyNetns(probeNetns());
}

/** Is this process in the named namespace /run/netns/NAME? False when that does not exist. */
export function inNamedNetns(name: string): boolean {
  const want = statOrNull(join(NETNS_DIR, name));
  const self = statOrNull('/proc/self/ns/net');
  return want !== null && self !== null && same(want, self);
}

/** The path component of a namespace: null for root, NAME, or `ns-INODE`. */
export function netnsComponent(ns: NetnsIdentity): string | null {
  if (ns.kind === 'root') return null;
  return ns.kind === 'named' ? ns.name : `ns-${ns.inode}`;
}

/** Why `id` cannot name paths (empty, a slash, `.`/`..`, a NUL), or null when it can. */
export function pathIdProblem(id: string): string | null {
  if (id === '' || id === '.' || id === '..' || /[/\0]/.test(id)) return `'${id}' cannot be part of a file name`;
  return null;
}

export interface RuntimePaths {
  /** vipd's control socket: /run/vipd[/NS]/vipd[_ID].sock. */
  socket: string;
  /** keepalived's main pid file name for this namespace and id. */
  mainPid: string;
  /** keepalived's VRRP-process pid file name for this namespace and id. */
  vrrpPid: string;
}

/**
 * Default paths for a daemon in namespace `ns` with configuration id `id` (the config's
 * `instance`, else an explicit `-i`; null for none). Root namespace without id: the control
 * socket /run/vipd/vipd.sock and keepalived's own /run/keepalived.pid and
 * /run/keepalived_vrrp.pid (`run`: the run-time state directory, /run). Throws when `id`
 * cannot be part of a file name.
 */
export function runtimePaths(ns: NetnsIdentity, id: string | null, run = runStateDir()): RuntimePaths {
  if (id !== null) {
    const why = pathIdProblem(id);
    if (why) throw new Error(`configuration id ${why}`);
  }
  const comp = netnsComponent(ns);
  const suffix = id === null ? '' : `_${id}`;
  const socket = join(run, 'vipd', comp ?? '', `vipd${suffix}.sock`);
  if (comp === null && id === null) return { socket, mainPid: join(run, 'keepalived.pid'), vrrpPid: join(run, 'keepalived_vrrp.pid') };
  const dir = join(run, 'keepalived', comp ?? '');
  return { socket, mainPid: join(dir, `keepalived${suffix}.pid`), vrrpPid: join(dir, `vrrp${suffix}.pid`) };
}

/**
 * Network namespace lab: a bridge in its own namespace, router and client namespaces joined to
 * it by veth pairs. Documentation addresses only; every name carries a per-run prefix
 * (`<kind><pid>-`) so that parallel runs never collide, and `destroy()` removes all of them.
 * Synchronous on purpose: this is orchestration code for tests and the lab, not the daemon.
 */
import { execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { isDocumentationAddress } from '../protocol/addr.js';

const PREFIX_RE = /^(vt|vl)(\d+)([a-z]?)-/;

export function run(cmd: string, args: string[], opts: { input?: string; allowFail?: boolean } = {}): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'], input: opts.input });
  } catch (e) {
    if (opts.allowFail) return '';
    const err = e as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} failed: ${err.stderr?.trim() || err.message}`);
  }
}

export interface NodeSpec {
  /** Short name, e.g. r1 or client. */
  name: string;
  /** Host number: addresses 192.0.2.N/24, 2001:db8::N/64, MAC 02:00:00:00:00:NN. */
  n: number;
}

export interface LabNode extends NodeSpec {
  ns: string;
  ipv4: string;
  ipv6: string;
  mac: string;
  ifname: string;
}

export class NetnsLab {
  readonly prefix: string;
  readonly sw: string;
  readonly nodes = new Map<string, LabNode>();
  private created: string[] = [];

  /** `kind` is `vt` for tests and `vl` for the interactive lab. */
  constructor(kind: 'vt' | 'vl' = 'vt', tag = '') {
    this.prefix = `${kind}${process.pid}${tag}`;
    this.sw = `${this.prefix}-sw`;
  }

  static requireRoot(): void {
    if (process.getuid?.() !== 0) throw new Error('network namespace tests need root (CI runs as root)');
  }

  /** Remove namespaces left by crashed runs of this project (their pid is gone). */
  static cleanStale(): string[] {
    const removed: string[] = [];
    for (const line of run('ip', ['netns', 'list'], { allowFail: true }).split('\n')) {
      const name = line.split(' ')[0] ?? '';
      const m = PREFIX_RE.exec(name);
      if (!m) continue;
      const pid = Number(m[2]);
      let alive = true;
      try {
        process.kill(pid, 0);
      } catch {
        alive = false;
      }
      if (alive) continue; // a live run (this one or another) owns it
      run('ip', ['netns', 'del', name], { allowFail: true });
      removed.push(name);
    }
    return removed;
  }

  private addNs(name: string): void {
    run('ip', ['netns', 'add', name]);
    this.created.push(name);
    this.exec(name, ['ip', 'link', 'set', 'lo', 'up']);
  }

  exec(ns: string, argv: string[], opts: { input?: string; allowFail?: boolean } = {}): string {
    if (!ns.startsWith(this.prefix)) throw new Error(`refusing to run in namespace ${ns}: not created by this run`);
    return run('ip', ['netns', 'exec', ns, ...argv], opts);
  }

  spawn(ns: string, argv: string[], opts: SpawnOptions = {}): ChildProcess {
    if (!ns.startsWith(this.prefix)) throw new Error(`refusing to spawn in namespace ${ns}: not created by this run`);
    return spawn('ip', ['netns', 'exec', ns, ...argv], { stdio: ['pipe', 'pipe', 'pipe'], ...opts });
  }

  /** Build the switch and the given nodes. */
  build(nodes: NodeSpec[]): this {
    NetnsLab.requireRoot();
    this.addNs(this.sw);
    for (const k of ['all', 'default']) this.exec(this.sw, ['sysctl', '-qw', `net.ipv6.conf.${k}.disable_ipv6=1`]);
    this.exec(this.sw, ['ip', 'link', 'add', 'br0', 'type', 'bridge', 'mcast_snooping', '0', 'stp_state', '0', 'forward_delay', '0']);
    this.exec(this.sw, ['ip', 'link', 'set', 'br0', 'up']);
    for (const spec of nodes) this.addNode(spec);
    return this;
  }

  addNode(spec: NodeSpec): LabNode {
    const ns = `${this.prefix}-${spec.name}`;
    const hex = spec.n.toString(16);
    const node: LabNode = {
      ...spec, ns, ifname: 'eth0', ipv4: `192.0.2.${spec.n}`, ipv6: `2001:db8::${hex}`,
      mac: `02:00:00:00:00:${spec.n.toString(16).padStart(2, '0')}`,
    };
    if (!isDocumentationAddress(node.ipv4) || !isDocumentationAddress(node.ipv6)) throw new Error('lab addresses must be documentation addresses');
    this.addNs(ns);
    for (const k of ['all', 'default']) {
      for (const [key, v] of [['accept_dad', 0], ['router_solicitations', 0], ['accept_ra', 0]] as const)
        this.exec(ns, ['sysctl', '-qw', `net.ipv6.conf.${k}.${key}=${v}`]);
    }
    // Created directly inside the two namespaces: nothing ever appears in the root namespace.
    const port = `p${spec.n}`;
    run('ip', ['link', 'add', port, 'netns', this.sw, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
    this.exec(this.sw, ['ip', 'link', 'set', port, 'master', 'br0', 'up']);
    this.exec(ns, ['ip', 'link', 'set', 'eth0', 'address', node.mac]);
    this.exec(ns, ['ip', 'addr', 'add', `${node.ipv4}/24`, 'dev', 'eth0']);
    this.exec(ns, ['ip', '-6', 'addr', 'add', `${node.ipv6}/64`, 'dev', 'eth0', 'nodad']);
    this.exec(ns, ['ip', 'link', 'set', 'eth0', 'up']);
    this.nodes.set(spec.name, node);
    return node;
  }

  /**
   * A further LAN `ethK` (K = 1..3) between the given nodes, on its own bridge `brK`: MAC
   * 02:00:00:00:0K:NN, IPv4 192.0.2.(64K + N)/32 (enough to source VRRP; N < 64), IPv6
   * link-local only.
   */
  addLan(k: number, names: string[]): void {
    if (!Number.isInteger(k) || k < 1 || k > 3) throw new Error('addLan: K is 1..3');
    const br = `br${k}`;
    this.exec(this.sw, ['ip', 'link', 'add', br, 'type', 'bridge', 'mcast_snooping', '0', 'stp_state', '0', 'forward_delay', '0']);
    this.exec(this.sw, ['ip', 'link', 'set', br, 'up']);
    for (const name of names) {
      const node = this.node(name);
      if (node.n >= 64) throw new Error(`addLan: host number ${node.n} of ${name} must be below 64`);
      const ifname = `eth${k}`;
      const v4 = `192.0.2.${64 * k + node.n}`;
      if (!isDocumentationAddress(v4)) throw new Error('lab addresses must be documentation addresses');
      const port = `p${node.n}l${k}`;
      run('ip', ['link', 'add', port, 'netns', this.sw, 'type', 'veth', 'peer', 'name', ifname, 'netns', node.ns]);
      this.exec(this.sw, ['ip', 'link', 'set', port, 'master', br, 'up']);
      this.exec(node.ns, ['ip', 'link', 'set', ifname, 'address', `02:00:00:00:0${k}:${node.n.toString(16).padStart(2, '0')}`]);
      this.exec(node.ns, ['ip', 'addr', 'add', `${v4}/32`, 'dev', ifname]);
      this.exec(node.ns, ['ip', 'link', 'set', ifname, 'up']);
    }
  }

  node(name: string): LabNode {
    const n = this.nodes.get(name);
    if (!n) throw new Error(`no lab node ${name}`);
    return n;
  }

  /** Link-local address of a node's eth0 (EUI-64 from the MAC). */
  linkLocal(name: string): string {
    const out = this.exec(this.node(name).ns, ['ip', '-6', '-o', 'addr', 'show', 'dev', 'eth0', 'scope', 'link']);
    const m = /inet6 ([0-9a-f:]+)\//.exec(out);
    if (!m) throw new Error(`no link-local address on ${name}`);
    return m[1]!;
  }

  /** Addresses on a node's interface (`ip -o addr`), as "addr/prefix" strings. */
  addresses(name: string, ifname = 'eth0'): string[] {
    const out = this.exec(this.node(name).ns, ['ip', '-o', 'addr', 'show', 'dev', ifname]);
    return [...out.matchAll(/inet6? ([0-9a-f.:]+\/\d+)/g)].map((m) => m[1]!);
  }

  destroy(): void {
    for (const ns of this.created.reverse()) run('ip', ['netns', 'del', ns], { allowFail: true });
    this.created = [];
  }
}

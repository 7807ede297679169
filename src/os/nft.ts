/**
 * Accept mode (RFC 9568 6.4.3, RFC 5798 6.4.3): a master that is not the address owner and
 * has Accept_Mode False must not accept packets addressed to its virtual addresses; ARP and
 * Neighbor Discovery for them are still answered. keepalived 2.2.7 does this with nftables
 * (vrrp/vrrp_nftables.c); vipd does the same through Debian's `nft` command, in ONE table of
 * family `inet` (keepalived makes two, `ip keepalived` and `ip6 keepalived`, with the same
 * chains: inet carries both and the crash guardian deletes it with one command):
 *
 * sets `vips` (ipv4_addr), `vips6` (ipv6_addr), `vips_link_local_name` (ipv6_addr . ifname;
 * with `ifindex` `vips_link_local`, ipv6_addr . iface_index), `neighbor-discovery` (NS, NA);
 * base chains `in` (hook input) and `out` (hook output), type filter, priority
 * `nftables_priority` (default -1), policy accept: `ip daddr @vips drop`, `icmpv6 type
 * @neighbor-discovery accept`, `ip6 daddr fe80::/10 goto in_link_local` (there: `ip6 daddr .
 * iifname @vips_link_local_name drop`), `ip6 daddr @vips6 drop`; `out` the same on saddr/oif,
 * so nothing leaves from a VIP but NA. `counters` puts `counter` in every rule
 * (nftables_counters). ARP is not IP: inet hooks never see it, ARP is answered.
 *
 * The interface is part of the key of link-local IPv6 VIPs only (a link-local address is
 * unique per link); other addresses are keyed by address alone, as keepalived does.
 * keepalived keys link-local VIPs by ifindex unless the instance has dont_track_primary
 * (names then), or always by index with nftables_ifindex. vipd keys by name unless `ifindex`:
 * a name survives the interface being deleted and created again (an index would go stale and
 * let traffic in), and an element naming a missing interface does not fail the whole batch
 * (`iface_index` elements are resolved by nft and fail with "Interface does not exist").
 *
 * keepalived adds a master's elements (VIPs and excluded VIPs) just before its addresses
 * (vrrp.c vrrp_state_become_master) and removes them just after (vrrp_restore_interface),
 * deletes a leftover table when it first adds (check_and_delete_tables) and its tables at
 * exit (vrrp_firewall.c firewall_fini → nft_end). The caller of `set()` keeps that order.
 *
 * nft runs through the native posix_spawn on a pool thread (src/os/native.ts), never with
 * child_process (which forks the daemon on the event loop); its stdin is /dev/null there, so
 * the script goes in argv (nft parses its arguments as one buffer, like `-f`).
 */
import { isIPv4, isIPv6, Socket } from 'node:net';
import { native } from './native.js';

/** What one nft run gave: exit code (null if it did not start or was killed), stdout+stderr. */
export interface NftResult {
  code: number | null;
  signal: string | null;
  /** stdout and stderr together (one pipe), at most 16 KiB. */
  output: string;
  /** Why it did not start or finish: spawn error (ENOENT …) or timeout. */
  error?: string;
  durationMs: number;
}

/** Runs `nft ARGS…`; resolves when it has exited, never rejects. */
export type NftRunner = (args: readonly string[]) => Promise<NftResult>;

export interface NftSpawnOptions {
  /** Argv run before nft, e.g. ['ip', 'netns', 'exec', NS] in tests; none for the daemon. */
  prefix?: readonly string[];
  /** Milliseconds before SIGKILL to nft's process group; default 5000. */
  timeoutMs?: number;
  /** The nft binary; default `nft`, searched in vipd's PATH. */
  command?: string;
}

const MAX_OUTPUT = 16 * 1024;
const ENV = ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'LC_ALL=C'];

/**
 * The real runner: posix_spawn of `[...prefix, nft, ...args]` on a libuv pool thread (own
 * session, stdin /dev/null, stdout+stderr one pipe), exit seen on a pidfd; after `timeoutMs`
 * the group gets SIGKILL and the result says so in `error`.
 */
export function spawnNft(opts: NftSpawnOptions = {}): NftRunner {
  const timeoutMs = opts.timeoutMs ?? 5000;
  const nft = opts.command ?? 'nft';
  return (args) =>
    new Promise<NftResult>((resolve) => {
      const argv = [...(opts.prefix ?? []), nft, ...args];
      const t0 = performance.now();
      native().spawn(argv[0]!, argv, ENV, '/', (err, r) => {
        if (err || !r) {
          resolve({ code: null, signal: null, output: '', error: `cannot start ${argv[0]}: ${err?.code ?? 'ERROR'} ${err?.message ?? ''}`.trim(), durationMs: performance.now() - t0 });
          return;
        }
        const [pid, pidfd, outFd] = r;
        const chunks: Buffer[] = [];
        let kept = 0;
        const out = new Socket({ fd: outFd, readable: true, writable: false });
        out.on('data', (b: Buffer) => {
          if (kept < MAX_OUTPUT) chunks.push(b.subarray(0, MAX_OUTPUT - kept));
          kept += b.length;
        });
        out.on('error', (e) => chunks.push(Buffer.from(`\n[reading nft output: ${e.message}]`)));
        let timedOut = false;
        const timer = setTimeout(() => {
          timedOut = true;
          try {
            process.kill(-pid, 'SIGKILL'); // its own session: the group id is its pid
          } catch {
            // ESRCH: it has just exited; the pidfd tells
          }
        }, timeoutMs);
        const finish = (code: number | null, signal: string | null, error?: string): void => {
          clearTimeout(timer);
          const durationMs = performance.now() - t0;
          // one turn for output still in the pipe, then close our end
          setImmediate(() => {
            out.destroy();
            const e = error ?? (timedOut ? `nft killed after ${timeoutMs} ms (timeout)` : undefined);
            resolve({ code, signal, output: Buffer.concat(chunks).toString('utf8'), durationMs, ...(e ? { error: e } : {}) });
          });
        };
        const watch = (): void => {
          new (native().ReadyWatcher)(pidfd, () => {
            const st = native().reap(pidfd);
            if (!st) return watch();
            native().close(pidfd);
            finish(st[1] ? null : st[0], st[1] ? `signal ${st[1]}` : null);
          }, (e) => finish(null, null, `waiting for nft: ${e.code} ${e.message}`));
        };
        watch();
      });
    });
}

/**
 * Preflight: resolves nft's version line (`nftables v1.0.6 …`) or rejects with an Error
 * naming the cause (not installed: Debian package `nftables`). Touches nothing.
 */
export async function nftVersion(run: NftRunner = spawnNft()): Promise<string> {
  const r = await run(['--version']);
  if (r.error || r.code !== 0) throw new Error(`nft is not usable (install Debian's nftables): ${r.error ?? `exit ${r.code}: ${nftMessages(r.output)}`}`);
  return r.output.trim();
}

/** One address a non-owner, non-accept master holds (a VIP or an excluded VIP). */
export interface AcceptEntry {
  family: 4 | 6;
  address: string;
  /** The interface the address is on; part of the key of link-local IPv6 addresses only. */
  ifname: string;
}

export interface AcceptFilterOptions {
  /** nftables table (family inet); keepalived's `nftables [TABLE]`, vipd's default `vipd`. */
  table: string;
  /** Base chain priority, keepalived's `nftables_priority` (default -1). */
  priority?: number;
  /** `counter` in every rule (keepalived's `nftables_counters`). */
  counters?: boolean;
  /** Key link-local IPv6 VIPs by interface index (keepalived's `nftables_ifindex`); default by name. */
  ifindex?: boolean;
  /** Failures (with nft's output) and recoveries. */
  log?: (msg: string) => void;
  /** Milliseconds before a failed run is tried again; default 1000. */
  retryMs?: number;
}

const TABLE_RE = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;
const IFNAME_RE = /^[^\s/:"'\\]{1,15}$/;

/** fe80::/10, from the first group of the text. */
const isLinkLocal6 = (a: string): boolean => /^fe[89ab][0-9a-f]:/i.test(a);

/** The elements of the three address sets, canonical (sorted, unique) nft text. */
interface Elements { vips: string[]; vips6: string[]; ll: string[] }

/** Validates and sorts entries into set elements; throws on a malformed entry. */
export function acceptElements(entries: readonly AcceptEntry[]): Elements {
  const v4 = new Set<string>();
  const v6 = new Set<string>();
  const ll = new Set<string>();
  for (const e of entries) {
    const ok = e.family === 4 ? isIPv4(e.address) : e.family === 6 && isIPv6(e.address) && !e.address.includes('%');
    if (!ok) throw new Error(`accept-mode filter: ${JSON.stringify(e.address)} is not an IPv${e.family} address`);
    if (!IFNAME_RE.test(e.ifname)) throw new Error(`accept-mode filter: ${JSON.stringify(e.ifname)} is not an interface name`);
    const a = e.address.toLowerCase();
    if (e.family === 4) v4.add(a);
    else if (isLinkLocal6(a)) ll.add(`${a} . "${e.ifname}"`);
    else v6.add(a);
  }
  return { vips: [...v4].sort(), vips6: [...v6].sort(), ll: [...ll].sort() };
}

/**
 * The table definition (chains, sets, rules; no elements), keepalived's nft_setup_ipv4_vips and
 * nft_setup_ipv6_vips in one inet table. Preceded by `add table` + `delete table`, so that
 * a leftover of an earlier run (any shape) goes in the same transaction.
 */
export function acceptTableScript(o: Pick<AcceptFilterOptions, 'table' | 'priority' | 'counters' | 'ifindex'>): string {
  const t = o.table;
  const c = o.counters ? 'counter ' : '';
  const p = o.priority ?? -1;
  const llSet = o.ifindex ? 'vips_link_local' : 'vips_link_local_name';
  const [llType, iif, oif] = o.ifindex ? ['iface_index', 'iif', 'oif'] : ['ifname', 'iifname', 'oifname'];
  const chains = (['in', 'out'] as const).flatMap((dir) => {
    const [hook, addr, dev] = dir === 'in' ? ['input', 'daddr', iif] : ['output', 'saddr', oif];
    return [
      `  chain ${dir} {`,
      `    type filter hook ${hook} priority ${p}; policy accept;`,
      `    ip ${addr} @vips ${c}drop`,
      `    icmpv6 type @neighbor-discovery ${c}accept`,
      `    ip6 ${addr} fe80::/10 ${c}goto ${dir}_link_local`,
      `    ip6 ${addr} @vips6 ${c}drop`,
      `  }`,
      `  chain ${dir}_link_local {`,
      `    ip6 ${addr} . ${dev} @${llSet} ${c}drop`,
      `  }`,
    ];
  });
  return [
    `add table inet ${t}`,
    `delete table inet ${t}`,
    `table inet ${t} {`,
    `  set vips { type ipv4_addr; }`,
    `  set vips6 { type ipv6_addr; }`,
    `  set ${llSet} { type ipv6_addr . ${llType}; }`,
    `  set neighbor-discovery { type icmpv6_type; flags constant; elements = { nd-neighbor-solicit, nd-neighbor-advert }; }`,
    ...chains,
    `}`,
    '',
  ].join('\n');
}

/** `flush set` (when `flush`) and `add element` lines that make the sets hold exactly `el`. */
export function acceptElementsScript(table: string, el: Elements, ifindex: boolean, flush: boolean): string {
  const lines: string[] = [];
  const sets: [string, string[]][] = [['vips', el.vips], ['vips6', el.vips6], [ifindex ? 'vips_link_local' : 'vips_link_local_name', el.ll]];
  for (const [name, items] of sets) {
    if (flush) lines.push(`flush set inet ${table} ${name}`);
    // at most 1000 elements a line: a line never crosses an argument (scriptArgs)
    for (let i = 0; i < items.length; i += 1000) lines.push(`add element inet ${table} ${name} { ${items.slice(i, i + 1000).join(', ')} }`);
  }
  return lines.length ? `${lines.join('\n')}\n` : '';
}

/** `add table` + `delete table`: deletes the table, whether it exists or not. */
export function deleteTableScript(table: string): string {
  return `add table inet ${table}\ndelete table inet ${table}\n`;
}

/** The script as nft arguments: `--` then chunks of whole lines below Linux's 128 KiB per argument. */
export function scriptArgs(script: string, check = false): string[] {
  const args = check ? ['-c', '--'] : ['--'];
  let chunk = '';
  for (const line of script.split(/(?<=\n)/)) {
    if (chunk.length + line.length > 100_000 && chunk) {
      args.push(chunk);
      chunk = '';
    }
    chunk += line;
  }
  if (chunk) args.push(chunk);
  return args;
}

/**
 * nft's messages without its context lines: for a script given in argv nft quotes the first
 * line and a caret that point elsewhere. Unique `Error:`/`Warning:` lines, else the output.
 */
export function nftMessages(output: string): string {
  const msgs = [...new Set(output.split('\n').map((l) => l.trim()).filter((l) => /^(Error|Warning):/.test(l)))];
  return msgs.length ? msgs.join('; ') : output.trim() || '(no output)';
}

const ABSENT = '\0absent';
type Waiter = { gen: number; resolve: () => void; reject: (e: Error) => void };

/**
 * Owns one nftables table of family inet that drops traffic to (and from) the addresses of
 * non-accept-mode masters (see the module comment). `set()` gives the desired content; runs
 * of nft are serialized (one at a time) and coalesced (what was set while one ran goes in the
 * next, only the latest); each run is one nft transaction, atomic for the packets. The first
 * run, and the first after a failure, (re)creates the whole table; later ones flush the sets
 * and add the elements. A failed run counts in `errors`, is logged with nft's output and is
 * tried again after `retryMs`.
 */
export class AcceptModeFilter {
  readonly table: string;
  /** Failed nft runs since construction. */
  errors = 0;
  /** nft runs since construction (successful or not). */
  runs = 0;
  /** The last failure's message, null after a success. */
  lastError: string | null = null;
  private readonly opts: AcceptFilterOptions;
  private readonly run: NftRunner;
  private desired: { key: string; elements: Elements | null } = { key: ABSENT, elements: null };
  /** Key of what the kernel holds; null: unknown (start, or after a failure). */
  private appliedKey: string | null = null;
  private gen = 0;
  private appliedGen = 0;
  private running = false;
  private scheduled = false;
  private retry: NodeJS.Timeout | null = null;
  private waiters: Waiter[] = [];

  /** Throws if the table name is not a plain nft identifier (letters, digits, `_`; 64 at most). */
  constructor(opts: AcceptFilterOptions, run: NftRunner = spawnNft()) {
    if (!TABLE_RE.test(opts.table)) throw new Error(`accept-mode filter: table name ${JSON.stringify(opts.table)} must be letters, digits and _ (64 at most), starting with a letter`);
    if (opts.priority !== undefined && (!Number.isInteger(opts.priority) || opts.priority < -2147483648 || opts.priority > 2147483647))
      throw new Error(`accept-mode filter: priority ${opts.priority} is not a 32-bit integer`);
    this.table = opts.table;
    this.opts = opts;
    this.run = run;
  }

  /** The argv that deletes the table whether it exists or not (exit 0 both ways): for the crash guardian. */
  static deleteCommand(table: string): string[] {
    return ['nft', '--', 'add', 'table', 'inet', table, ';', 'delete', 'table', 'inet', table];
  }

  /**
   * Desired content: exactly these addresses are dropped (non-owner masters without accept
   * mode: their VIPs and excluded VIPs). Returns at once; applied asynchronously (settled()).
   * Throws on a malformed entry (nothing is changed then).
   */
  set(entries: readonly AcceptEntry[]): void {
    const elements = acceptElements(entries);
    this.want({ key: JSON.stringify(elements), elements });
  }

  /** Deletes the table (leftovers included); resolves when done, rejects if nft failed. */
  remove(): Promise<void> {
    this.want({ key: ABSENT, elements: null });
    return this.settled();
  }

  /**
   * Resolves when the content desired now (or later) is in the kernel; rejects with nft's
   * message if the run that carried it failed (the retry goes on in the background).
   */
  settled(): Promise<void> {
    if (this.appliedGen >= this.gen) return Promise.resolve();
    return new Promise((resolve, reject) => this.waiters.push({ gen: this.gen, resolve, reject }));
  }

  /** Preflight: the whole definition through `nft -c` (nft present, kernel support, name); changes nothing. */
  async check(): Promise<void> {
    const r = await this.run(scriptArgs(acceptTableScript(this.opts), true));
    if (r.error || r.code !== 0) throw new Error(`nftables table inet ${this.table}: nft -c failed: ${r.error ?? `exit ${r.code}`}: ${nftMessages(r.output)}`);
  }

  private want(d: { key: string; elements: Elements | null }): void {
    this.desired = d;
    this.gen++;
    if (this.retry) clearTimeout(this.retry);
    this.retry = null;
    this.kick();
  }

  private kick(): void {
    if (this.running || this.scheduled) return;
    this.scheduled = true;
    // a microtask later: calls made in the same turn go in one run
    queueMicrotask(() => {
      this.scheduled = false;
      void this.loop();
    });
  }

  private settle(gen: number, err: Error | null): void {
    const keep: Waiter[] = [];
    for (const w of this.waiters) {
      if (w.gen > gen) keep.push(w);
      else if (err) w.reject(err);
      else w.resolve();
    }
    this.waiters = keep;
  }

  private async loop(): Promise<void> {
    this.running = true;
    try {
      while (this.appliedGen < this.gen) {
        const gen = this.gen;
        const { key, elements } = this.desired;
        if (key === this.appliedKey) {
          this.appliedGen = gen;
          this.settle(gen, null);
          continue;
        }
        let script: string;
        if (!elements) script = deleteTableScript(this.table);
        else if (this.appliedKey === null || this.appliedKey === ABSENT)
          script = acceptTableScript(this.opts) + acceptElementsScript(this.table, elements, !!this.opts.ifindex, false);
        else script = acceptElementsScript(this.table, elements, !!this.opts.ifindex, true);
        this.runs++;
        let r: NftResult;
        try {
          r = await this.run(scriptArgs(script));
        } catch (e) {
          r = { code: null, signal: null, output: '', error: `runner threw: ${(e as Error).message}`, durationMs: 0 };
        }
        if (!r.error && r.code === 0) {
          if (this.lastError !== null) this.opts.log?.(`nftables table inet ${this.table}: applied after ${this.errors} failed run(s) in all`);
          this.lastError = null;
          this.appliedKey = key;
          this.appliedGen = gen;
          this.settle(gen, null);
          continue;
        }
        this.errors++;
        this.appliedKey = null; // unknown: the next run rebuilds the table
        const what = elements ? 'setting the accept-mode filter' : 'deleting the table';
        const why = r.error ?? `exit ${r.code ?? r.signal}`;
        this.lastError = `nftables table inet ${this.table}: ${what} failed (${why}): ${nftMessages(r.output)}`;
        const retryMs = this.opts.retryMs ?? 1000;
        this.opts.log?.(`${this.lastError}; ${this.gen === gen ? `trying again in ${retryMs} ms` : 'newer content follows'}`);
        this.settle(gen, new Error(this.lastError));
        if (this.gen === gen) {
          this.retry = setTimeout(() => {
            this.retry = null;
            this.kick();
          }, retryMs);
          this.retry.unref();
          break;
        }
      }
    } finally {
      this.running = false;
    }
  }
}

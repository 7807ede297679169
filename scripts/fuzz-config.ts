/**
 * Fuzz of the keepalived.conf loader with mutations of the real corpus
 * (../shared/data/keepalived-conf/*.conf): `npm run fuzz-config -- [cases] [seed]` (default
 * 100 000 cases, seed from the clock); the engine of test/property/config-fuzz.test.ts too.
 *
 * The property: `loadKeepalivedConfig(main, source, { configId })` settles within a bound
 * (2 s, and 10 s on a second try; FUZZ_BOUND_MS) with a config, or with `ConfigErrors` whose every error, like every
 * warning, has a file among the case's files, a line:col inside that file (line 0, col 0 only
 * for a file that could not be read) and a message. Anything else (another exception, a hang,
 * a heap over FUZZ_HEAP_MB = 512 MB) is a bug: the run stops, prints the seed, fast-check's
 * path and the shrunk input, and exits 1. FUZZ_SKIP (a regexp on `caseText`) leaves cases out.
 *
 * Each case runs in a worker thread (one at a time, files served from memory by `MemSource`)
 * so that an endless synchronous loop can be ended (`Worker.terminate`) and a runaway
 * expansion hits the worker's heap limit, not the machine's. The worker's stack is 1 MB,
 * about the main thread's (deep nesting overflows there as it would in vipd).
 */
import fc from 'fast-check';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, posix } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { fsSource } from '../src/config/fs-source.js';
import { loadKeepalivedConfig } from '../src/config/keepalived.js';
import { ConfigErrors } from '../src/config/model.js';
import type { FileKind, FileSource } from '../src/config/tree.js';

/** A file's bytes, or the errno its read fails with (EACCES: unreadable; EISDIR is implied for directories). */
export type FileEntry = Uint8Array | 'EACCES';
/** One input: the files (`main` is loaded), `kind` names the generator that made it. */
export interface FuzzCase { kind: string; main: string; files: [string, FileEntry][]; configId?: string }
export interface Diag { file: unknown; line: unknown; col: unknown; message: unknown }
/** What a case did: `ms` is the loader's time (config, errors, other) or the wait (timeout). */
export type Outcome = ({ kind: 'config'; warnings: Diag[] | null } | { kind: 'errors'; errors: Diag[] | null; warnings: Diag[] | null }
  | { kind: 'other'; name: string; message: string; stack: string } | { kind: 'timeout' } | { kind: 'crash'; message: string }) & { ms: number };

export const DIR = '/fz/etc/keepalived';
export const MAIN = `${DIR}/keepalived.conf`;

const errno = (code: string, path: string): NodeJS.ErrnoException => Object.assign(new Error(`${code}: open '${path}'`), { code, path, syscall: 'open' });

/** glob(3) for one path segment: `*`, `?`, `[...]` / `[!...]` (a `[` without its `]` is itself). */
function segRegExp(seg: string): RegExp {
  const re = seg.replace(/\*|\?|\[(!?)([^\]]+)\]|[.+^${}()|[\]\\]/g, (m, neg?: string, set?: string) =>
    m === '*' ? '[^/]*' : m === '?' ? '[^/]' : set !== undefined ? `[${neg ? '^' : ''}${set.replace(/\\/g, '\\\\')}]` : `\\${m}`);
  try { return new RegExp(`^${re}$`); } catch { return /$^/; }
}

/** A file system in memory: what fs-source.ts does on disk (resolve is fsSource's own), without I/O. */
export class MemSource implements FileSource {
  readonly files: Map<string, FileEntry>;
  /** Every file and every directory above one. */
  private readonly paths = new Set<string>();
  constructor(files: Iterable<[string, FileEntry]>) {
    this.files = new Map(files);
    for (const parts of [...this.files.keys()].map((k) => k.split('/'))) for (let i = 2; i <= parts.length; i++) this.paths.add(parts.slice(0, i).join('/'));
  }
  async read(path: string): Promise<string> {
    const p = posix.normalize(path);
    const f = this.files.get(p);
    if (typeof f !== 'object') throw errno(f ?? (this.paths.has(p) ? 'EISDIR' : 'ENOENT'), path);
    return text(f)!;
  }
  /** Existing files and directories matching the pattern, sorted; a wildcard matches a name starting with '.' only when it starts with '.' too. */
  async glob(pattern: string): Promise<string[]> {
    const segs = posix.normalize(pattern).split('/').filter(Boolean).map((s) => ({ s, re: segRegExp(s) }));
    const hit = (parts: string[]): boolean => parts.length === segs.length && parts.every((p, i) => segs[i]!.re.test(p) && !(p[0] === '.' && segs[i]!.s[0] !== '.'));
    return [...this.paths].filter((k) => hit(k.split('/').filter(Boolean))).sort();
  }
  resolve = fsSource.resolve;
  kind = async (path: string): Promise<FileKind | null> => (this.files.has(posix.normalize(path)) ? 'file' : this.paths.has(posix.normalize(path)) ? 'dir' : null);
  hostname = (): string => 'fuzzhost';
}

const text = (e: FileEntry): string | null => (typeof e === 'string' ? null : Buffer.from(e.buffer, e.byteOffset, e.byteLength).toString('utf8'));
/** The kind and the texts of a case, for leaving out the cases of a known bug. */
export const caseText = (c: FuzzCase): string => [c.kind, ...c.files.map(([p, e]) => text(e) ?? p)].join('\n');


/**
 * Open loader bugs found by this fuzzing (docs/fuzzing.md), whose cases are left out (the run
 * says how many) so that the suite stays green until they are fixed: delete an entry when its
 * bug is fixed. FUZZ_KNOWN=1 keeps them in.
 */
// Empty: the five bugs the first run found (unbounded ~SEQ, self-using multi-line definitions,
// include fan-out, globs that include themselves, brace expansion) are bounded since (tree.ts
// MAX_LINES, fs-source.ts MAX_FILES_READ and MAX_BRACE_PATTERNS); the generators still make them.
export const KNOWN_BUGS: { bug: string; hit: (c: FuzzCase, text: string) => boolean }[] = [];

/** `arb` without the cases of `KNOWN_BUGS` (unless FUZZ_KNOWN=1) and of FUZZ_SKIP; `left` counts what was left out. */
export function withoutKnown(arb: fc.Arbitrary<FuzzCase>, left = { n: 0 }): fc.Arbitrary<FuzzCase> {
  const skip = process.env.FUZZ_SKIP ? new RegExp(process.env.FUZZ_SKIP) : null;
  const known = process.env.FUZZ_KNOWN === '1' ? [] : KNOWN_BUGS;
  return arb.filter((c) => {
    const t = caseText(c);
    return !((known.some((k) => k.hit(c, t)) || !!skip?.test(t)) && ++left.n);
  });
}

/** The verdict on one case: null when the loader behaved, else what is wrong (pure: the harness's test feeds it made-up outcomes). */
export function checkOutcome(c: FuzzCase, o: Outcome): string | null {
  if (o.kind === 'timeout') return `did not settle within ${o.ms} ms (on a second try)`;
  if (o.kind === 'crash') return `the loader's thread died: ${o.message}`;
  if (o.kind === 'other') return `rejected with ${o.name} (not ConfigErrors): ${o.message}\n${o.stack}`;
  const files = new Map(c.files);
  const lineCache = new Map<string, string[] | null>();
  const linesOf = (f: string): string[] | null => {
    if (!lineCache.has(f)) lineCache.set(f, text(files.get(f)!)?.split('\n') ?? null);
    return lineCache.get(f)!;
  };
  const bad = (what: string, d: Diag): string | null => {
    const where = `${what} ${JSON.stringify(d)}`;
    if (typeof d.message !== 'string' || !d.message.trim()) return `${where}: empty message`;
    if (typeof d.file !== 'string' || !files.has(posix.normalize(d.file))) return `${where}: file is not one of the case's files`;
    if (!Number.isInteger(d.line) || !Number.isInteger(d.col) || (d.col as number) < 0) return `${where}: line/col not integers >= 0`;
    const lines = linesOf(posix.normalize(d.file));
    if (d.line === 0) return d.col === 0 && (lines === null || posix.normalize(d.file) === c.main) ? null : `${where}: line 0 for a readable file`;
    if (lines === null) return `${where}: a line of a file that cannot be read`;
    if ((d.line as number) < 1 || (d.line as number) > lines.length) return `${where}: line outside the file (1..${lines.length})`;
    const len = lines[(d.line as number) - 1]!.length;
    return (d.col as number) > len + 1 ? `${where}: column past the end of the line (${len} characters)` : null;
  };
  const lists: [string, Diag[] | null][] = o.kind === 'errors' ? [['error', o.errors], ['warning', o.warnings]] : [['warning', o.warnings]];
  if (o.kind === 'errors' && !o.errors?.length) return 'ConfigErrors without errors';
  for (const [what, l] of lists) {
    if (!l) return `${what}s is not an array`;
    for (const d of l) {
      const b = bad(what, d);
      if (b) return b;
    }
  }
  return null;
}

const diags = (l: unknown): Diag[] | null =>
  Array.isArray(l) ? l.map((x: { pos?: Partial<Record<'file' | 'line' | 'col', unknown>>; message?: unknown }) => ({ file: x?.pos?.file, line: x?.pos?.line, col: x?.pos?.col, message: x?.message })) : null;

/** Runs one case in this thread (the worker's side). `fault` makes the harness's self-test loader misbehave. */
export async function loadCase(c: FuzzCase, fault?: 'hang'): Promise<Outcome> {
  const t0 = performance.now();
  const ms = (): number => performance.now() - t0;
  try {
    if (fault === 'hang') for (;;);
    const cfg = await loadKeepalivedConfig(c.main, new MemSource(c.files), c.configId === undefined ? {} : { configId: c.configId });
    return { kind: 'config', warnings: diags(cfg.warnings), ms: ms() };
  } catch (e) {
    if (e instanceof ConfigErrors) return { kind: 'errors', errors: diags(e.errors), warnings: diags(e.warnings), ms: ms() };
    const x = e as Error;
    return { kind: 'other', name: x?.constructor?.name ?? typeof e, message: String(x?.message ?? e), stack: String(x?.stack ?? ''), ms: ms() };
  }
}

if (!isMainThread && (workerData as { role?: string } | null)?.role === 'fuzz-config') {
  const { fault } = workerData as { fault?: 'hang' };
  parentPort!.on('message', (c: FuzzCase) => void loadCase(c, fault).then((outcome) => parentPort!.postMessage({ outcome })));
  parentPort!.postMessage({ ready: true });
}

function tsxApi(): string {
  const pkg = createRequire(import.meta.url).resolve('tsx/package.json');
  const exp = (JSON.parse(readFileSync(pkg, 'utf8')) as { exports: Record<string, { import: { default: string } }> }).exports['./esm/api']!;
  return pathToFileURL(join(dirname(pkg), exp.import.default)).href;
}

/** Runs cases one at a time in a worker: ends it after the bound (a fresh one serves the next case). */
export class FuzzRunner {
  private worker: Worker | null = null;
  private ready: Promise<void> | null = null;
  private pending: ((o: Outcome) => void) | null = null;
  /** The slowest case that settled, with its time in the loader (ms). */
  slowest: { ms: number; c: FuzzCase | null } = { ms: 0, c: null };

  constructor(readonly boundMs = 2000, private readonly opts: { heapMb?: number; fault?: 'hang' } = {}) {}

  private settle(o: Outcome): void {
    const p = this.pending;
    this.pending = null;
    p?.(o);
  }
  /** Ends worker `w` if it is the current one, the pending case settling as `o`. */
  private drop(w: Worker | null, o: Outcome): void {
    if (!w || this.worker !== w) return;
    [this.worker, this.ready] = [null, null];
    void w.terminate();
    this.settle(o);
  }

  private start(): Promise<void> {
    const self = JSON.stringify(import.meta.url);
    const w = new Worker(`import(${JSON.stringify(tsxApi())}).then((m) => m.tsImport(${self}, ${self}))`, {
      eval: true,
      workerData: { role: 'fuzz-config', fault: this.opts.fault },
      resourceLimits: { maxOldGenerationSizeMb: this.opts.heapMb ?? 512, stackSizeMb: 1 },
    });
    this.worker = w;
    w.on('error', (e: NodeJS.ErrnoException) => this.drop(w, { kind: 'crash', message: `${e.code ?? e.name}: ${e.message}`, ms: 0 }));
    w.on('exit', (code) => this.drop(w, { kind: 'crash', message: `exit ${code}`, ms: 0 }));
    return new Promise((resolve, reject) => {
      w.on('message', (m: { ready?: true; outcome?: Outcome }) => (m.ready ? resolve() : this.worker === w && this.settle(m.outcome!)));
      w.once('error', reject);
      w.once('exit', () => reject(new Error('the fuzz worker exited before it was ready')));
    });
  }

  /** The outcome of `c`; a case that times out is tried again with 5 times the bound (a busy machine is not a hang). */
  async run(c: FuzzCase): Promise<Outcome> {
    const o = await this.attempt(c, this.boundMs);
    return o.kind === 'timeout' ? this.attempt(c, this.boundMs * 5) : o;
  }

  private async attempt(c: FuzzCase, bound: number): Promise<Outcome> {
    this.ready ??= this.start();
    await this.ready;
    const w = this.worker;
    const t0 = performance.now();
    const o = await new Promise<Outcome>((resolve) => {
      const timer = setTimeout(() => this.drop(w, { kind: 'timeout', ms: Math.round(performance.now() - t0) }), bound);
      this.pending = (x) => {
        clearTimeout(timer);
        resolve(x);
      };
      w!.postMessage(c);
    });
    if ((o.kind === 'config' || o.kind === 'errors') && o.ms > this.slowest.ms) this.slowest = { ms: o.ms, c };
    return o;
  }

  async close(): Promise<void> {
    const w = this.worker;
    [this.worker, this.ready] = [null, null];
    await w?.terminate();
  }
}

/** fast-check property over `arb`: each case run by `runner`, a bug thrown as an Error naming it. */
export function loaderProperty(runner: FuzzRunner, arb: fc.Arbitrary<FuzzCase>, onCase?: (c: FuzzCase) => void): fc.IAsyncPropertyWithHooks<[FuzzCase]> {
  return fc.asyncProperty(arb, async (c) => {
    onCase?.(c);
    const bug = checkOutcome(c, await runner.run(c));
    if (bug) throw new Error(bug);
  });
}

/** Checks the property: null when it held, else the report (bug, seed, path, shrunk input). `minimize` also drops lines (slow: a hang costs the bound per try). */
export async function fuzz(runner: FuzzRunner, arb: fc.Arbitrary<FuzzCase>, params: fc.Parameters<[FuzzCase]>, o: { minimize?: boolean; onCase?: (c: FuzzCase) => void } = {}): Promise<{ details: fc.RunDetails<[FuzzCase]>; report: string | null }> {
  const details = await fc.check(loaderProperty(runner, arb, o.onCase), params);
  if (!details.failed) return { details, report: null };
  const bug = (details.errorInstance as Error)?.message ?? String(details.errorInstance);
  let c = details.counterexample?.[0];
  if (c && o.minimize) c = await minimizeLines(runner, c, bug);
  const head = `the loader failed after ${details.numRuns} cases (${details.numShrinks} shrinks), seed ${details.seed}, path ${JSON.stringify(details.counterexamplePath)}`;
  return { details, report: `${head}\nbug: ${bug}\nminimal input${o.minimize ? ' (shrunk, then lines dropped while the bug remains)' : ''}:\n${c ? showCase(c) : '?'}` };
}

/** A file's text for a report: control characters escaped, long runs of one character folded. */
export function showCase(c: FuzzCase, max = 3000): string {
  const out = [`kind ${c.kind}, main ${c.main}${c.configId !== undefined ? `, configId ${JSON.stringify(c.configId)}` : ''}`];
  for (const [p, e] of c.files) {
    if (typeof e === 'string') out.push(`--- ${p}: read fails with ${e}`);
    if (typeof e === 'string') continue;
    const utf8 = Buffer.from(Buffer.from(e).toString('utf8')).equals(e);
    let t = JSON.stringify(Buffer.from(e).toString(utf8 ? 'utf8' : 'latin1')).slice(1, -1).replace(/\\n/g, '\n').replace(/([^]{1,8}?)\1{20,}/g, (m, u: string) => `<${JSON.stringify(u)} x${m.length / u.length}>`);
    if (t.length > max) t = `${t.slice(0, max / 2)}\n<... ${t.length - max} chars ...>\n${t.slice(-max / 2)}`;
    out.push(`--- ${p} (${e.length} bytes${utf8 ? '' : ', not UTF-8: shown as latin1'}):\n${t}`);
  }
  return out.join('\n');
}

// ---- the corpus and the mutations ----

export interface Corpus { dir: string; files: { name: string; text: string }[]; vocab: string[] }

const TOKEN = /\n|[^\S\n]+|[#!][^\n]*|"(?:[^"\\\n]|\\.)*"?|[{}]|[^\s{}"]+/g;
const tokens = (t: string): string[] => t.match(TOKEN) ?? [];

/** The real configurations (KEEPALIVED_CONF_DIR overrides ../shared/data/keepalived-conf), their words and every keyword keepalived 2.2.7 has. */
export function loadCorpus(dir = process.env.KEEPALIVED_CONF_DIR ?? fileURLToPath(new URL('../../shared/data/keepalived-conf/', import.meta.url))): Corpus {
  const files = readdirSync(dir).filter((f) => f.endsWith('.conf')).sort().map((name) => ({ name, text: readFileSync(join(dir, name), 'utf8') }));
  if (!files.length) throw new Error(`no .conf file in ${dir}`);
  const vocab = new Set(['include', '*', '$A', '${A}', '@main', '@^main', '~SEQ(S,1,3)', '""', '"', '{', '}', '\\']);
  for (const f of files) for (const t of tokens(f.text)) if (!/^\s/.test(t)) vocab.add(t);
  const kw = new URL('../test/fixtures/keepalived-2.2.7-keywords.txt', import.meta.url);
  if (existsSync(kw)) for (const l of readFileSync(kw, 'utf8').split('\n')) if (l && !l.startsWith('#')) vocab.add(l.split(' ')[1] ?? l);
  return { dir, files, vocab: [...vocab].sort() };
}

export const EDGE_NUMBERS = ['-1', '0', '256', '4294967296', '1e309', '0x10', '1.5', '', 'NaN', '-0', '255', '4294967295', '18446744073709551616', '1e-309', 'Infinity', '+1', '007', '.5', '1.', '9'.repeat(40)];
type Mut = { op: 'drop' | 'dup' | 'swap' | 'replace' | 'insert' | 'delchar' | 'number' | 'split' | 'join' | 'line' | 'chars'; i: number; j: number; v: string };

const odd = fc.oneof(
  fc.constantFrom('\0', '\uFFFD', '\uFEFF', '\r', '\r\n', '\t', '\v', '\f', '\u00a0', '\u2028', '\u3000', '\\', '\\\n', '"', '{', '}', '#', '!', '$', '@', '~', '{}', '""'),
  fc.string({ unit: 'binary', maxLength: 8 }),
  // very long words and deep nesting, built after shrinking so that shrinking stays cheap
  // (up to 2 MB: the bound is for hangs, not for reading megabytes; 'x {\n' x 1M takes 4 s)
  fc.tuple(fc.constantFrom('a', '9', '{', '}', 'x {\n', 'x { ', '"', '\\', '$A', '${', '@', '.', ' ', '\n'), fc.constantFrom(100, 5000, 20_000, 200_000, 500_000)).map(([w, n]) => w.repeat(w.length > 1 ? n : 4 * n)),
);

/**
 * Preprocessor lines: self-referring and doubling definitions, ~SEQ / ~LST with edge counts,
 * multi-line definitions, conditionals. The nested `~SEQ(…,0,9999)` case reaches the 200 000
 * line limit (0.6-1.1 s each): weight 1 against 4 for each other kind, so that it stays
 * frequent (~35 of 3000 cases) without taking most of the run's time.
 */
const w4 = <T>(arbitrary: fc.Arbitrary<T>): { arbitrary: fc.Arbitrary<T>; weight: number } => ({ arbitrary, weight: 4 });
export const preprocessorArb: fc.Arbitrary<string> = fc.oneof(
  w4(fc.integer({ min: 1, max: 40 }).map((k) => ['$A=x', ...Array<string>(k).fill('$A=$A$A'), 'router_id $A', 'priority ${A}'].join('\n'))),
  w4(fc.integer({ min: 1, max: 40 }).map((k) => ['$D0=xy', ...Array.from({ length: k }, (_, i) => `$D${i + 1}=\${D${i}}\${D${i}}`), `router_id \${D${k}}`, `\${D${k}}`].join('\n'))),
  w4(fc.constantFrom('$A=$A\n$A', '$A=${A}\nrouter_id ${A}', '$A=$B\n$B=$A\nrouter_id $A', '$A=${A}${A}\n${A}', '$A=$A $A\n$A', '$A=@main $A\n$A')),
  w4(fc.tuple(fc.constantFrom('~SEQ', '~SEQx'), fc.constantFrom(...EDGE_NUMBERS, '10', '-5', '1000000000'), fc.constantFrom(...EDGE_NUMBERS, '1', '-1'), fc.option(fc.constantFrom(...EDGE_NUMBERS, '1000000000', '9223372036854775807'))).map(([s, a, b, c]) => `${s}(S, ${a}, ${b}${c === null ? '' : `, ${c}`}) priority \${S}`)),
  { arbitrary: fc.integer({ min: 1, max: 6 }).map((n) => `${Array.from({ length: n }, (_, i) => `~SEQ(V${i},0,9999)`).join(' ')} unicast_peer \${V0}`), weight: 1 },
  w4(fc.constantFrom('~LST(L, a, b, c) router_id ${L}', '~LST({A,B},{1,2},{3}) x ${A}${B}', '~LST(', '~SEQ(', '~SEQ()', '~SEQ(X)', '~LST(X)', '~SEQ(X,1,3', '~SEQ(1X,1,3) x', '~LST(X,' + '1,'.repeat(5000) + '1) x')),
  w4(fc.tuple(fc.integer({ min: 1, max: 8 }), fc.boolean(), fc.integer({ min: 0, max: 3 })).map(([n, ends, uses]) =>
    ['$M= \\', ...Array.from({ length: n }, (_, i) => `vrrp_instance M${i} { \\\n  priority ${i} \\\n} \\`), ...(ends ? ['!'] : []), ...Array<string>(uses).fill('$M')].join('\n'))),
  w4(fc.constantFrom('@main priority 1', '@^main priority 2', '@', '@^', '@ x', '@main', '@main $P=1\npriority $P', '$IF=@main\n$IF priority 240', '@main include nope.conf')),
  w4(fc.constantFrom('${_RANDOM}', 'router_id ${_RANDOM 5 1}', 'router_id ${_RANDOM 99999999999999999999 1}', '${_PWD}', 'router_id ${_INSTANCE}', '${_HASH}', '${_BANG}', '$', '${', '${}', '$=', '$1=2', '$_X=y', '${A', '$A =b', ' $A=b', '$A=b c d\n$A', '$A=\n$A', '$A={\n$A')),
);

const mutArb = (vocab: string[]): fc.Arbitrary<Mut> => {
  const m = (op: Mut['op'], v: fc.Arbitrary<string> = fc.constant('')): fc.Arbitrary<Mut> => fc.record({ op: fc.constant(op), i: fc.nat(), j: fc.nat(), v });
  return fc.oneof(
    m('drop'), m('dup'), m('swap'), m('replace', fc.constantFrom(...vocab)), m('number', fc.constantFrom(...EDGE_NUMBERS)),
    m('insert', fc.constantFrom('{', '}', '"', ' { ', ' } ', '\n}\n', '\n{\n', '"\n', '\\', '#', '!', '""', 'include ')),
    m('delchar', fc.constantFrom('{', '}', '"')), m('split'), m('join'), m('chars', odd), m('line', preprocessorArb),
  );
};

/** The (i mod count)-th match of `re` (global) in `t`. */
function nth(t: string, re: RegExp, i: number): RegExpExecArray | null {
  const all = [...t.matchAll(re)];
  return all.length ? all[i % all.length]! : null;
}
const at = (t: string, k: number, cut: number, v: string): string => t.slice(0, k) + v + t.slice(k + cut);
const lineStart = (t: string, i: number): number => nth(`\n${t}`, /\n/g, i)!.index;

export function mutate(t: string, m: Mut): string {
  switch (m.op) {
    case 'split': return at(t, m.i % (t.length + 1), 0, '\n');
    case 'chars': return at(t, m.i % (t.length + 1), 0, m.v);
    case 'line': return at(t, lineStart(t, m.i), 0, `${m.v}\n`);
    case 'join': { const x = nth(t, /\n/g, m.i); return x ? at(t, x.index, 1, m.j % 2 ? ' ' : '') : t; }
    case 'number': { const x = nth(t, /\d+(?:\.\d+)?/g, m.i); return x ? at(t, x.index, x[0].length, m.v) : t; }
    case 'delchar': { const x = nth(t, new RegExp(`\\${m.v}`, 'g'), m.i); return x ? at(t, x.index, 1, '') : t; }
  }
  const toks = tokens(t);
  const sig = toks.flatMap((x, k) => (/^\s/.test(x) ? [] : [k]));
  if (!sig.length) return m.op === 'insert' || m.op === 'replace' ? m.v + t : t;
  const a = sig[m.i % sig.length]!;
  const b = sig[m.j % sig.length]!;
  if (m.op === 'drop') toks[a] = '';
  else if (m.op === 'dup') toks[a] = `${toks[a]} ${toks[a]}`;
  else if (m.op === 'swap') [toks[a], toks[b]] = [toks[b]!, toks[a]!];
  else if (m.op === 'replace') toks[a] = m.v;
  else toks[a] = m.v + toks[a]!;
  return toks.join('');
}

const enc = (t: string): Uint8Array => new Uint8Array(Buffer.from(t, 'utf8'));
const bytesArb = fc.oneof(fc.constantFrom(...[[0], [0xff], [0xc3], [0xed, 0xa0, 0x80], [0xef, 0xbb, 0xbf], [0x80], [0xf4, 0x90, 0x80, 0x80], [0xc0, 0xaf]].map((b) => Uint8Array.from(b))), fc.uint8Array({ minLength: 1, maxLength: 6 }));
function withBytes(b: Uint8Array, ins: [number, Uint8Array][]): Uint8Array {
  return ins.reduce((x, [i, y]) => { const k = i % (x.length + 1); return new Uint8Array(Buffer.concat([x.subarray(0, k), y, x.subarray(k)])); }, b);
}

type Files = [string, FileEntry][];
type IncludeCase = { sub: string; make: (body: string) => Files };
const inc = (sub: string, make: (body: string) => Files): IncludeCase => ({ sub, make });
const file = (name: string, t: string): [string, FileEntry] => [`${DIR}/${name}`, enc(t)];
/** Include graphs around a (mutated) corpus body: self-include, loops, chains, globs over many files, fan-out bombs, unreadable targets. */
const includeArb: fc.Arbitrary<IncludeCase> = fc.oneof(
  fc.constantFrom('keepalived.conf', './keepalived.conf', MAIN, '../keepalived/keepalived.conf', '*.conf', '*', `${DIR}/*`, '/fz/*/*/*.conf', '"keepalived.conf"')
    .map((p) => inc('self', (b) => [[MAIN, enc(`include ${p}\n${b}`)]])),
  fc.integer({ min: 1, max: 6 }).map((n) => inc('loop', (b) => [[MAIN, enc(`include l1.conf\n${b}`)], ...Array.from({ length: n }, (_, i) => file(`l${i + 1}.conf`, `include ${i + 1 < n ? `l${i + 2}.conf` : 'keepalived.conf'}\n`))])),
  fc.tuple(fc.integer({ min: 1, max: 40 }), fc.boolean()).map(([n, inBlock]) => inc('chain', (b) => [[MAIN, enc(inBlock ? `vrrp_instance C {\ninclude c1.conf\n}\n${b}` : `include c1.conf\n`)],
    ...Array.from({ length: n }, (_, i) => file(`c${i + 1}.conf`, i + 1 < n ? `include c${i + 2}.conf\n` : inBlock ? 'priority 50\n' : b))])),
  // a glob over up to 400 files; a glob of files that include the glob again (a loop): up to 40
  fc.oneof(fc.tuple(fc.integer({ min: 0, max: 400 }), fc.constant(false)), fc.tuple(fc.integer({ min: 0, max: 40 }), fc.constant(true))).map(([n, again]) => inc(again ? 'glob-loop' : 'glob', (b) => [[MAIN, enc(`include conf.d/*.conf\n${b}`)],
    ...Array.from({ length: n }, (_, i) => file(`conf.d/${String(i).padStart(3, '0')}.conf`, again ? 'include *.conf\n' : `vrrp_script s${i} {\n  script "/bin/true"\n}\n`))])),
  // a loop-free fan-out: level k has n files, each including all of level k+1 (n^depth reads)
  fc.tuple(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 8 })).map(([n, depth]) => inc('fan-out', (b) => [[MAIN, enc(`include d1/*.conf\n${b}`)],
    ...Array.from({ length: n * depth }, (_, k) => file(`d${Math.floor(k / n) + 1}/${k % n}.conf`, Math.floor(k / n) + 1 < depth ? `include ../d${Math.floor(k / n) + 2}/*.conf\n` : '! leaf\n'))])),
  fc.constantFrom('nope.conf', 'conf.d/none*.conf', 'locked.conf', 'conf.d', '/', '""', '', 'a b', '"{"', '[', 'conf.d/[', 'conf.d/[!0]*.conf', '~SEQ(X,1,3)', '$A', '"conf.d/*.conf"', '\\', `${DIR}/../keepalived/conf.d/x.conf`, 'conf.d/*/', '**', '"conf.d/x.conf" extra',
    'conf.d/{x,y,x}.conf', `{${'a,'.repeat(3000)}b}`, '{a,b}'.repeat(24), '{'.repeat(5000) + '}'.repeat(5000), '{{{a,b},{c,d}},{e,f}}'.repeat(8))
    .map((p) => inc('odd-target', (b) => [[MAIN, enc(`include ${p}\n${b}`)], [`${DIR}/locked.conf`, 'EACCES'], file('conf.d/x.conf', 'router_id x\n')])),
  fc.nat().map((k) => inc('split', (b) => { const i = lineStart(b, k); return [[MAIN, enc(`${b.slice(0, i)}include part.conf\n`)], file('part.conf', b.slice(i))]; })),
);

/** The case generators; `all` mixes them (mutated corpus files most of the time). */
export function caseArb(corpus: Corpus): Record<'mutated' | 'preprocessor' | 'includes' | 'bytes' | 'all', fc.Arbitrary<FuzzCase>> {
  const body = fc.tuple(fc.nat(corpus.files.length - 1), fc.array(mutArb(corpus.vocab), { maxLength: 4 }))// long insertions last: tokenizing megabytes for the next mutation would make generation the slow part
    .map(([f, ms]) => [...ms.filter((m) => m.v.length < 1000), ...ms.filter((m) => m.v.length >= 1000)].reduce(mutate, corpus.files[f]!.text));
  const configId = fc.option(fc.constantFrom('main', 'backup', '', 'a b'), { nil: undefined });
  const mk = (kind: string, files: Files, id?: string): FuzzCase => ({ kind, main: MAIN, files, ...(id === undefined ? {} : { configId: id }) });
  const mutated = fc.tuple(body, fc.array(fc.tuple(fc.nat(), bytesArb), { maxLength: 2 }), configId).map(([t, ins, id]) => mk('mutated', [[MAIN, withBytes(enc(t), ins)]], id));
  const preprocessor = fc.tuple(body, fc.array(fc.tuple(fc.nat(), preprocessorArb), { minLength: 1, maxLength: 3 }), configId)
    .map(([t, ins, id]) => mk('preprocessor', [[MAIN, enc(ins.reduce((x, [i, s]) => at(x, lineStart(x, i), 0, `${s}\n`), t))]], id));
  const includes = fc.tuple(includeArb, body, configId).map(([g, b, id]) => mk(`include-${g.sub}`, g.make(b), id));
  const bytes = fc.oneof(fc.uint8Array({ maxLength: 3000 }), fc.string({ unit: 'binary', maxLength: 500 }).map(enc)).map((b) => mk('bytes', [[MAIN, b]]));
  const all = fc.oneof({ arbitrary: mutated, weight: 5 }, { arbitrary: preprocessor, weight: 2 }, { arbitrary: includes, weight: 2 }, { arbitrary: bytes, weight: 1 });
  return { mutated, preprocessor, includes, bytes, all };
}

/** A bug's class, to keep while minimizing: its first line without positions and numbers. */
const bugClass = (b: string): string => b.split('\n')[0]!.replace(/\{.*\}/, '{}').replace(/\d+/g, 'N');

/** After fast-check's shrinking: drop runs of lines from each file while the same class of bug remains (FUZZ_MINIMIZE_S, 60 s). */
async function minimizeLines(runner: FuzzRunner, c: FuzzCase, bug: string): Promise<FuzzCase> {
  const deadline = performance.now() + Number(process.env.FUZZ_MINIMIZE_S ?? 60) * 1000;
  for (let fi = 0; fi < c.files.length; fi++) {
    const e = c.files[fi]![1];
    if (typeof e === 'string') continue;
    let lines = Buffer.from(e).toString('latin1').split('\n');
    for (let size = lines.length; size >= 1; size >>= 1) {
      for (let i = 0; i < lines.length && performance.now() < deadline; ) {
        const keep = [...lines.slice(0, i), ...lines.slice(i + size)];
        const cand = { ...c, files: c.files.map((f, k): [string, FileEntry] => (k === fi ? [f[0], new Uint8Array(Buffer.from(keep.join('\n'), 'latin1'))] : f)) };
        const b = checkOutcome(cand, await runner.run(cand));
        if (b !== null && bugClass(b) === bugClass(bug)) [c, lines] = [cand, keep];
        else i += size;
      }
    }
  }
  return c;
}

async function main(): Promise<void> {
  const total = Number(process.argv[2] ?? 100_000);
  const seed = Number(process.argv[3] ?? Date.now() % 2 ** 31);
  const runner = new FuzzRunner(Number(process.env.FUZZ_BOUND_MS ?? 2000), { heapMb: Number(process.env.FUZZ_HEAP_MB ?? 512) });
  const corpus = loadCorpus();
  const kinds = new Map<string, number>();
  const left = { n: 0 };
  const arb = withoutKnown(caseArb(corpus).all, left);
  const t0 = performance.now();
  const { details, report } = await fuzz(runner, arb, { numRuns: total, seed }, { minimize: true, onCase: (c) => kinds.set(c.kind, (kinds.get(c.kind) ?? 0) + 1) });
  const s = (performance.now() - t0) / 1000;
  await runner.close();
  if (report) {
    const env = ['FUZZ_SKIP', 'FUZZ_KNOWN', 'FUZZ_BOUND_MS'].filter((k) => process.env[k]).map((k) => `${k}='${process.env[k]}' `).join('');
    console.error(`fuzz-config: FAILED; replay: ${env}npm run fuzz-config -- ${total} ${seed}\n${report}`);
    process.exit(1);
  }
  const { ms, c } = runner.slowest;
  console.log(`fuzz-config: ${details.numRuns} cases, 0 failures, seed ${seed}, ${s.toFixed(1)} s (${Math.round(details.numRuns / s)} cases/s), corpus ${corpus.files.length} files in ${corpus.dir}`);
  if (left.n) console.log(`left out: ${left.n} generated cases of the known bugs (FUZZ_KNOWN=1 keeps them):${KNOWN_BUGS.map((k) => `\n  - ${k.bug}`).join('')}`);
  console.log(`slowest case: ${ms.toFixed(1)} ms (${c?.kind}, ${c?.files.length} files, ${c?.files.reduce((n, [, e]) => n + e.length, 0)} bytes); mix: ${[...kinds].map(([k, n]) => `${k} ${n}`).join(', ')}`);
}

if (isMainThread && process.argv[1] && pathToFileURL(process.argv[1]).href === import.meta.url) await main();

/** A vipd process in a lab namespace (run from the TypeScript sources), with its JSON log. */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { cliCommand } from '../../src/lab/cli-command.js';
import { NetnsLab } from '../../src/lab/netns.js';

export interface LogLine {
  msg: string;
  from?: string;
  to?: string;
  reason?: string;
  level: number;
  [k: string]: unknown;
}

export class VipdProcess {
  proc: ChildProcess | null = null;
  readonly lines: LogLine[] = [];
  stderr = '';
  readonly conf: string;
  /** This daemon's control socket (each namespace shares the file system). */
  readonly socket: string;
  extraArgs: string[] = [];

  constructor(
    readonly lab: NetnsLab,
    readonly node: string,
    readonly dir: string,
    config: string,
    /** File names default to the node name; a second daemon in one namespace needs a tag. */
    tag = node,
  ) {
    this.conf = join(dir, `vipd-${tag}.conf`);
    this.socket = join(dir, `vipd-${tag}.sock`);
    writeFileSync(this.conf, config);
  }

  rewrite(config: string): void {
    writeFileSync(this.conf, config);
  }

  /**
   * Start from this (the initial) network namespace with `--namespace NODE_NS`, as keepalived
   * with -s: vipd enters the namespace itself (and opens the process connector first).
   * Default: inside it, through `ip netns exec`.
   */
  outside = false;

  start(): void {
    this.lines.length = 0;
    // the maintenance file in the test's directory unless the test names one (never /var/lib/vipd)
    const maint = this.extraArgs.includes('--maintenance-file') ? [] : ['--maintenance-file', this.socket.replace(/\.sock$/, '.maintenance.json')];
    const argv = [...cliCommand('vipd'), 'run', '-f', this.conf, '--log-level', 'debug', '--log-format', 'json', '--control-socket', this.socket, ...maint, ...this.extraArgs];
    const ns = this.lab.node(this.node).ns;
    this.proc = this.outside ? spawn(argv[0]!, [...argv.slice(1), '--namespace', ns], { stdio: ['ignore', 'pipe', 'pipe'] }) : this.lab.spawn(ns, argv);
    createInterface({ input: this.proc.stdout! }).on('line', (l) => {
      try {
        this.lines.push(JSON.parse(l) as LogLine);
      } catch {
        this.stderr += `${l}\n`;
      }
    });
    this.proc.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString()));
  }

  get state(): string | undefined {
    return [...this.lines].reverse().find((l) => l.to)?.to;
  }

  async waitFor(pred: (l: LogLine) => boolean, timeoutMs: number, what: string): Promise<LogLine> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.lines.find(pred);
      if (hit) return hit;
      if (Date.now() > end) throw new Error(`${this.node}: timed out waiting for ${what}\nlog:\n${this.lines.map((l) => JSON.stringify(l)).join('\n')}\nstderr:\n${this.stderr}`);
      if (this.proc?.exitCode !== null) throw new Error(`${this.node}: vipd exited (${this.proc?.exitCode}) waiting for ${what}\n${this.stderr}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  waitState(state: string, timeoutMs = 10_000): Promise<LogLine> {
    return this.waitFor((l) => l.to === state && this.lines.indexOf(l) >= this.mark, timeoutMs, `state ${state}`);
  }

  /** Only log lines after this index count for waitState. */
  mark = 0;
  setMark(): void {
    this.mark = this.lines.length;
  }

  /** Signal the daemon while it runs (a process killed by a signal has no exit code but is gone too). */
  signal(sig: NodeJS.Signals): void {
    if (this.proc?.pid && this.proc.exitCode === null && this.proc.signalCode === null) process.kill(this.proc.pid, sig);
  }

  async exited(timeoutMs = 5000): Promise<number | null> {
    const p = this.proc;
    if (!p) return null;
    if (p.exitCode !== null || p.signalCode !== null) return p.exitCode;
    await Promise.race([new Promise((r) => p.once('exit', r)), new Promise((r) => setTimeout(r, timeoutMs))]);
    return p.exitCode;
  }

  async stop(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    this.signal('SIGTERM');
    await this.exited(5000);
    if (p.exitCode === null && p.signalCode === null) this.signal('SIGKILL');
  }
}

/** After a test file: resume (a test may have stopped them) and stop the daemons, then remove the lab and the directory. */
export async function teardown(lab: NetnsLab, dir: string, daemons: (VipdProcess | undefined)[]): Promise<void> {
  for (const d of daemons) d?.signal('SIGCONT');
  for (const d of daemons) await d?.stop();
  lab.destroy();
  rmSync(dir, { recursive: true, force: true });
}

/** Two routers on one LAN, r1 at priority 150 and r2 at 100, each with a daemon not yet started. */
export function routerPair(lab: NetnsLab, dir: string, config: (router: 'r1' | 'r2', priority: number) => string): { r1: VipdProcess; r2: VipdProcess } {
  NetnsLab.requireRoot();
  NetnsLab.cleanStale();
  lab.build([{ name: 'r1', n: 1 }, { name: 'r2', n: 2 }]);
  return { r1: new VipdProcess(lab, 'r1', dir, config('r1', 150)), r2: new VipdProcess(lab, 'r2', dir, config('r2', 100)) };
}

/** Run one of our CLIs inside a lab node's namespace until it exits (a forking vipd's parent, vipctl). */
export async function runCliIn(
  lab: NetnsLab,
  node: string,
  cli: 'vipd' | 'vipctl',
  args: string[],
  env: Record<string, string> = {},
  timeoutMs = 30_000,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const p = lab.spawn(lab.node(node).ns, [...cliCommand(cli), ...args], { env: { ...process.env, ...env } });
  p.stdin?.end();
  let stdout = '';
  let stderr = '';
  p.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  p.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => p.pid && p.exitCode === null && process.kill(p.pid, 'SIGKILL'), timeoutMs);
  const code = await new Promise<number | null>((resolve) => p.once('close', (c) => resolve(c)));
  clearTimeout(timer);
  return { code, stdout, stderr };
}

/** Is `pid` a live process (not gone, not a zombie)? */
export function processAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

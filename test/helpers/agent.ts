/** Host side of the namespace agent: spawn it in a namespace and call its operations. */
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { NetnsLab } from '../../src/lab/netns.js';

const AGENT = fileURLToPath(new URL('./ns-agent.ts', import.meta.url));

export class Agent {
  private seq = 0;
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  readonly ready: Promise<void>;
  stderr = '';

  private constructor(readonly proc: ChildProcess) {
    let onReady: () => void;
    this.ready = new Promise((r) => (onReady = r));
    proc.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString()));
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      const m = JSON.parse(line) as { ready?: boolean; id: number; ok: boolean; result?: unknown; error?: string; code?: string };
      if (m.ready) return onReady();
      const w = this.waiting.get(m.id);
      this.waiting.delete(m.id);
      if (m.ok) w?.resolve(m.result);
      else w?.reject(Object.assign(new Error(m.error), { code: m.code }));
    });
    proc.on('exit', (code) => {
      for (const w of this.waiting.values()) w.reject(new Error(`agent exited (${code}): ${this.stderr}`));
      this.waiting.clear();
    });
  }

  static async start(lab: NetnsLab, node: string): Promise<Agent> {
    const a = new Agent(lab.spawn(lab.node(node).ns, [process.execPath, '--import', 'tsx', AGENT]));
    await Promise.race([a.ready, new Promise((_r, j) => setTimeout(() => j(new Error(`agent in ${node} did not start: ${a.stderr}`)), 15000))]);
    return a;
  }

  call<T = unknown>(op: string, args: Record<string, unknown> = {}): Promise<T> {
    const id = ++this.seq;
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.proc.stdin!.write(`${JSON.stringify({ id, op, args })}\n`);
    });
  }

  async stop(): Promise<void> {
    if (this.proc.exitCode !== null) return;
    const exited = new Promise((r) => this.proc.once('exit', r));
    this.call('exit').catch(() => undefined);
    await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
    if (this.proc.exitCode === null && this.proc.pid) this.proc.kill('SIGKILL');
  }
}

/**
 * Real HAProxy (Debian's `haproxy`) in a lab namespace, for the tracker tests and the
 * OpenStack scenario (three controllers, each HAProxy in front of its services, a VIP that
 * must leave a controller whose HAProxy died):
 * - a backend: a tiny Node HTTP server on 127.0.0.1:BACKEND_PORT answering its node name
 *   (it exits when its stdin closes, so it never outlives the test process);
 * - HAProxy in the foreground (`-db`: no daemon, no master-worker; its pid is the one we
 *   spawned, `ip netns exec` execs it), config file in the test's directory, listening on
 *   ADDRESS:PORT (a VIP or the node's address; `ip_nonlocal_bind` lets it bind a VIP the node
 *   does not hold yet, as Kolla sets it) in front of the backend, and a health endpoint
 *   `http://127.0.0.1:HEALTH_PORT/healthz` (`monitor-uri`: HAProxy itself answers 200);
 * - the Kolla-style check script: Kolla's check_alive asks HAProxy itself whether it is alive
 *   (`show info` on its stats socket with socat); here the namespace-local equivalent asks its
 *   health endpoint with bash's /dev/tcp (bash: Debian's /bin/sh is dash, which has no
 *   /dev/tcp). Exit 0: HAProxy answers 200 within 2 s; 1 otherwise. Written executable
 *   (0755) in the test's directory; that directory (mkdtemp, 0700 root) suits scripts run
 *   as root — a non-root script_user would need a directory it can traverse.
 * Every process is ours, started and stopped by pid (SIGTERM, then SIGKILL after 3 s).
 */
import type { ChildProcess } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NetnsLab } from '../../src/lab/netns.js';
import { childRunning, stopChild } from '../../src/lab/child.js';
import { isDocumentationAddress } from '../../src/protocol/addr.js';
import { collect } from './proc.js';
import { requireTool } from './tools.js';

/** Fail loudly (never skip) without haproxy or bash: .ci/run installs them. */
export function requireHaproxy(): void {
  requireTool('haproxy');
  requireTool('bash');
}

export interface HaproxyOptions {
  /** Where clients reach HAProxy: a documentation address (the node's own, or a VIP). */
  address: string;
  /** Client port; default 8080. */
  port?: number;
  /** The backend's port on 127.0.0.1; default 18080. */
  backendPort?: number;
  /** HAProxy's health endpoint on 127.0.0.1; default 18404. */
  healthPort?: number;
  /** Set net.ipv4/ipv6.ip_nonlocal_bind=1 in the node's namespace (default true): HAProxy can listen on a VIP before holding it. */
  nonlocalBind?: boolean;
}

/** The check script's text: exit 0 when HAProxy answers 200 on http://127.0.0.1:PORT/healthz within 2 s. */
export function kollaCheckScript(healthPort: number): string {
  return `#!/bin/bash
# Kolla-style check_alive for the vipd lab: exit 0 when HAProxy in this network namespace
# answers on its health endpoint (monitor-uri), 1 otherwise. bash for /dev/tcp (not dash).
{ exec 3<>/dev/tcp/127.0.0.1/${healthPort}; } 2>/dev/null || exit 1
printf 'GET /healthz HTTP/1.0\\r\\nHost: 127.0.0.1\\r\\n\\r\\n' >&3 || exit 1
IFS= read -r -t 2 line <&3 || exit 1
[[ $line == 'HTTP/1.'[01]' 200'* ]] || exit 1
exit 0
`;
}

const BACKEND = `
const http = require('node:http');
const name = process.env.VIPD_NODE;
http.createServer((req, res) => { res.setHeader('content-type', 'text/plain'); res.end(name); })
  .listen(Number(process.env.VIPD_PORT), '127.0.0.1', () => process.stdout.write('ready\\n'));
process.stdin.on('end', () => process.exit(0)).on('error', () => process.exit(0)).resume();
`;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class HaproxyNode {
  readonly config: string;
  readonly checkScript: string;
  readonly port: number;
  readonly backendPort: number;
  readonly healthPort: number;
  haproxy: ChildProcess | null = null;
  backend: ChildProcess | null = null;
  /** HAProxy's stderr (warnings, alerts) since the last start(). */
  log = '';

  constructor(
    readonly lab: NetnsLab,
    readonly node: string,
    readonly dir: string,
    readonly opts: HaproxyOptions,
  ) {
    if (!isDocumentationAddress(opts.address)) throw new Error(`HAProxy address ${opts.address}: use a documentation address`);
    this.port = opts.port ?? 8080;
    this.backendPort = opts.backendPort ?? 18080;
    this.healthPort = opts.healthPort ?? 18404;
    const family = opts.address.includes(':') ? 'ipv6' : 'ipv4';
    this.config = join(dir, `haproxy-${node}.cfg`);
    writeFileSync(this.config, [
      'global', '    maxconn 256',
      'defaults', '    mode http', '    timeout connect 2s', '    timeout client 10s', '    timeout server 10s',
      'frontend health', `    bind 127.0.0.1:${this.healthPort}`, '    monitor-uri /healthz',
      'frontend vip', `    bind ${family}@${opts.address}:${this.port}`, '    default_backend app',
      'backend app', `    server ${node} 127.0.0.1:${this.backendPort}`, '',
    ].join('\n'));
    this.checkScript = join(dir, `check_alive-${node}.sh`);
    writeFileSync(this.checkScript, kollaCheckScript(this.healthPort));
    chmodSync(this.checkScript, 0o755);
  }

  private get ns(): string {
    return this.lab.node(this.node).ns;
  }

  /** Is the HAProxy we started still running (by its exit event, never by probing a pid)? */
  running(): boolean {
    return childRunning(this.haproxy);
  }

  /** Start the backend (once) and HAProxy; resolves when the check script passes (5 s at most). */
  async start(): Promise<void> {
    if (this.running()) throw new Error(`HAProxy already runs in ${this.node}`);
    if (this.opts.nonlocalBind ?? true) {
      for (const f of ['ipv4', 'ipv6']) this.lab.exec(this.ns, ['sysctl', '-qw', `net.${f}.ip_nonlocal_bind=1`]);
    }
    await this.startBackend();
    this.log = '';
    const p = this.lab.spawn(this.ns, ['haproxy', '-db', '-f', this.config], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.haproxy = p;
    p.stdout!.on('data', (d: Buffer) => (this.log += d.toString()));
    p.stderr!.on('data', (d: Buffer) => (this.log += d.toString()));
    const end = Date.now() + 5000;
    while ((await this.check()) !== 0) {
      if (!this.running()) throw new Error(`HAProxy in ${this.node} exited (${p.exitCode ?? p.signalCode}):\n${this.log}`);
      if (Date.now() > end) throw new Error(`HAProxy in ${this.node} does not answer its health check after 5 s:\n${this.log}`);
      await sleep(50);
    }
  }

  private async startBackend(): Promise<void> {
    if (childRunning(this.backend)) return;
    const p = this.lab.spawn(this.ns, [process.execPath, '-e', BACKEND], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', VIPD_NODE: this.node, VIPD_PORT: String(this.backendPort) },
    });
    this.backend = p;
    let err = '';
    p.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`backend in ${this.node} not ready after 5 s: ${err}`)), 5000);
      p.stdout!.once('data', () => {
        clearTimeout(timer);
        resolve();
      });
      p.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`backend in ${this.node} exited (${code}): ${err}`));
      });
    });
  }

  /** SIGTERM HAProxy (it stops at once), SIGKILL after 3 s; the backend keeps running. */
  stop(): Promise<void> {
    return stopChild(this.haproxy, 'SIGTERM');
  }

  /** SIGKILL HAProxy: a crash. */
  kill(): Promise<void> {
    return stopChild(this.haproxy, 'SIGKILL');
  }

  /** Run the check script in the node's namespace: its exit code (null: killed by a signal). */
  async check(): Promise<number | null> {
    const p = this.lab.spawn(this.ns, [this.checkScript], { stdio: ['ignore', 'pipe', 'pipe'] });
    return (await collect(p)).code;
  }

  /** Stop HAProxy and the backend (for afterAll / afterEach). */
  async close(): Promise<void> {
    await this.stop();
    this.backend?.stdin?.end();
    await stopChild(this.backend, 'SIGTERM');
  }
}

/**
 * An HTTP GET from a lab node's namespace (a Node child there): the status and body, or the
 * error code (ECONNREFUSED, 'timeout', …). Never throws for network failures.
 */
export async function httpGet(lab: NetnsLab, node: string, url: string, timeoutMs = 3000): Promise<{ status: number; body: string } | { error: string }> {
  const script = `
const http = require('node:http');
const out = (o) => process.stdout.write(JSON.stringify(o));
const r = http.get(process.env.VIPD_URL, { timeout: Number(process.env.VIPD_TIMEOUT) }, (res) => {
  let b = ''; res.setEncoding('utf8'); res.on('data', (d) => (b += d)); res.on('end', () => out({ status: res.statusCode, body: b }));
});
r.on('timeout', () => r.destroy(Object.assign(new Error('timeout'), { code: 'timeout' })));
r.on('error', (e) => out({ error: e.code || e.message }));
`;
  const p = lab.spawn(lab.node(node).ns, [process.execPath, '-e', script], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', VIPD_URL: url, VIPD_TIMEOUT: String(timeoutMs) },
  });
  const r = await collect(p);
  try {
    return JSON.parse(r.stdout) as { status: number; body: string } | { error: string };
  } catch {
    return { error: `no answer (exit ${r.code}): ${r.stderr.trim()}` };
  }
}

/**
 * One controller of the OpenStack scenario in a lab namespace: its files rendered by
 * packaging/vagrant/provision/render-controller.sh (the script the Vagrant VMs run), the API
 * backend (provision/backend.mjs), HAProxy in the foreground (`haproxy -db`), and vipd or
 * keepalived 2.2.7 reading the same keepalived.conf. The notify script records every
 * transition in `<dir>/<name>/state` ("EPOCH TYPE NAME STATE PRIORITY"), so both
 * implementations are watched the same way.
 */
import type { ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { childRunning, stopChild } from '../child.js';
import { LabDaemon, type Impl } from '../daemon-proc.js';
import { run, type NetnsLab } from '../netns.js';

/** packaging/vagrant/provision in the clone (the lab runs from dist/ or src/: both two levels below). */
export const PROVISION = fileURLToPath(new URL('../../../packaging/vagrant/provision/', import.meta.url));

/** What render-controller.sh reads from its environment (see its header). */
export interface RenderEnv {
  CONTROLLERS: string;
  VIP: string;
  API_PORT: string;
  BACKEND_PORT: string;
  ADVERT_INT: string;
  CHECK_INTERVAL: string;
  CHECK_FALL: string;
  CHECK_RISE: string;
  AUTH_PASS: string;
}

export interface Transition {
  /** epoch seconds */
  t: number;
  state: string;
  priority: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class Controller {
  readonly dir: string;
  readonly stateFile: string;
  haproxy: ChildProcess | null = null;
  backend: ChildProcess | null = null;
  daemon: LabDaemon | null = null;

  constructor(
    readonly lab: NetnsLab,
    readonly name: string,
    readonly address: string,
    public priority: number,
    labDir: string,
    private readonly env: RenderEnv,
  ) {
    this.dir = join(labDir, name);
    mkdirSync(this.dir, { recursive: true });
    this.stateFile = join(this.dir, 'state');
    this.render();
  }

  private get ns(): string {
    return this.lab.node(this.name).ns;
  }

  /** Run render-controller.sh for this controller (at the current priority); returns keepalived.conf's text. */
  render(): string {
    const env = { ...this.env, STATE_FILE: this.stateFile, PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin' };
    const r = run('env', [...Object.entries(env).map(([k, v]) => `${k}=${v}`), 'bash', join(PROVISION, 'render-controller.sh'), this.dir, this.name, String(this.priority)]);
    if (r.trim()) throw new Error(`render-controller.sh printed: ${r}`);
    return readFileSync(join(this.dir, 'keepalived.conf'), 'utf8');
  }

  /**
   * The API backend on ADDRESS:BACKEND_PORT; resolves once it listens. Output to
   * `<dir>/backend.log`. Unless `detached` (--keep), it exits when the lab does (stdin closes).
   */
  async startBackend(detached = false): Promise<void> {
    if (childRunning(this.backend)) return;
    const log = join(this.dir, 'backend.log');
    const fd = openSync(log, 'w');
    const argv = [process.execPath, join(PROVISION, 'backend.mjs'), '--name', this.name, '--listen', `${this.address}:${this.env.BACKEND_PORT}`];
    const p = this.lab.spawn(this.ns, detached ? argv : [...argv, '--exit-with-stdin'], {
      stdio: [detached ? 'ignore' : 'pipe', fd, fd],
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
    });
    closeSync(fd);
    this.backend = p;
    const end = Date.now() + 5000;
    while (!readFileSync(log, 'utf8').includes('ready')) {
      if (!childRunning(p) || Date.now() > end) throw new Error(`backend on ${this.name} not ready: ${readFileSync(log, 'utf8')}`);
      await sleep(20);
    }
  }

  /** HAProxy (`-db`: foreground, the pid we spawned; output to `<dir>/haproxy.log`); resolves when the check script passes (5 s at most). */
  async startHaproxy(): Promise<void> {
    if (childRunning(this.haproxy)) throw new Error(`HAProxy already runs on ${this.name}`);
    const log = join(this.dir, 'haproxy.log');
    const fd = openSync(log, 'w');
    const p = this.lab.spawn(this.ns, ['haproxy', '-db', '-f', join(this.dir, 'haproxy.cfg')], { stdio: ['ignore', fd, fd] });
    closeSync(fd);
    this.haproxy = p;
    const end = Date.now() + 5000;
    while (!this.checkAlive()) {
      if (!childRunning(p)) throw new Error(`HAProxy on ${this.name} exited:\n${readFileSync(log, 'utf8')}`);
      if (Date.now() > end) throw new Error(`HAProxy on ${this.name} does not answer its health check after 5 s:\n${readFileSync(log, 'utf8')}`);
      await sleep(50);
    }
  }

  /** The rendered check script, run in the controller's namespace: true when it exits 0. */
  checkAlive(): boolean {
    try {
      this.lab.exec(this.ns, [join(this.dir, 'check_alive.sh')]);
      return true;
    } catch {
      return false;
    }
  }

  /** SIGKILL HAProxy: a crash (the backend goes on). */
  killHaproxy(): Promise<void> {
    return stopChild(this.haproxy, 'SIGKILL');
  }

  /** Start vipd or keepalived with the rendered keepalived.conf (a new LabDaemon when the implementation changes). */
  startDaemon(impl: Impl): LabDaemon {
    // a step still going when the lab is torn down (Ctrl-C) must not start what close() will not stop
    if (this.closing) throw new Error(`the lab is being torn down: ${impl} not started on ${this.name}`);
    if (this.daemon?.running()) throw new Error(`${this.daemon.impl} already runs on ${this.name}`);
    if (this.daemon?.impl !== impl) this.daemon = new LabDaemon(this.lab, impl, this.name, this.dir);
    this.daemon.start(this.render());
    return this.daemon;
  }

  /** Render the file again (after a priority change) and SIGHUP the daemon: a reload. */
  reload(): void {
    const d = this.daemon;
    if (!d?.running()) throw new Error(`no daemon runs on ${this.name}`);
    writeFileSync(d.confFile, this.render());
    d.proc!.kill('SIGHUP');
  }

  /** Transitions recorded by the notify script, oldest first. */
  transitions(): Transition[] {
    let text = '';
    try {
      text = readFileSync(this.stateFile, 'utf8');
    } catch {
      return [];
    }
    return text.split('\n').filter(Boolean).map((l) => {
      const [t, , , state, prio] = l.split(' ');
      return { t: Number(t), state: state!, priority: Number(prio) };
    });
  }

  /** The last recorded state at or after `since` (epoch s), or null. */
  stateSince(since: number): string | null {
    return this.transitions().filter((x) => x.t >= since).at(-1)?.state ?? null;
  }

  /** Stop everything of this controller: the daemon (SIGTERM), HAProxy, the backend. */
  private closing = false;

  /** From now on start nothing (the teardown began; a step may still be running). */
  markClosing(): void {
    this.closing = true;
  }

  async close(): Promise<void> {
    this.closing = true;
    await this.daemon?.signal('SIGTERM');
    await stopChild(this.haproxy, 'SIGTERM');
    this.backend?.stdin?.end();
    await stopChild(this.backend, 'SIGTERM');
  }
}

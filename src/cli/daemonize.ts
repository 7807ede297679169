/**
 * Forking as keepalived does, and entering a network namespace, for a Node program (which can
 * neither fork() nor setns()).
 *
 * keepalived 2.2.7 reads and checks its configuration, then forks: the parent exits 0 at once
 * and the child (new session, cwd /, stdio on /dev/null) writes the pid files and runs. vipd's
 * parent does the same with a second process: it starts the same program with the same
 * arguments (plus the environment marker below) as a detached child (setsid), and waits on a
 * pipe (the child's fd 3) until the child says it runs (exit 0) or the child exits (the
 * parent exits with the child's code and prints what the child reported). So the caller
 * (systemd Type=forking, Neutron) finds the pid files written when the parent returns.
 *
 * A namespace is entered with util-linux `nsenter --net=/run/netns/NAME`, which does what
 * keepalived does itself (setns of the network namespace only) and then execs the program, so
 * the pid stays the daemon's and its command line keeps the configuration path (Neutron looks
 * for its router id there). `ip netns exec` would also unshare the mount namespace, remount
 * /sys and bind /etc/netns/NAME/* over /etc: not what keepalived does.
 *
 * vrrp_track_process needs the kernel's process connector, which answers only in the initial
 * network namespace; a socket opened there keeps working from any other. keepalived opens it
 * before its setns (core/main.c, open_track_processes); vipd opens and subscribes it before
 * nsenter and hands it to the daemon as an inherited fd (`procConnector` below).
 */
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { closeSync, existsSync, writeSync } from 'node:fs';
import { constants } from 'node:os';
import { join } from 'node:path';
import { native } from '../os/native.js';
import { NETNS_DIR } from '../os/paths.js';
import { connectorErrorText, openConnectorFd, PROC_CONNECTOR_ERROR_ENV, PROC_CONNECTOR_FD_ENV } from '../os/proc-connector.js';
import { isJournalStream } from './logger.js';

/** Set in the child's environment: the fd of its report pipe to the parent. */
export const CHILD_ENV = 'VIPD_DAEMON_CHILD';
/** Set when vipd re-runs itself inside a namespace: its name (a second entry would be a loop). */
export const NETNS_ENV = 'VIPD_NETNS_ENTERED';

/** argv that runs this same program again (node, its options, the script as invoked). */
export function selfCommand(): string[] {
  return [process.execPath, ...process.execArgv, process.argv[1]!];
}

/** argv prefix that runs a command inside network namespace /run/netns/NAME. */
export function netnsPrefix(name: string): string[] {
  return ['nsenter', `--net=${join(NETNS_DIR, name)}`, '--'];
}

/** A process connector for a child about to enter a namespace: its stdio entry and environment. */
export interface PassedConnector {
  /** The fd to place at the child's fd `index` (null: it could not be opened). */
  fd: number | null;
  /** PROC_CONNECTOR_FD_ENV=index, or PROC_CONNECTOR_ERROR_ENV=why. */
  env: Record<string, string>;
  /** Close this process's copy (after spawn: the child has its own). */
  close(): void;
}

/**
 * Open and subscribe the kernel's process connector here (the initial network namespace) for
 * a child that will find it at fd `index` (src/os/proc-connector.ts acquireProcConnector
 * adopts it). When it cannot be opened, the child is told why and its daemon refuses to start
 * with that reason (procConnectorProblem).
 */
export function passProcConnector(index: number): PassedConnector {
  try {
    const fd = openConnectorFd();
    let open = true;
    return {
      fd,
      env: { [PROC_CONNECTOR_FD_ENV]: String(index) },
      close: () => {
        if (open) native().close(fd);
        open = false;
      },
    };
  } catch (e) {
    return { fd: null, env: { [PROC_CONNECTOR_ERROR_ENV]: connectorErrorText(e) }, close: () => undefined };
  }
}

/** The child's side of the report pipe. */
export interface ChildChannel {
  /** Text for the parent's stderr (a line or several, with their newlines). */
  message(text: string): void;
  /** Started: the parent exits 0. Closes the pipe; later messages go to stderr. */
  ready(): void;
  readonly open: boolean;
}

/** In a daemon child: its report pipe (the marker is removed so that scripts do not inherit it). */
export function childChannel(): ChildChannel | null {
  const v = process.env[CHILD_ENV];
  if (v === undefined) return null;
  delete process.env[CHILD_ENV];
  const fd = Number(v);
  let open = Number.isInteger(fd) && fd > 2;
  const send = (line: string): void => {
    if (!open) return;
    try {
      writeSync(fd, line);
    } catch {
      open = false; // the parent is gone (killed): nobody to tell
    }
  };
  return {
    get open() {
      return open;
    },
    message: (text) => (open ? send(`${JSON.stringify({ stderr: text })}\n`) : void process.stderr.write(text)),
    ready: () => {
      send(`${JSON.stringify({ ready: true })}\n`);
      if (open) closeSync(fd);
      open = false;
    },
  };
}

/** Is stdout the journal stream systemd gave us (src/cli/logger.ts: isJournalStream)? */
export function stdoutIsJournal(): boolean {
  return isJournalStream(1);
}

export interface ForkOptions {
  /** Arguments for the program (as this process got them). */
  args: string[];
  /** Keep this process's stdout/stderr in the daemon (else /dev/null). */
  keepOutput: boolean;
  /** Enter /run/netns/NAME first. */
  netns: string | null;
  /** Give up (stop the child, exit 1) when it has not reported by then. */
  timeoutMs?: number;
  /** The configuration has a vrrp_track_process: with `netns`, pass the daemon a process connector (see above). */
  procConnector?: boolean;
}

/** Start the daemon child and wait for its report; resolves to the parent's exit code. */
export function forkDaemon(o: ForkOptions): Promise<number> {
  const argv = [...(o.netns ? netnsPrefix(o.netns) : []), ...selfCommand(), ...o.args];
  const out = o.keepOutput ? 'inherit' : 'ignore';
  const pc = o.netns && o.procConnector ? passProcConnector(4) : null;
  const stdio: StdioOptions = ['ignore', out, out, 'pipe', ...(pc?.fd != null ? [pc.fd] : [])];
  const env = { ...process.env, [CHILD_ENV]: '3', ...(o.netns ? { [NETNS_ENV]: o.netns } : {}), ...pc?.env };
  let child: ChildProcess;
  try {
    child = spawn(argv[0]!, argv.slice(1), { stdio, env, detached: true });
  } catch (e) {
    process.stderr.write(`vipd: cannot start the daemon: ${(e as Error).message}\n`);
    return Promise.resolve(1);
  } finally {
    pc?.close();
  }
  return new Promise((resolve) => {
    let done = false;
    let told = false;
    let buf = '';
    const finish = (code: number): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      child.stdio[3]?.destroy();
      child.unref();
      resolve(code);
    };
    const timer = setTimeout(() => {
      process.stderr.write(`vipd: the daemon (pid ${child.pid}) did not report within ${(o.timeoutMs ?? 60_000) / 1000} s: stopped it\n`);
      if (child.pid) process.kill(child.pid, 'SIGTERM');
      finish(1);
    }, o.timeoutMs ?? 60_000);
    child.once('error', (e: NodeJS.ErrnoException) => {
      const what = e.code === 'ENOENT' && o.netns ? 'nsenter (util-linux) is needed for --namespace' : e.message;
      process.stderr.write(`vipd: cannot start the daemon: ${what}\n`);
      finish(1);
    });
    child.stdio[3]!.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        let m: { stderr?: string; ready?: boolean };
        try {
          m = JSON.parse(line) as typeof m;
        } catch {
          m = { stderr: `${line}\n` };
        }
        if (m.stderr) {
          process.stderr.write(m.stderr);
          told = true;
        }
        if (m.ready) finish(0);
      }
    });
    let pipeClosed = false;
    let onPipeClosed = (): void => undefined;
    child.stdio[3]!.once('close', () => {
      pipeClosed = true;
      onPipeClosed();
    });
    child.once('exit', (code, signal) => {
      // Read the last report lines first (a script the child started may hold the pipe: wait a little only).
      const report = (): void => {
        if (!done && signal) process.stderr.write(`vipd: the daemon was ended by ${signal} before it started\n`);
        else if (!done && code && !told) process.stderr.write(`vipd: the daemon exited with code ${code} before it started (vipd -n -l ... shows why)\n`);
        finish(code ?? 1);
      };
      if (pipeClosed) return report();
      onPipeClosed = report;
      setTimeout(report, 500).unref();
    });
  });
}

/**
 * Foreground (-n) inside a namespace: run this program again under nsenter with the same
 * arguments and stdio, pass it SIGTERM/SIGINT/SIGHUP/SIGUSR1/SIGUSR2, and resolve to its exit
 * code. (The pid files hold the inner process's pid: a signal to it stops it just the same.)
 * `procConnector`: the configuration has a vrrp_track_process (the child gets a connector as fd 3).
 */
export function runInNetns(name: string, args: string[], opts: { procConnector?: boolean } = {}): Promise<number> {
  if (!existsSync(join(NETNS_DIR, name))) {
    process.stderr.write(`vipd: no network namespace ${name} (${join(NETNS_DIR, name)} does not exist): create it first (ip netns add ${name}) or fix --namespace / net_namespace\n`);
    return Promise.resolve(1);
  }
  const argv = [...netnsPrefix(name), ...selfCommand(), ...args];
  const pc = opts.procConnector ? passProcConnector(3) : null;
  let child: ChildProcess;
  try {
    const stdio: StdioOptions = ['inherit', 'inherit', 'inherit', ...(pc?.fd != null ? [pc.fd] : [])];
    child = spawn(argv[0]!, argv.slice(1), { stdio, env: { ...process.env, [NETNS_ENV]: name, ...pc?.env } });
  } finally {
    pc?.close();
  }
  const sigs: NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGUSR1', 'SIGUSR2'];
  const pass = (s: NodeJS.Signals): void => {
    if (child.exitCode === null && child.pid) child.kill(s);
  };
  for (const s of sigs) process.on(s, pass);
  return new Promise((resolve) => {
    child.once('error', (e: NodeJS.ErrnoException) => {
      process.stderr.write(`vipd: cannot enter namespace ${name}: ${e.code === 'ENOENT' ? 'nsenter (util-linux) is needed' : e.message}\n`);
      resolve(1);
    });
    child.once('exit', (code, signal) => {
      for (const s of sigs) process.off(s, pass);
      resolve(code ?? (signal ? 128 + (constants.signals[signal] ?? 0) : 1));
    });
  });
}

/**
 * vipctl's side of the control socket (docs/control-api.md): one request and its reply, or a
 * stream of watch events. Every failure is a CliError with the exit code vipctl documents:
 * 5 no daemon answers, 6 permission denied, 1 the daemon went away or refused.
 */
import { connect, type Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { currentNetns, runtimePaths } from '../os/paths.js';
import { CliError } from './errors.js';

/** The control socket of a daemon in the root namespace without configuration id. */
export const DEFAULT_SOCKET = '/run/vipd/vipd.sock';

/**
 * The control socket of the daemon of the network namespace this process runs in (with
 * configuration id `configId`): the rule vipd uses for its own default (src/os/paths.ts).
 */
export function defaultSocket(configId: string | null): string {
  try {
    return runtimePaths(currentNetns(), configId).socket;
  } catch (e) {
    throw new CliError(`--config-id: ${(e as Error).message}`);
  }
}
/** Nothing listens on the socket (or it does not exist). */
export const EXIT_NO_DAEMON = 5;
/** The socket's permissions keep this user out. */
export const EXIT_DENIED = 6;
/** The daemon refused a request, or closed the connection while vipctl waited on it. */
export const EXIT_DAEMON_FAILED = 1;

/** The message `vipctl watch` ends with when the daemon closes the stream (it stopped). */
export const DAEMON_CLOSED = 'the daemon closed the connection (stopped?)';

function open(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(path);
    s.once('connect', () => resolve(s));
    s.once('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EACCES' || e.code === 'EPERM') reject(new CliError(`permission denied on ${path} (root or the control group only)`, EXIT_DENIED));
      else if (e.code === 'ENOENT' || e.code === 'ECONNREFUSED') reject(new CliError(`no vipd answers on ${path} (is it running? --socket PATH)`, EXIT_NO_DAEMON));
      else reject(new CliError(`${path}: ${e.message}`, EXIT_NO_DAEMON));
    });
  });
}

export interface Reply {
  api: number;
  id?: number;
  ok: boolean;
  result?: unknown;
  error?: string;
  event?: unknown;
}

function parse(line: string): Reply {
  try {
    return JSON.parse(line) as Reply;
  } catch {
    throw new CliError(`the daemon sent a line that is not JSON: ${line.slice(0, 80)}`, EXIT_DAEMON_FAILED);
  }
}

/**
 * Send `{api:1, id:1, cmd, ...args}` and resolve with the daemon's reply (ok or not). Throws
 * CliError 5/6 when the socket cannot be reached, 5 when the daemon closes without answering.
 */
export async function request(path: string, cmd: string, args: Record<string, unknown> = {}): Promise<Reply> {
  const s = await open(path);
  s.on('error', () => undefined); // a reset is seen as the end of the stream below
  s.write(`${JSON.stringify({ api: 1, id: 1, cmd, ...args })}\n`);
  const rl = createInterface({ input: s, crlfDelay: Infinity });
  try {
    for await (const line of rl) {
      const r = parse(line);
      if (r.id === 1 || !r.ok) return r;
    }
  } catch (e) {
    if (e instanceof CliError) throw e;
  } finally {
    s.destroy();
  }
  throw new CliError('the daemon closed the connection without answering', EXIT_NO_DAEMON);
}

/**
 * Stream watch events to `onEvent`. Resolves when SIGINT/SIGTERM ends it (the user's choice);
 * throws CliError exit 1 with DAEMON_CLOSED when the daemon closes the stream (it stopped or
 * crashed), or with the daemon's reason when it drops this watcher (too slow).
 */
export async function watch(path: string, onEvent: (e: unknown) => void): Promise<void> {
  const s = await open(path);
  let interrupted = false;
  const stop = (): void => {
    interrupted = true;
    s.destroy();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  s.on('error', () => undefined); // ECONNRESET when the daemon dies: the stream just ends
  s.write(`${JSON.stringify({ api: 1, id: 1, cmd: 'watch' })}\n`);
  try {
    for await (const line of createInterface({ input: s, crlfDelay: Infinity })) {
      const r = parse(line);
      if (r.event !== undefined) onEvent(r.event);
      else if (!r.ok) throw new CliError(`watch ended by the daemon: ${r.error ?? 'no reason given'}`, EXIT_DAEMON_FAILED);
    }
  } catch (e) {
    if (e instanceof CliError) throw e;
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    s.destroy();
  }
  if (!interrupted) throw new CliError(DAEMON_CLOSED, EXIT_DAEMON_FAILED);
}

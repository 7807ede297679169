/** vipctl's side of the control socket: one request, or a stream of watch events. */
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
export const EXIT_NO_DAEMON = 5;
export const EXIT_DENIED = 6;

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

export async function request(path: string, cmd: string, args: Record<string, unknown> = {}): Promise<Reply> {
  const s = await open(path);
  s.write(`${JSON.stringify({ api: 1, id: 1, cmd, ...args })}\n`);
  const rl = createInterface({ input: s });
  try {
    for await (const line of rl) {
      const r = JSON.parse(line) as Reply;
      if (r.id === 1 || !r.ok) return r;
    }
    throw new CliError('the daemon closed the connection without answering', EXIT_NO_DAEMON);
  } finally {
    s.destroy();
  }
}

/** Stream watch events to `onEvent` until the daemon closes the connection or a signal. */
export async function watch(path: string, onEvent: (e: unknown) => void): Promise<void> {
  const s = await open(path);
  s.write(`${JSON.stringify({ api: 1, id: 1, cmd: 'watch' })}\n`);
  const stop = (): void => void s.destroy();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  for await (const line of createInterface({ input: s })) {
    const r = JSON.parse(line) as Reply;
    if (r.event !== undefined) onEvent(r.event);
    else if (!r.ok) throw new CliError(`watch ended: ${r.error}`, EXIT_NO_DAEMON);
  }
}

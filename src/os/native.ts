/** Loader and types for the native fd layer (native/vipd_fd.cc). */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export interface NativeError extends Error {
  errno: number;
  code: string;
  syscall: string;
}

export interface Watcher {
  stop(): void;
}

/** A BatchWatcher can also be read synchronously: everything queued now, callbacks included. */
export interface BatchWatcher extends Watcher {
  drain(): void;
}

export interface NativeFd {
  socket(domain: number, type: number, protocol: number): number;
  bind(fd: number, sockaddr: Buffer): void;
  setsockopt(fd: number, level: number, name: number, value: number | Buffer): void;
  getsockopt(fd: number, level: number, name: number, size: number): Buffer;
  /** With `control` (packed struct cmsghdr bytes) it is a sendmsg carrying them. */
  sendto(fd: number, data: Buffer, sockaddr: Buffer | null, control?: Buffer): number;
  /** SO_ATTACH_FILTER with packed struct sock_filter entries. */
  attachFilter(fd: number, program: Buffer): void;
  /** timerfd_create(CLOCK_MONOTONIC) */
  timerfd(): number;
  /** Arm at an absolute CLOCK_MONOTONIC time in ns (process.hrtime.bigint's clock); 0n disarms. */
  timerfdSet(fd: number, deadlineNs: bigint): void;
  close(fd: number): void;
  /** mkfifo(2) at `path` with `mode` (less the process umask); throws a NativeError (code EEXIST, ENOENT, EACCES …). */
  mkfifo(path: string, mode: number): void;
  Watcher: new (
    fd: number,
    maxDatagram: number,
    /** rxNs: CLOCK_MONOTONIC nanoseconds when the datagram was read (before any JavaScript). */
    onDatagram: (data: Buffer, from: Buffer, control: Buffer, flags: number, rxNs: number) => void,
    onError: (err: NativeError) => void,
    useRead?: boolean,
  ) => Watcher;
  /**
   * recvmmsg into `slab` (slots of dataMax + 128 + 512 bytes: data, sockaddr, cmsgs), described
   * in `meta` (4 numbers per slot: length, sockaddr length, cmsg length, flags); onBatch(count,
   * rxNs, realMinusMonoNs) must read the slots before it returns (src/os/batch.ts).
   */
  /**
   * posix_spawn of `file` with `argv` and `envp` (`K=V` strings) in `cwd`, on a libuv pool
   * thread (the event loop never waits for the child's exec): in a session of its own, stdin
   * /dev/null, stdout and stderr into one pipe. Calls back with [pid, pidfd, outFd (read end,
   * non-blocking)], or an error (errno, code: ENOENT, EACCES, ENOEXEC …).
   */
  spawn(file: string, argv: string[], envp: string[], cwd: string, cb: (err: NativeError | null, r?: [number, number, number]) => void): void;
  /** waitid on a pidfd: null while the child runs, else [exitCode (-1 if signalled), signal (0 if exited)]. */
  reap(pidfd: number): [number, number] | null;
  /** Calls onReady once when `fd` becomes readable (a pidfd: its process exited), then stops. */
  ReadyWatcher: new (fd: number, onReady: () => void, onError: (err: NativeError) => void) => Watcher;
  BatchWatcher: new (fd: number, slab: Buffer, dataMax: number, meta: Float64Array, onBatch: (count: number, rxNs: number, realMinusMonoNs: number) => void, onError: (err: NativeError) => void) => BatchWatcher;
}

let cached: NativeFd | null = null;

/** The addon, built by `npm ci` (scripts/build-native.mjs). Throws a clear error when missing. */
export function native(): NativeFd {
  if (cached) return cached;
  // Works from src/os (tsx) and dist/os (built): both are two levels below the package root.
  const path = fileURLToPath(new URL('../../native/build/Release/vipd_fd.node', import.meta.url));
  if (!existsSync(path)) throw new Error(`native addon missing at ${path}: run \`npm ci\` (or node scripts/build-native.mjs)`);
  cached = createRequire(import.meta.url)(path) as NativeFd;
  return cached;
}

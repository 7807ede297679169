/** sd_notify(3) without libsystemd: a datagram to $NOTIFY_SOCKET (path or @abstract). */
import { AF_UNIX, SOCK_DGRAM, sockaddrUn } from './linux.js';
import { native } from './native.js';

/** Send `state` (e.g. "READY=1") when NOTIFY_SOCKET is set; returns whether it was sent. */
export function sdNotify(state: string, socketPath = process.env.NOTIFY_SOCKET): boolean {
  if (!socketPath) return false;
  const n = native();
  const fd = n.socket(AF_UNIX, SOCK_DGRAM, 0);
  try {
    n.sendto(fd, Buffer.from(state), sockaddrUn(socketPath));
    return true;
  } finally {
    n.close(fd);
  }
}

/**
 * Batched, allocation-free datagram reception (the per-packet path of the daemon): the addon
 * reads with recvmmsg into one slab this module owns, and each datagram is handed to the
 * callback as the same mutable view, valid only during the call.
 */
import { native, type BatchWatcher, type NativeError } from './native.js';

const FROM = 128;
const CTRL = 512;
const META = 4;

/** One received datagram inside the slab: read it during the callback, copy what must stay. */
export interface DatagramView {
  buf: Buffer;
  off: number;
  len: number;
  fromOff: number;
  fromLen: number;
  ctrlOff: number;
  ctrlLen: number;
  flags: number;
  /** CLOCK_MONOTONIC nanoseconds when the batch was read (before any JavaScript). */
  rxNs: number;
  /** CLOCK_REALTIME - CLOCK_MONOTONIC at that read, ns: maps kernel timestamps to rxNs's clock. */
  realMinusMonoNs: number;
}

export function watchBatched(fd: number, dataMax: number, slots: number, onDatagram: (d: DatagramView) => void, onError: (e: NativeError) => void): BatchWatcher {
  const stride = dataMax + FROM + CTRL;
  const slab = Buffer.alloc(stride * slots);
  const meta = new Float64Array(META * slots);
  const view: DatagramView = { buf: slab, off: 0, len: 0, fromOff: 0, fromLen: 0, ctrlOff: 0, ctrlLen: 0, flags: 0, rxNs: 0, realMinusMonoNs: 0 };
  const onBatch = (count: number, rxNs: number, realMinusMonoNs: number): void => {
    view.rxNs = rxNs;
    view.realMinusMonoNs = realMinusMonoNs;
    for (let i = 0; i < count; i++) {
      const m = i * META;
      view.off = i * stride;
      view.len = meta[m] as number;
      view.fromOff = view.off + dataMax;
      view.fromLen = meta[m + 1] as number;
      view.ctrlOff = view.fromOff + FROM;
      view.ctrlLen = meta[m + 2] as number;
      view.flags = meta[m + 3] as number;
      onDatagram(view);
    }
  };
  return new (native().BatchWatcher)(fd, slab, dataMax, meta, onBatch, onError);
}

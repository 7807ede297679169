/**
 * Classic libpcap file format reader and writer (no pcapng). Both byte orders and both
 * microsecond and nanosecond magics are read; files are written little-endian microsecond.
 */

export const LINKTYPE_ETHERNET = 1;
export const LINKTYPE_RAW = 101;
export const LINKTYPE_LINUX_SLL = 113;
export const LINKTYPE_LINUX_SLL2 = 276;

export interface PcapRecord {
  /** Seconds since the epoch, fractional. */
  time: number;
  origLen: number;
  data: Uint8Array;
}

export interface PcapFile {
  linktype: number;
  snaplen: number;
  nanoseconds: boolean;
  records: PcapRecord[];
}

export class PcapError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PcapError';
  }
}

const GLOBAL_LEN = 24;
const RECORD_LEN = 16;

/** Parse a whole classic pcap file. Throws PcapError with a precise message when it is not one. */
export function readPcap(buf: Uint8Array): PcapFile {
  if (buf.length < GLOBAL_LEN) throw new PcapError(`not a pcap file: ${buf.length} bytes, shorter than the 24-byte header`);
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const magic = dv.getUint32(0, true);
  let le: boolean;
  if (magic === 0xa1b2c3d4 || magic === 0xa1b23c4d) le = true;
  else if (magic === 0xd4c3b2a1 || magic === 0x4d3cb2a1) le = false;
  else if (magic === 0x0a0d0d0a) throw new PcapError('pcapng is not supported; convert with `editcap -F pcap IN OUT`');
  else throw new PcapError(`not a pcap file: bad magic 0x${magic.toString(16).padStart(8, '0')}`);
  const nanoseconds = magic === 0xa1b23c4d || magic === 0x4d3cb2a1;
  const major = dv.getUint16(4, le);
  if (major !== 2) throw new PcapError(`unsupported pcap version ${major}.${dv.getUint16(6, le)}`);
  const snaplen = dv.getUint32(16, le);
  const linktype = dv.getUint32(20, le) & 0x0fffffff;
  const records: PcapRecord[] = [];
  let off = GLOBAL_LEN;
  while (off < buf.length) {
    if (off + RECORD_LEN > buf.length)
      throw new PcapError(`truncated pcap: record header at byte ${off} cut short (packet ${records.length + 1})`);
    const sec = dv.getUint32(off, le);
    const frac = dv.getUint32(off + 4, le);
    const inclLen = dv.getUint32(off + 8, le);
    const origLen = dv.getUint32(off + 12, le);
    off += RECORD_LEN;
    if (inclLen > 0x4000000) throw new PcapError(`corrupt pcap: packet ${records.length + 1} claims ${inclLen} bytes`);
    if (off + inclLen > buf.length)
      throw new PcapError(`truncated pcap: packet ${records.length + 1} needs ${inclLen} bytes, ${buf.length - off} left`);
    records.push({ time: sec + frac / (nanoseconds ? 1e9 : 1e6), origLen, data: buf.subarray(off, off + inclLen) });
    off += inclLen;
  }
  return { linktype, snaplen, nanoseconds, records };
}

/** Serialize records as a little-endian microsecond classic pcap. */
export function writePcap(linktype: number, records: readonly PcapRecord[], snaplen = 262144): Buffer {
  const out = Buffer.alloc(GLOBAL_LEN + records.reduce((n, r) => n + RECORD_LEN + r.data.length, 0));
  out.writeUInt32LE(0xa1b2c3d4, 0);
  out.writeUInt16LE(2, 4);
  out.writeUInt16LE(4, 6);
  out.writeUInt32LE(snaplen, 16);
  out.writeUInt32LE(linktype, 20);
  let off = GLOBAL_LEN;
  for (const r of records) {
    out.set(pcapRecordHeader(r.time, r.data.length, r.origLen), off);
    out.set(r.data, off + RECORD_LEN);
    off += RECORD_LEN + r.data.length;
  }
  return out;
}

/** The 24-byte global header alone (for streaming writers). */
export function pcapGlobalHeader(linktype: number, snaplen = 262144): Buffer {
  return writePcap(linktype, [], snaplen);
}

/** The 16-byte record header (for streaming writers). */
export function pcapRecordHeader(time: number, inclLen: number, origLen = inclLen): Buffer {
  const h = Buffer.alloc(RECORD_LEN);
  let sec = Math.floor(time);
  let usec = Math.round((time - sec) * 1e6);
  if (usec >= 1e6) {
    sec += 1;
    usec -= 1e6;
  }
  h.writeUInt32LE(sec >>> 0, 0);
  h.writeUInt32LE(usec, 4);
  h.writeUInt32LE(inclLen, 8);
  h.writeUInt32LE(origLen, 12);
  return h;
}

/** `vipctl sniff`: decode VRRP/ARP/NA from a capture file and tell who is master. */
import { createWriteStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { LINKTYPE_ETHERNET, PcapError, pcapGlobalHeader, pcapRecordHeader, readPcap } from '../protocol/pcap.js';
import { formatEvent, formatSummary, SniffModel } from './sniff-report.js';

export interface SniffOptions {
  read?: string;
  json?: boolean;
}

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 2,
  ) {
    super(message);
  }
}

export function printer(json: boolean, out: (line: string) => void = (l) => process.stdout.write(`${l}\n`)) {
  const model = new SniffModel();
  return {
    model,
    frame(linktype: number, data: Uint8Array, time: number): void {
      const ev = model.onFrame(linktype, data, time);
      if (ev) out(json ? JSON.stringify(ev) : formatEvent(ev));
    },
    end(): void {
      const s = model.summary();
      out(json ? JSON.stringify(s) : `\n${formatSummary(s)}`);
    },
  };
}

export async function sniffFile(file: string, json: boolean): Promise<void> {
  let buf: Buffer;
  try {
    buf = await readFile(file);
  } catch (e) {
    throw new CliError(`${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
  let pcap;
  try {
    pcap = readPcap(buf);
  } catch (e) {
    if (e instanceof PcapError) throw new CliError(`${file}: ${e.message}`);
    throw e;
  }
  const p = printer(json);
  for (const r of pcap.records) p.frame(pcap.linktype, r.data, r.time);
  p.end();
}

export interface LiveOptions {
  iface: string;
  json: boolean;
  durationS?: number;
  write?: string;
}

/** Live capture on an interface (AF_PACKET); ends after --duration or on SIGINT/SIGTERM. */
export async function sniffLive(o: LiveOptions): Promise<void> {
  // Loaded lazily: `sniff --read` must work where the native addon is not built.
  const { Rtnl } = await import('../os/rtnl.js');
  const { PacketSocket } = await import('../os/packet-socket.js');
  const rtnl = new Rtnl();
  let ifindex: number;
  try {
    ifindex = (await rtnl.link(o.iface)).index;
  } catch {
    throw new CliError(`sniff: no interface ${o.iface} in this network namespace`);
  } finally {
    rtnl.close();
  }
  const out = o.write ? createWriteStream(o.write) : null;
  out?.write(pcapGlobalHeader(LINKTYPE_ETHERNET));
  const p = printer(o.json);
  let sock;
  try {
    sock = new PacketSocket(ifindex, true);
  } catch (e) {
    out?.destroy();
    throw new CliError(`sniff: cannot capture on ${o.iface}: ${(e as Error).message}`);
  }
  sock.on('frame', (f) => {
    out?.write(pcapRecordHeader(f.time, f.data.length));
    out?.write(f.data);
    p.frame(LINKTYPE_ETHERNET, f.data, f.time);
  });
  await new Promise<void>((resolve) => {
    const stop = (): void => resolve();
    if (o.durationS !== undefined) setTimeout(stop, o.durationS * 1000);
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  sock.close();
  p.end();
  if (out) await new Promise<void>((r) => out.end(r));
}

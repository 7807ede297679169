/** `vipctl sniff`: decode VRRP/ARP/NA from a capture file and tell who is master. */
import { createWriteStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { LINKTYPE_ETHERNET, PcapError, pcapGlobalHeader, pcapRecordHeader, readPcap } from '../protocol/pcap.js';
import { CliError } from './errors.js';
import { formatEvent, formatSummary, SniffModel } from './sniff-report.js';

export interface SniffOptions {
  read?: string;
  json?: boolean;
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

/**
 * Capture on an interface (AF_PACKET) until `durationS` passes, a signal arrives, or
 * `onFrame` returns true.
 */
export async function capture(iface: string, durationS: number | undefined, onFrame: (data: Buffer, time: number) => boolean | void): Promise<void> {
  // Loaded lazily: `sniff --read` must work where the native addon is not built.
  const { Rtnl } = await import('../os/rtnl.js');
  const { PacketSocket } = await import('../os/packet-socket.js');
  const rtnl = new Rtnl();
  let ifindex: number;
  try {
    ifindex = (await rtnl.link(iface)).index;
  } catch {
    throw new CliError(`no interface ${iface} in this network namespace`);
  } finally {
    rtnl.close();
  }
  let sock: InstanceType<typeof PacketSocket>;
  try {
    sock = new PacketSocket(ifindex, true);
  } catch (e) {
    throw new CliError(`cannot capture on ${iface}: ${(e as Error).message}`);
  }
  await new Promise<void>((resolve) => {
    const stop = (): void => resolve();
    const timer = durationS !== undefined ? setTimeout(stop, durationS * 1000) : null;
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    sock.on('frame', (f) => {
      if (onFrame(f.data, f.time)) {
        if (timer) clearTimeout(timer);
        stop();
      }
    });
  });
  sock.close();
}

export interface LiveOptions {
  iface: string;
  json: boolean;
  durationS?: number;
  write?: string;
}

/** `vipctl sniff -i`: live, same output as --read, optionally saved as pcap. */
export async function sniffLive(o: LiveOptions): Promise<void> {
  const out = o.write ? createWriteStream(o.write) : null;
  out?.write(pcapGlobalHeader(LINKTYPE_ETHERNET));
  const p = printer(o.json);
  try {
    await capture(o.iface, o.durationS, (data, time) => {
      out?.write(pcapRecordHeader(time, data.length));
      out?.write(data);
      p.frame(LINKTYPE_ETHERNET, data, time);
    });
  } catch (e) {
    out?.destroy();
    if (e instanceof CliError) throw new CliError(`sniff: ${e.message}`, e.exitCode);
    throw e;
  }
  p.end();
  if (out) await new Promise<void>((r) => out.end(r));
}

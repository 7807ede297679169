/** `vipctl sniff`: decode VRRP/ARP/NA from a capture file and tell who is master. */
import { readFile } from 'node:fs/promises';
import { PcapError, readPcap } from '../protocol/pcap.js';
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

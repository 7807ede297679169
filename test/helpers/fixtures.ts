import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

export const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url));

export interface ExpectedPacket {
  frame: number;
  time_epoch: string;
  frame_hex: string;
  protocols: string;
  eth: { src: string; dst: string; type: string };
  ip?: Record<string, unknown> & { version: number; src: string; dst: string; ttl?: number; hop_limit?: number };
  vrrp?: {
    version: number; type: number; vrid: number; priority: number; addr_count: number;
    auth_type?: number; auth_string?: string; adver_int: number; checksum: string;
    checksum_status: string; ip_addresses: string[]; checksum_matches: string[]; reserved_rsvd?: number;
  };
  arp?: { opcode: number; sender_mac: string; sender_ip: string; target_mac: string; target_ip: string; tshark_isgratuitous: string };
  icmpv6?: { checksum_status: string };
  na?: { flags: { R: number; S: number; O: number }; target: string; target_link_layer_option: string };
}

export interface ExpectedFile {
  file: string;
  malformed: boolean;
  packet_count: number;
  packets: ExpectedPacket[];
}

export function expectedFiles(): { name: string; data: ExpectedFile }[] {
  return readdirSync(FIXTURES)
    .filter((f) => f.endsWith('.expected.json'))
    .sort()
    .map((f) => ({ name: f.replace('.expected.json', ''), data: JSON.parse(readFileSync(join(FIXTURES, f), 'utf8')) as ExpectedFile }));
}

export function fixture(name: string): Buffer {
  return readFileSync(join(FIXTURES, name));
}

/** ARP (RFC 826) for IPv4 over Ethernet, and gratuitous ARP (RFC 5227 3 / RFC 9568 7.3). Pure. */
import { formatIPv4, formatMac } from './addr.js';
import { buildEthernet, ETH_P_ARP, ETH_P_IP } from './ip.js';

export const ARP_REQUEST = 1;
export const ARP_REPLY = 2;
const BROADCAST = Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff);
export const ARP_LEN = 28;

export interface ArpPacket {
  op: number;
  senderMac: string;
  senderIp: string;
  targetMac: string;
  targetIp: string;
  /** Sender IP equals target IP: an announcement (RFC 5227 2.3). */
  gratuitous: boolean;
}

/**
 * A gratuitous ARP frame for `ip` from `mac`, Ethernet broadcast. `request` form (keepalived's
 * and FRR's default: opcode 1, target MAC ff:ff:ff:ff:ff:ff) or `reply` form (opcode 2).
 */
export function buildGratuitousArp(mac: Uint8Array, ip: Uint8Array, form: 'request' | 'reply' = 'request'): Buffer {
  const a = Buffer.allocUnsafe(ARP_LEN).fill(0);
  a.writeUInt16BE(1, 0); // htype Ethernet
  a.writeUInt16BE(ETH_P_IP, 2);
  a[4] = 6;
  a[5] = 4;
  a.writeUInt16BE(form === 'request' ? ARP_REQUEST : ARP_REPLY, 6);
  a.set(mac, 8);
  a.set(ip, 14);
  a.set(form === 'request' ? BROADCAST : mac, 18);
  a.set(ip, 24);
  return buildEthernet(BROADCAST, mac, ETH_P_ARP, a);
}

/** Parse an ARP payload (after the Ethernet header); null when not Ethernet/IPv4 ARP. */
export function parseArp(b: Uint8Array): ArpPacket | null {
  if (b.length < ARP_LEN) return null;
  const htype = ((b[0] as number) << 8) | (b[1] as number);
  const ptype = ((b[2] as number) << 8) | (b[3] as number);
  if (htype !== 1 || ptype !== ETH_P_IP || b[4] !== 6 || b[5] !== 4) return null;
  const senderIp = formatIPv4(b, 14);
  const targetIp = formatIPv4(b, 24);
  return {
    op: ((b[6] as number) << 8) | (b[7] as number),
    senderMac: formatMac(b, 8),
    senderIp,
    targetMac: formatMac(b, 18),
    targetIp,
    gratuitous: senderIp === targetIp,
  };
}

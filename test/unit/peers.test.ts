/** The peer table behind `vipctl handover --to` (src/daemon/peers.ts). */
import { describe, expect, it } from 'vitest';
import { PeerTable } from '../../src/daemon/peers.js';
import { parseIP } from '../../src/protocol/addr.js';

const S = 1_000_000;
const ip = (t: string): Uint8Array => parseIP(t)!.bytes;

describe('PeerTable', () => {
  it('keeps the priority each router took over with: a --to handover\'s temporary priority at the end of its period does not stick', () => {
    const t = new PeerTable(4);
    for (let k = 0; k < 5; k++) t.note(ip('192.0.2.12'), 100, k * S, S); // r2 master at 100
    for (let k = 5; k < 9; k++) t.note(ip('192.0.2.12'), 149, k * S, S); // r2 hands over --to r1 (150): advertises 149
    t.note(ip('192.0.2.11'), 150, 9 * S, S); // r1 took over
    expect(t.get('192.0.2.12')!.priority).toBe(100);
    expect(t.get('192.0.2.11')!.priority).toBe(150);
    t.note(ip('192.0.2.12'), 100, 20 * S, S); // a new period of r2 (another router spoke in between)
    t.note(ip('192.0.2.12'), 48, 21 * S, S);
    expect(t.get('192.0.2.12')!.priority).toBe(100);
    t.note(ip('192.0.2.12'), 90, 30 * S, S); // after more than three intervals of silence: a new period
    expect(t.get('192.0.2.12')!.priority).toBe(90);
    expect(t.get('192.0.2.12')!.at).toBe(30 * S);
  });

  it('a resignation (priority 0) is no priority; a router first heard resigning takes its next one', () => {
    const t = new PeerTable(6);
    t.note(ip('fe80::1'), 0, 0, S);
    expect(t.get('fe80::1')!.priority).toBe(0);
    t.note(ip('fe80::1'), 120, S, S);
    t.note(ip('fe80::1'), 0, 2 * S, S);
    expect(t.list()).toEqual([{ address: 'fe80::1', priority: 120, at: 2 * S }]);
  });
});

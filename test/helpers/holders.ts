import { expect } from 'vitest';
import type { NetnsLab } from '../../src/lab/netns.js';

/** The lab nodes whose eth0 carries `cidr` right now. */
export function holdersOf(lab: NetnsLab, nodes: string[], cidr: string): string[] {
  return nodes.filter((n) => lab.addresses(n).includes(cidr));
}

/** Wait until exactly `want` hold `cidr` (VIPs move asynchronously after a transition). */
export async function expectHolders(lab: NetnsLab, nodes: string[], cidr: string, want: string[], timeoutMs = 3000): Promise<void> {
  const end = Date.now() + timeoutMs;
  let got: string[] = [];
  while (Date.now() < end) {
    got = holdersOf(lab, nodes, cidr);
    if (JSON.stringify(got) === JSON.stringify(want)) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  expect(got).toEqual(want);
}

/**
 * The parts of a reload around its plan: letting the event loop breathe between its steps,
 * and confirming with the kernel what it added.
 */
import { setImmediate as setImmediateP } from 'node:timers/promises';
import type { Logger } from 'pino';
import { sameRequest, type KernelObject } from './reconciler/objects.js';
import type { Reconciler } from './reconciler/reconciler.js';

/**
 * Let the event loop run a whole turn (its poll phase: the scheduler's timer, the sockets)
 * between two parts of a reload: with 100 instances at 10 ms adverts a backup's
 * Master_Down_Interval is 36 ms, and the parts of one reload together took 40-50 ms.
 */
export async function breathe(): Promise<void> {
  await setImmediateP();
  await setImmediateP();
}

/** How long a reload waits for the kernel's answer to the objects it adds. */
export const RELOAD_ACK_MS = 5000;

/**
 * After a reload: the objects of `owners` ('' for the static ones) it added or changed that
 * the kernel refused, waited for at most RELOAD_ACK_MS; null when none. `had`: the objects
 * configured before it, by key.
 */
export async function kernelRefusals(rec: Reconciler, owners: readonly string[], had: ReadonlyMap<string, KernelObject>, log: Logger): Promise<string | null> {
  let timer: NodeJS.Timeout | undefined;
  const late = await Promise.race([
    Promise.all(owners.map((o) => rec.settled(o))).then(() => false),
    new Promise<boolean>((ok) => (timer = setTimeout(() => ok(true), RELOAD_ACK_MS))),
  ]);
  clearTimeout(timer);
  const refused = owners.flatMap((o) => rec.failures(o)).filter((f) => {
    const before = had.get(f.object.key);
    return f.op === 'add' && (!before || !sameRequest(before, f.object));
  });
  if (refused.length) return refused.map((f) => `the kernel refused ${f.object.text}: ${f.error}`).join('; ');
  if (late) log.warn({ waitedMs: RELOAD_ACK_MS }, 'reload: the kernel has not answered for every new object yet; they will follow');
  return null;
}

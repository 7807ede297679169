/**
 * `vipd check-config --dump`: the effective model after keepalived's defaults, as plain JSON
 * (what vipd will do: versions, priorities, intervals, addresses, scripts). Positions become
 * "file:line" strings, warnings "file:line:col: message"; intervals stay in microseconds as
 * the model has them (`advertIntervalUs`), with the seconds beside them (`advertInt`).
 */
import type { DaemonConfig } from './model.js';

type Pos = { file: string; line: number; col: number };

function isPos(v: unknown): v is Pos {
  return typeof v === 'object' && v !== null && 'file' in v && 'line' in v && 'col' in v;
}

/** A JSON-ready copy of `c`. */
export function dumpModel(c: DaemonConfig): unknown {
  const withSeconds = {
    ...c,
    instances: c.instances.map((i) => ({ ...i, advertInt: i.advertIntervalUs / 1e6, preemptDelay: i.preemptDelayUs / 1e6 })),
    warnings: c.warnings.map((w) => `${w.pos.file}:${w.pos.line}:${w.pos.col}: ${w.message}`),
  };
  return JSON.parse(JSON.stringify(withSeconds, (_key, value: unknown) => (isPos(value) ? `${value.file}:${value.line}` : value))) as unknown;
}

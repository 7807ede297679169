/**
 * Loading the configuration for vipd's commands, and printing what the loader found:
 * errors as `FILE:LINE:COL: MESSAGE`, warnings as `FILE:LINE:COL: warning: MESSAGE`, a file
 * that cannot be read as `vipd: cannot read FILE: REASON`.
 */
import type { Logger } from 'pino';
import { dumpModel } from '../config/dump.js';
import { ConfigFileError, fsSource } from '../config/fs-source.js';
import { loadKeepalivedConfig } from '../config/keepalived.js';
import { ConfigErrors, type DaemonConfig } from '../config/model.js';

export const DEFAULT_CONF = '/etc/keepalived/keepalived.conf';
/** vipd's exit code for a configuration it refuses. */
export const EXIT_CONFIG = 2;

interface Diag {
  pos: { file: string; line: number; col: number };
  message: string;
}

/**
 * Load `file`; `configId` selects `@ID` lines (null: the loader's default, the short host
 * name, as keepalived). `pause`: awaited now and then (a reload in a running daemon).
 */
export function loadConfig(file: string, configId: string | null, pause?: () => Promise<void>): Promise<DaemonConfig> {
  return loadKeepalivedConfig(file, fsSource, { ...(configId === null ? {} : { configId }), ...(pause ? { pause } : {}) });
}

const where = (d: Diag): string => `${d.pos.file}:${d.pos.line}:${d.pos.col}`;

export function formatWarnings(ws: readonly Diag[]): string {
  return ws.map((w) => `${where(w)}: warning: ${w.message}\n`).join('');
}

export function formatErrors(es: readonly Diag[]): string {
  return es.map((e) => `${where(e)}: ${e.message}\n`).join('');
}

/**
 * The text for a refused configuration: errors, then warnings, then a summary line; for a
 * file that cannot be read at all, the one line `vipd: cannot read FILE: REASON`.
 */
export function refusalText(e: ConfigErrors): string {
  if (e instanceof ConfigFileError) return `vipd: ${e.message}\n`;
  const n = e.errors.length;
  return `${formatErrors(e.errors)}${formatWarnings(e.warnings ?? [])}vipd: ${n} error${n === 1 ? '' : 's'} in the configuration; nothing was changed\n`;
}

/** The effective model as JSON (check-config --dump, -d). */
export function dumpJson(c: DaemonConfig): string {
  return JSON.stringify(dumpModel(c), null, 2);
}

/** Each warning as a log line at level warn, with its position as fields. */
export function logWarnings(log: Logger, c: DaemonConfig): void {
  for (const w of c.warnings ?? []) log.warn({ file: w.pos.file, line: w.pos.line, col: w.pos.col }, w.message);
}

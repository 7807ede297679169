/**
 * Which instances are in maintenance (`vipctl maintenance on`), kept in a file so that a
 * restarted daemon (or a rebooted host) comes back in maintenance, as keepalived users do
 * with a track_file today. The file is JSON, `{"instances": ["VI_1", ...]}`, written whole
 * (a temporary file renamed over it) before the change is applied: a daemon killed in between
 * comes back in the state the operator asked for.
 */
import { readFileSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname, join, relative, basename } from 'node:path';

/**
 * The default file of the daemon whose control socket is `socket`: the same place under
 * /var/lib/vipd as the socket's under /run/vipd (/run/vipd/NETNS/vipd_ID.sock ->
 * /var/lib/vipd/NETNS/vipd_ID.maintenance.json; a socket elsewhere: its name under
 * /var/lib/vipd). /var/lib, not /run: maintenance outlives a reboot.
 */
export function defaultMaintenanceFile(socket: string): string {
  const rel = relative('/run/vipd', socket);
  const name = rel && !rel.startsWith('..') ? rel : basename(socket);
  return join('/var/lib/vipd', name.replace(/\.sock$/, '') + '.maintenance.json');
}

export class MaintenanceStore {
  private readonly names = new Set<string>();

  constructor(readonly path: string) {}

  /**
   * Read the file (none: nobody in maintenance).
   * @throws Error naming the file when it exists but cannot be read or is not the JSON above.
   */
  load(): this {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return this;
      throw new Error(`cannot read the maintenance file ${this.path}: ${(e as Error).message}`);
    }
    let v: unknown;
    try {
      v = JSON.parse(text);
    } catch (e) {
      throw new Error(`the maintenance file ${this.path} is not JSON (${(e as Error).message}): fix or remove it`);
    }
    const list = (v as { instances?: unknown }).instances;
    if (!Array.isArray(list) || !list.every((x) => typeof x === 'string')) throw new Error(`the maintenance file ${this.path} has no "instances" list of names: fix or remove it`);
    for (const n of list) this.names.add(n);
    return this;
  }

  has(name: string): boolean {
    return this.names.has(name);
  }

  list(): string[] {
    return [...this.names].sort();
  }

  /**
   * Put `names` in maintenance (on) or take them out, and write the file.
   * @throws Error naming the file when it cannot be written; nothing changed then.
   */
  async set(names: readonly string[], on: boolean): Promise<void> {
    const next = new Set(this.names);
    for (const n of names) {
      if (on) next.add(n);
      else next.delete(n);
    }
    const tmp = `${this.path}.${process.pid}.tmp`;
    try {
      await mkdir(dirname(this.path), { recursive: true, mode: 0o755 });
      await writeFile(tmp, `${JSON.stringify({ instances: [...next].sort() })}\n`, { mode: 0o644 });
      await rename(tmp, this.path);
    } catch (e) {
      throw new Error(`cannot write the maintenance file ${this.path}: ${(e as Error).message}; nothing changed`);
    }
    this.names.clear();
    for (const n of next) this.names.add(n);
  }
}

/**
 * The files keepalived 2.2.7 keeps around a reload (global_defs), for vipd's reload path
 * (SIGHUP, `vipctl reload`, reload_time_file), each taken from the running configuration:
 *
 * - `reload_file [PATH]` (core/main.c create_reload_file / remove_reload_file): created, or
 *   truncated, mode 0644, before the configuration files are read, and removed once they have
 *   been read, also when reading fails. An update process touches it, reloads, and writes the
 *   files again only once it is gone (a non-empty file it wrote turns empty when the reading
 *   starts). Without PATH: keepalived.reload beside keepalived's pid file (defaultReloadFile).
 *   A file left by an earlier run is removed at start, after the configuration was read.
 * - `reload_check_config [LOG_FILE]`: keepalived runs `keepalived --config-test=LOG_FILE` on
 *   the new files before reloading, and reloads only if they are valid. vipd checks every new
 *   configuration before touching anything, with or without the keyword; with LOG_FILE, each
 *   reload writes there what the check found (truncated first, as keepalived does): the
 *   errors and warnings as FILE:LINE:COL, or that the configuration is valid (with its
 *   warnings), or the daemon's refusal (an interface, a script, a socket), and logs
 *   keepalived's "New config failed validation, see LOG_FILE for details".
 */
import { constants } from 'node:fs';
import { mkdir, open, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import { ConfigErrors, type DaemonConfig, type GlobalModel } from '../config/model.js';
import { formatWarnings, refusalText } from './vipd-config.js';

const errCode = (e: unknown): string => (e as NodeJS.ErrnoException)?.code ?? String(e);

/** keepalived's default reload file: its main pid file's name with `.reload` for `.pid` (/run/keepalived.reload, /run/keepalived/NS/keepalived_ID.reload). */
export function defaultReloadFile(mainPid: string): string {
  return mainPid.replace(/\.pid$/, '') + '.reload';
}

export interface ReloadFilesDeps {
  log: Logger;
  /** The configuration file (named in the check's log). */
  configFile: string;
  /** `reload_file` without a path (defaultReloadFile of this daemon's pid file). */
  defaultPath: string;
}

/** reload_file and reload_check_config for a daemon's reloads. */
export class ReloadFiles {
  /** Directories made for the default reload file, deepest first (removed at stop when empty). */
  readonly madeDirs: string[] = [];

  constructor(private readonly deps: ReloadFilesDeps) {}

  /** The reload file `g` asks for, or null. */
  path(g: GlobalModel): string | null {
    return g.reloadFile ? g.reloadFile.path ?? this.deps.defaultPath : null;
  }

  /** At start, once the configuration was read: a reload file left behind is removed (keepalived does the same). */
  async removeStale(g: GlobalModel): Promise<void> {
    const p = this.path(g);
    if (p) await this.remove(p);
  }

  /** One reload with the running configuration `running`'s settings: `read` the new one, then `applied` its outcome. */
  begin(running: GlobalModel): ReloadCheck {
    return new ReloadCheck(this, this.deps, this.path(running), running.reloadCheckConfig);
  }

  /** keepalived's create_reload_file (the default's directory is made when missing: keepalived's pid directory always exists). */
  async create(p: string): Promise<void> {
    try {
      if (p === this.deps.defaultPath) {
        const first = await mkdir(dirname(p), { recursive: true, mode: 0o755 });
        for (let d = dirname(p); first && !this.madeDirs.includes(d); d = dirname(d)) {
          this.madeDirs.push(d);
          if (d === first) break;
        }
      }
      await (await open(p, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC, 0o644)).close();
    } catch (e) {
      this.deps.log.error({ file: p, err: errCode(e) }, `Failed to create reload file (${p}) ${errCode(e)} - ${(e as Error).message}`);
    }
  }

  /** keepalived's remove_reload_file. */
  async remove(p: string): Promise<void> {
    await unlink(p).catch((e: unknown) => {
      if (errCode(e) !== 'ENOENT') this.deps.log.warn({ file: p, err: errCode(e) }, `cannot remove reload file ${p} (${errCode(e)}): an update process waiting for it to go will wait on`);
    });
  }
}

/** The files of one reload. */
export class ReloadCheck {
  private next: DaemonConfig | null = null;

  constructor(
    private readonly files: ReloadFiles,
    private readonly deps: ReloadFilesDeps,
    private readonly reloadFile: string | null,
    private readonly check: GlobalModel['reloadCheckConfig'],
  ) {}

  /** Read the configuration with `load`, the reload file present meanwhile; a failure is written to the check's log and thrown again. */
  async read(load: () => Promise<DaemonConfig>): Promise<DaemonConfig> {
    if (this.reloadFile) await this.files.create(this.reloadFile);
    try {
      this.next = await load();
      return this.next;
    } catch (e) {
      await this.report(e instanceof ConfigErrors ? refusalText(e) : `vipd: ${(e as Error).message}\n`, true);
      throw e;
    } finally {
      if (this.reloadFile) await this.files.remove(this.reloadFile);
    }
  }

  /** The daemon's reload of what `read` returned: a refusal by its checks is the check's outcome too; anything else means the configuration was valid. */
  async applied<T>(reload: Promise<T>): Promise<T> {
    const warnings = formatWarnings(this.next?.warnings ?? []);
    try {
      const r = await reload;
      await this.report(`${warnings}vipd: ${this.deps.configFile}: the configuration is valid\n`, false);
      return r;
    } catch (e) {
      const refused = (e as { kind?: string }).kind === 'refused';
      await this.report(`${warnings}vipd: ${this.deps.configFile}: ${refused ? `reload refused: ${(e as Error).message}` : 'the configuration is valid'}\n`, refused);
      throw e;
    }
  }

  /** Write the check's log (reload_check_config LOG_FILE), truncated first; O_NOFOLLOW as keepalived's --config-test opens it. */
  private async report(text: string, failed: boolean): Promise<void> {
    const file = this.check?.logFile;
    if (!file) return;
    try {
      const fh = await open(file, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW, 0o644);
      try {
        await fh.writeFile(text);
      } finally {
        await fh.close();
      }
    } catch (e) {
      this.deps.log.error({ file, err: errCode(e) }, `Unable to open config-test log file ${file} ${errCode(e)} - ${(e as Error).message}`);
      return;
    }
    if (failed) this.deps.log.warn({ file }, `New config failed validation, see ${file} for details`);
  }
}

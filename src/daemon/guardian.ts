/**
 * Crash guardian: a small `bash` process that holds a pipe from the daemon. When the daemon
 * dies for any reason, SIGKILL included, the pipe closes and the guardian deletes what the
 * daemon's instances may have held (addresses, routes, rules: the reconciler's lists), then
 * what lives as long as the daemon (VMAC links, the accept-mode table). On a clean exit the
 * daemon has removed them itself: it writes `clean` and the guardian exits without deleting
 * anything (a daemon restarted at once may already hold them again).
 *
 * When: each instance's objects are deleted at its own deadline, Master_Down_Interval of this
 * router (down_timer_adverts x Master_Adver_Interval + its own Skew_Time) after the last
 * advert it actually sent. A lower-priority backup takes over no sooner than that (its
 * Skew_Time is longer, RFC 9568 6.1), so two hosts never hold an address at once, and clients
 * lose only the difference of the two Skew_Times. The daemon writes the deadlines, as each
 * advert goes out, into a file of fixed-width slots (one pwrite on tmpfs, no loop turn); the
 * guardian reads it once the pipe closes. A deadline already past (the daemon stopped long
 * before it died) means at once.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { closeSync, ftruncateSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { runStateDir } from '../os/paths.js';
import { nowUs } from './clock.js';

/** One deadline slot: 17 decimal digits (epoch microseconds) and a newline. */
const SLOT = 18;
/** Lines per `ip -batch` argument (an argument is at most 128 KiB on Linux). */
const BATCH_LINES = 500;

/**
 * The guardian's script. $1: deadlines file, $2: number of group arguments; then each group
 * argument: "SLOT FAMILY" on its first line, then deletion lines (an `ip -batch` text; `ip
 * rule` takes its family only from `-6`, so IPv6 lines go to `ip -6 -batch`); then the final
 * `ip -batch` text; then the final commands, one quoted word list each (`nft … delete table`).
 *
 * Nothing is forked between a deadline and its deletion: one `ip -batch` per family is
 * started with the guardian and reads its lines from a pipe (each line is carried out as it
 * comes), and the waits are `read -t` on a pipe nobody writes (no `sleep` process). Groups
 * are deleted in deadline order, every group due by then in one write per family.
 */
const SCRIPT = `exec {Q4}> >(exec ip -force -batch - 2>/dev/null); p4=$!
exec {Q6}> >(exec ip -6 -force -batch - 2>/dev/null); p6=$!
exec {Z}<> <(:)
IFS= read -r w; [ "$w" = clean ] && exit 0
f=$1; n=$2; shift 2
mapfile -t D < "$f" 2>/dev/null
G=("$@")
order=$(for ((i = 0; i < n; i++)); do h=\${G[i]%%$'\\n'*}; s=\${h% *}; d=\${D[s]:-0}; echo "$((10#\${d:-0})) $i"; done | sort -n)
t4=; t6=
run() { [ -n "$t4" ] && printf %s "$t4" >&$Q4; [ -n "$t6" ] && printf %s "$t6" >&$Q6; t4=; t6=; }
while read -r d i; do
  [ -z "$d" ] && continue
  now=\${EPOCHREALTIME/./}
  if (( d > now )); then
    run
    now=\${EPOCHREALTIME/./}
    w=$(( d - now ))
    printf -v us %06d $((w % 1000000))
    (( w > 0 )) && read -t "$((w / 1000000)).$us" -u $Z
  fi
  h=\${G[i]%%$'\\n'*}
  if [ "\${h#* }" = 6 ]; then t6+="\${G[i]#*$'\\n'}"; else t4+="\${G[i]#*$'\\n'}"; fi
done <<< "$order"
run
exec {Q4}>&- {Q6}>&-
wait $p4 $p6 2>/dev/null
[ -n "\${G[n]}" ] && printf %s "\${G[n]}" | ip -force -batch - 2>/dev/null
for ((i = n + 1; i < \${#G[@]}; i++)); do eval "\${G[i]}" 2>/dev/null; done
rm -f "$f"`;

const SAFE_WORD = /^[0-9a-zA-Z.:/_@%+=-]+$/;

/** What the guardian deletes: each group (an instance) at its deadline, then the rest. */
export interface GuardianPlan {
  /** Per instance, its `ip -batch` deletion lines (rules, routes, addresses) and their family. */
  groups: readonly (readonly { family: 4 | 6; line: string }[])[];
  /** `ip -batch` lines after every group (VMAC links). */
  finalIp: readonly string[];
  /** Commands after that, as argv (the accept-mode table's deletion). */
  finalCmds: readonly (readonly string[])[];
}

export class Guardian {
  private proc: ChildProcess | null = null;
  private fd: number | null = null;
  private readonly file: string;
  private readonly slot = Buffer.alloc(SLOT);
  /** CLOCK_REALTIME - CLOCK_MONOTONIC in us, estimated from below (see realOffset). */
  private offsetUs = -Infinity;
  private offsetAt = -Infinity;
  /** What the running guardian was armed with (arm() does nothing when it is the same). */
  private armedKey = '';
  private skippedLast: string[] = [];
  /** The guardian's $0: `vipd-guardian@` and a hash of the configuration's instance lock (setTag). */
  private tag = 'vipd-guardian';

  /**
   * `wrap`: a command prefix for the shell (tests run it in a namespace with `ip netns exec`).
   * `dir`: where the deadlines file lives (tmpfs; default RUNSTATEDIR/vipd).
   */
  constructor(
    private readonly wrap: string[] = [],
    dir = join(runStateDir(), 'vipd'),
    /** Names the deadlines file (the daemon's pid; tests give another to play an earlier run). */
    id: number = process.pid,
  ) {
    this.file = join(dir, `guardian.${id}.deadlines`);
  }

  /**
   * (Re)start the guardian for this plan; every deadline starts at "now" until an advert sets
   * it. Returns the `ip` lines left out because a word is not safe to pass through
   * a shell (an interface name with a quote in it): the caller logs them.
   */
  arm(plan: GuardianPlan, carry: (slot: number) => number | null = () => null): string[] {
    // a reload that changes nothing here keeps the running guardian and its deadlines (no
    // fork: signals are blocked while Node forks, and two SIGHUPs then merge into one)
    const key = JSON.stringify([plan, this.tag, [...plan.groups.keys()].map(carry)]);
    if (key === this.armedKey && this.proc?.exitCode === null && plan.groups.every((_, k) => carry(k) === k)) return this.skippedLast;
    mkdirSync(join(this.file, '..'), { recursive: true, mode: 0o755 });
    // a re-arm (reload) keeps the deadlines of the instances that go on (`carry`: new slot ->
    // old slot): a crash just after a reload must not delete a master's addresses early
    const before = this.fd !== null ? readFileSync(this.file, 'latin1') : '';
    if (this.fd === null) this.fd = openSync(this.file, 'w', 0o600);
    ftruncateSync(this.fd, 0);
    const zero = `${'0'.repeat(SLOT - 1)}\n`;
    const slots = plan.groups.map((_, k) => {
      const o = carry(k);
      const line = o === null ? '' : before.slice(o * SLOT, (o + 1) * SLOT);
      return /^\d{17}\n$/.test(line) ? line : zero;
    });
    writeSync(this.fd, slots.join(''), 0); // at 0: sent() writes by position and leaves the offset
    // a group of more than BATCH_LINES lines goes in several arguments with the same slot
    const texts: string[] = [];
    plan.groups.forEach((g, slot) => {
      for (const fam of [4, 6] as const) {
        const lines = g.filter((l) => l.family === fam && safeLine(l.line)).map((l) => l.line);
        for (let i = 0; i < lines.length; i += BATCH_LINES) texts.push(`${slot} ${fam}\n${lines.slice(i, i + BATCH_LINES).join('')}`);
      }
    });
    const finalIp = plan.finalIp.filter(safeLine).join('');
    // each word single-quoted: the guardian evaluates the line, and `;` in nft's argv stays a word
    const cmds = plan.finalCmds.map((c) => c.map((w) => `'${w.replace(/'/g, "'\\''")}'`).join(' '));
    const skipped = [...plan.groups.flat().map((l) => l.line), ...plan.finalIp].filter((l) => !safeLine(l));
    const args = [this.file, String(texts.length), ...texts, finalIp, ...cmds];
    const [cmd, ...rest] = [...this.wrap, 'bash', '-c', SCRIPT, this.tag, ...args];
    const next = spawn(cmd!, rest, { stdio: ['pipe', 'ignore', 'ignore'], detached: true });
    next.on('error', () => undefined);
    next.stdin!.on('error', () => undefined);
    next.unref();
    const old = this.proc;
    this.proc = next;
    // The old guardian is ours; SIGKILL makes it die without running its deletes.
    if (old?.pid && old.exitCode === null) old.kill('SIGKILL');
    this.armedKey = key;
    this.skippedLast = skipped;
    return skipped;
  }

  /**
   * Group `slot`'s instance sent an advert now: its objects may be kept until
   * `masterDownUs` (its Master_Down_Interval) from now. One pwrite of 18 bytes.
   */
  sent(slot: number, masterDownUs: number): void {
    if (this.fd === null) return;
    const mono = nowUs();
    const deadline = Math.floor(mono + this.realOffset(mono) + masterDownUs);
    this.slot.write(String(deadline).padStart(SLOT - 1, '0'), 0, SLOT - 1, 'latin1');
    this.slot[SLOT - 1] = 10;
    try {
      writeSync(this.fd, this.slot, 0, SLOT, slot * SLOT);
    } catch {
      // tmpfs full or the file removed by hand: the guardian then deletes at once, never late
    }
  }

  /**
   * Date.now() has millisecond steps: the offset is the largest (Date.now() - monotonic)
   * seen over 10 s (an estimate from below: a deadline too early costs outage, never a
   * second holder), started again every 10 s to follow NTP's slewing.
   */
  private realOffset(mono: number): number {
    const cand = Date.now() * 1000 - mono;
    if (mono - this.offsetAt > 10e6) {
      this.offsetAt = mono;
      this.offsetUs = cand;
    } else if (cand > this.offsetUs) this.offsetUs = cand;
    return this.offsetUs;
  }

  /** Name the guardian after the configuration's instance lock (src/os/instance-lock.ts), before arm(). */
  setTag(lockName: string): void {
    this.tag = `vipd-guardian@${createHash('sha256').update(lockName).digest('hex').slice(0, 16)}`;
  }

  /**
   * Stop the guardians an earlier run of this configuration left in this network namespace
   * (a daemon killed and started again at once): theirs would delete, at their deadlines,
   * what this run has just taken again. Call under the instance lock (no other live vipd
   * runs this configuration here, so any guardian with its tag is a dead run's) and before
   * arm(). Returns their pids (SIGKILLed: they die without deleting; this run's reconciler
   * owns those objects now). `netns`: the namespace to look in (tests: the lab's; the daemon
   * and its guardians share one).
   */
  async stopStale(netns = '/proc/self/ns/net'): Promise<number[]> {
    const own = (await stat(netns)).ino;
    const stopped: number[] = [];
    for (const d of await readdir('/proc')) {
      if (!/^\d+$/.test(d)) continue;
      const pid = Number(d);
      if (pid === this.proc?.pid) continue;
      try {
        const argv = (await readFile(`/proc/${d}/cmdline`, 'latin1')).split('\0');
        if (argv[0] !== 'bash' || argv[3] !== this.tag || argv[4] === this.file) continue;
        if ((await stat(`/proc/${d}/ns/net`)).ino !== own) continue;
        process.kill(pid, 'SIGKILL');
        stopped.push(pid);
        if (argv[4]) await rm(argv[4], { force: true });
      } catch {
        // gone meanwhile, or not ours to read
      }
    }
    return stopped;
  }

  /** Clean exit, everything removed: the guardian goes without deleting anything. */
  release(): void {
    this.proc?.stdin?.end('clean\n');
    this.proc = null;
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
    rmSync(this.file, { force: true });
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  /** The deadlines file (tests). */
  get deadlinesFile(): string {
    return this.file;
  }
}

function safeLine(l: string): boolean {
  return l.endsWith('\n') && l.slice(0, -1).split(' ').every((w) => w === '' || SAFE_WORD.test(w));
}

#!/usr/bin/env node
/**
 * vipctl: who owns a VIP, and what the wire says. Commands: sniff (no daemon needed), status,
 * who-owns, watch, dump, reload (the daemon's control socket, docs/control-api.md). The
 * socket options are accepted before and after the command. Exit codes: 0 ok, 1 the daemon
 * refused or went away (reload: failed and rolled back), 2 usage (reload: refused, nothing
 * changed), 3/4 who-owns, 5 no daemon, 6 permission denied.
 */
import { Command, Option } from 'commander';
import { defaultSocket } from './control-client.js';
import { handover, maintenance } from './handover-commands.js';
import { dump, reload, status, watchEvents, whoOwns, type StatusFormat } from './control-commands.js';
import { CliError } from './errors.js';
import { sniffFile, sniffLive } from './sniff.js';

const program = new Command();
program.name('vipctl').description('vipd control and VRRP inspection tool').version('0.1.0');
program
  .option('-s, --socket <path>', 'vipd control socket (default: the daemon of this network namespace, /run/vipd[/NETNS]/vipd[_ID].sock)')
  .option('--config-id <id>', 'the daemon started with -i ID (or `instance ID`) in this namespace');
program.exitOverride((err) => {
  // commander's own usage errors: exit 2 like every other usage error
  process.exit(err.exitCode === 0 ? 0 : 2);
});

/** `Examples:` after a command's --help; each entry is [command line, what it does]. */
function examples(cmd: Command, list: [string, string][]): Command {
  return cmd.addHelpText('after', `\nExamples:\n${list.map(([c, what]) => `  # ${what}\n  ${c}`).join('\n')}\n`);
}

examples(program, [
  ['vipctl status', 'the daemon of this network namespace: one line per instance'],
  ['vipctl --socket /run/vipd/vipd.sock status -o wide', 'another daemon, every field'],
  ['vipctl who-owns 192.0.2.200', 'who is master for this VIP'],
  ['vipctl sniff -i eth0', 'who is master, from the adverts on the wire'],
  ['vipctl help status', 'help on one command'],
]);

const sniff = program
  .command('sniff')
  .description('decode VRRP adverts, gratuitous ARPs and unsolicited NAs and tell who is master')
  .addOption(new Option('-r, --read <file>', 'read a classic pcap file (Ethernet, Linux cooked v1/v2, raw IP)').conflicts('interface'))
  .option('-i, --interface <name>', 'capture live on an interface (needs CAP_NET_RAW)')
  .option('--duration <seconds>', 'live: stop after this many seconds (default: until Ctrl-C)', parseFloat)
  .option('-w, --write <file>', 'live: also save the capture as a pcap file')
  .option('--json', 'one JSON object per line, then a summary line')
  .action(async (opts: { read?: string; interface?: string; duration?: number; write?: string; json?: boolean }) => {
    if (opts.read) return sniffFile(opts.read, Boolean(opts.json));
    if (!opts.interface) throw new CliError('sniff: give --read FILE or --interface IFACE');
    if (opts.duration !== undefined && !(opts.duration > 0)) throw new CliError('sniff: --duration must be a positive number of seconds');
    return sniffLive({ iface: opts.interface, json: Boolean(opts.json), durationS: opts.duration, write: opts.write });
  });
examples(sniff, [
  ['vipctl sniff -i eth0', 'live, until Ctrl-C'],
  ['vipctl sniff -i eth0 --duration 10 -w vrrp.pcap', '10 s, also saved for Wireshark'],
  ['vipctl sniff --read capture.pcap --json', 'a capture file (tcpdump -w), as JSON lines'],
]);

/** A command that talks to the daemon: takes --socket and --config-id after its name too. */
function daemonCommand(name: string): Command {
  return program
    .command(name)
    .addOption(new Option('-s, --socket <path>', 'vipd control socket (also before the command)'))
    .addOption(new Option('--config-id <id>', 'the daemon started with -i ID in this namespace (also before the command)'));
}

/** The socket: given after the command, else before it, else this namespace's default (src/os/paths.ts). */
function socketOf(o: { socket?: string; configId?: string }): string {
  const g = program.opts<{ socket?: string; configId?: string }>();
  return o.socket ?? g.socket ?? defaultSocket(o.configId ?? g.configId ?? null);
}

const statusCmd = daemonCommand('status')
  .description('state, priority, VIPs and master of every instance (-o wide: all fields)')
  .addOption(new Option('-o, --output <format>', 'wide: every field; json: the stable JSON shape (docs/control-api.md)').choices(['wide', 'json']))
  .option('--json', 'the same as -o json')
  .action(async (o: { socket?: string; configId?: string; json?: boolean; output?: 'wide' | 'json' }) => {
    const format: StatusFormat = o.json ? 'json' : (o.output ?? 'table');
    return status(socketOf(o), format);
  });
examples(statusCmd, [
  ['vipctl status', 'fits 80-100 columns'],
  ['vipctl status -o wide', 'interface, VRID, version, MAC, counters, drops'],
  ['vipctl status --socket /run/vipd/vipd.sock --json', 'another daemon, for scripts'],
]);

const whoCmd = daemonCommand('who-owns')
  .argument('<address>', 'a VIP')
  .description('who is master for this VIP (exit 0 known, 3 nobody master, 4 not configured)')
  .option('--json', 'JSON output')
  .option('--listen <iface>', 'no daemon here: answer from the adverts seen on this interface')
  .option('--timeout <seconds>', 'with --listen: how long to listen', parseFloat, 3)
  .action(async (address: string, o: { socket?: string; configId?: string; json?: boolean; listen?: string; timeout: number }) => {
    process.exitCode = await whoOwns(address, { socket: o.listen ? '' : socketOf(o), json: Boolean(o.json), listen: o.listen, timeout: o.timeout });
  });
examples(whoCmd, [
  ['vipctl who-owns 192.0.2.200', 'asks the daemon of this namespace'],
  ['vipctl who-owns 192.0.2.200 --listen eth0 --timeout 5', 'no daemon here: from the wire'],
]);

const watchCmd = daemonCommand('watch')
  .description('live events: transitions, master and priority changes')
  .option('--json', 'one JSON object per line')
  .action(async (o: { socket?: string; configId?: string; json?: boolean }) => watchEvents(socketOf(o), Boolean(o.json)));
examples(watchCmd, [
  ['vipctl watch', 'until Ctrl-C (exit 0) or until the daemon stops (exit 1)'],
  ['vipctl watch --json | jq .type', 'for scripts'],
]);

const dumpCmd = daemonCommand('dump')
  .description("the daemon's whole state as JSON, for bug reports")
  .action(async (o: { socket?: string; configId?: string }) => dump(socketOf(o)));
examples(dumpCmd, [['vipctl dump > vipd-dump.json', 'attach it to a bug report']]);

const reloadCmd = daemonCommand('reload')
  .description('read the configuration again (as SIGHUP) and say what changed')
  .option('--json', 'the result as JSON')
  .action(async (o: { socket?: string; configId?: string; json?: boolean }) => reload(socketOf(o), Boolean(o.json)));
examples(reloadCmd, [
  ['vipd check-config /etc/keepalived/keepalived.conf && vipctl reload', 'check first, then apply'],
  ['vipctl reload --json | jq .result.changes', 'what changed, per instance (exit 0 applied, 2 refused, 1 failed and rolled back)'],
]);

const handoverCmd = daemonCommand('handover')
  .argument('[instance]', 'the instance (its sync group moves with it); optional when there is one')
  .description('move mastership on purpose, make-before-break: the VIPs stay until the new master is heard')
  .option('--all', 'every instance')
  .option('--to <address>', 'only this router may win (it must have advertised; it takes over by preemption)')
  .option('--json', 'the outcome per instance as JSON')
  .action(async (instance: string | undefined, o: { socket?: string; configId?: string; all?: boolean; to?: string; json?: boolean }) =>
    handover(socketOf(o), { ...o, ...(instance ? { instance } : {}) }));
examples(handoverCmd, [
  ['vipctl handover VI_1', 'the highest-priority backup takes over (exit 0 done, 2 refused: nothing changed, 1 failed)'],
  ['vipctl handover VI_1 --to 192.0.2.12', 'that router, by preemption (it must preempt and have advertised)'],
]);

const maintCmd = daemonCommand('maintenance')
  .argument('<on|off>', 'on: priority 1 (a master hands over first), kept across restarts; off: the configured priority again')
  .argument('[instance]', 'the instance (its sync group moves with it); optional when there is one')
  .description('take this router out of service for its VIPs, and put it back')
  .option('--all', 'every instance')
  .option('--json', 'the outcome per instance as JSON')
  .action(async (onOff: string, instance: string | undefined, o: { socket?: string; configId?: string; all?: boolean; json?: boolean }) =>
    maintenance(socketOf(o), onOff, { ...o, ...(instance ? { instance } : {}) }));
examples(maintCmd, [
  ['vipctl maintenance on --all', 'before rebooting this host: every VIP moves, none comes back until off'],
  ['vipctl maintenance off --all', 'back in service (a preempting router with the highest priority takes its VIPs back)'],
]);

// `vipctl status | head -2`: a closed pipe ends the output, not an error
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});

program.parseAsync(process.argv).catch((e: unknown) => {
  if (e instanceof CliError) {
    if (e.message) process.stderr.write(`vipctl: ${e.message}\n`); // '': the answer is on stdout already (--json)
    process.exit(e.exitCode);
  }
  process.stderr.write(`vipctl: internal error: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(70);
});

#!/usr/bin/env node
/** vipctl: who owns a VIP, and what the wire says. */
import { Command, Option } from 'commander';
import { defaultSocket } from './control-client.js';
import { status, watchEvents, whoOwns } from './control-commands.js';
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

program
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

const socketOpt = (): Option => new Option('-s, --socket <path>', 'vipd control socket (also before the command)');

/** The socket: given after the command, else before it, else this namespace's default (src/os/paths.ts). */
function socketOf(o: { socket?: string }): string {
  const g = program.opts<{ socket?: string; configId?: string }>();
  return o.socket ?? g.socket ?? defaultSocket(g.configId ?? null);
}

program
  .command('status')
  .description('every instance: state, priority, VIPs, the current master and its MAC, counters')
  .addOption(socketOpt())
  .option('--json', 'the stable JSON shape (docs/control-api.md)')
  .action(async (o: { socket?: string; json?: boolean }) => status(socketOf(o), Boolean(o.json)));

program
  .command('who-owns')
  .argument('<address>', 'a VIP')
  .description('who is master for this VIP (exit 0 known, 3 nobody master, 4 not configured)')
  .addOption(socketOpt())
  .option('--json', 'JSON output')
  .option('--listen <iface>', 'no daemon here: answer from the adverts seen on this interface')
  .option('--timeout <seconds>', 'with --listen: how long to listen', parseFloat, 3)
  .action(async (address: string, o: { socket?: string; json?: boolean; listen?: string; timeout: number }) => {
    process.exitCode = await whoOwns(address, { socket: socketOf(o), json: Boolean(o.json), listen: o.listen, timeout: o.timeout });
  });

program
  .command('watch')
  .description('live events: transitions, master changes, priority changes')
  .addOption(socketOpt())
  .option('--json', 'one JSON object per line')
  .action(async (o: { socket?: string; json?: boolean }) => watchEvents(socketOf(o), Boolean(o.json)));

program.parseAsync(process.argv).catch((e: unknown) => {
  if (e instanceof CliError) {
    process.stderr.write(`vipctl: ${e.message}\n`);
    process.exit(e.exitCode);
  }
  process.stderr.write(`vipctl: internal error: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(70);
});

#!/usr/bin/env node
/** vipctl: who owns a VIP, and what the wire says. */
import { Command, Option } from 'commander';
import { CliError, sniffFile, sniffLive } from './sniff.js';

const program = new Command();
program.name('vipctl').description('vipd control and VRRP inspection tool').version('0.1.0');
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

program.parseAsync(process.argv).catch((e: unknown) => {
  if (e instanceof CliError) {
    process.stderr.write(`vipctl: ${e.message}\n`);
    process.exit(e.exitCode);
  }
  process.stderr.write(`vipctl: internal error: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(70);
});

#!/usr/bin/env node
// The API backend of the OpenStack scenario: an HTTP server answering every request with its
// controller's name. No dependencies (it runs on the Vagrant VMs and in the netns lab alike).
//   node backend.mjs --name ctl1 --listen 192.0.2.11:15000 [--exit-with-stdin]
// --exit-with-stdin: exit when stdin closes (the lab's child never outlives the lab).
// Prints "ready" on stdout once listening; exit 2 on bad arguments.
import { createServer } from 'node:http';

const args = process.argv.slice(2);
const arg = (n) => (args.includes(n) ? args[args.indexOf(n) + 1] : undefined);
const name = arg('--name');
const listen = /^(.+):(\d+)$/.exec(arg('--listen') ?? '');
if (!name || !listen) {
  console.error('usage: backend.mjs --name NAME --listen ADDRESS:PORT [--exit-with-stdin]');
  process.exit(2);
}
const server = createServer((req, res) => {
  res.setHeader('content-type', 'text/plain');
  res.end(name);
});
server.keepAliveTimeout = 5000;
server.listen(Number(listen[2]), listen[1].replace(/^\[|\]$/g, ''), () => process.stdout.write('ready\n'));
server.on('error', (e) => {
  console.error(`backend ${name}: ${e.message}`);
  process.exit(1);
});
if (args.includes('--exit-with-stdin')) process.stdin.on('end', () => process.exit(0)).on('error', () => process.exit(0)).resume();
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));

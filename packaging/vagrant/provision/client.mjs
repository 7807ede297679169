#!/usr/bin/env node
// The client of the OpenStack scenario: an HTTP GET to the VIP at a fixed rate, each on a new
// connection (as API clients without keep-alive, and so that every request follows the VIP),
// each with a short timeout. No dependencies: it runs on the client VM and in the netns lab.
//   node client.mjs --url http://192.0.2.250:5000/ [--interval-ms 10] [--timeout-ms 500]
//                   [--seconds N] [--json]
// Requests start on a fixed schedule (start + k * interval), whatever earlier ones do.
// --json: one line per finished request, {"t":START_MS,"ms":DURATION,"via":HAPROXY,"by":BACKEND}
//   or {"t":START_MS,"ms":DURATION,"err":CODE} (t: epoch milliseconds; via: X-Served-By, the
//   controller whose HAProxy answered, i.e. the VIP's holder; by: the backend's answer).
// Otherwise one summary line a second: requests, failures, who answered, slowest request.
// Exit 0 when --seconds elapse (after the last request finishes) or on SIGINT/SIGTERM.
import { request } from 'node:http';

const args = process.argv.slice(2);
const arg = (n, d) => (args.includes(n) ? args[args.indexOf(n) + 1] : d);
const KNOWN = { '--url': 1, '--interval-ms': 1, '--timeout-ms': 1, '--seconds': 1, '--json': 0 };
for (let i = 0; i < args.length; i += 1 + (KNOWN[args[i]] ?? 0)) {
  if (!(args[i] in KNOWN)) {
    console.error(`client.mjs: unknown option ${args[i]} (--url, --interval-ms, --timeout-ms, --seconds, --json)`);
    process.exit(2);
  }
}
const url = arg('--url');
const interval = Number(arg('--interval-ms', '10'));
const timeout = Number(arg('--timeout-ms', '500'));
const seconds = Number(arg('--seconds', '0'));
const json = args.includes('--json');
if (!url || !(interval > 0) || !(timeout > 0) || !(seconds >= 0)) {
  console.error('usage: client.mjs --url URL [--interval-ms 10] [--timeout-ms 500] [--seconds N] [--json]');
  process.exit(2);
}

let window = { n: 0, failed: 0, via: new Map(), slowest: 0, errors: new Map() };
let inflight = 0;
let stopping = false;

function done(rec) {
  inflight--;
  if (json) process.stdout.write(`${JSON.stringify(rec)}\n`);
  window.n++;
  window.slowest = Math.max(window.slowest, rec.ms);
  if (rec.err) {
    window.failed++;
    window.errors.set(rec.err, (window.errors.get(rec.err) ?? 0) + 1);
  } else window.via.set(rec.via, (window.via.get(rec.via) ?? 0) + 1);
  if (stopping && inflight === 0) process.exit(0);
}

function fire() {
  const t = Date.now();
  const t0 = performance.now();
  inflight++;
  let finished = false;
  const finish = (extra) => {
    if (finished) return;
    finished = true;
    done({ t, ms: Math.round((performance.now() - t0) * 10) / 10, ...extra });
  };
  const req = request(url, { agent: false, timeout }, (res) => {
    let body = '';
    res.setEncoding('utf8');
    res.on('data', (d) => (body += d));
    res.on('end', () => finish(res.statusCode === 200 ? { via: String(res.headers['x-served-by'] ?? '?'), by: body } : { err: `http ${res.statusCode}` }));
    res.on('error', (e) => finish({ err: e.code ?? e.message }));
  });
  // the timeout covers the whole request, not only idle sockets
  const timer = setTimeout(() => req.destroy(Object.assign(new Error('timeout'), { code: 'timeout' })), timeout);
  req.on('close', () => clearTimeout(timer));
  req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'timeout' })));
  req.on('error', (e) => finish({ err: e.code ?? e.message }));
  req.end();
}

const start = performance.now();
let k = 0;
function tick() {
  if (stopping) return;
  fire();
  k++;
  if (seconds > 0 && k * interval >= seconds * 1000) return stop();
  setTimeout(tick, Math.max(0, start + k * interval - performance.now()));
}

function stop() {
  stopping = true;
  if (inflight === 0) process.exit(0);
}

if (!json) {
  setInterval(() => {
    const w = window;
    window = { n: 0, failed: 0, via: new Map(), slowest: 0, errors: new Map() };
    const via = [...w.via].map(([k2, v]) => `${k2} ${v}`).join(', ') || '-';
    const errs = [...w.errors].map(([k2, v]) => `${k2} ${v}`).join(', ');
    console.log(`${new Date().toISOString().slice(11, 19)} requests ${w.n} failed ${w.failed}${errs ? ` (${errs})` : ''} answered by ${via}; slowest ${w.slowest.toFixed(0)} ms`);
  }, 1000).unref();
}
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, stop);
tick();

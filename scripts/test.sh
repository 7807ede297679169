#!/usr/bin/env bash
# The README's test command: install dependencies from the lock file (builds dist/ and the
# native addon), lint, and run every test level. Needs root for the namespace tests.
set -euo pipefail
cd "$(dirname "$0")/.."
npm ci --no-audit --no-fund
npm run lint
npm test
# Gross-regression run of the benchmark, vipd only (its bounds are vipd's; keepalived is
# the reference of the full runs in docs/BENCHMARKS.md, not of this check); loose bounds only.
# The jitter part (10 ms adverts beside two busy loops on both cores) runs under
# vrrp_rt_priority, as docs/daemon.md advises for 10 ms adverts on a busy host and as the full
# runs do: at normal priority the busy loops alone keep a master off the CPU for 30-50 ms at
# times, longer than a backup's 36 ms Master_Down_Interval.
bench_out="$(mktemp -t vipd-bench-XXXXXX.json)"
trap 'rm -f "$bench_out"' EXIT
npm run -s bench -- --quick --check --impl vipd --jitter-global 'vrrp_rt_priority 50' --out "$bench_out"
node -e "const r=require('./node_modules/.cache/vitest-results.json');console.log(r.numPassedTests+' passed, '+r.numFailedTests+' failed'+(r.numPendingTests?', '+r.numPendingTests+' skipped':''))"

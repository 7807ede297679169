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
bench_out="$(mktemp -t vipd-bench-XXXXXX.json)"
trap 'rm -f "$bench_out"' EXIT
npm run -s bench -- --quick --check --impl vipd --out "$bench_out"
node -e "const r=require('./node_modules/.cache/vitest-results.json');console.log(r.numPassedTests+' passed, '+r.numFailedTests+' failed'+(r.numPendingTests?', '+r.numPendingTests+' skipped':''))"

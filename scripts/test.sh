#!/usr/bin/env bash
# The README's test command: install dependencies from the lock file (builds dist/ and the
# native addon), lint, and run every test level. Needs root for the namespace tests.
set -euo pipefail
cd "$(dirname "$0")/.."
npm ci --no-audit --no-fund
npm run lint
npm test

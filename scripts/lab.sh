#!/usr/bin/env bash
# README command one: install what the lab needs (idempotent), build, run `npm run lab`.
# Arguments go to the lab (--keep, --keepalived rN; --scenario openstack [--keepalived] [--short]
# [--json]). Needs root (network namespaces).
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
need=()
command -v ip >/dev/null 2>&1 || need+=(iproute2)
command -v ping >/dev/null 2>&1 || need+=(iputils-ping)
if [[ " $* " == *" --keepalived "* || " $* " == *" --scenario "* ]] && ! command -v keepalived >/dev/null 2>&1; then need+=(keepalived); fi
if [[ " $* " == *" --scenario "* ]] && ! command -v haproxy >/dev/null 2>&1; then need+=(haproxy); fi
if [ "${#need[@]}" -gt 0 ]; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
npm ci --no-audit --no-fund --loglevel=error
npm run -s lab -- "$@"

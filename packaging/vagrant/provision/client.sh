#!/usr/bin/env bash
# Provision the client VM of the OpenStack scenario (packaging/vagrant/Vagrantfile runs it as
# root from the checkout synced at /vagrant): Node.js 20 and the client loop of the netns
# scenario (provision/client.mjs), installed as `vipd-scenario-client`: a GET to the VIP every
# 10 ms on a new connection, 500 ms timeout, one summary line a second (its options follow:
# --interval-ms, --timeout-ms, --seconds, --json).
#
#   client.sh        environment: VIP (192.0.2.250), API_PORT (5000), as render-controller.sh
# Idempotent. Exit 1 when a step fails.
set -euo pipefail
[ $# -eq 0 ] || { echo "usage: client.sh (no arguments; VIP and API_PORT from the environment)" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "client.sh: run as root (vagrant provisions with sudo)" >&2; exit 1; }
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VIP=${VIP:-192.0.2.250} API_PORT=${API_PORT:-5000}
export DEBIAN_FRONTEND=noninteractive

# curl for one-off requests by hand; Node.js 20 (node20.sh) for the client loop
if ! command -v curl >/dev/null 2>&1; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends ca-certificates curl >/dev/null
fi
# shellcheck source=node20.sh
. "$here/node20.sh"
install_node20

install -D -m 0644 "$here/client.mjs" /usr/local/lib/vipd-scenario/client.mjs
cat > /usr/local/bin/vipd-scenario-client <<WRAPPER
#!/bin/sh
# The OpenStack scenario's client loop against the VIP (written by provision/client.sh).
exec $(command -v node) /usr/local/lib/vipd-scenario/client.mjs --url http://${VIP}:${API_PORT}/ "\$@"
WRAPPER
chmod 0755 /usr/local/bin/vipd-scenario-client
echo "client.sh: run vipd-scenario-client (GET http://${VIP}:${API_PORT}/ every 10 ms; Ctrl-C stops it)"

#!/usr/bin/env bash
# Provision one controller VM of the OpenStack scenario (packaging/vagrant/Vagrantfile runs it
# as root from the checkout synced at /vagrant): HAProxy on the VIP in front of the API backend
# (provision/backend.mjs) that runs on every controller, and vipd or keepalived 2.2.7 with the
# Kolla-style keepalived.conf that render-controller.sh writes, as the netns scenario does.
#
#   controller.sh NAME PRIORITY [vipd|keepalived]     install, render, (re)start; idempotent
#   controller.sh --render-only DIR NAME PRIORITY [vipd|keepalived]
#                 only render this VM's files into DIR (what the test does; installs nothing)
#
# Environment: IFACE (required: the scenario LAN's NIC in the VM; the Vagrantfile passes it),
# and render-controller.sh's (CONTROLLERS, VIP, API_PORT, BACKEND_PORT, ...; same defaults).
# STATE_FILE is /run/vipd-scenario/state: the notify script appends one line per transition.
#
# Running it again with the other daemon swaps the daemon (the rolling migration: stop one,
# start the other, on this VM only); with another PRIORITY it re-renders and reloads.
# Exit 2 on bad arguments, 1 when a step fails (with what failed).
set -euo pipefail

usage() { echo "usage: controller.sh [--render-only DIR] NAME PRIORITY [vipd|keepalived]" >&2; exit 2; }
render_only=""
if [ "${1:-}" = "--render-only" ]; then
  [ $# -ge 2 ] || usage
  render_only=$2
  shift 2
fi
[ $# -eq 2 ] || [ $# -eq 3 ] || usage
name=$1 priority=$2 daemon=${3:-vipd}
case $daemon in vipd | keepalived) ;; *) echo "controller.sh: the daemon is vipd or keepalived, not '$daemon'" >&2; exit 2 ;; esac
[ -n "${IFACE:-}" ] || { echo "controller.sh: IFACE (this VM's NIC on the scenario LAN) is not set; the Vagrantfile passes it" >&2; exit 2; }

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../../.." && pwd)
conf_dir=/etc/vipd-scenario
# render-controller.sh's defaults, needed here for the backend's address and port
export CONTROLLERS=${CONTROLLERS:-"ctl1=192.0.2.11 ctl2=192.0.2.12 ctl3=192.0.2.13"}
export BACKEND_PORT=${BACKEND_PORT:-15000}
export IFACE STATE_FILE=/run/vipd-scenario/state

if [ -n "$render_only" ]; then
  exec bash "$here/render-controller.sh" "$render_only" "$name" "$priority"
fi

say() { echo "controller.sh $name: $*"; }
die() { echo "controller.sh $name: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "run as root (vagrant provisions with sudo)"
export DEBIAN_FRONTEND=noninteractive

# install_file SRC DEST MODE: copy when different; status 0 when it changed DEST, 1 when not
install_file() {
  if [ -f "$2" ] && cmp -s "$1" "$2"; then return 1; fi
  install -D -m "$3" "$1" "$2" || die "cannot install $2"
}
# install_text DEST MODE < TEXT: the same for a text on stdin
install_text() {
  local tmp status=0
  tmp=$(mktemp /tmp/vipd-provision-XXXXXX)
  cat > "$tmp"
  install_file "$tmp" "$1" "$2" || status=$?
  rm -f "$tmp"
  return "$status"
}

# --- the files, first: bad arguments fail before anything is installed
mkdir -p "$conf_dir"
sum() { { cat "$conf_dir"/* 2>/dev/null || true; } | sha256sum; }
before=$(sum)
bash "$here/render-controller.sh" "$conf_dir" "$name" "$priority"
conf_changed=0
[ "$before" = "$(sum)" ] || conf_changed=1
address=""
for c in $CONTROLLERS; do
  if [ "${c%%=*}" = "$name" ]; then address=${c#*=}; fi
done
[ -n "$address" ] || die "$name is not in CONTROLLERS ($CONTROLLERS)"
ip -4 -o addr show dev "$IFACE" 2>/dev/null | grep -q " $address/" \
  || die "$IFACE does not hold $address (is IFACE right? ip -br addr: $(ip -br addr | tr '\n' ';'))"

# --- packages: HAProxy, keepalived 2.2.7, the native addon's build tools, Node.js 20
missing=()
for p in haproxy keepalived g++ make python3 rsync ca-certificates curl gnupg; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  say "installing ${missing[*]}"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# shellcheck source=node20.sh
. "$here/node20.sh"
install_node20

# --- vipd from the checkout. The Debian package does not exist yet; once it does, this block
# becomes `apt-get install ./vipd_*.deb` (which brings /usr/bin/vipd and the unit). Until then:
# a copy of the checkout in /opt/vipd, built by `npm ci` (native addon + dist/), rebuilt only
# when the synced checkout changed, and /usr/bin/vipd{,ctl} pointing at its bundles.
build_changed=0
# (-rlpt, not -a: the copy belongs to root, not to the vagrant user that owns /vagrant; -O:
# directory times are not changes, the build itself touches them)
changes=$(rsync -rlptiO --delete --exclude=/.git/ --exclude=/node_modules/ --exclude=/dist/ --exclude=/native/build/ "$repo/" /opt/vipd/)
if [ -n "$changes" ] || [ ! -x /opt/vipd/dist/bin/vipd.cjs ] || [ ! -d /opt/vipd/native/build/Release ]; then
  say "building vipd in /opt/vipd (npm ci; log in /var/log/vipd-scenario-build.log)"
  (cd /opt/vipd && npm ci --no-audit --no-fund) >/var/log/vipd-scenario-build.log 2>&1 \
    || { tail -n 30 /var/log/vipd-scenario-build.log >&2; die "npm ci in /opt/vipd failed (log above)"; }
  build_changed=1
fi
for b in vipd vipctl; do ln -sfn "/opt/vipd/dist/bin/$b.cjs" "/usr/bin/$b"; done
vipd --version >/dev/null 2>&1 || die "/usr/bin/vipd does not run: $(vipd --version 2>&1)"

# --- the kernel: HAProxy binds the VIP on every controller, also where it is not held
install_text /etc/sysctl.d/60-vipd-scenario.conf 0644 <<'SYSCTL' || true
# HAProxy binds the VIP before this host holds it (as Kolla sets it)
net.ipv4.ip_nonlocal_bind = 1
net.ipv6.ip_nonlocal_bind = 1
SYSCTL
sysctl -q -p /etc/sysctl.d/60-vipd-scenario.conf
# the notify script's state file lives in /run (gone at reboot; the directory comes back)
echo 'd /run/vipd-scenario 0755 root root -' | install_text /etc/tmpfiles.d/vipd-scenario.conf 0644 || true
systemd-tmpfiles --create /etc/tmpfiles.d/vipd-scenario.conf

# --- the backend: a unit running backend.mjs on this controller's address
backend_changed=0
install_file "$here/backend.mjs" /usr/local/lib/vipd-scenario/backend.mjs 0644 && backend_changed=1
install_text /etc/systemd/system/vipd-scenario-backend.service 0644 <<UNIT && backend_changed=1
[Unit]
Description=OpenStack scenario API backend of $name (answers its name)
After=network-online.target
Wants=network-online.target

[Service]
ExecStart=$(command -v node) /usr/local/lib/vipd-scenario/backend.mjs --name $name --listen $address:$BACKEND_PORT
Restart=on-failure

[Install]
WantedBy=multi-user.target
UNIT

# --- HAProxy: Debian's service with the rendered configuration (Debian's own kept aside once)
[ -e /etc/haproxy/haproxy.cfg.debian ] || cp -p /etc/haproxy/haproxy.cfg /etc/haproxy/haproxy.cfg.debian
haproxy_changed=0
install_file "$conf_dir/haproxy.cfg" /etc/haproxy/haproxy.cfg 0644 && haproxy_changed=1

# --- the daemons: both read /etc/keepalived/keepalived.conf, the rendered file (vipd's unit,
# packaging/systemd/vipd.service, as shipped; keepalived's, Debian's)
ln -sfn "$conf_dir/keepalived.conf" /etc/keepalived/keepalived.conf
unit_changed=0
install_file "$repo/packaging/systemd/vipd.service" /etc/systemd/system/vipd.service 0644 && unit_changed=1
systemctl daemon-reload

# start_or_refresh UNIT RESTART RELOAD: enable it; start it, else restart or reload it when told
start_or_refresh() {
  systemctl enable --quiet "$1"
  if ! systemctl is-active --quiet "$1"; then
    systemctl start "$1" || die "$1 did not start: $(systemctl status --no-pager -n 20 "$1" 2>&1)"
  elif [ "$2" = 1 ]; then
    systemctl restart "$1" || die "$1 did not restart: $(systemctl status --no-pager -n 20 "$1" 2>&1)"
  elif [ "$3" = 1 ]; then
    systemctl reload "$1" || die "$1 did not reload: $(systemctl status --no-pager -n 20 "$1" 2>&1)"
  fi
}
start_or_refresh vipd-scenario-backend.service "$backend_changed" 0
start_or_refresh haproxy.service 0 "$haproxy_changed"
for _ in $(seq 50); do "$conf_dir/check_alive.sh" && break; sleep 0.2; done
"$conf_dir/check_alive.sh" || die "HAProxy does not answer its health check: $(systemctl status --no-pager -n 20 haproxy 2>&1)"

# one daemon at a time: stop the other first (a master's SIGTERM hands the VIP over), then
# start this one (it comes up BACKUP: state BACKUP, nopreempt)
if [ "$daemon" = vipd ]; then other=keepalived; restart=$((unit_changed | build_changed)); else other=vipd; restart=0; fi
if systemctl is-active --quiet "$other" || systemctl is-enabled --quiet "$other" 2>/dev/null; then
  say "stopping $other"
  systemctl disable --quiet --now "$other"
fi
start_or_refresh "$daemon.service" "$restart" "$conf_changed"
say "$daemon active (priority $priority on $IFACE); HAProxy on ${VIP:-192.0.2.250}:${API_PORT:-5000}; transitions in $STATE_FILE"

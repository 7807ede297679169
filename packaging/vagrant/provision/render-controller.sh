#!/usr/bin/env bash
# Render one controller's files for the OpenStack scenario: the Kolla-style keepalived.conf
# (read unchanged by vipd and by keepalived 2.2.7), HAProxy's configuration, the check script
# and the state-recording notify script. The same script serves the netns scenario
# (`npm run lab -- --scenario openstack`, OUTDIR = its temporary directory) and the Vagrant
# VMs (provision/controller.sh, OUTDIR = /etc/vipd-scenario), so neither can drift.
#
#   render-controller.sh OUTDIR NAME PRIORITY
#
# Environment (defaults are Kolla's where Kolla has one):
#   CONTROLLERS   "ctl1=192.0.2.11 ctl2=192.0.2.12 ctl3=192.0.2.13": every controller's
#                 address; each HAProxy balances over the backends of all of them
#   VIP=192.0.2.250  IFACE=eth0  VRID=51  API_PORT=5000  BACKEND_PORT=15000  HEALTH_PORT=18404
#   ADVERT_INT=1  CHECK_INTERVAL=2  CHECK_FALL=2  CHECK_RISE=10   (kolla-ansible's values)
#   AUTH_PASS     the VRRP password (Kolla: 40 characters from kolla-genpwd; VRRPv2 PASS
#                 carries the first 8, as keepalived)
#   STATE_FILE    when set, a `notify` script appends "EPOCH TYPE NAME STATE PRIORITY" lines
#                 to it on every transition (how the scenario watches both implementations)
# Files written (0644, scripts 0755): OUTDIR/keepalived.conf, OUTDIR/haproxy.cfg,
# OUTDIR/check_alive.sh and, with STATE_FILE, OUTDIR/notify.sh. Exit 2 on bad arguments.
set -euo pipefail

usage() { echo "usage: render-controller.sh OUTDIR NAME PRIORITY (see the header for the environment)" >&2; exit 2; }
[ $# -eq 3 ] || usage
outdir=$1 name=$2 priority=$3
[[ $name =~ ^[a-z][a-z0-9-]*$ ]] || { echo "render-controller.sh: bad NAME '$name'" >&2; exit 2; }
[[ $priority =~ ^[0-9]+$ ]] && [ "$priority" -ge 1 ] && [ "$priority" -le 254 ] || { echo "render-controller.sh: PRIORITY must be 1..254, not '$priority'" >&2; exit 2; }
[ -d "$outdir" ] || { echo "render-controller.sh: no directory $outdir" >&2; exit 2; }
outdir=$(cd "$outdir" && pwd)

CONTROLLERS=${CONTROLLERS:-"ctl1=192.0.2.11 ctl2=192.0.2.12 ctl3=192.0.2.13"}
VIP=${VIP:-192.0.2.250} IFACE=${IFACE:-eth0} VRID=${VRID:-51}
API_PORT=${API_PORT:-5000} BACKEND_PORT=${BACKEND_PORT:-15000} HEALTH_PORT=${HEALTH_PORT:-18404}
ADVERT_INT=${ADVERT_INT:-1} CHECK_INTERVAL=${CHECK_INTERVAL:-2} CHECK_FALL=${CHECK_FALL:-2} CHECK_RISE=${CHECK_RISE:-10}
AUTH_PASS=${AUTH_PASS:-vipdLabKollaStyle40CharacterPassword0123}
STATE_FILE=${STATE_FILE:-}

self=""
servers=""
for c in $CONTROLLERS; do
  cname=${c%%=*} caddr=${c#*=}
  [ "$cname" = "$name" ] && self=$caddr
  servers+="    server ${cname} ${caddr}:${BACKEND_PORT} check inter 500 fall 2 rise 2"$'\n'
done
[ -n "$self" ] || { echo "render-controller.sh: $name is not in CONTROLLERS ($CONTROLLERS)" >&2; exit 2; }

# The check: Kolla's check_alive asks HAProxy itself whether it is alive (`show info` on its
# stats socket); this one asks HAProxy's health endpoint (monitor-uri) on 127.0.0.1, which is
# local to the host or network namespace it runs in (a `pidof haproxy` would see every
# namespace's HAProxy). bash, for /dev/tcp.
cat > "$outdir/check_alive.sh" <<CHECK
#!/bin/bash
# exit 0 when this host's HAProxy answers its health endpoint within 2 s, 1 otherwise
{ exec 3<>/dev/tcp/127.0.0.1/${HEALTH_PORT}; } 2>/dev/null || exit 1
printf 'GET /healthz HTTP/1.0\\r\\nHost: 127.0.0.1\\r\\n\\r\\n' >&3 || exit 1
IFS= read -r -t 2 line <&3 || exit 1
[[ \$line == 'HTTP/1.'[01]' 200'* ]] || exit 1
exit 0
CHECK
chmod 0755 "$outdir/check_alive.sh"

notify_line=""
if [ -n "$STATE_FILE" ]; then
  cat > "$outdir/notify.sh" <<NOTIFY
#!/bin/sh
# keepalived's notify arguments: TYPE NAME STATE PRIORITY; one line per transition
echo "\$(date +%s.%N) \$1 \$2 \$3 \$4" >> '${STATE_FILE}'
NOTIFY
  chmod 0755 "$outdir/notify.sh"
  notify_line="    notify \"$outdir/notify.sh\""
fi

cat > "$outdir/keepalived.conf" <<CONF
# Kolla-style keepalived.conf for controller ${name} (kolla-ansible's loadbalancer role:
# check_alive tracked, nopreempt, priority by host, VRRP's default version, PASS with a long
# password). Rendered by packaging/vagrant/provision/render-controller.sh.
vrrp_script check_alive {
    script "${outdir}/check_alive.sh"
    interval ${CHECK_INTERVAL}
    fall ${CHECK_FALL}
    rise ${CHECK_RISE}
}

vrrp_instance kolla_internal_vip_${VRID} {
    state BACKUP
    nopreempt
    interface ${IFACE}
    virtual_router_id ${VRID}
    priority ${priority}
    advert_int ${ADVERT_INT}
    virtual_ipaddress {
        ${VIP} dev ${IFACE}
    }
    authentication {
        auth_type PASS
        auth_pass ${AUTH_PASS}
    }
    track_script {
        check_alive
    }
${notify_line}
}
CONF

cat > "$outdir/haproxy.cfg" <<HAPROXY
# HAProxy of controller ${name}: the API on the VIP, balanced over every controller's backend.
global
    maxconn 4096

defaults
    mode http
    timeout connect 300ms
    timeout client 10s
    timeout server 10s
    retries 2
    option redispatch 1

frontend health
    bind 127.0.0.1:${HEALTH_PORT}
    monitor-uri /healthz

frontend api
    bind ${VIP}:${API_PORT}
    http-response set-header X-Served-By ${name}
    default_backend api

backend api
    balance roundrobin
${servers}
HAPROXY

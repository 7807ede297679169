/**
 * The kernel objects that follow VRRP state, built once from the model: an instance's
 * addresses (virtual_ipaddress, virtual_ipaddress_excluded), routes (virtual_routes) and rules
 * (virtual_rules), and the host's static_ipaddress / static_routes / static_rules. Each knows
 * its identity (the same string the kernel's dumps and events give, src/os/rtnl-*.ts), how to
 * be added or deleted (an rtnetlink request) and the `ip -batch` line the crash guardian
 * deletes it with.
 *
 * keepalived 2.2.7's order (vrrp.c vrrp_state_become_master / vrrp_restore_interface):
 * addresses, then routes, then rules on the way up; the reverse on the way down.
 */
import type { InstanceModel, RouteModel, RuleModel, VipConfig } from '../../config/model.js';
import type { Family } from '../../protocol/addr.js';
import { addrDelLine, addrKey, addrRequest, vipAddrSpec } from '../../os/rtnl-addr.js';
import { modelRouteKey, routeDelLine, routeRequest } from '../../os/rtnl-route.js';
import { modelRuleKey, ruleDelLine, ruleRequest } from '../../os/rtnl-rule.js';

export type ObjectKind = 'addr' | 'route' | 'rule';

/** One kernel object vipd adds and deletes. */
export interface KernelObject {
  kind: ObjectKind;
  /** Identity, as src/os/rtnl-*.ts computes it from a dump or an event. */
  key: string;
  family: Family;
  /** For the log: `198.51.100.1/32 dev eth0`, `route 0.0.0.0/0 via 203.0.113.1 dev eth0`. */
  text: string;
  /** The rtnetlink request that adds (`add`) or deletes (`del`) it, with this sequence number. */
  request(op: 'add' | 'del', seq: number): Buffer;
  /** The `ip [-6] -force -batch -` line that deletes it (crash guardian), with its newline. */
  delLine: string;
  /** An address carried in adverts (announced by GARP / NA); excluded ones are announced too, as keepalived does. */
  vip: VipConfig | null;
  /** The interface it lives on (addresses), for the announcer and the accept-mode filter. */
  ifname: string | null;
  /** keepalived's `no_track`: deleted by someone else, it stays gone until its instance next becomes MASTER. */
  noTrack: boolean;
}

/** The same request (identity and options: a label, a scope, a metric), compared as the add request's bytes. */
export function sameRequest(a: KernelObject, b: KernelObject): boolean {
  return a === b || a.request('add', 0).equals(b.request('add', 0));
}

/** Interface name → index, for the objects of one configuration (resolved before anything is touched). */
export type IfindexOf = (name: string) => number;

/** The object for one address on `dev`. */
export function addressObject(v: VipConfig, dev: string, ifindexOf: IfindexOf): KernelObject {
  const ifindex = ifindexOf(dev);
  const spec = vipAddrSpec(v, ifindex);
  return {
    kind: 'addr', key: addrKey(v.family, ifindex, v.address, v.prefixLen), family: v.family,
    text: `${v.address}/${v.prefixLen} dev ${dev}`,
    request: (op, seq) => addrRequest(op, spec, seq),
    delLine: `${addrDelLine(v, dev)}\n`, vip: v, ifname: dev, noTrack: v.noTrack,
  };
}

export function routeObject(r: RouteModel, ifindexOf: IfindexOf): KernelObject {
  const line = routeDelLine(r);
  return {
    kind: 'route', key: modelRouteKey(r, ifindexOf), family: r.family, text: line.replace(/^route del /, 'route '),
    request: (op, seq) => routeRequest(op, r, ifindexOf, seq), delLine: `${line}\n`, vip: null, ifname: null, noTrack: r.noTrack,
  };
}

export function ruleObject(r: RuleModel, ifindexOf: IfindexOf): KernelObject {
  const line = ruleDelLine(r);
  return {
    kind: 'rule', key: modelRuleKey(r, ifindexOf), family: r.family, text: line.replace(/^rule del /, 'rule '),
    request: (op, seq) => ruleRequest(op, r, ifindexOf, seq), delLine: `${line}\n`, vip: null, ifname: null, noTrack: r.noTrack,
  };
}

/**
 * What a MASTER of `m` holds, in keepalived's order (addresses, excluded addresses, routes,
 * rules). `vipDev`: where an address of the instance's family without `dev` goes (its VMAC;
 * default: the instance's interface, as are addresses of the other family).
 */
export function instanceObjects(m: InstanceModel, ifindexOf: IfindexOf, vipDev: string = m.interface): KernelObject[] {
  return [
    ...[...m.vips, ...m.vipsExcluded].map((v) => addressObject(v, v.dev ?? (v.family === m.family ? vipDev : m.interface), ifindexOf)),
    ...m.routes.map((r) => routeObject(r, ifindexOf)),
    ...m.rules.map((r) => ruleObject(r, ifindexOf)),
  ];
}

/** static_ipaddress / static_routes / static_rules: `defaultDev` is the global default_interface. */
export function staticObjects(c: { staticAddresses: VipConfig[]; staticRoutes: RouteModel[]; staticRules: RuleModel[] }, ifindexOf: IfindexOf, defaultDev: string | null): KernelObject[] {
  return [
    ...c.staticAddresses.map((v) => {
      const dev = v.dev ?? defaultDev;
      if (!dev) throw new Error(`${v.pos ? `${v.pos.file}:${v.pos.line}: ` : ''}static_ipaddress ${v.address}: no 'dev' and no default_interface`);
      return addressObject(v, dev, ifindexOf);
    }),
    ...c.staticRoutes.map((r) => routeObject(r, ifindexOf)),
    ...c.staticRules.map((r) => ruleObject(r, ifindexOf)),
  ];
}

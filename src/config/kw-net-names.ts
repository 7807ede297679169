/**
 * The names keepalived 2.2.7 accepts for routing tables, scopes, protocols, DS fields, realms,
 * device groups (iproute2's /etc/iproute2 files) and IP protocols (/etc/protocols), as pure
 * data: vipd's parsers take an `RtNames` and never read files themselves.
 *
 * keepalived 2.2.7 reads /etc/iproute2/{rt_tables,rt_scopes,rt_protos,rt_dsfield,rt_realms,
 * group} (not the `.d` directories) the first time it needs a name, keeps every line of
 * exactly two words `NUMBER NAME`, then adds its built-in names whose number the file did not
 * name (so on Debian, whose rt_protos calls 0 `unspec`, the built-in `none` is not known). A
 * word that is wholly a number (C `strtoul` base 0: decimal, 0x hex, 0 octal) is taken as
 * that number, up to the kind's maximum. `DEFAULT_RT_NAMES` is what keepalived knows without
 * the files; `rtNamesFromFiles` builds the same merge from file contents the caller read.
 */

/** Name -> number, in keepalived's lookup order (file entries first). */
export type NameMap = Map<string, number>;

export interface RtNames {
  /** Routing tables (`table`, `lookup`): max 2^32-1. */
  tables: NameMap;
  /** RT_SCOPE_*: max 255. */
  scopes: NameMap;
  /** RTPROT_* (`protocol` of routes): max 255. */
  protos: NameMap;
  /** `tos`/`dsfield`: max 255 (no built-in names). */
  dsfield: NameMap;
  /** `realms`: max 255 (no built-in names). */
  realms: NameMap;
  /** Device groups (`suppress_ifgroup`): max 2^31-1 (no built-in names). */
  groups: NameMap;
  /** IP protocols for rules' `ipproto` (getprotobyname: names and aliases of /etc/protocols). */
  ipProtos: NameMap;
}

export const MAX = { tables: 0xffffffff, scopes: 255, protos: 255, dsfield: 255, realms: 255, groups: 0x7fffffff } as const;

const BUILTIN: Record<'tables' | 'scopes' | 'protos', [number, string][]> = {
  tables: [[253, 'default'], [254, 'main'], [255, 'local']],
  scopes: [[0, 'global'], [255, 'nowhere'], [254, 'host'], [253, 'link'], [200, 'site']],
  protos: [[0, 'none'], [1, 'redirect'], [2, 'kernel'], [3, 'boot'], [4, 'static'], [8, 'gated'], [9, 'ra'], [10, 'mrt'], [11, 'zebra'], [12, 'bird'], [42, 'babel'], [13, 'dnrouted'], [14, 'xorp'], [15, 'ntk'], [16, 'dhcp']],
};

/** The usual /etc/protocols entries (Debian netbase), for when the caller passes none. */
const IP_PROTOS: [number, string[]][] = [
  [0, ['ip', 'IP']], [1, ['icmp', 'ICMP']], [2, ['igmp', 'IGMP']], [4, ['ipencap', 'IP-ENCAP']], [6, ['tcp', 'TCP']], [17, ['udp', 'UDP']],
  [33, ['dccp', 'DCCP']], [41, ['ipv6', 'IPv6']], [47, ['gre', 'GRE']], [50, ['esp', 'IPSEC-ESP']], [51, ['ah', 'IPSEC-AH']],
  [58, ['ipv6-icmp', 'IPv6-ICMP']], [89, ['ospf', 'OSPFIGP']], [94, ['ipip', 'IPIP']], [103, ['pim', 'PIM']], [112, ['vrrp', 'VRRP']],
  [115, ['l2tp', 'L2TP']], [132, ['sctp', 'SCTP']], [136, ['udplite', 'UDPLite']],
];

/** C `strtoul(text, &end, 0)` over the whole word, non-negative; null when not wholly a number. */
export function base0(text: string): number | null {
  let v: number;
  if (/^0[xX][0-9a-fA-F]+$/.test(text)) v = parseInt(text.slice(2), 16);
  else if (/^0[0-7]*$/.test(text)) v = parseInt(text, 8);
  else if (/^[1-9]\d*$/.test(text)) v = Number(text);
  else return null;
  return Number.isSafeInteger(v) ? v : Number.MAX_SAFE_INTEGER;
}

/** The `NUMBER NAME` lines of an iproute2 names file, as keepalived 2.2.7 keeps them (`#`/`!` start comments). */
export function parseRtFile(text: string, max: number): [number, string][] {
  const out: [number, string][] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/[#!].*$/, '').trim();
    if (!line) continue;
    const w = line.split(/\s+/);
    if (w.length !== 2) continue;
    const id = base0(w[0]!);
    if (id === null || id > max) continue;
    out.push([id, w[1]!]);
  }
  return out;
}

/** /etc/protocols: `name number [aliases…] [# comment]` -> every name and alias. */
export function parseProtocolsFile(text: string): NameMap {
  const m: NameMap = new Map();
  for (const raw of text.split('\n')) {
    const w = raw.replace(/#.*$/, '').trim().split(/\s+/);
    if (w.length < 2 || !/^\d+$/.test(w[1]!)) continue;
    for (const n of [w[0]!, ...w.slice(2)]) if (!m.has(n)) m.set(n, Number(w[1]));
  }
  return m;
}

/** keepalived's merge: the file's entries, then the built-ins whose number the file does not use. */
function merge(file: [number, string][], builtin: [number, string][]): NameMap {
  const m: NameMap = new Map();
  for (const [id, name] of file) if (!m.has(name)) m.set(name, id);
  const ids = new Set(file.map(([id]) => id));
  for (const [id, name] of builtin) if (!ids.has(id) && !m.has(name)) m.set(name, id);
  return m;
}

/**
 * The names keepalived 2.2.7 would know, given a reader of its files (`read(path)` returns the
 * text or null when absent). Paths read: /etc/iproute2/{rt_tables, rt_scopes, rt_protos,
 * rt_dsfield, rt_realms, group} and /etc/protocols (absent: no IP protocol names, as for
 * keepalived).
 */
export function rtNamesFromFiles(read: (path: string) => string | null): RtNames {
  const f = (name: string, max: number): [number, string][] => {
    const t = read(`/etc/iproute2/${name}`);
    return t === null ? [] : parseRtFile(t, max);
  };
  const protocols = read('/etc/protocols');
  return {
    tables: merge(f('rt_tables', MAX.tables), BUILTIN.tables),
    scopes: merge(f('rt_scopes', MAX.scopes), BUILTIN.scopes),
    protos: merge(f('rt_protos', MAX.protos), BUILTIN.protos),
    dsfield: merge(f('rt_dsfield', MAX.dsfield), []),
    realms: merge(f('rt_realms', MAX.realms), []),
    groups: merge(f('group', MAX.groups), []),
    ipProtos: protocols === null ? new Map() : parseProtocolsFile(protocols),
  };
}

function defaultIpProtos(): NameMap {
  const m: NameMap = new Map();
  for (const [n, names] of IP_PROTOS) for (const s of names) m.set(s, n);
  return m;
}

/**
 * keepalived 2.2.7's built-in names only (as without /etc/iproute2 files), plus the usual IP
 * protocol names of /etc/protocols (keepalived has none of its own: without the file it knows
 * only numbers).
 */
export const DEFAULT_RT_NAMES: RtNames = { ...rtNamesFromFiles(() => null), ipProtos: defaultIpProtos() };

/**
 * keepalived's find_entry: a number (base 0) up to `max`, else a name of `names`; null when
 * neither. Negative numbers are refused (keepalived would wrap some of them).
 */
export function lookupName(text: string, names: NameMap, max: number): number | null {
  const n = base0(text);
  if (n !== null) return n <= max ? n : null;
  return names.get(text) ?? null;
}

/** The names of a map, for messages ("main, local, default or 0..4294967295"). */
export function namesList(names: NameMap, max: number): string {
  const list = [...names.keys()];
  return `${list.length ? `${list.join(', ')} or ` : ''}a number 0..${max}`;
}

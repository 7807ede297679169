/** keepalived.conf text for lab routers (the same file feeds vipd and keepalived). */

export interface LabInstance {
  name?: string;
  /** Default eth0. */
  interface?: string;
  vrid: number;
  priority: number;
  advertInt: number;
  version: 2 | 3;
  vips: string[];
  nopreempt?: boolean;
  state?: 'MASTER' | 'BACKUP';
  authPass?: string;
  unicastSrc?: string;
  unicastPeers?: string[];
  extra?: string[];
}

/** `blocks`: top-level text after global_defs (vrrp_script, track_file, … blocks, as written). */
export function labConfig(routerId: string, instances: LabInstance[], global: string[] = [], blocks: string[] = []): string {
  const lines = ['global_defs {', `    router_id ${routerId}`, ...global.map((g) => `    ${g}`), '}', '', ...blocks];
  for (const i of instances) {
    lines.push(`vrrp_instance ${i.name ?? `VI_${i.vrid}`} {`);
    lines.push(`    state ${i.state ?? 'BACKUP'}`, `    interface ${i.interface ?? 'eth0'}`, `    virtual_router_id ${i.vrid}`, `    priority ${i.priority}`);
    lines.push(`    advert_int ${i.advertInt}`, `    version ${i.version}`);
    if (i.nopreempt) lines.push('    nopreempt');
    if (i.authPass) lines.push('    authentication {', '        auth_type PASS', `        auth_pass ${i.authPass}`, '    }');
    if (i.unicastSrc) lines.push(`    unicast_src_ip ${i.unicastSrc}`);
    if (i.unicastPeers) lines.push('    unicast_peer {', ...i.unicastPeers.map((p) => `        ${p}`), '    }');
    for (const e of i.extra ?? []) lines.push(`    ${e}`);
    lines.push('    virtual_ipaddress {', ...i.vips.map((v) => `        ${v}`), '    }', '}', '');
  }
  return lines.join('\n');
}

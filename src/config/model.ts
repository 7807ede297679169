/** The validated configuration model shared by keepalived.conf and the library options. */
import type { Family } from '../protocol/addr.js';
import type { Pos } from './lexer.js';

export interface VipConfig {
  address: string;
  family: Family;
  prefixLen: number;
  /** Interface carrying the VIP; null = the instance's interface. */
  dev: string | null;
  label: string | null;
}

export interface InstanceModel {
  name: string;
  interface: string;
  vrid: number;
  priority: number;
  version: 2 | 3;
  /** Advertisement_Interval in microseconds (v3: multiple of 10 ms; v2: whole seconds). */
  advertIntervalUs: number;
  preempt: boolean;
  preemptDelayUs: number;
  acceptMode: boolean;
  lowerPrioNoAdvert: boolean;
  /** keepalived `state`: informational; every non-owner starts in BACKUP (RFC 9568 6.4.1). */
  initialState: 'MASTER' | 'BACKUP' | null;
  family: Family;
  vips: VipConfig[];
  unicastPeers: string[];
  unicastSrc: string | null;
  /** v2 only: 0 none, 1 simple text password (8 bytes, zero padded). */
  authType: 0 | 1;
  authPass: string | null;
  garpMasterDelayS: number;
  garpMasterRepeat: number;
  pos: Pos;
}

export interface DaemonConfig {
  file: string;
  routerId: string | null;
  /** global_defs vrrp_priority: the daemon's nice value (-20..19); null leaves it as started. */
  vrrpPriority: number | null;
  /** global_defs vrrp_rt_priority: SCHED_RR at this priority (1..99); null: not real-time. */
  vrrpRtPriority: number | null;
  instances: InstanceModel[];
}

export class ConfigErrors extends Error {
  constructor(readonly errors: { pos: Pos; message: string }[]) {
    super(errors.map((e) => `${e.pos.file}:${e.pos.line}:${e.pos.col}: ${e.message}`).join('\n'));
    this.name = 'ConfigErrors';
  }
}

/**
 * The vipd and keepalived daemons a test file starts in its lab, each from labConfig text
 * (keepalived.conf: the same file for both), and stopped together after each test.
 */
import { labConfig, type LabInstance } from '../../src/lab/conf.js';
import type { NetnsLab } from '../../src/lab/netns.js';
import { KeepalivedProcess } from './keepalived.js';
import { VipdProcess } from './vipd.js';

export class LabDaemons {
  vipds: VipdProcess[] = [];
  kas: KeepalivedProcess[] = [];

  constructor(
    private readonly lab: NetnsLab,
    /** The test's temporary directory (made in beforeAll). */
    private readonly dir: () => string,
    /** keepalived's router_id for a node (a per-run one where keepalived instances could meet another run's). */
    private readonly kaRouterId: (node: string) => string = (node) => node,
  ) {}

  /** Start vipd on `node` with these instances, top-level `blocks` and global_defs lines. */
  vipd(node: string, inst: LabInstance[], blocks: string[] = [], global: string[] = []): VipdProcess {
    const p = new VipdProcess(this.lab, node, this.dir(), labConfig(node, inst, global, blocks));
    this.vipds.push(p);
    p.start();
    return p;
  }

  /** Start keepalived 2.2.7 on `node` with the same kind of file. */
  async keepalived(node: string, inst: LabInstance[], blocks: string[] = [], global: string[] = []): Promise<KeepalivedProcess> {
    const k = new KeepalivedProcess(this.lab, node, this.dir(), labConfig(this.kaRouterId(node), inst, global, blocks));
    this.kas.push(k);
    await k.start();
    return k;
  }

  /** Stop every daemon started (keepalived first), by pid. */
  async stopAll(): Promise<void> {
    for (const k of this.kas) await k.stop();
    this.kas = [];
    for (const p of this.vipds) await p.stop();
    this.vipds = [];
  }
}

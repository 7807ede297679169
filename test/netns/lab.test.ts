/**
 * `npm run lab` end to end: it must pass and leave no namespace behind. The daemons and the
 * sniffer are the bundled CLIs the package installs (dist/bin/*.cjs, rebuilt here from the
 * sources), so the bundle is tested on real sockets too.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../src/lab/netns.js';

describe('npm run lab', () => {
  beforeAll(() => {
    execFileSync(process.execPath, ['scripts/bundle.mjs']);
  });

  for (const args of [[], ['--keepalived', 'r2']]) {
    it(`runs election, crash takeover, preemption and graceful stop ${args.join(' ')}`, () => {
      const env = { ...process.env, VIPD_CLI: 'dist' };
      const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/lab/main.ts', ...args], { encoding: 'utf8', timeout: 60_000, env });
      expect(r.status, r.stdout + r.stderr).toBe(0);
      expect(r.stdout).toMatch(/r1 is master: VIP held by \[r1\]; client's neighbour entry 192\.0\.2\.200 -> 02:00:00:00:00:01 \(r1\)/);
      const m = /r2 took over: last advert of r1 -> first advert of r2 = ([\d.]+) ms/.exec(r.stdout);
      // timestamps are the kernel's (the sniffer's SO_TIMESTAMPNS): never before the protocol allows
      expect(Number(m?.[1])).toBeGreaterThan(360);
      expect(Number(m?.[1])).toBeLessThan(700);
      const t = /priority 0 from r1 -> first advert of r2 = ([\d.]+) ms/.exec(r.stdout);
      expect(Number(t?.[1])).toBeGreaterThan(60); // Skew_Time 60.9 ms
      expect(Number(t?.[1])).toBeLessThan(200);
      expect(r.stdout).toMatch(/namespaces removed/);
      // the daemons run with the Node options of the bundle's #! line (scripts/bundle.mjs)
      const flags = /^#!\/usr\/bin\/env -S node (.+)$/m.exec(readFileSync('dist/bin/vipd.cjs', 'utf8').split('\n', 1)[0]!)?.[1];
      expect(flags).toContain('--max-semi-space-size=1');
      expect(r.stdout).toContain(`vipd is ${process.execPath} ${flags} `);
      expect(r.stdout).toMatch(/vipd is \S+ .* \S+\/dist\/bin\/vipd\.cjs/);
      const pid = /namespaces (vl\d+)-/.exec(r.stdout)?.[1];
      expect(run('ip', ['netns', 'list'])).not.toContain(`${pid}-`);
    });
  }
});

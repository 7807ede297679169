// Build native/ with node-gyp against the headers of the Node.js that runs this script
// (no header download: the machine may have no internet). The install prefix is derived
// from process.execPath: <prefix>/bin/node -> <prefix>/include/node.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const nodedir = dirname(dirname(process.execPath));
if (!existsSync(join(nodedir, 'include', 'node', 'node_api.h'))) {
  console.error(`build-native: no Node headers under ${nodedir}/include/node (from ${process.execPath}); install the nodejs headers`);
  process.exit(1);
}
const gyp = createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js');
const r = spawnSync(process.execPath, [gyp, 'rebuild', `--nodedir=${nodedir}`, '--directory', join(root, 'native')], { stdio: 'inherit' });
process.exit(r.status ?? 1);

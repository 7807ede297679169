// Build native/ with node-gyp against the headers of the Node.js that runs this script
// (no header download: the machine may have no internet). The install prefix is derived
// from process.execPath: <prefix>/bin/node -> <prefix>/include/node.
// `npm ci` runs this (prepare): node-gyp's output (hundreds of "gyp info" lines) is kept and
// printed only when the build fails, with node-gyp's exit code; success is one line.
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
const args = [gyp, 'rebuild', `--nodedir=${nodedir}`, '--directory', join(root, 'native')];
const r = spawnSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
if (r.status !== 0) {
  process.stdout.write(r.stdout ?? '');
  process.stderr.write(r.stderr ?? '');
  const why = r.error ? r.error.message : r.signal ? `killed by ${r.signal}` : `exit ${r.status}`;
  console.error(`build-native: node-gyp failed (${why}); its output is above. The addon needs g++, make and python3 (Debian: apt-get install g++ make python3)`);
  process.exit(r.status || 1);
}
console.log('build-native: native/build/Release built');

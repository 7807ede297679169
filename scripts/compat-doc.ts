/** Writes docs/keepalived-compat.md from the keyword tables (`npm run compat-doc`). */
import { writeFileSync } from 'node:fs';
import { compatDoc } from '../src/config/compat-doc.js';

writeFileSync(new URL('../docs/keepalived-compat.md', import.meta.url), compatDoc());

/**
 * docs/keepalived-compat.md, generated from the keyword tables (the parser's own), so the
 * reference cannot drift from what vipd reads. `npm run compat-doc` writes it; a test checks
 * the committed file is current.
 */
import { globalDefsTable } from './kw-global.js';
import { topTable } from './keepalived.js';
import type { Kw, Table } from './spec.js';

const STATUS: Record<Kw<never>['status'], string> = {
  implemented: 'implemented',
  planned: 'warned: not yet',
  outside: 'warned: outside vipd',
  'not-needed': 'warned: not needed',
};

function cell(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

function rows(t: Table<never>, out: string[], done: Set<Table<never>>): void {
  if (done.has(t)) return;
  done.add(t);
  out.push('', `## ${t.block}`, '', '| keyword | syntax | status | keepalived default | vipd |', '|---|---|---|---|---|');
  const subs: Table<never>[] = [];
  for (const k of [...t.keywords].sort((a, b) => a.name.localeCompare(b.name))) {
    const status = k.status === 'planned' ? `${STATUS.planned}${k.issue ? ` (#${k.issue})` : ''}` : STATUS[k.status];
    out.push(`| \`${k.name}\` | ${cell(k.syntax)} | ${status} | ${cell(k.kaDefault ?? '')} | ${cell(k.note)} |`);
    if (k.sub) subs.push(k.sub);
  }
  for (const s of subs) rows(s, out, done);
}

/** The whole reference as Markdown. */
export function compatDoc(): string {
  const out = [
    '# keepalived.conf compatibility',
    '',
    'Every keyword keepalived 2.2.7 reads in the blocks vipd knows, with what vipd does with it. Generated from the',
    'parser\'s keyword tables (`src/config/kw-*.ts`) by `npm run compat-doc`; do not edit by hand.',
    '',
    '- **implemented**: acted on as keepalived 2.2.7 does (differences are in the last column).',
    '- **warned: not yet (#N)**: read and checked into the model; `vipd check-config` and the daemon print a warning',
    '  with file:line saying what keepalived would have done; issue #N implements it (without a number: no issue has it yet).',
    '- **warned: outside vipd**: LVS, SNMP, DBus, BFD: vipd replaces keepalived\'s VRRP process only.',
    '- **warned: not needed**: keepalived tuning that vipd\'s design makes moot; the warning says why.',
    '- A keyword in none of these tables is an error with file:line:col and a "did you mean" suggestion: keepalived',
    '  logs "Unknown keyword" and carries on, vipd refuses the file (`--strict` also refuses warnings).',
  ];
  const done = new Set<Table<never>>();
  rows(topTable as Table<never>, out, done);
  rows(globalDefsTable as Table<never>, out, done);
  return `${out.join('\n')}\n`;
}

/**
 * What keepalived 2.2.7's lib/parser.c does to lines before keywords, mirrored by tree.ts:
 * conditionals, definitions, ~SEQ/~LST, textual includes, braces splitting lines. Each probe
 * is read by real `keepalived -t` in the test: a config of unknown top-level keywords makes
 * keepalived name every line it read ("Unknown keyword 'x'") with its line, which must be
 * exactly the statements vipd reads. The verdict table compares accept/refuse per case.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { expandBraces, fsSource } from '../../src/config/fs-source.js';
import { ConfigErrors } from '../../src/config/model.js';
import { parseFileWithWarnings, type ParseOptions, type Statement } from '../../src/config/tree.js';
import { requireTool } from '../helpers/tools.js';

/** The config id both sides get (`keepalived -i`, `configId`). */
const ID = 'node1';
const MAIN = 'keepalived.conf';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function write(files: Record<string, string>, exec: string[] = []): string {
  const dir = mkdtempSync(join(tmpdir(), 'vipd-pp-'));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  for (const name of exec) chmodSync(join(dir, name), 0o755);
  return dir;
}

interface Vipd {
  statements: Statement[];
  warnings: string[];
  errors: string[];
}
const where = (p: { file: string; line: number; col: number }): string => `${basename(p.file)}:${p.line}:${p.col}`;

async function vipdIn(dir: string, opts: ParseOptions = { configId: ID }): Promise<Vipd> {
  try {
    const r = await parseFileWithWarnings(join(dir, MAIN), fsSource, opts);
    return { statements: r.statements, warnings: r.warnings.map((w) => `${where(w.pos)} ${w.message}`), errors: [] };
  } catch (e) {
    if (!(e instanceof ConfigErrors)) throw e;
    return { statements: [], warnings: e.warnings.map((w) => `${where(w.pos)} ${w.message}`), errors: e.errors.map((x) => `${where(x.pos)} ${x.message}`) };
  }
}
const vipd = async (files: Record<string, string>, opts?: ParseOptions): Promise<Vipd> => vipdIn(write(files), opts);

interface Ka {
  exitCode: number;
  output: string;
  /** Messages of keepalived's first reading of the files (it reads its consolidated copy again after). */
  first: { file: string; line: number; text: string }[];
}

/**
 * `keepalived -t` on `dir`/keepalived.conf (in a network namespace of its own, though -t only
 * reads): exit code, output, and the first pass's messages. The configurations here have no
 * interface, so no veth is needed (test/helpers/keepalived-check.ts takes one text only).
 */
function keepalived(dir: string, configId: string | null = ID): Ka {
  requireTool('keepalived');
  const main = join(dir, MAIN);
  const r = spawnSync('unshare', ['-n', 'keepalived', '-t', '-P', '-l', '-D', '-n', ...(configId === null ? [] : ['-i', configId]), '-f', main], { encoding: 'utf8', timeout: 20_000 });
  if (r.error) throw r.error;
  const output = `${r.stdout}${r.stderr}`;
  const first: Ka['first'] = [];
  for (const m of output.matchAll(/^\((?:(.+): )?Line (\d+)\) (.*)$/gm)) {
    // the first pass never names the main file, the second always does
    if (m[1] === main) break;
    first.push({ file: m[1] ? basename(m[1]) : MAIN, line: Number(m[2]), text: m[3]! });
  }
  return { exitCode: r.status ?? -1, output, first };
}

/** The top-level lines keepalived read, as `file:line keyword`. */
function kaRead(ka: Ka): string[] {
  const out: string[] = [];
  for (const m of ka.first) {
    const k = /^Unknown keyword '(.*)'$/.exec(m.text);
    if (k && k[1] !== '}') out.push(`${m.file}:${m.line} ${k[1]}`);
  }
  return out;
}
/** vipd's statements in reading order, the same way. */
function vipdRead(sts: readonly Statement[], out: string[] = []): string[] {
  for (const s of sts) {
    out.push(`${basename(s.pos.file)}:${s.pos.line} ${s.keyword}`);
    if (s.block) vipdRead(s.block, out);
  }
  return out;
}

/** Both read `files` (main first line `k_start`): the same lines, and vipd without error. */
async function sameAsKeepalived(files: Record<string, string>, configId: string | null = ID): Promise<string[]> {
  const dir = write(files);
  const v = await vipdIn(dir, configId === null ? {} : { configId });
  expect(v.errors).toEqual([]);
  const read = vipdRead(v.statements);
  expect(read).toEqual(kaRead(keepalived(dir, configId)));
  expect(read[0]).toBe(`${MAIN}:1 k_start`);
  return read;
}

describe('keepalived.conf lines as keepalived 2.2.7 reads them (compared with keepalived -t)', () => {
  it('@ID / @^ID conditional lines, also after a definition', async () => {
    const read = await sameAsKeepalived({
      [MAIN]: 'k_start\n@node1 c_yes\n@^node1 c_no\n@other c_no2\n@^other c_yes2\n   @node1 c_indented\n@ c_empty_id\n@^ c_empty_id_rev\n@node1 $P=p_def\n$P\n$IF_NODE1=@node1\n$IF_NODE1 c_subst\n',
    });
    expect(read.map((r) => r.split(' ')[1])).toEqual(['k_start', 'c_yes', 'c_yes2', 'c_indented', 'c_empty_id_rev', 'p_def', 'c_subst']);
    const other = await sameAsKeepalived({ [MAIN]: 'k_start\n@node1 c_yes\n@^node1 c_no\n' }, 'other');
    expect(other).toEqual([`${MAIN}:1 k_start`, `${MAIN}:3 c_no`]);
    // without -i: the host name up to its first dot, on both sides
    const host = fsSource.hostname!();
    const byHost = await sameAsKeepalived({ [MAIN]: `k_start\n@${host} c_host\n@^${host} c_not_host\nc_\${_INSTANCE}\n` }, null);
    expect(byHost).toEqual([`${MAIN}:1 k_start`, `${MAIN}:2 c_host`, `${MAIN}:4 c_${host}`]);
  });

  it('definitions: $NAME, ${NAME}, late binding, empty and blank-trimmed values, multi-line and nested multi-line', async () => {
    const read = await sameAsKeepalived({
      [MAIN]: [
        'k_start', '$A=a1', '$B=${A}_b', 'd_$A d_${B}', 'd2_${A}${A}', '$A=a2', 'd3_$B', '$E=', 'd4$E', '$S=  sp  ', 'd5_${S}_x',
        '$ML=\\', '  ml_1 $A \\', '  ml_2_${A} # comment \\', '', '  after_blank', 'd6 $ML', 'pre_$ML',
        '$N=\\', '  n_1 \\', '  n_2 $ML', 'd7 $N', '$X=~SEQ(i, 2) seqdef_$i', '$X', 'q_"${_HASH}"', 'bang_${_BANG}x', 'inst_${_INSTANCE}', '$_PWD=mine', 'pwd_${_PWD}', 'k_end', '',
      ].join('\n'),
    });
    expect(read.map((r) => r.split(' ')[1])).toEqual([
      'k_start', 'd_a1', 'd2_a1a1', 'd3_a2_b', 'd4', 'd5_sp_x', 'after_blank', 'd6', 'ml_2_a2', 'pre_ml_1', 'ml_2_a2', 'd7', 'n_2', 'ml_2_a2', 'seqdef_1', 'seqdef_2', 'q_', 'bang_', 'inst_node1', 'pwd_mine', 'k_end',
    ]);
  });

  it('~SEQ, ~SEQx, ~LST, nested, with definitions, and a multi-line definition per value', async () => {
    const read = await sameAsKeepalived({
      [MAIN]: [
        'k_start', '~SEQ(i, 3) s1_$i', '~SEQ(i, 0) s2_$i', '~SEQ(i, -2) s3_$i', '~SEQ(j, 4, 2) s4_$j', '~SEQ(j, 1, 2, 6) s5_$j',
        '~SEQx(h, 0x9, 4, 0x11) s6_$h', '~SEQ(i, 010) s7_$i', '$N=2', '~SEQ(a, $N) ~SEQ(b, 5, 6) s8_${a}_$b', '~LST(v, x, y) l1_$v',
        '~LST({p, q}, {1,2},{3},{4,5}) l2_${p}_${q}', '~LST(u, 1, 2) ~SEQ(w, 2) l3_${u}_$w', '$V=\\', 'v1_$i \\', 'v2_$i', '~SEQ(i, 2) $V', '@node1 ~SEQ(i,1) s9_$i',
        '$W=\\', '~SEQ(j, 2) w_$j \\', '@node1 w_id \\', '@other w_not \\', 'w_end', '$W', '',
      ].join('\n'),
    });
    expect(read).toHaveLength(1 + 3 + 2 + 2 + 3 + 3 + 3 + 8 + 4 + 2 + 3 + 4 + 4 + 1 + 4);
    expect(read).toContain(`${MAIN}:7 s6_d`);
    expect(read.slice(-9).map((r) => r.split(' ')[1])).toEqual(['v1_1', 'v2_1', 'v1_2', 'v2_2', 's9_1', 'w_1', 'w_2', 'w_id', 'w_end']);
  });

  it('braces split lines: one-line blocks, words after } and {, comments after {', async () => {
    const read = await sameAsKeepalived({ [MAIN]: 'k_start\nb1 { b2 }\nb3 {\nb4 } b5 { b6 # c {\n}\nb7 "x { y" z\n"b8" {b9}\n' });
    expect(read.map((r) => r.split(' ')[1])).toEqual(['k_start', 'b1', 'b2', 'b3', 'b4', 'b5', 'b6', 'b7', 'b8', 'b9']);
  });

  it('include: textual (a block closes in another file), globs sorted, paths relative to the including file, ~SEQ includes in keepalived order', async () => {
    const read = await sameAsKeepalived({
      [MAIN]: 'k_start\nblk {\ninclude part.conf\ninclude inc/*.conf\ninclude sub/s.conf\nk_after\n~SEQ(n, 3) include f${n}.conf\n',
      'part.conf': 'inner\n}\n',
      'inc/b.conf': 'i_b\n',
      'inc/a.conf': 'i_a\n',
      'inc/c.txt': 'i_c\n',
      'sub/s.conf': 'include deeper/d.conf\ni_s_${_PWD}\n',
      'sub/deeper/d.conf': 'i_d\n',
      // keepalived opens f1 before it reads the next ~SEQ line: f2, f3 are relative to f1's directory, and read first
      'f1.conf': 'i_f1\n',
      'f2.conf': 'i_f2\n',
      'f3.conf': 'i_f3\n',
    });
    expect(read.map((r) => r.split(' ')[1]?.replace(/_\/.*/, ''))).toEqual(['k_start', 'blk', 'inner', 'i_a', 'i_b', 'i_d', 'i_s', 'k_after', 'i_f3', 'i_f2', 'i_f1']);
    expect(read[6]).toMatch(/^s\.conf:2 i_s_\/.*\/sub$/);
  });
});

/** `keyword@line:col arg@col…` of each statement, blocks inlined. */
function shape(sts: readonly Statement[]): string[] {
  return sts.flatMap((s) => [`${s.keyword}@${s.pos.line}:${s.pos.col}${s.args.map((a) => ` ${a.text}@${a.pos.col}`).join('')}${s.block ? ' {' : ''}`, ...(s.block ? [...shape(s.block), '}'] : [])]);
}

describe('vipd: positions, options and what keepalived cannot show', () => {
  it('a word brought by a substitution stands at its reference; multi-line and ~SEQ lines at theirs; an error in an included file names it', async () => {
    const v = await vipd({ [MAIN]: '$V=v1 v2\n$M=\\\n m1 \\\n m2 x\nk $V tail ${V}\n  k2 $M\n~SEQ(i, 2) s_$i y\n' });
    expect(shape(v.statements)).toEqual(['k@5:1 v1@3 v2@3 tail@6 v1@11 v2@11', 'k2@6:3 m1@6', 'm2@6:6 x@6', 's_1@7:12 y@17', 's_2@7:12 y@17']);
    const e = await vipd({ [MAIN]: 'global_defs {\ninclude inc/*.conf\n}\n', 'inc/a.conf': ' router_id r1\n', 'inc/b.conf': '\n router_id "r2\n' });
    expect(e.errors).toEqual(['b.conf:2:12 unterminated quoted string']);
  });

  it("the config id defaults to the FileSource's host name; without one, @ID lines are dropped and @^ID lines kept", async () => {
    const dir = write({ [MAIN]: '@hostA k1\n@^hostA k2\nk3_${_INSTANCE}\n' });
    const read = async (src: typeof fsSource, opts: ParseOptions = {}) => vipdRead((await parseFileWithWarnings(join(dir, MAIN), src, opts)).statements);
    expect(await read({ ...fsSource, hostname: () => 'hostA' })).toEqual([`${MAIN}:1 k1`, `${MAIN}:3 k3_hostA`]);
    expect(await read({ ...fsSource, hostname: () => 'hostA' }, { configId: 'other' })).toEqual([`${MAIN}:2 k2`, `${MAIN}:3 k3_other`]);
    expect(await read({ ...fsSource, hostname: undefined })).toEqual([`${MAIN}:2 k2`, `${MAIN}:3 k3_`]);
    expect(fsSource.hostname!()).not.toContain('.');
  });

  it('${_RANDOM [MIN [MAX]]}, ${_PWD} of the file being read, ${_HASH} and ${_BANG}', async () => {
    const files = { [MAIN]: 'r ${_RANDOM} ${_RANDOM 5} ${_RANDOM 5 7}\ninclude sub/p.conf\nq "${_HASH}${_BANG}" x${_HASH}y\n', 'sub/p.conf': 'p ${_PWD}\n' };
    const dir = write(files);
    const lo = await vipdIn(dir, { random: () => 0 });
    const hi = await vipdIn(dir, { random: () => 1 - 2 ** -40 });
    expect(lo.statements[0]!.args.map((a) => a.text)).toEqual(['0', '5', '5']);
    expect(hi.statements[0]!.args.map((a) => a.text)).toEqual(['32767', '32767', '7']);
    expect(lo.statements[1]!.args[0]!.text).toBe(join(dir, 'sub'));
    expect(lo.statements[2]!.args.map((a) => a.text)).toEqual(['#!', 'x']);
  });

  it('warnings for what is kept as written, once per place even when a ~SEQ repeats the line', async () => {
    const v = await vipd({ [MAIN]: '$A=a\n$M=\\\nm1\\\nm2\n~SEQ(i, 3) k $UNDEF $A.x $M x\n' });
    expect(v.errors).toEqual([]);
    expect(v.statements).toHaveLength(3);
    expect(v.warnings).toEqual([
      "keepalived.conf:5:14 '$UNDEF' is not defined: kept as written, as keepalived 2.2.7 does",
      "keepalived.conf:5:21 '$A' is kept as written: keepalived 2.2.7 replaces $A only before white space, ',', ')' or the end of the line (write ${A})",
      "keepalived.conf:5:26 '$M' is a multi-line definition: keepalived 2.2.7 expands one only at the end of a line, and keeps it as written here",
    ]);
  });

  it('definitions that never end are an error (keepalived 2.2.7 hangs or cuts the line)', async () => {
    expect((await vipd({ [MAIN]: '$R=$R\nk $R\n' })).errors).toEqual(['keepalived.conf:2:3 definitions refer to each other without end here (keepalived 2.2.7 never finishes reading the line)']);
    expect((await vipd({ [MAIN]: '$R=${R}xxxxxxxxxx\nk $R\n' })).errors[0]).toMatch(/^keepalived.conf:2:3 substitution makes the line longer than keepalived 2.2.7's 1023 bytes/);
  });

  it('~SEQ over a multi-line definition builds many instances (the man page example, smaller)', async () => {
    const v = await vipd({
      [MAIN]: '$VI=\\\nvrrp_instance vi_${IF}_${ID} { \\\n  interface bond${IF} \\\n  virtual_router_id ${ID} \\\n  virtual_ipaddress { \\\n    192.0.2.${ID}/24 \\\n  } \\\n}\n\n~SEQ(IF, 0, 1) ~SEQ(ID, 1, 200) $VI\n',
    });
    expect(v.errors).toEqual([]);
    expect(v.statements).toHaveLength(400);
    expect(shape([v.statements[399]!])).toEqual(['vrrp_instance@10:33 vi_1_200@33 {', 'interface@10:33 bond1@33', 'virtual_router_id@10:33 200@33', 'virtual_ipaddress@10:33 {', '192.0.2.200/24@10:33', '}', '}']);
  });

  it('csh braces in include patterns', () => {
    expect(expandBraces('/a/{b,c{d,e}}.conf')).toEqual(['/a/b.conf', '/a/cd.conf', '/a/ce.conf']);
    expect(expandBraces('/a/{b}.conf')).toEqual(['/a/b.conf']);
    expect(expandBraces('/a/{b,c.conf')).toEqual(['/a/{b,c.conf']);
  });
});

type Verdict = 'ok' | 'warn' | 'error';
interface Case {
  name: string;
  files: Record<string, string>;
  exec?: string[];
  /** keepalived -t exits 0 (accepts) or not. */
  ka: 'accepts' | 'refuses';
  /** What keepalived prints that shows how it read the file (for a case it accepts but mis-reads). */
  kaSays?: RegExp;
  vipd: Verdict;
  /** vipd's first error or warning. */
  says?: RegExp;
}
const gd = (body: string): string => `global_defs {\n${body}\n}\n`;

const CASES: Case[] = [
  { name: 'a block on one line', files: { [MAIN]: 'global_defs { router_id r1 }\n' }, ka: 'accepts', vipd: 'ok' },
  { name: '{ on its own line', files: { [MAIN]: 'global_defs\n{\n router_id r1\n}\n' }, ka: 'accepts', vipd: 'ok' },
  { name: '} followed by the next block', files: { [MAIN]: 'global_defs {\n router_id r1\n} global_defs {\n vrrp_garp_master_delay 3\n}\n' }, ka: 'accepts', vipd: 'ok' },
  { name: 'comment after {, \\# in a word', files: { [MAIN]: 'global_defs { # c {\n router_id r\\#1 ! c\n}\n' }, ka: 'accepts', vipd: 'ok' },
  { name: 'CRLF line ends', files: { [MAIN]: 'global_defs {\r\n router_id r1\r\n}\r\n' }, ka: 'accepts', vipd: 'ok' },
  { name: 'a multi-line definition that is a whole block', files: { [MAIN]: '$GD=\\\n global_defs { \\\n  router_id r1 \\\n }\n$GD\n' }, ka: 'accepts', vipd: 'ok' },
  { name: 'conditional lines', files: { [MAIN]: gd(' @node1 router_id r1\n @^node1 router_idd r2\n @other no_such_keyword') }, ka: 'accepts', vipd: 'ok' },
  { name: 'include inside a block, closed by the included file', files: { [MAIN]: 'global_defs {\ninclude gd.conf\n', 'gd.conf': ' router_id r1\n}\n' }, ka: 'accepts', vipd: 'ok' },
  { name: 'a \\ at the end of a plain line', files: { [MAIN]: gd(' router_id r1 \\') }, ka: 'accepts', vipd: 'error', says: /a '\\' ends the line/ },
  { name: 'a missing plain include', files: { [MAIN]: `include nowhere.conf\n${gd(' router_id r1')}` }, ka: 'accepts', kaSays: /Config files missing/, vipd: 'error', says: /^keepalived.conf:1:1 cannot read included file .*nowhere.conf: no such file/ },
  { name: 'two files on one include line', files: { [MAIN]: 'include a.conf b.conf\n', 'a.conf': gd(' router_id r1'), 'b.conf': '' }, ka: 'accepts', kaSays: /missing 'a.conf b.conf'/, vipd: 'error', says: /one file name/ },
  { name: 'a quoted include', files: { [MAIN]: 'include "a.conf"\n', 'a.conf': gd(' router_id r1') }, ka: 'accepts', kaSays: /missing '"a.conf"'/, vipd: 'error', says: /quotes/ },
  { name: 'an include loop', files: { [MAIN]: 'include keepalived.conf\n' }, ka: 'accepts', kaSays: /Too many open files/, vipd: 'error', says: /include loop/ },
  { name: 'an executable included file', files: { [MAIN]: 'include x.conf\n', 'x.conf': gd(' router_id r1') }, exec: ['x.conf'], ka: 'accepts', kaSays: /not a regular non-executable file/, vipd: 'error', says: /executable/ },
  { name: 'an executable main file', files: { [MAIN]: gd(' router_id r1') }, exec: [MAIN], ka: 'accepts', vipd: 'error', says: /executable/ },
  { name: 'a glob that matches nothing', files: { [MAIN]: `include conf.d/*.conf\n${gd(' router_id r1')}` }, ka: 'accepts', vipd: 'warn', says: /matched no file/ },
  { name: 'a glob in a missing directory', files: { [MAIN]: `include nodir/*.conf\n${gd(' router_id r1')}` }, ka: 'accepts', kaSays: /Config files missing/, vipd: 'warn', says: /matched no file/ },
  { name: 'includem of a glob in a missing directory', files: { [MAIN]: `includem nodir/*.conf\n${gd(' router_id r1')}` }, ka: 'refuses', vipd: 'error', says: /matched no file/ },
  { name: 'includew of a glob that matches nothing', files: { [MAIN]: `includew conf.d/*.conf\n${gd(' router_id r1')}` }, ka: 'refuses', vipd: 'error', says: /matched no file/ },
  { name: 'includeb with a brace alternative missing', files: { [MAIN]: 'includeb {a,z}.conf\n', 'a.conf': gd(' router_id r1') }, ka: 'refuses', vipd: 'error' },
  { name: 'a glob that matches a directory', files: { [MAIN]: 'include d*\n', 'd.conf': gd(' router_id r1'), 'dir/x': '' }, ka: 'accepts', kaSays: /is a directory - skipping/, vipd: 'warn', says: /directory: skipped/ },
  { name: 'an undefined ${NAME} outside quotes', files: { [MAIN]: gd(' router_id r_${UNDEF}') }, ka: 'refuses', vipd: 'error', says: /not defined.*braces as a block/ },
  { name: 'an undefined $NAME in quotes', files: { [MAIN]: gd(' router_id "r_$UNDEF"') }, ka: 'accepts', vipd: 'warn', says: /'\$UNDEF' is not defined/ },
  { name: '$NAME = value (blank before =)', files: { [MAIN]: `$R = r1\n${gd(' router_id $R')}` }, ka: 'refuses', vipd: 'error', says: /no definition/ },
  { name: '${NAME } with a blank', files: { [MAIN]: `$R=r1\n${gd(' router_id ${R }')}` }, ka: 'refuses', vipd: 'error', says: /not substituted as written/ },
  { name: '~SEQ without the comma after its variable', files: { [MAIN]: gd(' ~SEQ(i 3) router_id r$i') }, ka: 'accepts', vipd: 'error', says: /invalid ~SEQ/ },
  { name: '~SEQ with an empty number', files: { [MAIN]: gd(' ~SEQ(i,,2) router_id r$i') }, ka: 'accepts', vipd: 'error', says: /invalid ~SEQ/ },
  { name: '~SEQ with a step going away', files: { [MAIN]: gd(' ~SEQ(i, 1, -1, 3) router_id r$i') }, ka: 'refuses', vipd: 'error', says: /goes away/ },
  { name: '${_RANDOM MIN MAX} with MIN > MAX', files: { [MAIN]: gd(' router_id r${_RANDOM 9 1}') }, ka: 'accepts', vipd: 'error', says: /MIN <= MAX/ },
  { name: 'a ~ line that is not ~SEQ or ~LST', files: { [MAIN]: '~FOO x\n' }, ka: 'refuses', vipd: 'error', says: /~SEQ, ~SEQx and ~LST/ },
  { name: 'include without a file', files: { [MAIN]: 'include\n' }, ka: 'refuses', vipd: 'error', says: /needs a file/ },
  { name: 'a line longer than 1023 bytes', files: { [MAIN]: `${gd(' router_id r1')}# ${'x'.repeat(1100)}\n` }, ka: 'refuses', vipd: 'error', says: /longer than/ },
  { name: 'an unterminated quote', files: { [MAIN]: gd(' router_id "r1') }, ka: 'refuses', vipd: 'error', says: /unterminated/ },
  { name: "a '{' without keyword", files: { [MAIN]: '{\n}\n' }, ka: 'refuses', vipd: 'error', says: /unexpected '\{'/ },
  { name: "a '}' too many", files: { [MAIN]: `${gd(' router_id r1')}}\n` }, ka: 'refuses', vipd: 'error', says: /unexpected '\}'/ },
  { name: "a missing '}'", files: { [MAIN]: 'global_defs {\n router_id r1\n' }, ka: 'refuses', vipd: 'error', says: /missing '\}'/ },
  { name: 'a conditional that a longer substitution brings', files: { [MAIN]: `$C=@node1\n${gd(' $C router_id r1')}` }, ka: 'refuses', vipd: 'error', says: /mis-reads a '@node1'/ },
];

describe('verdicts compared with keepalived -t', () => {
  for (const c of CASES) {
    it(c.name, async () => {
      const dir = write(c.files, c.exec);
      const ka = keepalived(dir);
      expect(ka.exitCode === 0 ? 'accepts' : 'refuses', ka.output).toBe(c.ka);
      if (c.kaSays) expect(ka.output).toMatch(c.kaSays);
      const v = await vipdIn(dir);
      const verdict: Verdict = v.errors.length ? 'error' : v.warnings.length ? 'warn' : 'ok';
      expect(verdict, [...v.errors, ...v.warnings].join('\n')).toBe(c.vipd);
      if (c.says) expect((v.errors.length ? v.errors : v.warnings)[0]).toMatch(c.says);
    });
  }
});

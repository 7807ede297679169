/**
 * packaging/vagrant, as far as a machine without nested virtualisation can check it (VMs
 * cannot boot here; docs/vagrant.md):
 * - `vagrant validate --ignore-provider` (Debian's vagrant 2.3.4) on the Vagrantfile, as CI's
 *   check in the issue; it evaluates every provider block (a Ruby error in one fails it) but
 *   skips the providers' own validation.
 * - Each provider's own validation too (VirtualBox's config class, built in; vagrant-libvirt's,
 *   Debian's package): a wrapper Vagrantfile makes that provider's class look installed and
 *   usable, as `validate --ignore-provider` does for all of them (vagrant's mockup_providers!),
 *   and loads the real file, so `vagrant validate` runs the provider's config checks (an unknown
 *   setting in its block fails; negative controls below show it). The wrapper also records,
 *   through a small config plugin, each machine's effective settings: box, addresses, networks,
 *   synced folder, and the provisioning command with its arguments and environment.
 * - `bash -n` on every provision/*.sh, `node --check` on the .mjs.
 * - controller.sh's rendering path with each controller's recorded arguments and environment
 *   (IFACE of the VM): keepalived -t, haproxy -c and vipd check-config (the built bundle, as
 *   /usr/bin/vipd on the VM) accept what it writes.
 * Vagrant runs with VAGRANT_HOME, its dotfile path and TMPDIR in one /tmp/vipd-vagrant-*
 * directory, removed at the end; nothing is written beside the Vagrantfile.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keepalivedCheck } from '../helpers/keepalived-check.js';
import { requireTool } from '../helpers/tools.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const VAGRANT_DIR = join(ROOT, 'packaging/vagrant');
const VAGRANTFILE = join(VAGRANT_DIR, 'Vagrantfile');
const PROVISION = join(VAGRANT_DIR, 'provision');
/** The netns lab's machines (src/lab/openstack/scenario.ts): the VMs must use the same. */
const MACHINES = [
  { name: 'ctl1', ip: '192.0.2.11', priority: 1 },
  { name: 'ctl2', ip: '192.0.2.12', priority: 2 },
  { name: 'ctl3', ip: '192.0.2.13', priority: 3 },
  { name: 'client', ip: '192.0.2.100', priority: 0 },
];

/** Ruby: make provider VIPD_PROVIDER usable, record each machine's settings in VIPD_DUMP, load VIPD_VAGRANTFILE. */
const WRAPPER = `require "json"
provider = ENV.fetch("VIPD_PROVIDER").to_sym
entry = Vagrant.plugin("2").manager.providers[provider] or
  abort("vagrant has no #{provider} provider (vagrant-libvirt: apt-get install vagrant-libvirt, as .ci/run does)")
entry[0].class_eval do
  def initialize(machine); end
  def machine_id_changed; end
  def self.installed?; true; end
  def self.usable?(raise_error = false); true; end
  def state; Vagrant::MachineState.new(Vagrant::MachineState::NOT_CREATED_ID, :not_created, :not_created); end
end
class VipdDump < Vagrant.plugin("2", :config)
  def validate(machine)
    vm = machine.config.vm
    File.open(ENV.fetch("VIPD_DUMP"), "a") do |f|
      f.puts(JSON.generate({
        name: machine.name, provider: machine.provider_name, box: vm.box, hostname: vm.hostname,
        networks: vm.networks.reject { |type, _| type == :forwarded_port },
        synced_folders: vm.synced_folders,
        provisioners: vm.provisioners.map { |p| { type: p.type, inline: p.config.inline, args: p.config.args, env: p.config.env } },
      }))
    end
    {}
  end
end
Class.new(Vagrant.plugin("2")) do
  name "vipd-dump"
  config("vipd_dump") { VipdDump }
end
load ENV.fetch("VIPD_VAGRANTFILE")
Vagrant.configure("2") { |c| c.vipd_dump }
`;

interface Machine {
  name: string;
  provider: string;
  box: string;
  hostname: string;
  networks: [string, Record<string, unknown>][];
  synced_folders: Record<string, { hostpath: string; type?: string; rsync__exclude?: string[]; disabled?: boolean }>;
  provisioners: { type: string; inline: string; args: string[]; env: Record<string, string> }[];
}

let tmp = '';
const dotVagrantBefore = existsSync(join(VAGRANT_DIR, '.vagrant'));

function run(cmd: string, args: string[], opts: { cwd?: string; env?: Record<string, string> } = {}): { code: number | null; out: string } {
  const r = spawnSync(cmd, args, { cwd: opts.cwd ?? ROOT, env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8', ...opts.env }, encoding: 'utf8', timeout: 120_000 });
  if (r.error) throw new Error(`${cmd} ${args.join(' ')}: ${r.error.message}`);
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

/** `vagrant ARGS` in packaging/vagrant with everything vagrant writes under the temporary directory. */
function vagrant(args: string[], env: Record<string, string> = {}): { code: number | null; out: string } {
  return run('vagrant', args, {
    cwd: VAGRANT_DIR,
    env: {
      HOME: join(tmp, 'home'), VAGRANT_HOME: join(tmp, 'vagrant.d'), VAGRANT_DOTFILE_PATH: join(tmp, 'dot'), TMPDIR: join(tmp, 'tmp'),
      VAGRANT_CHECKPOINT_DISABLE: '1', VAGRANT_NO_COLOR: '1', ...env,
    },
  });
}

/** `vagrant validate` with PROVIDER's own validation (the wrapper above) on VAGRANTFILE; the machines it recorded. */
function validateWith(provider: string, vagrantfile = VAGRANTFILE): { code: number | null; out: string; machines: Machine[] } {
  const dump = join(tmp, `dump-${provider}-${Math.random().toString(36).slice(2)}.jsonl`);
  const r = vagrant(['validate'], {
    VAGRANT_VAGRANTFILE: join(tmp, 'Vagrantfile.wrapper'), VAGRANT_DEFAULT_PROVIDER: provider,
    VIPD_PROVIDER: provider, VIPD_VAGRANTFILE: vagrantfile, VIPD_DUMP: dump,
  });
  const machines = existsSync(dump) ? readFileSync(dump, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Machine) : [];
  return { ...r, machines };
}

/** A copy of the Vagrantfile with `line` added first in the PROVIDER block. */
function withProbe(provider: string, line: (v: string) => string): string {
  const text = readFileSync(VAGRANTFILE, 'utf8');
  const re = new RegExp(`config\\.vm\\.provider "${provider}" do \\|(\\w+)\\|\\n`);
  const m = re.exec(text);
  if (!m) throw new Error(`no \`config.vm.provider "${provider}" do |x|\` block in ${VAGRANTFILE}`);
  const file = join(tmp, `Vagrantfile.probe-${provider}`);
  writeFileSync(file, text.replace(re, `${m[0]}    ${line(m[1]!)}\n`));
  return file;
}

beforeAll(() => {
  for (const t of ['vagrant', 'haproxy', 'bash', 'node']) requireTool(t);
  tmp = mkdtempSync(join(tmpdir(), 'vipd-vagrant-'));
  for (const d of ['home', 'vagrant.d', 'tmp']) mkdirSync(join(tmp, d));
  writeFileSync(join(tmp, 'Vagrantfile.wrapper'), WRAPPER);
});
afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
  // nothing beside the Vagrantfile: vagrant's local data went to the temporary directory
  if (!dotVagrantBefore) expect(existsSync(join(VAGRANT_DIR, '.vagrant')), 'packaging/vagrant/.vagrant left behind').toBe(false);
});

describe('packaging/vagrant/Vagrantfile', () => {
  const machines: Record<string, Machine[]> = {};

  it('vagrant validate --ignore-provider passes and covers ctl1..3 and client', () => {
    const r = vagrant(['validate', '--ignore-provider']);
    expect(r, r.out).toMatchObject({ code: 0 });
    expect(r.out).toMatch(/Vagrantfile validated successfully/);
    for (const { name } of MACHINES) expect(r.out).toContain(`==> ${name}: Ignoring provider config for validation`);
  });

  it('each provider validates its own block: VirtualBox (built in) and libvirt (vagrant-libvirt)', () => {
    for (const provider of ['virtualbox', 'libvirt']) {
      const r = validateWith(provider);
      expect(r, `${provider}:\n${r.out}`).toMatchObject({ code: 0 });
      expect(r.out).toMatch(/Vagrantfile validated successfully/);
      machines[provider] = r.machines;
    }
  });

  it('the checks bite: an unknown setting in either provider block, a Ruby error, a bad VIPD_SCENARIO_DAEMON', () => {
    for (const [provider, title] of [['virtualbox', 'VirtualBox Provider'], ['libvirt', 'Libvirt Provider']] as const) {
      const r = validateWith(provider, withProbe(provider, (v) => `${v}.vipd_probe_setting = 1`));
      expect(r.code, r.out).not.toBe(0);
      expect(r.out).toContain(title);
      expect(r.out).toMatch(/The following settings shouldn't exist: vipd_probe_setting/);
    }
    // --ignore-provider still runs the libvirt block (a plugin-less vagrant would too)
    const ruby = vagrant(['validate', '--ignore-provider'], { VAGRANT_VAGRANTFILE: withProbe('libvirt', () => 'raise "vipd probe"') });
    expect(ruby.code, ruby.out).not.toBe(0);
    expect(ruby.out).toMatch(/provider config: libvirt[\s\S]*vipd probe/);
    const bad = vagrant(['validate', '--ignore-provider'], { VIPD_SCENARIO_DAEMON: 'bogus' });
    expect(bad.code, bad.out).not.toBe(0);
    expect(bad.out).toContain('VIPD_SCENARIO_DAEMON must be vipd or keepalived, not "bogus"');
  });

  it("the machines: the lab's addresses on one isolated LAN, the checkout at /vagrant, the provisioning scripts", () => {
    const strip = (ms: Machine[]): unknown => ms.map(({ provider: _, ...m }) => ({ ...m, networks: m.networks.map(([t, o]) => [t, { ...o, id: undefined }]) }));
    expect(machines.libvirt, 'both providers see the same machines').toHaveLength(MACHINES.length);
    expect(strip(machines.libvirt!)).toEqual(strip(machines.virtualbox!));
    for (const m of machines.virtualbox!) {
      const want = MACHINES.find((x) => x.name === m.name);
      expect(want, `unexpected machine ${m.name}`).toBeDefined();
      expect({ box: m.box, hostname: m.hostname }).toEqual({ box: 'debian/bookworm64', hostname: m.name });
      expect(m.networks.map(([type]) => type), `${m.name}: only the scenario LAN besides the provider's own NIC`).toEqual(['private_network']);
      expect(m.networks[0]![1]).toMatchObject({
        ip: want!.ip, netmask: '255.255.255.0',
        virtualbox__intnet: 'vipd-scenario', libvirt__network_name: 'vipd-scenario', libvirt__forward_mode: 'none', libvirt__dhcp_enabled: false,
      });
      const sync = m.synced_folders['/vagrant']!;
      expect(resolve(VAGRANT_DIR, sync.hostpath) + '/', 'the checkout is /vagrant').toBe(ROOT);
      expect(sync).toMatchObject({ type: 'rsync', disabled: false });
      expect(sync.rsync__exclude).toEqual(expect.arrayContaining(['node_modules/', '.git/']));
      expect(m.provisioners).toHaveLength(1);
      const p = m.provisioners[0]!;
      const script = /^exec bash \/vagrant\/(\S+) ?(?:"\$@")?$/.exec(p.inline)?.[1];
      expect(script, `${m.name}: inline ${p.inline}`).toBe(`packaging/vagrant/provision/${m.name === 'client' ? 'client' : 'controller'}.sh`);
      expect(existsSync(join(ROOT, script!))).toBe(true);
      expect(p.env).toMatchObject({ IFACE: 'eth1', VIP: '192.0.2.250', API_PORT: '5000', CONTROLLERS: 'ctl1=192.0.2.11 ctl2=192.0.2.12 ctl3=192.0.2.13' });
      expect(p.args ?? []).toEqual(m.name === 'client' ? [] : [m.name, String(want!.priority), 'vipd']);
    }
  });

  it("controller.sh renders each controller's files as on its VM; keepalived -t, haproxy -c and vipd check-config accept them", async () => {
    const build = run('npm', ['run', '-s', 'build']);
    expect(build, build.out).toMatchObject({ code: 0 });
    const ctls = (machines.virtualbox ?? []).filter((m) => m.name !== 'client');
    expect(ctls.map((m) => m.name)).toEqual(['ctl1', 'ctl2', 'ctl3']);
    for (const m of ctls) {
      const { args, env } = m.provisioners[0]!;
      const dir = join(tmp, `render-${m.name}`);
      mkdirSync(dir);
      const r = run('bash', [join(PROVISION, 'controller.sh'), '--render-only', dir, ...args], { env });
      expect(r, r.out).toMatchObject({ code: 0, out: '' });
      expect(readdirSync(dir).sort()).toEqual(['check_alive.sh', 'haproxy.cfg', 'keepalived.conf', 'notify.sh']);
      const conf = readFileSync(join(dir, 'keepalived.conf'), 'utf8');
      expect(conf).toMatch(new RegExp(`^\\s+interface ${env.IFACE}$`, 'm'));
      expect(conf).toMatch(new RegExp(`^\\s+priority ${args[1]}$`, 'm'));
      expect(conf).toMatch(new RegExp(`^\\s+192\\.0\\.2\\.250 dev ${env.IFACE}$`, 'm'));
      expect(readFileSync(join(dir, 'notify.sh'), 'utf8')).toContain(">> '/run/vipd-scenario/state'");
      const cfg = readFileSync(join(dir, 'haproxy.cfg'), 'utf8');
      expect(cfg).toMatch(/^\s+bind 192\.0\.2\.250:5000$/m);
      for (const c of MACHINES.slice(0, 3)) expect(cfg).toContain(`server ${c.name} ${c.ip}:15000 check`);

      // keepalived 2.2.7 (in a namespace where eth1 exists): only the two findings a Kolla file
      // always gives: the 40-character PASS cut to 8, and scripts without script_security (exit 6)
      const ka = await keepalivedCheck(conf);
      expect(ka.errors.map((e) => e.replace(/^\([^)]*\) /, '')), ka.output).toEqual([
        'Truncating auth_pass to 8 characters',
        'SECURITY VIOLATION - scripts are being executed but script_security not enabled.',
      ]);
      expect(ka.exitCode).toBe(6);
      // a configuration check (-c: parses, binds nothing), as keepalived -t above
      const ha = run('haproxy', ['-c', '-f', join(dir, 'haproxy.cfg')]);
      expect(ha, ha.out).toMatchObject({ code: 0 });
      expect(ha.out).toMatch(/Configuration file is valid/);
      const vc = run('node', [join(ROOT, 'dist/bin/vipd.cjs'), 'check-config', join(dir, 'keepalived.conf')]);
      expect(vc, vc.out).toMatchObject({ code: 0 });
      expect(vc.out).toContain(`${join(dir, 'keepalived.conf')}: OK (1 instance`);
    }
  }, 240_000);

  it('controller.sh refuses bad arguments before doing anything (exit 2)', () => {
    const dir = join(tmp, 'render-bad');
    mkdirSync(dir);
    const sh = join(PROVISION, 'controller.sh');
    const cases: [string[], Record<string, string>, RegExp][] = [
      [['--render-only', dir, 'ctl1', '1'], {}, /IFACE .* is not set/],
      [['--render-only', dir, 'ctl1', '1', 'bogus'], { IFACE: 'eth1' }, /vipd or keepalived, not 'bogus'/],
      [['--render-only', dir, 'ctl9', '1'], { IFACE: 'eth1' }, /ctl9 is not in CONTROLLERS/],
      [['--render-only', dir, 'ctl1', '300'], { IFACE: 'eth1' }, /PRIORITY must be 1\.\.254/],
      [['ctl1'], { IFACE: 'eth1' }, /^usage: controller\.sh/],
    ];
    for (const [args, env, msg] of cases) {
      const r = run('bash', [sh, ...args], { env });
      expect(r.code, `${args.join(' ')}: ${r.out}`).toBe(2);
      expect(r.out).toMatch(msg);
    }
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe('packaging/vagrant/provision', () => {
  it('every shell script parses (bash -n) and every .mjs (node --check)', () => {
    const files = readdirSync(PROVISION).sort();
    expect(files).toEqual(expect.arrayContaining(['backend.mjs', 'client.mjs', 'client.sh', 'controller.sh', 'node20.sh', 'render-controller.sh']));
    for (const f of files) {
      const r = f.endsWith('.sh') ? run('bash', ['-n', join(PROVISION, f)]) : f.endsWith('.mjs') ? run('node', ['--check', join(PROVISION, f)]) : null;
      expect(r, `${f}: neither .sh nor .mjs`).not.toBeNull();
      expect(r, `${f}: ${r!.out}`).toMatchObject({ code: 0, out: '' });
    }
  });
});

// Issue 9: two machines (network namespaces) installed by scripts/install.sh into scratch roots,
// each started the way systemd would start it — the installed unit's ExecStart line, with the
// unit's EnvironmentFile — but by hand, since systemd does not run here. The first is a master of
// a new cluster; the second is installed with the join command the first install printed and
// joins it as an agent. The real single executable runs on both, so its embedded sodium-native and
// udx-native (the cluster plane) are exercised too. Paths in the settings (/var/lib/corral,
// /var/cache) are read inside each scratch root, as a chroot would see them.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import t from 'tap';
import { ensureBinary } from '../helpers/binary';
import { waitFor } from '../helpers/corral-process';
import { labSuite, noPacketLeft } from '../helpers/lab-suite';
import type { LabHost } from '../helpers/netns';

const INSTALL = resolve(__dirname, '..', '..', 'scripts', 'install.sh');

function sh(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CORRAL_')));
  return new Promise((res) => {
    execFile('sh', [INSTALL, ...args], { env: { ...clean, ...env }, timeout: 120_000 }, (err, stdout, stderr) => {
      res({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** KEY=VALUE lines of a systemd EnvironmentFile (as install.sh writes it: unquoted values). */
function readEnvFile(path: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (m) env[m[1]!] = m[2]!;
  }
  return env;
}

interface Started {
  proc: ChildProcess;
  output: () => string;
  stop: () => Promise<number | null>;
}

/** The unit's ExecStart, with its EnvironmentFile, run in `host`'s namespace; paths resolved in `root`. */
function runUnit(root: string, host: LabHost): Started {
  const unit = readFileSync(join(root, 'etc/systemd/system/corral.service'), 'utf8');
  const execStart = /^ExecStart=(.+)$/m.exec(unit)![1]!.split(' ');
  const envFile = /^EnvironmentFile=(.+)$/m.exec(unit)![1]!;
  const env = readEnvFile(join(root, envFile));
  for (const key of ['CORRAL_DATA_DIR', 'XDG_CACHE_HOME']) env[key] = join(root, env[key]!);
  const argv = [...host.exec, join(root, execStart[0]!), ...execStart.slice(1)];
  const proc = spawn(argv[0]!, argv.slice(1), { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: join(root, 'root'), ...env, CORRAL_LOG_LEVEL: 'info' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
  return {
    proc,
    output: () => out,
    stop: async () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      return exited;
    },
  };
}

// The scratch roots must be traversable by the task user.
labSuite('corral-install-join-', ({ root: base, started, lab: createLab }) => {
  t.test('a node installed with the join command joins the first master', async (t) => {
    const binary = await ensureBinary();
    const lab = await createLab(['master', 'node2']);
    const m = lab.host('master');
    const n2 = lab.host('node2');
    const rootM = join(base, 'master');
    const rootA = join(base, 'node2');
    for (const r of [rootM, rootA]) mkdirSync(r, { mode: 0o755 });

    // The first machine: a master of a new cluster, its API on the lab address so the test reaches it.
    const first = await sh(['--root', rootM, '--no-start'], { CORRAL_BINARY: binary, CORRAL_CLUSTER_HOST: m.address, CORRAL_LISTEN: `${m.address}:5050` });
    t.equal(first.code, 0, first.stderr);
    const join_ = /^ {2}(CORRAL_JOIN=\S+) (CORRAL_TOKEN=\S+) CORRAL_BINARY=/m.exec(first.stdout);
    if (!join_) throw new Error(`the first install printed no join command:\n${first.stdout}`);
    t.pass('the first install prints the join command');
    const [joinVar, tokenVar] = [join_![1]!, join_![2]!];
    t.equal(joinVar, `CORRAL_JOIN=${m.address}:49737`);

    // The second machine: installed with that command (plus its own address for direct connections).
    const second = await sh(['--root', rootA, '--no-start'], {
      CORRAL_BINARY: binary,
      CORRAL_JOIN: joinVar.split('=')[1]!,
      CORRAL_TOKEN: tokenVar.split('=')[1]!,
      CORRAL_CLUSTER_HOST: n2.address,
    });
    t.equal(second.code, 0, second.stderr);

    const master = started(runUnit(rootM, m));
    await waitFor('the master to be up', 30_000, () => (/is up/.test(master.output()) ? true : master.proc.exitCode !== null ? Promise.reject(new Error(master.output())) : undefined));
    const adminToken = readFileSync(join(rootM, 'var/lib/corral/admin.token'), 'utf8').trim();
    const api = async <T>(path: string): Promise<T> => (await (await fetch(`http://${m.address}:5050${path}`, { headers: { authorization: `Bearer ${adminToken}` } })).json()) as T;
    const agent = started(runUnit(rootA, n2));

    type NodeJson = { id: string; roles: string[]; status: string };
    const joined = await waitFor('the joining node to register', 30_000, async () => {
      const nodes = (await api<{ nodes: NodeJson[] }>('/api/v1/nodes')).nodes;
      return nodes.find((n) => n.roles.join() === 'agent' && n.status === 'alive');
    }).catch((err: Error) => {
      throw new Error(`${err.message}\nmaster:\n${master.output().slice(-3000)}\nagent:\n${agent.output().slice(-3000)}`);
    });
    t.ok(joined, `node2 joined as an agent (${joined.id.slice(0, 12)})`);
    t.equal((await api<{ nodes: NodeJson[] }>('/api/v1/nodes')).nodes.length, 2, 'the master and node2');
    // Both ran the single executable: their cluster plane loaded the embedded addons (an agent
    // alone has no store, so no SQLite, and runs no DNS server unless given --discovery).
    const extracted = (r: string) => readdirSync(join(r, 'var/cache/corral')).flatMap((h) => readdirSync(join(r, 'var/cache/corral', h))).sort();
    t.same(extracted(rootM), ['better_sqlite3.node', 'corral-exec', 'corral-udp.node', 'sodium-native.node', 'udx-native.node'], "the master's addons and helper, in its /var/cache/corral");
    t.same(extracted(rootA), ['corral-exec', 'sodium-native.node', 'udx-native.node'], "node2's");
    await noPacketLeft(t, lab);
  });
}, { rootMode: 0o755 });

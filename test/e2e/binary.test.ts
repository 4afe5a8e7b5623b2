// Issue 9: the single executable runs where there is no Node.js. dist/corral-linux-x64 is built
// (once, shared with the other test files that need it), copied into an otherwise empty directory
// and run with a PATH that has the usual tools but no `node`, a fresh HOME and no node_modules
// anywhere near: `corral up` starts, serves the API, runs a task (which itself finds no node), the
// same binary as CLI deploys it, reads its log and summarises the cluster, and SIGTERM stops it all.
// The native addons come out of the binary into $HOME/.cache/corral/<hash>/, once.
import { execFile, spawn } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import pkg from '../../package.json';
import { ensureBinary } from '../helpers/binary';
import { isAlive, removeEmptyCorralCgroups, removeTaskCgroups, waitFor } from '../helpers/corral-process';

/** The tools a task and the agent's launch chain use; deliberately not node. */
const TOOLS = ['sh', 'sleep', 'echo', 'cat', 'env', 'ls', 'id', 'true', 'false', 'setsid', 'unshare', 'kill'];

const base = mkdtempSync(join(tmpdir(), 'corral-binary-'));
// Tasks run as `nobody`: they must be able to reach the tools.
chmodSync(base, 0o755);
const home = join(base, 'home');
const bin = join(base, 'bin');
const tools = join(base, 'tools');
const cwd = join(base, 'empty');
for (const d of [home, bin, tools, cwd]) mkdirSync(d, { mode: 0o755 });
for (const tool of TOOLS) {
  const path = ['/usr/bin', '/bin', '/usr/sbin', '/sbin'].map((d) => join(d, tool)).find((p) => existsSync(p));
  if (path) symlinkSync(path, join(tools, tool));
}
const env = { PATH: `${bin}:${tools}`, HOME: home, LANG: 'C.UTF-8' };

let up: ReturnType<typeof spawn> | undefined;
t.teardown(async () => {
  if (up && up.exitCode === null && up.signalCode === null) {
    up.kill('SIGKILL');
    await new Promise((r) => up!.once('exit', r));
  }
  rmSync(base, { recursive: true, force: true });
  removeTaskCgroups('binary_hello.');
  removeEmptyCorralCgroups();
});

/** Live processes whose environment carries CORRAL_TASK_ID=<id>. */
function processesOfTask(id: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/environ`, 'latin1').split('\0').includes(`CORRAL_TASK_ID=${id}`) && isAlive(Number(entry))) pids.push(Number(entry));
    } catch {
      // gone, or not ours to read
    }
  }
  return pids;
}

function corral(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(join(bin, 'corral'), args, { cwd, env, timeout: 30_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

t.test('the binary runs without node: version, up, a task, status, stop', async (t) => {
  const binary = await ensureBinary();
  copyFileSync(binary, join(bin, 'corral'));
  chmodSync(join(bin, 'corral'), 0o755);
  t.notOk(readdirSync(bin).includes('node') || readdirSync(tools).includes('node'), 'no node on PATH');
  t.same(readdirSync(cwd), [], 'starts in an empty directory');

  const version = await corral(['--version']);
  t.equal(version.code, 0, version.stderr);
  t.match(version.stdout, new RegExp(`^${pkg.version.replace(/\./g, '\\.')} \\(commit ([0-9a-f]{40}|unknown)\\)\\n$`), '--version: version and commit');
  const facts = JSON.parse((await corral(['version', '--json'])).stdout) as { singleExecutable: boolean; node: string };
  t.equal(facts.singleExecutable, true, 'it knows it is the single executable');
  t.match(facts.node, /^v\d+\./);

  up = spawn(join(bin, 'corral'), ['up', '--data-dir', './data', '--listen', '127.0.0.1:0', '--dns-listen', '127.0.0.1:0', '--log-level', 'info'], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  up.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  up.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => up!.on('exit', (code) => r(code)));
  const url = await waitFor('corral up to print its API', 30_000, () => /API:\s+(http:\/\/\S+)/.exec(out)?.[1] ?? (up!.exitCode !== null ? Promise.reject(new Error(out)) : undefined));
  const pong = await fetch(`${url}/ping`);
  t.equal(await pong.text(), 'pong', 'the API answers');

  // The addons (the DNS server's UDP socket among them) and the exec helper came out of the binary
  // into the hash-keyed cache.
  const cache = join(home, '.cache', 'corral');
  const extracted = readdirSync(cache).flatMap((h) => readdirSync(join(cache, h)).map((f) => `${h.length}:${f}`)).sort();
  t.same(extracted, ['32:better_sqlite3.node', '32:corral-exec', '32:corral-udp.node'], `extracted: ${extracted.join(', ')}`);
  t.equal(statSync(readdirSync(cache).map((h) => join(cache, h, 'corral-exec')).find((p) => existsSync(p))!).mode & 0o777, 0o755);
  t.match(out, /"execHelper":"[^"]*\/\.cache\/corral\/[0-9a-f]{32}\/corral-exec"/, 'the agent launches through the embedded exec helper');

  writeFileSync(join(base, 'hello.json'), JSON.stringify({ id: '/binary/hello', cmd: 'echo "node: $(command -v node || echo none)"; exec sleep 300', cpus: 0.1, mem: 32, instances: 1 }));
  const add = await corral(['--data-dir', './data', 'app', 'add', join(base, 'hello.json')]);
  t.equal(add.code, 0, add.stderr);
  const task = await waitFor('the task to run', 30_000, async () => {
    const r = await corral(['--data-dir', './data', '--json', 'app', 'show', '/binary/hello']);
    const app = JSON.parse(r.stdout) as { app: { tasks?: Array<{ id: string; state: string }> } };
    return app.app.tasks?.find((x) => x.state === 'TASK_RUNNING');
  });
  t.not(processesOfTask(task.id).length, 0, 'its process runs');
  const logs = await waitFor('the task to print', 10_000, async () => {
    const r = await corral(['--data-dir', './data', 'task', 'logs', task.id]);
    return r.stdout.includes('node:') ? r.stdout : undefined;
  });
  t.equal(logs, 'node: none\n', 'the task ran, on a machine without node');

  const status = await corral(['--data-dir', './data', 'status']);
  t.equal(status.code, 0, status.stderr);
  t.match(status.stdout, /Apps: +1, 1 of 1 instances running/);
  t.match(status.stdout, /Nodes: +1 \(1 alive\)/);
  t.match(status.stdout, /This CLI: +corral \d+\.\d+\.\d+ \(commit /);

  up.kill('SIGTERM');
  t.equal(await exited, 0, 'SIGTERM stops it cleanly');
  t.same(processesOfTask(task.id), [], "a clean stop stops the task's processes");
  t.notMatch(out, /"level":(50|60)/, 'no error logged');
});

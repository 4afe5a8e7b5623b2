// The package manager end to end, with the real bundle and Debian's servers: every built-in service
// package installs through the CLI, becomes healthy, answers its own protocol and uninstalls
// leaving no task; and a package written in the Universe layout goes directory → repo index →
// HTTP → `corral package repo add` → install.
import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { buildRepoIndex, diskFiles, loadLayout } from '../../src/pkg/repo-layout';
import { corralCli, removeEmptyCorralCgroups, startCorral, waitFor, type RunningCorral } from '../helpers/corral-process';
import { writeFiles } from '../pkg/helpers/fixtures';

const root = mkdtempSync(join(tmpdir(), 'corral-e2e-package-'));
// Tasks run as nobody and use MESOS_SANDBOX: the data dir's parent must be traversable.
chmodSync(root, 0o711);
let corral: RunningCorral | undefined;
t.teardown(async () => {
  await corral?.stop();
  rmSync(root, { recursive: true, force: true });
  removeEmptyCorralCgroups();
});

interface AppView {
  app: { id: string; tasksRunning: number; tasksHealthy: number; tasks: Array<{ host: string; ports: number[] }> };
}

const api = async <T>(path: string, init: RequestInit = {}): Promise<{ status: number; body: T }> => {
  const res = await fetch(`${corral!.url}${path}`, { ...init, headers: { authorization: `Bearer ${corral!.token}`, 'content-type': 'application/json' } });
  return { status: res.status, body: (await res.json()) as T };
};
const cli = (...args: string[]) => corralCli(['--data-dir', corral!.dataDir, ...args]);

/** Waits until the app's one instance runs and is healthy; its port. */
async function healthyPort(appId: string): Promise<number> {
  let last: unknown;
  const app = await waitFor(`${appId} healthy`, 90_000, async () => {
    const { body } = await api<AppView>(`/v2/apps${appId}?embed=app.tasks`);
    last = body;
    return body.app && body.app.tasksHealthy >= 1 ? body.app : undefined;
  }).catch(async (err: Error) => {
    const tasks = await api<{ tasks: Array<{ id: string; state: string; message: string }> }>(`/api/v1/tasks?app=${appId}`);
    throw new Error(`${err.message}: ${JSON.stringify(last)} ${JSON.stringify(tasks.body)}`);
  });
  return app.tasks[0]!.ports[0]!;
}

/** Uninstalls through the CLI and waits until no task of the app is live. */
async function uninstall(t: Test, name: string, appId: string): Promise<void> {
  const res = await cli('package', 'uninstall', name, '--yes');
  t.equal(res.code, 0, `uninstall ${name}: ${res.stderr}`);
  t.match(res.stdout, new RegExp(`Uninstalled package ${name}`));
  await waitFor(`${appId} gone`, 60_000, async () => {
    const apps = await api<{ message?: string }>(`/v2/apps${appId}`);
    const tasks = await api<{ tasks: Array<{ state: string }> }>(`/api/v1/tasks?app=${appId}`);
    const live = tasks.body.tasks.filter((x) => !['TASK_FINISHED', 'TASK_FAILED', 'TASK_KILLED', 'TASK_ERROR', 'TASK_LOST', 'TASK_GONE', 'TASK_DROPPED'].includes(x.state));
    return apps.status === 404 && live.length === 0 ? true : undefined;
  });
  t.pass(`${name}: no app and no live task left`);
}

const run = (cmd: string, args: string[]) =>
  new Promise<string>((resolve, reject) => execFile(cmd, args, { timeout: 10_000 }, (err, stdout) => (err ? reject(err) : resolve(stdout))));

function tcpExchange(port: number, send: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let data = '';
    socket.setTimeout(5000, () => socket.destroy(new Error('timeout')));
    socket.on('connect', () => socket.write(send));
    socket.on('data', (d) => {
      data += d.toString();
      if (data.includes('\r\n')) socket.end();
    });
    socket.on('close', () => resolve(data));
    socket.on('error', reject);
  });
}

const text = async (url: string) => (await fetch(url)).text();

t.test('the built-in service packages install, become healthy, answer and uninstall', async (t) => {
  corral = await startCorral(join(root, 'node'), ['--agent-cpus', '8', '--agent-mem', '8192']);

  const nodes = await api<{ nodes: Array<{ commands: string[] }> }>('/api/v1/nodes');
  for (const cmd of ['redis-server', 'nginx', 'memcached', 'prometheus', 'prometheus-node-exporter', 'sh']) t.ok(nodes.body.nodes[0]!.commands.includes(cmd), `the agent advertises ${cmd}`);

  const search = await cli('package', 'search');
  t.equal(search.code, 0, search.stderr);
  for (const name of ['redis', 'nginx', 'memcached', 'prometheus', 'prometheus-node-exporter', 'hello-world', 'sqlite-backup', 'sandbox-log-cleaner']) t.match(search.stdout, new RegExp(`^${name}\\s`, 'm'), `search lists ${name}`);

  // Every service at once: they become healthy side by side.
  const installs: Array<[string, string[]]> = [
    ['redis', []],
    ['nginx', []],
    ['memcached', []],
    ['prometheus', []],
    ['prometheus-node-exporter', []],
    ['hello-world', []],
  ];
  for (const [name, extra] of installs) {
    const res = await cli('package', 'install', name, '--yes', ...extra);
    t.equal(res.code, 0, `install ${name}: ${res.stderr}`);
    t.match(res.stdout, new RegExp(`Installed package ${name} \\S+ as app /${name}`));
  }
  const list = await cli('--json', 'package', 'list');
  t.equal(JSON.parse(list.stdout).packages.length, installs.length, 'package list shows every one');

  const redisPort = await healthyPort('/redis');
  t.equal((await run('redis-cli', ['-p', String(redisPort), 'ping'])).trim(), 'PONG', 'redis-cli ping → PONG');
  // Found through discovery too: the SRV record of the app names its port and its node.
  const dnsPort = Number(/DNS:\s+127\.0\.0\.1:(\d+)/.exec(corral!.output())![1]);
  const srv = await waitFor('redis in DNS', 10_000, async () => {
    const answer = (await run('dig', ['@127.0.0.1', '-p', String(dnsPort), '+short', '_redis._tcp.corral-init.corral', 'SRV'])).trim();
    return answer === '' ? undefined : answer;
  });
  const [, , srvPort, target] = srv.split(/\s+/);
  t.equal(Number(srvPort), redisPort, `the SRV record names its port (${srv})`);
  const address = (await run('dig', ['@127.0.0.1', '-p', String(dnsPort), '+short', target!, 'A'])).trim();
  t.equal((await run('redis-cli', ['-h', address, '-p', srvPort!, 'ping'])).trim(), 'PONG', `redis-cli ping through discovery (${target} → ${address}) → PONG`);
  const nginxPort = await healthyPort('/nginx');
  t.match(await text(`http://127.0.0.1:${nginxPort}/`), /Hello from nginx on Corral/, 'nginx serves the site');
  const memcachedPort = await healthyPort('/memcached');
  t.match(await tcpExchange(memcachedPort, 'version\r\n'), /^VERSION \d/, 'memcached answers version');
  const promPort = await healthyPort('/prometheus');
  t.match(await text(`http://127.0.0.1:${promPort}/-/healthy`), /Healthy/i, 'Prometheus is healthy');
  t.match(await text(`http://127.0.0.1:${promPort}/api/v1/status/config`), /api\/v1\/discovery\/prometheus/, "its HTTP SD points at Corral's discovery endpoint");
  const exporterPort = await healthyPort('/prometheus-node-exporter');
  t.match(await text(`http://127.0.0.1:${exporterPort}/metrics`), /^node_load1 /m, 'the node exporter exports node metrics');
  const helloPort = await healthyPort('/hello-world');
  t.match(await text(`http://127.0.0.1:${helloPort}/`), /Hello from Corral!/);

  for (const [name] of installs) await uninstall(t, name, `/${name}`);
  t.same(JSON.parse((await cli('--json', 'package', 'list')).stdout), { packages: [] }, 'nothing installed');

  // A job package installs a cron job (its schedule is daily: nothing runs during the test).
  const job = await cli('package', 'install', 'sqlite-backup');
  t.equal(job.code, 0, `a job package installs: ${job.stderr}`);
  const jobs = await api<Array<{ name: string; schedule: string }>>('/v1/scheduler/jobs');
  t.match(jobs.body.find((j) => j.name === 'sqlite-backup'), { schedule: /^R\/\d{4}-\d\d-\d\dT03:00:00(\.000)?Z\/P1D$/ }, 'as a cron job (Chronos shows the next start)');
  const removed = await cli('package', 'uninstall', 'sqlite-backup');
  t.equal(removed.code, 0, removed.stderr);
  t.notOk((await api<Array<{ name: string }>>('/v1/scheduler/jobs')).body.some((j) => j.name === 'sqlite-backup'), 'uninstalled: the job is gone');
});

t.test('a Universe package round-trips: directory → repo index → HTTP → repo add → install', async (t) => {
  const dir = join(root, 'tutorial');
  writeFiles(dir, {
    'packages/T/tutorial-hello/0/package.json': JSON.stringify({
      packagingVersion: '3.0',
      name: 'tutorial-hello',
      version: '0.1.0',
      maintainer: 'you@example.invalid',
      description: 'The Universe tutorial package, Corral style',
      tags: ['tutorial'],
      postInstallNotes: 'Say hello.',
      corral: { requires: { commands: ['python3'] } },
    }),
    'packages/T/tutorial-hello/0/config.json': JSON.stringify({ type: 'object', properties: { hello: { type: 'object', properties: { word: { type: 'string', default: 'tutorial' } } } } }),
    'packages/T/tutorial-hello/0/resource.json': '{}',
    'packages/T/tutorial-hello/0/marathon.json.mustache': JSON.stringify({
      id: '/tutorial',
      cmd: 'cd "$MESOS_SANDBOX" && echo {{hello.word}} > index.html && exec python3 -m http.server --bind 127.0.0.1 $PORT0',
      cpus: 0.1,
      mem: 64,
      portDefinitions: [{ port: 0, name: 'http' }],
      healthChecks: [{ protocol: 'HTTP', path: '/', portIndex: 0, gracePeriodSeconds: 30, intervalSeconds: 2, timeoutSeconds: 1, delaySeconds: 1 }],
    }),
  });
  const index = JSON.stringify(buildRepoIndex(loadLayout(diskFiles(dir))));
  const server = createServer((req, res) => {
    if (req.url === '/repo.json') res.writeHead(200, { 'content-type': 'application/vnd.dcos.universe.repo+json;charset=utf-8;version=v3' }).end(index);
    else res.writeHead(200).end('garbage');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  const addr = server.address();
  const url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;

  const garbage = await cli('package', 'repo', 'add', 'junk', `${url}/junk`);
  t.equal(garbage.code, 1);
  t.match(garbage.stderr, /REPOSITORY_INVALID/);
  const unreachable = await cli('package', 'repo', 'add', 'dead', 'http://127.0.0.1:1/repo.json');
  t.equal(unreachable.code, 1);
  t.match(unreachable.stderr, /REPOSITORY_UNREACHABLE/);

  const added = await cli('package', 'repo', 'add', 'tutorial', `${url}/repo.json`, '--index', '0');
  t.equal(added.code, 0, added.stderr);
  t.match((await cli('package', 'repo', 'list')).stdout, /0\s+tutorial\s+http.*\n1\s+Universe\s+builtin:packages-universe/);

  writeFiles(root, { 'bad-options.json': '{"hello": ' });
  const bad = await cli('package', 'install', 'tutorial-hello', '--options', join(root, 'bad-options.json'));
  t.equal(bad.code, 1, 'an options file that is not JSON');
  t.match(bad.stderr, /INVALID_JSON/);
  const wrong = await cli('package', 'install', 'tutorial-hello', '--options', join(root, 'wrong-options.json'));
  t.match(wrong.stderr, /FILE_UNREADABLE/);
  writeFiles(root, { 'typed-options.json': '{"hello": {"word": 5}}' });
  const typed = await cli('package', 'install', 'tutorial-hello', '--options', join(root, 'typed-options.json'));
  t.match(typed.stderr, /PACKAGE_OPTIONS_INVALID\)\n  \/hello\/word: must be string/, 'the option path is named');
  const unknown = await cli('package', 'install', 'tutorial-hello', '--package-version', '9.9');
  t.match(unknown.stderr, /PACKAGE_VERSION_NOT_FOUND/);

  const install = await cli('package', 'install', 'tutorial-hello');
  t.equal(install.code, 0, install.stderr);
  t.match(install.stdout, /Installed package tutorial-hello 0\.1\.0 as app \/tutorial.*\nSay hello\./);
  const port = await healthyPort('/tutorial');
  t.equal((await text(`http://127.0.0.1:${port}/`)).trim(), 'tutorial');
  const apps = await api<{ app: { labels: Record<string, string> } }>('/v2/apps/tutorial');
  t.equal(apps.body.app.labels.DCOS_PACKAGE_SOURCE, `${url}/repo.json`);
  await uninstall(t, 'tutorial-hello', '/tutorial');
  t.equal((await cli('package', 'repo', 'remove', 'tutorial')).code, 0);
});

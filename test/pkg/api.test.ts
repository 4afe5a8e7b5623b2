// Cosmos's /package API over init's whole stack (real controller, deployments and app service on a
// fake clock and a fake agent): repositories built in, added by URL (a real HTTP server) or path,
// in priority order; search, describe, render, install, list, uninstall; job packages through an
// injected installer; and every bad input a clear error with a stable code that installs nothing.
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { registerPackageRoutes } from '../../src/pkg/routes';
import { Repositories } from '../../src/pkg/repositories';
import { PackageService } from '../../src/pkg/service';
import { buildRepoIndex, loadLayout, mapFiles } from '../../src/pkg/repo-layout';
import type { AgentCapabilities, ChronosJob, JobInstaller } from '../../src/pkg/types';
import { CorralError } from '../../src/shared/errors';
import { MemoryStore } from '../../src/store/memory';
import { initStack } from '../api/helpers/init-stack';
import { DEMO_PACKAGE, DEMO_TEMPLATE, demoRepoFiles, writeFiles } from './helpers/fixtures';

/** A repository server: `/repo.json` serves `index`; `/garbage` HTML; `/broken` 500. */
async function repoServer(t: Test, index: unknown): Promise<string> {
  const server: Server = createServer((req, res) => {
    if (req.url === '/repo.json') res.writeHead(200, { 'content-type': 'application/vnd.dcos.universe.repo+json;charset=utf-8;version=v4' }).end(JSON.stringify(index));
    else if (req.url === '/garbage') res.writeHead(200, { 'content-type': 'text/html' }).end('<html>not a repo</html>');
    else if (req.url === '/not-index') res.writeHead(200).end('{"hello": 1}');
    else res.writeHead(500).end('oops');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  const addr = server.address();
  return `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
}

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const addr = s.address();
  await new Promise<void>((r) => s.close(() => r()));
  return typeof addr === 'object' && addr ? addr.port : 1;
}

class FakeJobs implements JobInstaller {
  readonly jobs = new Map<string, ChronosJob>();
  async add(job: ChronosJob): Promise<void> {
    if (this.jobs.has(job.name)) throw new CorralError('VALIDATION_FAILED', 'exists');
    this.jobs.set(job.name, job);
  }
  async remove(name: string): Promise<void> {
    this.jobs.delete(name);
  }
}

async function stack(t: Test) {
  const agents: AgentCapabilities[] = [{ hostname: 'a1.test', commands: ['sh', 'echo'], available: true }];
  const jobs: { installer: JobInstaller | undefined } = { installer: undefined };
  const s = await initStack(t, ({ store, apps }) => {
    const repositories = new Repositories({ store, clock: { now: () => 0, setTimeout: (fn, ms) => ({ cancel: clearTimeout.bind(null, setTimeout(fn, ms)) }), setInterval: () => ({ cancel() {} }), sleep: async () => {} }, builtin: () => mapFiles(demoRepoFiles()) });
    const service = new PackageService({ repositories, apps, store, agents: () => agents, jobs: () => jobs.installer, apiUrl: () => 'http://127.0.0.1:5050' });
    return [(server) => registerPackageRoutes(server, service, repositories)];
  });
  const cosmos = async (op: string, body: unknown) => {
    const res = await s.call('POST', `/package/${op}`, body);
    return { status: res.statusCode, body: res.json(), type: res.headers['content-type'] };
  };
  const apps = async () => ((await s.call('GET', '/v2/apps')).json() as { apps: Array<{ id: string; labels: Record<string, string>; constraints: string[][] }> }).apps;
  return { ...s, agents, jobs, cosmos, apps };
}

t.test('search, describe, list-versions and render answer in Cosmos shapes', async (t) => {
  const s = await stack(t);
  const repos = await s.cosmos('repository/list', {});
  t.same(repos.body, { repositories: [{ name: 'Universe', uri: 'builtin:packages-universe' }] }, 'the built-in repository alone at first');
  const search = await s.cosmos('search', { query: 'demo' });
  t.equal(search.status, 200);
  t.match(search.type, /^application\/vnd\.dcos\.package\.search-response\+json/);
  t.match(search.body.packages, [{ name: 'demo', currentVersion: '1.1.0', versions: { '1.0.0': '0', '1.1.0': '1' }, description: 'A demo service for tests', tags: ['demo', 'test'] }, { name: 'demo-job' }]);
  t.equal((await s.cosmos('search', undefined)).body.packages.length, 2, 'no query: everything');

  const latest = await s.cosmos('describe', { packageName: 'demo' });
  t.match(latest.body, { package: { name: 'demo', version: '1.1.0', releaseVersion: 1, config: { type: 'object' }, marathon: { v2AppMustacheTemplate: Buffer.from(DEMO_TEMPLATE).toString('base64') } } });
  t.match((await s.cosmos('describe', { packageName: 'demo', packageVersion: '1.0.0' })).body, { package: { version: '1.0.0', releaseVersion: 0 } });
  t.same((await s.cosmos('list-versions', { packageName: 'demo', includePackageVersions: true })).body, { results: { '1.0.0': '0', '1.1.0': '1' } });

  const render = await s.cosmos('render', { packageName: 'demo', options: { service: { instances: 2 } }, appId: '/r/demo' });
  t.equal(render.status, 200);
  t.match(render.body.marathonJson, { id: '/r/demo', instances: 2, labels: { DCOS_PACKAGE_NAME: 'demo', DCOS_PACKAGE_VERSION: '1.1.0', DCOS_PACKAGE_SOURCE: 'builtin:packages-universe' } });
  t.match((await s.cosmos('render', { packageName: 'demo-job' })).body, { chronosJson: { name: 'demo-job', command: 'echo tick' } });
  t.same(await s.apps(), [], 'rendering installs nothing');
});

t.test('bad input: each a clear error with a stable code, nothing installed', async (t) => {
  const s = await stack(t);
  const cases: Array<[string, string, unknown, number, Record<string, unknown>]> = [
    ['unknown package', 'install', { packageName: 'nope' }, 404, { code: 'PACKAGE_NOT_FOUND', message: /nope/ }],
    ['unknown version', 'install', { packageName: 'demo', packageVersion: '9.9.9' }, 404, { code: 'PACKAGE_VERSION_NOT_FOUND', message: /1\.0\.0, 1\.1\.0/ }],
    ['describe an unknown package', 'describe', { packageName: 'nope' }, 404, { code: 'PACKAGE_NOT_FOUND' }],
    ['options breaking the schema', 'install', { packageName: 'demo', options: { demo: { port: 'eighty' } } }, 422, { code: 'PACKAGE_OPTIONS_INVALID', details: [{ path: '/demo/port', errors: ['must be integer'] }] }],
    ['an unknown option', 'install', { packageName: 'demo', options: { servic: {} } }, 422, { code: 'PACKAGE_OPTIONS_INVALID', details: [{ path: '/servic' }] }],
    ['a value that breaks the rendered JSON', 'install', { packageName: 'demo', options: { demo: { greeting: 'a "quoted" word' } } }, 422, { code: 'PACKAGE_RENDER_FAILED', details: [{ path: '/marathon.json.mustache', errors: [/invalid JSON/] }] }],
    ['a bad app id', 'install', { packageName: 'demo', appId: '/UPPER' }, 422, { code: 'VALIDATION_FAILED', details: [{ path: '/appId' }] }],
    ['no packageName', 'install', { options: {} }, 422, { code: 'VALIDATION_FAILED', details: [{ path: '/packageName' }] }],
    ['options not an object', 'install', { packageName: 'demo', options: 'x' }, 422, { code: 'VALIDATION_FAILED', details: [{ path: '/options' }] }],
    ['a body that is not an object', 'install', [1], 422, { code: 'VALIDATION_FAILED' }],
    ['a job package without cron', 'install', { packageName: 'demo-job' }, 503, { code: 'PACKAGE_JOBS_UNAVAILABLE' }],
    ['uninstall what is not installed', 'uninstall', { packageName: 'demo' }, 404, { code: 'PACKAGE_NOT_INSTALLED' }],
    ['delete an unknown repository', 'repository/delete', { name: 'nope' }, 404, { code: 'REPOSITORY_NOT_FOUND' }],
    ['delete with neither name nor uri', 'repository/delete', {}, 422, { code: 'VALIDATION_FAILED' }],
    ['a relative repository path', 'repository/add', { name: 'rel', uri: 'some/dir' }, 422, { code: 'VALIDATION_FAILED', details: [{ path: '/uri' }] }],
    ['a repository index beyond the list', 'repository/add', { name: 'far', uri: 'http://127.0.0.1:1/x', index: 5 }, 422, { code: 'VALIDATION_FAILED', details: [{ path: '/index' }] }],
    ['a repository name taken', 'repository/add', { name: 'Universe', uri: 'http://127.0.0.1:1/x' }, 409, { code: 'REPOSITORY_EXISTS' }],
  ];
  for (const [what, op, body, status, want] of cases) {
    const res = await s.cosmos(op, body);
    t.equal(res.status, status, `${what}: ${status}`);
    t.match(res.body, want, `${what}: ${String(want.code)}`);
  }
  s.agents.splice(0, s.agents.length, { hostname: 'a1.test', commands: ['bash'], available: true });
  const infeasible = await s.cosmos('install', { packageName: 'demo' });
  t.equal(infeasible.status, 422);
  t.match(infeasible.body, { code: 'PACKAGE_INFEASIBLE', message: /missing command: sh/ }, 'no agent has the command: the error names it');
  t.same(await s.apps(), [], 'nothing was installed by any of them');
  t.same((await s.cosmos('list', {})).body, { packages: [] });
});

t.test('install, list and uninstall: apps with Universe labels, placed where the commands are', async (t) => {
  const s = await stack(t);
  const installed = await s.cosmos('install', { packageName: 'demo', packageVersion: '1.0.0', options: { service: { instances: 1 } } });
  t.equal(installed.status, 200);
  t.match(installed.type, /^application\/vnd\.dcos\.package\.install-response\+json/);
  t.match(installed.body, { packageName: 'demo', packageVersion: '1.0.0', appId: '/demo', postInstallNotes: 'demo is up', deploymentId: String });
  const [app] = await s.apps();
  t.match(app, { id: '/demo', labels: { DCOS_PACKAGE_NAME: 'demo', DCOS_PACKAGE_VERSION: '1.0.0', custom: 'yes' } });
  t.same(JSON.parse(Buffer.from(app!.labels.DCOS_PACKAGE_OPTIONS!, 'base64').toString()), { service: { instances: 1 } });
  t.same(app!.constraints, [], 'every agent has the commands: no placement constraint');
  await s.round();
  t.equal(s.agent.launched.length, 1, 'the app runs');

  t.match((await s.cosmos('install', { packageName: 'demo' })).body, { code: 'APP_EXISTS' }, 'installing at the same id again is refused');
  s.agents.push({ hostname: 'b2.test', commands: [], available: true });
  const second = await s.cosmos('install', { packageName: 'demo', appId: '/demo2' });
  t.match(second.body, { appId: '/demo2', packageVersion: '1.1.0' }, 'the newest version by default');
  t.same((await s.apps()).find((a) => a.id === '/demo2')!.constraints, [['hostname', 'LIKE', 'a1\\.test']], 'an agent lacks the commands: kept on those that have them');

  const list = await s.cosmos('list', {});
  t.match(list.body, { packages: [{ appId: '/demo', packageInformation: { packageDefinition: { name: 'demo', version: '1.0.0' } } }, { appId: '/demo2', packageInformation: { packageDefinition: { version: '1.1.0' } } }] });
  t.notOk(list.body.packages[0].packageInformation.packageDefinition.marathon, 'the definition without its template');
  t.equal((await s.cosmos('list', { appId: 'demo2' })).body.packages.length, 1, 'filtered by app id');

  const ambiguous = await s.cosmos('uninstall', { packageName: 'demo' });
  t.equal(ambiguous.status, 409);
  t.match(ambiguous.body, { code: 'PACKAGE_APP_AMBIGUOUS', message: /\/demo, \/demo2/ });
  const one = await s.cosmos('uninstall', { packageName: 'demo', appId: '/demo2' });
  t.same(one.body, { results: [{ packageName: 'demo', appId: '/demo2', packageVersion: '1.1.0', postUninstallNotes: 'demo is gone' }] });
  const all = await s.cosmos('uninstall', { packageName: 'demo', all: true });
  t.match(all.body, { results: [{ appId: '/demo' }] });
  await s.round();
  t.same(await s.apps(), [], 'no app left');
  t.equal(s.agent.killed.length, 1, 'its task was killed');
  t.same((await s.cosmos('list', {})).body, { packages: [] });
});

t.test('job packages go through the job installer', async (t) => {
  const s = await stack(t);
  const jobs = new FakeJobs();
  s.jobs.installer = jobs;
  const res = await s.cosmos('install', { packageName: 'demo-job', options: { job: { word: 'hello' } } });
  t.equal(res.status, 200);
  t.match(res.body, { packageName: 'demo-job', jobName: 'demo-job' });
  t.notOk('appId' in res.body, 'no app');
  t.match(jobs.jobs.get('demo-job'), { command: 'echo hello' });
  t.match((await s.cosmos('install', { packageName: 'demo-job' })).body, { code: 'APP_EXISTS' }, 'the same job name twice is refused');
  t.match((await s.cosmos('list', {})).body, { packages: [{ appId: null, jobName: 'demo-job', packageInformation: { packageDefinition: { name: 'demo-job' } } }] });
  s.jobs.installer = undefined;
  t.match((await s.cosmos('uninstall', { packageName: 'demo-job' })).body, { code: 'PACKAGE_JOBS_UNAVAILABLE' }, 'cron gone: the job cannot be removed');
  s.jobs.installer = jobs;
  t.match((await s.cosmos('uninstall', { packageName: 'demo-job' })).body, { results: [{ packageName: 'demo-job', jobName: 'demo-job', packageVersion: '1.0.0' }] });
  t.equal(jobs.jobs.size, 0);
  t.same((await s.cosmos('list', {})).body, { packages: [] });
});

t.test('repositories: added by URL or path in priority order, refused when unreachable or garbage', async (t) => {
  const s = await stack(t);
  const served = loadLayout(mapFiles({ 'packages/S/served/0/package.json': JSON.stringify({ ...DEMO_PACKAGE, name: 'served', corral: undefined }), 'packages/S/served/0/marathon.json.mustache': '{"id": "/served", "cmd": "sleep 100", "cpus": 0.1, "mem": 16}', 'packages/D/demo/7/package.json': JSON.stringify({ ...DEMO_PACKAGE, version: '7.0.0' }), 'packages/D/demo/7/marathon.json.mustache': DEMO_TEMPLATE.replace('{{demo.port}}', '0').replace(/\{\{[a-z.]+\}\}/g, '1') }));
  const url = await repoServer(t, buildRepoIndex(served));
  const dead = await closedPort();

  const unreachable = await s.cosmos('repository/add', { name: 'dead', uri: `http://127.0.0.1:${dead}/repo.json` });
  t.equal(unreachable.status, 502);
  t.match(unreachable.body, { code: 'REPOSITORY_UNREACHABLE', message: /ECONNREFUSED/ });
  t.match((await s.cosmos('repository/add', { name: 'err', uri: `${url}/broken` })).body, { code: 'REPOSITORY_UNREACHABLE', message: /HTTP 500/ });
  const garbage = await s.cosmos('repository/add', { name: 'junk', uri: `${url}/garbage` });
  t.equal(garbage.status, 422);
  t.match(garbage.body, { code: 'REPOSITORY_INVALID', message: /not answer with JSON/ });
  t.match((await s.cosmos('repository/add', { name: 'junk', uri: `${url}/not-index` })).body, { code: 'REPOSITORY_INVALID', message: /"packages"/ });
  t.match((await s.cosmos('repository/add', { name: 'nodir', uri: '/nonexistent/corral-repo' })).body, { code: 'REPOSITORY_UNREACHABLE' });
  t.equal((await s.cosmos('repository/list', {})).body.repositories.length, 1, 'none of them was added');

  const added = await s.cosmos('repository/add', { name: 'served', uri: `${url}/repo.json` });
  t.equal(added.status, 200);
  t.same(added.body.repositories.map((r: { name: string }) => r.name), ['Universe', 'served']);
  t.match((await s.cosmos('repository/add', { name: 'again', uri: `${url}/repo.json` })).body, { code: 'REPOSITORY_EXISTS' }, 'the same URI twice');
  t.equal((await s.cosmos('describe', { packageName: 'demo' })).body.package.version, '1.1.0', 'the built-in repository comes first for demo');
  t.match((await s.cosmos('install', { packageName: 'served' })).body, { appId: '/served', packageName: 'served' }, 'a package only the added repository has installs');
  t.equal((await s.apps())[0]!.labels.DCOS_PACKAGE_SOURCE, `${url}/repo.json`);

  const dir = mkdtempSync(join(tmpdir(), 'corral-pkg-repo-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFiles(dir, { 'packages/L/local/0/package.json': JSON.stringify({ ...DEMO_PACKAGE, name: 'local', corral: undefined }), 'packages/L/local/0/marathon.json.mustache': '{"id": "/local", "cmd": "sleep 1", "cpus": 0.1, "mem": 16}' });
  const first = await s.cosmos('repository/add', { name: 'local', uri: dir, index: 0 });
  t.same(first.body.repositories.map((r: { name: string }) => r.name), ['local', 'Universe', 'served'], 'index 0: highest priority');
  t.match((await s.cosmos('describe', { packageName: 'local' })).body, { package: { name: 'local' } });
  const prio = await s.cosmos('repository/add', { name: 'over', uri: `file://${dir}/../${dir.split('/').pop()}/`, index: 0 });
  t.equal(prio.status, 200, 'a file:// URL works too');
  writeFiles(dir, { 'packages/L/local/0/package.json': '{broken' });
  t.match((await s.cosmos('describe', { packageName: 'local' })).body, { code: 'REPOSITORY_INVALID', details: [{ path: '/package.json' }] }, 'a directory is read afresh and a broken one is named');

  const removed = await s.cosmos('repository/delete', { uri: `${url}/repo.json` });
  t.same(removed.body.repositories.map((r: { name: string }) => r.name), ['over', 'local', 'Universe']);
  await s.cosmos('repository/delete', { name: 'Universe' });
  await s.cosmos('repository/delete', { name: 'over' });
  await s.cosmos('repository/delete', { name: 'local' });
  t.same((await s.cosmos('repository/list', {})).body, { repositories: [] }, 'every repository can go, the built-in one too');
  t.match((await s.cosmos('install', { packageName: 'demo' })).body, { code: 'PACKAGE_NOT_FOUND' });
  t.same((await s.cosmos('repository/add', { name: 'Universe', uri: 'builtin:packages-universe' })).body, { repositories: [{ name: 'Universe', uri: 'builtin:packages-universe' }] }, 'and come back');
});

t.test('a repository fetched over HTTP is cached, and used while it is down', async (t) => {
  const store = new MemoryStore();
  let now = 0;
  let calls = 0;
  let up = true;
  const index = buildRepoIndex(loadLayout(mapFiles(demoRepoFiles())));
  const fakeFetch = (async () => {
    calls++;
    if (!up) throw new TypeError('fetch failed', { cause: { code: 'ECONNREFUSED' } });
    return new Response(JSON.stringify(index), { status: 200 });
  }) as unknown as typeof fetch;
  const clock = { now: () => now, setTimeout: () => ({ cancel() {} }), setInterval: () => ({ cancel() {} }), sleep: async () => {} };
  const repos = new Repositories({ store, clock, fetch: fakeFetch, cacheMs: 1000 });
  await repos.add({ name: 'r', uri: 'http://repo.test/index.json' });
  t.equal(calls, 1, 'read once when added');
  await repos.revisions({ name: 'r', uri: 'http://repo.test/index.json' });
  t.equal(calls, 1, 'then from the cache');
  now = 2000;
  up = false;
  t.equal((await repos.revisions({ name: 'r', uri: 'http://repo.test/index.json' })).length, 3, 'down: the last copy serves');
  t.equal(calls, 2, 'after it was tried again');
  const fresh = new Repositories({ store, clock, fetch: fakeFetch });
  await t.rejects(fresh.revisions({ name: 'r', uri: 'http://repo.test/index.json' }), { code: 'REPOSITORY_UNREACHABLE' }, 'no copy yet: unreachable');
  t.same(await fresh.list(), [{ name: 'Universe', uri: 'builtin:packages-universe' }, { name: 'r', uri: 'http://repo.test/index.json' }], 'the list is kept in the store');
});

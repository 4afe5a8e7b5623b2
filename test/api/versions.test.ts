// Marathon's app versions over HTTP (inject()): GET /v2/apps/{id}/versions[/{version}], their 404s,
// and rollback by PUT {"version"}: the old definition comes back under a new version and its tasks
// replace the running ones (real processes on the node's own agent).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { composeNode, type Node } from '../../src/daemon';
import { defaultConfig } from '../../src/shared/config';
import { silentLogger } from '../../src/shared/logger';
import { MemoryStore } from '../../src/store';
import { removeEmptyCorralCgroups } from '../helpers/corral-process';

const dataDir = mkdtempSync(join(tmpdir(), 'corral-versions-'));
let node: Node;

t.before(async () => {
  node = await composeNode({ ...defaultConfig(false), dnsListen: { host: '127.0.0.1', port: 0 }, dataDir, agentCpus: 2, agentMemMb: 1024, agentDiskMb: 1024 }, { logger: silentLogger(), store: new MemoryStore() });
});
t.teardown(async () => {
  await node?.stop();
  rmSync(dataDir, { recursive: true, force: true });
  removeEmptyCorralCgroups();
});

const call = (method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, body?: unknown) =>
  node.server.inject({
    method,
    url,
    headers: { authorization: `Bearer ${node.token.token}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
  });

/** Runs `fn` and asserts the app and its history did not change (init itself writes tasks meanwhile). */
async function changesNothing(t: Test, fn: () => Promise<unknown>) {
  const state = async () => ({ app: (await call('GET', '/v2/apps/ver/web')).json().app.version, versions: await node.store.list('/init/app-versions/') });
  const before = await state();
  await fn();
  t.same(await state(), before, 'the app and its versions are unchanged');
}

/** Versions are millisecond timestamps: a change in the same millisecond would replace the last one. */
function nextMillisecond(): void {
  const now = Date.now();
  while (Date.now() === now);
}

/** Polls the API until `check` holds (real processes start and stop in their own time). */
async function until<T>(what: string, read: () => Promise<T>, check: (v: T) => boolean): Promise<T> {
  let value = await read();
  for (let i = 0; i < 1600 && !check(value); i++) {
    await new Promise((r) => setTimeout(r, 25));
    value = await read();
  }
  if (!check(value)) throw new Error(`timed out waiting for ${what}`);
  return value;
}

/** One deployment per app: a change waits until the last one has finished. */
const settled = () => until('the deployment to finish', async () => (await call('GET', '/v2/apps/ver/web')).json().app.deployments as unknown[], (d) => d.length === 0);

type TaskJson = { id: string; state: string; version: string };
const runningTasks = async () => ((await call('GET', '/v2/apps/ver/web/tasks')).json().tasks as TaskJson[]).filter((x) => x.state === 'TASK_RUNNING');

const web = { id: '/ver/web', cmd: 'sleep 300', instances: 1, cpus: 0.01, mem: 8 };
let v1 = '';
let v2 = '';

t.test('every create and update is a version, listed newest first and readable as it was', async (t) => {
  const created = await call('POST', '/v2/apps', web);
  t.equal(created.statusCode, 201);
  v1 = created.json().version;
  await until('the first task', runningTasks, (ts) => ts.length === 1);
  await settled();
  nextMillisecond();
  const put = await call('PUT', '/v2/apps/ver/web', { cmd: 'sleep 301', labels: { build: '2' } });
  t.equal(put.statusCode, 200);
  v2 = put.json().version;
  t.not(v2, v1);

  const list = await call('GET', '/v2/apps/ver/web/versions');
  t.equal(list.statusCode, 200);
  t.same(list.json(), { versions: [v2, v1] }, "Marathon's shape, newest first");

  const old = await call('GET', `/v2/apps/ver/web/versions/${encodeURIComponent(v1)}`);
  t.equal(old.statusCode, 200);
  const app = old.json();
  t.match(app, { id: '/ver/web', cmd: 'sleep 300', instances: 1, labels: {}, version: v1, versionInfo: { lastConfigChangeAt: v1, lastScalingAt: v1 }, constraints: [] });
  t.notOk('tasksRunning' in app, 'a definition, not the app status');
  t.equal((await call('GET', `/v2/apps/ver/web/versions/${v1}`)).json().cmd, 'sleep 300', 'unencoded colons work too');
  const sameInstant = v1.replace(/\.(\d{3})Z$/, (_m, ms: string) => (ms === '000' ? 'Z' : `.${ms}000+00:00`));
  t.equal((await call('GET', `/v2/apps/ver/web/versions/${encodeURIComponent(sameInstant)}`)).json().version, v1, 'any ISO 8601 form of the instant');
  t.equal((await call('GET', `/v2/apps/ver/web/versions/${v2}`)).json().cmd, 'sleep 301');
});

t.test('unknown apps and versions are 404s in Marathon words; so is a rollback to them', async (t) => {
  await changesNothing(t, async () => {
    for (const url of ['/v2/apps/nope/versions', `/v2/apps/nope/versions/${v1}`]) {
      const res = await call('GET', url);
      t.equal(res.statusCode, 404, url);
      t.same(res.json(), { message: "App '/nope' does not exist", code: 'APP_NOT_FOUND' });
    }
    const missing = await call('GET', '/v2/apps/ver/web/versions/2000-01-01T00:00:00.000Z');
    t.equal(missing.statusCode, 404);
    t.same(missing.json(), { message: "App '/ver/web' does not exist in version 2000-01-01T00:00:00.000Z", code: 'APP_VERSION_NOT_FOUND' });
    t.equal((await call('GET', '/v2/apps/ver/web/versions/LATEST')).json().code, 'APP_VERSION_NOT_FOUND', 'not a timestamp');

    const rollback = await call('PUT', '/v2/apps/ver/web', { version: '2000-01-01T00:00:00.000Z' });
    t.equal(rollback.statusCode, 404);
    t.equal(rollback.json().code, 'APP_VERSION_NOT_FOUND');
    const noApp = await call('PUT', '/v2/apps/nope', { version: v1 });
    t.equal(noApp.statusCode, 404, 'only an existing app rolls back');
    t.equal(noApp.json().code, 'APP_NOT_FOUND');

    const mixed = await call('PUT', '/v2/apps/ver/web', { version: v1, cmd: 'sleep 1' });
    t.equal(mixed.statusCode, 422);
    t.match(mixed.json(), { code: 'VALIDATION_FAILED', details: [{ path: '/version', errors: ["The 'version' field may only be combined with the 'id' field."] }] });
    const notTime = await call('PUT', '/v2/apps/ver/web', { version: 'yesterday' });
    t.equal(notTime.statusCode, 422);
    t.match(notTime.json(), { details: [{ path: '/version' }] });
  });
});

t.test('PUT {version} rolls back: the old definition under a new version, deployed like an update', async (t) => {
  const before = await until('the v2 task', runningTasks, (ts) => ts.length === 1 && ts[0]!.version === v2);
  await settled();
  nextMillisecond();
  const res = await call('PUT', '/v2/apps/ver/web', { id: '/ver/web', version: v1 });
  t.equal(res.statusCode, 200);
  const { deploymentId, version: v3 } = res.json();
  t.ok(deploymentId);
  t.ok(v3 > v2, 'a new version');
  t.equal(res.headers['marathon-deployment-id'], deploymentId);

  const app = (await call('GET', '/v2/apps/ver/web')).json().app;
  t.match(app, { cmd: 'sleep 300', labels: {}, version: v3, versionInfo: { lastConfigChangeAt: v3 } }, 'the v1 definition is back');
  t.same((await call('GET', '/v2/apps/ver/web/versions')).json().versions, [v3, v2, v1]);

  const after = await until('the rolled-back task', runningTasks, (ts) => ts.length === 1 && ts[0]!.version === v3);
  t.not(after[0]!.id, before[0]!.id, 'the v2 task was replaced');
  const old = await until('the v2 task to end', async () => (await call('GET', `/api/v1/tasks/${before[0]!.id}`)).json().task.state, (s) => s === 'TASK_KILLED');
  t.equal(old, 'TASK_KILLED');
});

t.test('a versions segment inside an app id is not a versions request', async (t) => {
  const created = await call('POST', '/v2/apps', { id: '/ver/versions/db', cmd: 'sleep 300', instances: 0, cpus: 0.01, mem: 8 });
  t.equal(created.statusCode, 201);
  t.equal((await call('GET', '/v2/apps/ver/versions/db')).json().app.id, '/ver/versions/db');
  t.same((await call('GET', '/v2/apps/ver/versions/db/versions')).json().versions, [created.json().version]);
  t.equal((await call('DELETE', '/v2/apps/ver/versions/db')).statusCode, 200);
});

t.test("removing the app removes its versions", async (t) => {
  t.equal((await call('DELETE', '/v2/apps/ver/web')).statusCode, 200);
  t.equal((await call('GET', '/v2/apps/ver/web/versions')).statusCode, 404);
  t.same(await node.store.list('/init/app-versions/'), [], 'no version is left in the store');
});

// The HTTP API through fastify's inject(): auth, Marathon's shapes and status codes, bad input
// with stable codes, and that a rejected request writes nothing to the store.
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { composeNode, type Node } from '../../src/daemon';
import { defaultConfig } from '../../src/shared/config';
import { silentLogger } from '../../src/shared/logger';
import { MemoryStore } from '../../src/store';
import { removeEmptyCorralCgroups } from '../helpers/corral-process';

const dataDir = mkdtempSync(join(tmpdir(), 'corral-api-'));
let node: Node;

t.before(async () => {
  node = await composeNode({ ...defaultConfig(false), dnsListen: { host: '127.0.0.1', port: 0 }, dataDir, agentCpus: 2, agentMemMb: 1024, agentDiskMb: 1024, agentAttributes: { zone: 'a' } }, { logger: silentLogger(), store: new MemoryStore() });
});
t.teardown(async () => {
  await node?.stop();
  rmSync(dataDir, { recursive: true, force: true });
  removeEmptyCorralCgroups();
});

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';
const call = (method: Method, url: string, body?: unknown, headers: Record<string, string> = {}) =>
  node.server.inject({
    method,
    url,
    headers: { authorization: `Bearer ${node.token.token}`, 'content-type': 'application/json', ...headers },
    ...(body === undefined ? {} : { payload: typeof body === 'string' ? body : JSON.stringify(body) }),
  });

/** Runs `fn` and asserts the store revision did not move. */
async function writesNothing(t: Test, fn: () => Promise<unknown>) {
  const before = await node.store.revision();
  await fn();
  t.equal(await node.store.revision(), before, 'nothing was written');
}

const sleeper = { id: '/api/sleeper', cmd: 'sleep 300', instances: 0, cpus: 0.01, mem: 8 };

t.test('admin token file is private', async (t) => {
  t.equal(statSync(node.token.path).mode & 0o777, 0o600);
});

t.test('auth: every route but /ping needs the bearer token', async (t) => {
  const ping = await node.server.inject({ method: 'GET', url: '/ping' });
  t.equal(ping.statusCode, 200);
  t.equal(ping.body, 'pong');
  for (const url of ['/v2/apps', '/v2/tasks', '/v2/info', '/api/v1/nodes', '/api/v1/tasks', '/metrics']) {
    const missing = await node.server.inject({ method: 'GET', url });
    t.equal(missing.statusCode, 401, `${url} without token`);
    t.equal(missing.json().code, 'UNAUTHORIZED');
    const wrong = await node.server.inject({ method: 'GET', url, headers: { authorization: 'Bearer nope' } });
    t.equal(wrong.statusCode, 401, `${url} with a wrong token`);
  }
  await writesNothing(t, async () => {
    const res = await node.server.inject({ method: 'POST', url: '/v2/apps', payload: JSON.stringify(sleeper), headers: { 'content-type': 'application/json' } });
    t.equal(res.statusCode, 401, 'an unauthorised POST is refused');
  });
});

t.test('POST /v2/apps creates an app with Marathon defaults and headers', async (t) => {
  const res = await call('POST', '/v2/apps', sleeper);
  t.equal(res.statusCode, 201);
  t.equal(res.headers.location, '/v2/apps/api/sleeper');
  t.ok(res.headers['marathon-deployment-id'], 'Marathon-Deployment-Id header');
  const app = res.json();
  t.match(app, { id: '/api/sleeper', instances: 0, disk: 0, backoffSeconds: 1, backoffFactor: 1.15, maxLaunchDelaySeconds: 300, tasksRunning: 0, tasksStaged: 0 });
  t.equal(app.deployments.length, 1);

  const got = await call('GET', '/v2/apps/api/sleeper');
  t.equal(got.statusCode, 200);
  t.match(got.json().app, { id: '/api/sleeper', cmd: 'sleep 300', versionInfo: { lastConfigChangeAt: String }, tasks: [] });
  const list = await call('GET', '/v2/apps?id=sleeper');
  t.same(list.json().apps.map((a: { id: string }) => a.id), ['/api/sleeper']);
});

t.test('bad input gets stable codes and writes nothing', async (t) => {
  await writesNothing(t, async () => {
    const bad = await call('POST', '/v2/apps', '{"id": "/x", ');
    t.equal(bad.statusCode, 400, 'malformed JSON');
    t.equal(bad.json().code, 'INVALID_JSON');

    const invalid = await call('POST', '/v2/apps', { id: '/Bad_Id', cmd: 'x', instances: -1, mem: 'lots' });
    t.equal(invalid.statusCode, 422, 'schema violation');
    const body = invalid.json();
    t.equal(body.message, 'Object is not valid');
    t.equal(body.code, 'VALIDATION_FAILED');
    const paths = body.details.map((d: { path: string }) => d.path).sort();
    t.same(paths, ['/instances', '/mem'], "Marathon's details name each bad field");
    t.ok(body.details.every((d: { errors: string[] }) => d.errors.length > 0));

    const badId = await call('POST', '/v2/apps', { id: '/Bad_Id', cmd: 'x' });
    t.equal(badId.statusCode, 422);
    t.equal(badId.json().details[0].path, '/id');

    const both = await call('POST', '/v2/apps', { id: '/both', cmd: 'x', args: ['y'] });
    t.equal(both.statusCode, 422, 'cmd and args together');

    const dup = await call('POST', '/v2/apps', sleeper);
    t.equal(dup.statusCode, 409, 'duplicate id');
    t.equal(dup.json().code, 'APP_EXISTS');
    t.equal(dup.json().message, 'An app with id [/api/sleeper] already exists.');

    for (const [method, url] of [
      ['GET', '/v2/apps/nope'],
      ['GET', '/v2/apps/nope/tasks'],
      ['DELETE', '/v2/apps/nope'],
    ] as const) {
      const res = await call(method, url);
      t.equal(res.statusCode, 404, `${method} ${url}`);
      t.equal(res.json().code, 'APP_NOT_FOUND');
    }
    const badPut = await call('PUT', '/v2/apps/api/sleeper', { instances: 'many' });
    t.equal(badPut.statusCode, 422, 'a bad PUT is refused');
    const unknownTask = await call('GET', '/api/v1/tasks/none.1');
    t.equal(unknownTask.statusCode, 404);
    t.equal(unknownTask.json().code, 'TASK_NOT_FOUND');
    const noRoute = await call('GET', '/v3/whatever');
    t.equal(noRoute.statusCode, 404);
    t.equal(noRoute.json().code, 'NOT_FOUND');
    const badStream = await call('GET', '/api/v1/tasks/x/logs?stream=stdin');
    t.equal(badStream.statusCode, 400);
    t.equal(badStream.json().code, 'INVALID_REQUEST');
  });
});

t.test('PUT merges (partialUpdate) and reports a deployment; PUT of a new id creates', async (t) => {
  const constraints = [['@zone', 'IS', 'a'], ['hostname', 'UNIQUE']];
  const badConstraint = await call('PUT', '/v2/apps/api/sleeper', { constraints: [['hostname', 'MAX_PER']] });
  t.equal(badConstraint.statusCode, 422, 'a bad constraint is refused');
  t.match(badConstraint.json(), { code: 'VALIDATION_FAILED', details: [{ path: '/constraints/0', errors: [/MAX_PER requires a positive integer/] }] });
  const put = await call('PUT', '/v2/apps/api/sleeper', { instances: 1, labels: { team: 'a' }, constraints });
  t.equal(put.statusCode, 200);
  t.match(put.json(), { deploymentId: String, version: String });
  const app = (await call('GET', '/v2/apps/api/sleeper')).json().app;
  t.match(app, { instances: 1, cmd: 'sleep 300', labels: { team: 'a' } }, 'fields not in the body are kept');
  t.same(app.constraints, constraints, 'constraints as given (the next test sees the instance placed under them)');
  const created = await call('PUT', '/v2/apps/api/other', { cmd: 'sleep 300', instances: 0, cpus: 0.01, mem: 8 });
  t.equal(created.statusCode, 201, 'PUT creates a missing app');
});

t.test('tasks appear in /v2 and /api/v1 shapes; DELETE removes the app', async (t) => {
  let tasks: Array<Record<string, unknown>> = [];
  for (let i = 0; i < 200 && tasks.length === 0; i++) {
    tasks = (await call('GET', '/v2/apps/api/sleeper/tasks')).json().tasks.filter((x: { state: string }) => x.state === 'TASK_RUNNING');
    if (tasks.length === 0) await new Promise((r) => setTimeout(r, 25));
  }
  t.equal(tasks.length, 1, 'one running task');
  t.match(tasks[0], { appId: '/api/sleeper', host: String, ports: [], slaveId: String, state: 'TASK_RUNNING', stagedAt: String, startedAt: String, version: String });
  const text = await call('GET', '/v2/apps/api/sleeper/tasks', undefined, { accept: 'text/plain' });
  t.match(text.headers['content-type'], /text\/plain/);
  const all = (await call('GET', '/v2/tasks?status=running')).json().tasks;
  t.ok(all.some((x: { id: string }) => x.id === tasks[0]!.id), '/v2/tasks lists it');
  const native = (await call('GET', '/api/v1/tasks?app=/api/sleeper')).json().tasks;
  t.match(native[0], { id: tasks[0]!.id, appId: '/api/sleeper', state: 'TASK_RUNNING', resources: { cpus: 0.01, mem: 8 } });
  const nodes = (await call('GET', '/api/v1/nodes')).json().nodes;
  t.match(nodes[0], { attributes: { zone: 'a' }, roles: ['master', 'agent', 'init'], resources: { cpus: 2, mem: 1024 }, used: { cpus: 0.01, mem: 8 }, status: 'alive', version: String, lastContact: String });
  const info = (await call('GET', '/v2/info')).json();
  t.match(info, { name: 'corral', elected: true, frameworkId: String });

  const metrics = await call('GET', '/metrics');
  t.match(metrics.body, /corral_tasks\{state="TASK_RUNNING"\} 1/);
  t.match(metrics.body, /corral_task_launches_total 1/);
  t.match(metrics.body, /corral_http_request_duration_seconds_bucket/);

  const del = await call('DELETE', '/v2/apps/api/sleeper');
  t.equal(del.statusCode, 200);
  t.match(del.json(), { deploymentId: String, version: String });
  t.equal((await call('GET', '/v2/apps/api/sleeper')).statusCode, 404);
  let state = '';
  for (let i = 0; i < 200 && state !== 'TASK_KILLED'; i++) {
    state = (await call('GET', `/api/v1/tasks/${String(tasks[0]!.id)}`)).json().task.state;
    if (state !== 'TASK_KILLED') await new Promise((r) => setTimeout(r, 25));
  }
  t.equal(state, 'TASK_KILLED', 'its task was killed');
});

t.test('task logs: plain reads, negative offsets, stderr, and follow until the task ends', async (t) => {
  const created = await call('POST', '/v2/apps', { id: '/api/printer', cmd: 'echo one; sleep 0.4; echo two; echo oops >&2', cpus: 0.01, mem: 8, backoffSeconds: 60 });
  t.equal(created.statusCode, 201);
  let id: string | undefined;
  for (let i = 0; i < 200 && !id; i++) {
    id = (await call('GET', '/api/v1/tasks?app=/api/printer')).json().tasks[0]?.id;
    if (!id) await new Promise((r) => setTimeout(r, 25));
  }
  t.ok(id, 'the task exists');
  const followed = await call('GET', `/api/v1/tasks/${id}/logs?follow=true`);
  t.equal(followed.statusCode, 200);
  t.equal(followed.body, 'one\ntwo\n', 'follow streams all output and ends with the task');
  const tail = await call('GET', `/api/v1/tasks/${id}/logs?offset=-4`);
  t.equal(tail.body, 'two\n', 'a negative offset reads from the end');
  t.equal(tail.headers['x-corral-log-offset'], '8', 'the offset header says where to continue');
  const err = await call('GET', `/api/v1/tasks/${id}/logs?stream=stderr`);
  t.equal(err.body, 'oops\n');
  const task = (await call('GET', `/api/v1/tasks/${id}`)).json().task;
  t.match(task, { state: 'TASK_FINISHED', exitCode: 0 });
  t.equal((await call('DELETE', '/v2/apps/api/printer')).statusCode, 200);
});

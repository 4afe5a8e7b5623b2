// Deployments through the /v2 API (inject) over the real controller, a master with a fake agent
// and a fake clock: every change is a deployment with Marathon's shape and events, one per app
// unless forced (Marathon's 409 body), DELETE rolls back (or with force only stops), a deadline rolls
// back by itself, a dry run plans without writing.
import t, { type Test } from 'tap';
import { initStack } from './helpers/init-stack';

const CHECK = [{ protocol: 'COMMAND', command: { value: 'true' }, gracePeriodSeconds: 0, intervalSeconds: 2, timeoutSeconds: 1 }];
const web = { id: '/web', cmd: 'serve', instances: 2, cpus: 0.1, mem: 16, env: { V: '1' }, healthChecks: CHECK, upgradeStrategy: { minimumHealthCapacity: 1, maximumOverCapacity: 0.5 } };

async function harness(t: Test) {
  const stack = await initStack(t);
  // Instances are healthy unless a test says otherwise.
  const round = (healthOf: (v: string | undefined) => boolean | undefined = () => true) => stack.round(healthOf);
  const live = (appId: string) => stack.controller.tasksOf(appId);
  return { ...stack, round, live };
}

t.test('creating an app is a deployment: Marathon’s shape, done once every instance is healthy, events in order', async (t) => {
  const h = await harness(t);
  const created = await h.call('POST', '/v2/apps', web);
  t.equal(created.statusCode, 201);
  const id = created.json().deployments[0].id as string;
  t.equal(created.headers['marathon-deployment-id'], id);
  t.same(await h.listed(), [
    {
      id,
      version: created.json().version,
      affectedApps: ['/web'],
      affectedPods: [],
      steps: [{ actions: [{ action: 'StartApplication', app: '/web' }] }, { actions: [{ action: 'ScaleApplication', app: '/web' }] }],
      currentActions: [{ action: 'ScaleApplication', app: '/web', readinessCheckResults: [] }],
      currentStep: 2,
      totalSteps: 2,
    },
  ]);
  t.same((await h.call('GET', '/v2/apps/web')).json().app.deployments, [{ id }], 'the app names its deployment');
  await h.round(() => undefined);
  t.equal((await h.listed()).length, 1, 'running but not yet healthy: still deploying');
  const health = (healthy: boolean, n: number) => {
    for (const task of h.agent.launched) h.agentUpdate(task, 'TASK_RUNNING', { healthy, uuid: `h${n}-${task.taskId}` });
  };
  health(true, 1);
  await h.settle(0);
  t.same(await h.listed(), [], 'every instance healthy: done');
  t.same((await h.call('GET', '/v2/apps/web')).json().app.deployments, []);
  t.match((await h.call('GET', `/api/v1/deployments/${id}`)).json().deployment, { id, status: 'succeeded', finishedAt: String, reason: null });
  t.same(
    h.events.map((e) => `${e.eventType}${e.currentStep ? ':' + (e.currentStep as { actions: Array<{ action: string }> }).actions[0]!.action : ''}`),
    ['deployment_info:StartApplication', 'deployment_step_success:StartApplication', 'deployment_info:ScaleApplication', 'deployment_step_success:ScaleApplication', 'deployment_success'],
  );
  t.match(h.events[0], { eventType: 'deployment_info', timestamp: String, plan: { id, original: { apps: [] }, target: { apps: [{ id: '/web', instances: 2 }] }, steps: Array } });
  t.match(h.events[4], { eventType: 'deployment_success', id, plan: { id } });
});

async function deployed(t: Test) {
  const h = await harness(t);
  await h.call('POST', '/v2/apps', web);
  await h.round();
  await h.round();
  t.same(await h.listed(), [], 'the app is deployed');
  h.events.splice(0);
  return h;
}

t.test('one deployment per app: 409 with Marathon’s body, nothing written; force supersedes', async (t) => {
  const h = await deployed(t);
  const put = await h.call('PUT', '/v2/apps/web', { env: { V: '2' } });
  t.equal(put.statusCode, 200);
  const first = put.json().deploymentId as string;
  t.match(await h.listed(), [{ id: first, steps: [{ actions: [{ action: 'RestartApplication', app: '/web' }] }] }]);
  const revision = await h.store.revision();
  for (const [method, url, body] of [
    ['PUT', '/v2/apps/web', { instances: 3 }],
    ['PUT', '/v2/apps/web?dryRun=true', { instances: 3 }],
    ['POST', '/v2/apps/web/restart', undefined],
    ['DELETE', '/v2/apps/web', undefined],
  ] as const) {
    const locked = await h.call(method, url, body);
    t.equal(locked.statusCode, 409, `${method} ${url} is refused`);
    t.same(locked.json(), {
      message: "App is locked by one or more deployments. Override with the option '?force=true'. View details at '/v2/deployments/<DEPLOYMENT_ID>'.",
      code: 'APP_LOCKED',
      deployments: [{ id: first }],
    });
  }
  t.equal(await h.store.revision(), revision, 'nothing was written');
  const forced = await h.call('PUT', '/v2/apps/web?force=true', { env: { V: '3' } });
  t.equal(forced.statusCode, 200, 'force supersedes');
  const second = forced.json().deploymentId as string;
  t.same((await h.listed()).map((d) => d.id), [second], 'only the new one is in progress');
  t.match((await h.call('GET', `/api/v1/deployments/${first}`)).json().deployment, { status: 'superseded', replacedBy: second });
  t.match(h.events.find((e) => e.eventType === 'deployment_failed'), { id: first, reason: `superseded by deployment ${second}` });
  for (let i = 0; i < 6; i++) await h.round();
  t.same(await h.listed(), [], 'the forced deployment finishes');
  t.ok(h.live('/web').every((x) => x.state === 'TASK_RUNNING' && x.healthy === true) && h.live('/web').length === 2, 'two healthy instances of V3');
  t.equal((await h.call('GET', '/v2/apps/web')).json().app.env.V, '3');
});

t.test('DELETE /v2/deployments/{id} rolls back: the old instances stay, the new ones go', async (t) => {
  const h = await deployed(t);
  const oldTasks = h.live('/web').map((x) => x.taskId).sort();
  const put = await h.call('PUT', '/v2/apps/web', { env: { V: 'broken' } });
  const id = put.json().deploymentId as string;
  for (let i = 0; i < 3; i++) await h.round((v) => (v === 'broken' ? false : true));
  t.equal(h.live('/web').filter((x) => !x.killRequested).length, 3, 'one new instance beside the two old (maximumOverCapacity 0.5)');
  t.same(h.live('/web').filter((x) => x.healthy === true).map((x) => x.taskId).sort(), oldTasks, 'minimumHealthCapacity 1: no old instance was killed');
  const rollback = await h.call('DELETE', `/v2/deployments/${id}`);
  t.equal(rollback.statusCode, 200);
  const back = rollback.json() as { deploymentId: string; version: string };
  t.match(back, { deploymentId: String, version: String });
  t.equal(rollback.headers['marathon-deployment-id'], back.deploymentId);
  t.match(await h.listed(), [{ id: back.deploymentId, steps: [{ actions: [{ action: 'RestartApplication', app: '/web' }] }] }]);
  const app = (await h.call('GET', '/v2/apps/web')).json().app;
  t.equal(app.env.V, '1', 'the definition is back');
  t.equal(app.version, back.version, 'as a new version');
  for (let i = 0; i < 3; i++) await h.round();
  t.same(await h.listed(), [], 'the rollback finished at once: the old instances are current again');
  t.same(h.live('/web').map((x) => x.taskId).sort(), oldTasks, 'the very same old instances, the new one is gone');
  t.match((await h.call('GET', `/api/v1/deployments/${id}`)).json().deployment, { status: 'rolled-back', reason: 'rolled back on request', replacedBy: back.deploymentId });
  t.match((await h.call('GET', `/api/v1/deployments/${back.deploymentId}`)).json().deployment, { status: 'succeeded', rollbackOf: id });
  const unknown = await h.call('DELETE', '/v2/deployments/nope');
  t.equal(unknown.statusCode, 404);
  t.same(unknown.json(), { message: 'DeploymentPlan nope does not exist', code: 'DEPLOYMENT_NOT_FOUND' });
});

t.test('DELETE ?force=true only stops the deployment: 202, the app keeps its new definition', async (t) => {
  const h = await deployed(t);
  const id = (await h.call('PUT', '/v2/apps/web', { env: { V: '2' } })).json().deploymentId as string;
  const stopped = await h.call('DELETE', `/v2/deployments/${id}?force=true`);
  t.equal(stopped.statusCode, 202);
  t.equal(stopped.body, '');
  t.same(await h.listed(), []);
  t.equal((await h.call('GET', '/v2/apps/web')).json().app.env.V, '2');
  t.match((await h.call('GET', `/api/v1/deployments/${id}`)).json().deployment, { status: 'stopped', reason: 'stopped on request' });
  t.equal((await h.call('PUT', '/v2/apps/web', { instances: 3 })).statusCode, 200, 'the app is no longer locked');
});

t.test('a deployment past its deadline rolls back by itself', async (t) => {
  const h = await deployed(t);
  const put = await h.call('PUT', '/v2/apps/web', { env: { V: 'broken' }, upgradeStrategy: { minimumHealthCapacity: 1, maximumOverCapacity: 0.5, deadlineSeconds: 10 } });
  const id = put.json().deploymentId as string;
  t.match(await h.listed(), [{ id, deadline: new Date(h.clock.now() + 10_000).toISOString() }]);
  for (let i = 0; i < 9; i++) await h.round((v) => (v === 'broken' ? false : true));
  t.match(await h.listed(), [{ id }], 'still in progress before the deadline');
  for (let i = 0; i < 3; i++) await h.round((v) => (v === 'broken' ? false : true));
  const finished = (await h.call('GET', `/api/v1/deployments/${id}`)).json().deployment;
  t.match(finished, { status: 'rolled-back', reason: 'deadline passed (10 s)', replacedBy: String });
  t.match(h.events.find((e) => e.eventType === 'deployment_failed'), { id, reason: 'deadline passed (10 s)' });
  t.equal((await h.call('GET', '/v2/apps/web')).json().app.env.V, '1', 'the previous definition is back');
  for (let i = 0; i < 3; i++) await h.round();
  t.same(await h.listed(), [], 'the rollback (which has no deadline of its own) finished');
  const left = h.live('/web');
  t.equal(left.length, 2);
  t.ok(left.every((x) => x.healthy === true), 'two healthy instances of the old version');
  t.match((await h.call('GET', `/api/v1/deployments/${finished.replacedBy}`)).json().deployment, { status: 'succeeded', rollbackOf: id, deadline: undefined });
});

t.test('dry run: the plan and the rolling bounds, nothing written; restart and remove are deployments', async (t) => {
  const h = await deployed(t);
  const revision = await h.store.revision();
  const dry = await h.call('PUT', '/v2/apps/web?dryRun=true', { env: { V: '2' }, instances: 4 });
  t.equal(dry.statusCode, 200);
  t.match(dry.json(), {
    dryRun: true,
    affectedApps: ['/web'],
    steps: [{ actions: [{ action: 'RestartApplication', app: '/web' }] }],
    totalSteps: 1,
    app: { id: '/web', instances: 4, env: { V: '2' } },
    rolling: [{ app: '/web', instances: 4, minimumHealthy: 4, maximumTotal: 6, deadlineSeconds: null }],
  });
  const dryCreate = await h.call('POST', '/v2/apps?dryRun=true', { id: '/other', cmd: 'x' });
  t.equal(dryCreate.statusCode, 200);
  t.match(dryCreate.json(), { dryRun: true, steps: [{ actions: [{ action: 'StartApplication' }] }, { actions: [{ action: 'ScaleApplication' }] }] });
  const dryBad = await h.call('POST', '/v2/apps?dryRun=true', { id: '/other', cmd: 'x', upgradeStrategy: { minimumHealthCapacity: 2 } });
  t.equal(dryBad.statusCode, 422, 'a dry run validates like the real request');
  t.equal(await h.store.revision(), revision, 'nothing was written');
  t.equal((await h.call('GET', '/v2/apps/other')).statusCode, 404);
  t.same(await h.listed(), []);

  const restart = await h.call('POST', '/v2/apps/web/restart');
  t.equal(restart.statusCode, 200);
  t.match(await h.listed(), [{ id: restart.json().deploymentId, steps: [{ actions: [{ action: 'RestartApplication', app: '/web' }] }] }]);
  for (let i = 0; i < 6; i++) await h.round();
  t.same(await h.listed(), [], 'the restart finished');
  t.equal(h.agent.launched.length, 4, 'both instances were replaced');

  const removed = await h.call('DELETE', '/v2/apps/web');
  t.equal(removed.statusCode, 200);
  t.match(await h.listed(), [{ id: removed.json().deploymentId, steps: [{ actions: [{ action: 'StopApplication', app: '/web' }] }] }]);
  await h.round();
  t.same(await h.listed(), [], 'done once the last task ended');
  const badDeadline = await h.call('POST', '/v2/apps?deadlineSeconds=soon', { id: '/other', cmd: 'x' });
  t.equal(badDeadline.statusCode, 400);
  t.equal(badDeadline.json().code, 'INVALID_REQUEST');
});

t.test('readiness checks gate a deployment: results in /v2/deployments, old instances stay until the new ones are ready', async (t) => {
  const ready = new Set<string>();
  const probed: string[] = [];
  // The fake HTTP client answers by port: a task is ready once the test puts its port in `ready`.
  const readinessGet = async (url: string) => {
    probed.push(url);
    const port = new URL(url).port;
    return ready.has(port) ? { status: 200, contentType: 'text/plain', body: 'ready' } : { status: 503, contentType: 'text/plain', body: 'warming up' };
  };
  const stack = await initStack(t, () => [], { readinessGet });
  const round = () => stack.round(() => true);
  const app = { ...web, portDefinitions: [{ port: 0, name: 'http' }], readinessChecks: [{ portName: 'http', path: '/ready', intervalSeconds: 2, timeoutSeconds: 1, preserveLastResponse: true }] };
  const created = (await stack.call('POST', '/v2/apps', app)).json();
  await round();
  const tasks = () => stack.controller.tasksOf('/web');
  t.equal(tasks().length, 2, 'both instances run');
  t.equal((await stack.listed()).length, 1, 'running and healthy but not ready: still deploying');
  t.match(probed[0], /^http:\/\/[^/]+:\d+\/ready$/, 'the check requests the named port and path');
  const results = (await stack.listed())[0]!.currentActions as Array<{ readinessCheckResults: unknown[] }>;
  t.match(results[0]!.readinessCheckResults, [
    { name: 'readinessCheck', ready: false, lastResponse: { status: 503, body: 'warming up' } },
    { name: 'readinessCheck', ready: false },
  ]);
  for (const task of tasks()) ready.add(String(task.ports[0]));
  await stack.settle(2000);
  await round();
  t.same(await stack.listed(), [], `deployment ${created.deployments[0].id} is done once every instance is ready`);

  // An upgrade: minimumHealthCapacity 1 keeps both old instances until new ones are ready.
  const oldIds = tasks().map((x) => x.taskId);
  await stack.call('PUT', '/v2/apps/web', { env: { V: '2' } });
  for (let i = 0; i < 3; i++) {
    await stack.settle(2000);
    await round();
  }
  t.same(tasks().filter((x) => oldIds.includes(x.taskId) && !x.killRequested).map((x) => x.taskId).sort(), [...oldIds].sort(), 'no old instance is killed while the new one is not ready');
  t.equal(tasks().length, 3, 'one new instance (maximumOverCapacity 0.5 of 2)');
  for (const task of tasks()) ready.add(String(task.ports[0]));
  for (let i = 0; i < 6; i++) {
    await stack.settle(2000);
    await round();
    for (const task of tasks()) ready.add(String(task.ports[0]));
  }
  t.same(await stack.listed(), [], 'the upgrade finishes once the new instances are ready');
  t.equal(tasks().filter((x) => oldIds.includes(x.taskId)).length, 0, 'the old instances are gone');
});

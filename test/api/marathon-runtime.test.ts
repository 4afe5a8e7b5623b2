// Marathon's /v2/queue, /v2/leader, /ping and /v2/tasks/delete against init on a master with a fake
// agent (4 cpus, zone a) and a fake clock: shapes, status codes, and what init does afterwards.
import Fastify from 'fastify';
import t from 'tap';
import { registerQueueRoutes, type QueueSource } from '../../src/init/queue-routes';
import { validateApp } from '../../src/init/app';
import type { Backoff, StoredApp } from '../../src/init/types';
import { FakeClock } from '../../src/shared/clock';
import { initHarness } from './helpers/init-kernel';

t.test('GET /v2/queue: an app that fits no agent waits, with the reasons; a running one does not', async (t) => {
  const h = await initHarness(t);
  await h.apps.create({ id: '/small', cmd: 'run', cpus: 1, mem: 64 });
  const big = await h.apps.create({ id: '/big', cmd: 'run', cpus: 8, mem: 64, instances: 2 });
  await h.apps.create({ id: '/elsewhere', cmd: 'run', cpus: 0.1, mem: 8, constraints: [['zone', 'IS', 'b']] });
  await h.settle();
  await h.runAll();
  t.equal(h.running('/small').length, 1, 'the small app runs');

  const res = await h.call('GET', '/v2/queue');
  t.equal(res.statusCode, 200);
  const { queue } = res.json();
  t.same(queue.map((q: { app: { id: string } }) => q.app.id), ['/big', '/elsewhere'], 'only apps with instances waiting, by id');
  const [bigEntry, elsewhere] = queue;
  t.match(bigEntry, {
    app: { id: '/big', cpus: 8, instances: 2, version: big.stored.version, versionInfo: { lastConfigChangeAt: big.stored.version } },
    count: 2,
    delay: { timeLeftSeconds: 0, overdue: true },
    since: big.stored.version,
    processedOffersSummary: { processedOffersCount: 1, unusedOffersCount: 1, lastUnusedOfferAt: String, lastUsedOfferAt: null },
  });
  t.notOk('tasksRunning' in bigEntry.app, 'the app as defined, without status counts');
  const declined = (entry: { processedOffersSummary: { rejectSummaryLastOffers: Array<{ reason: string; declined: number }> } }) =>
    entry.processedOffersSummary.rejectSummaryLastOffers.filter((r) => r.declined > 0).map((r) => r.reason);
  t.same(declined(bigEntry), ['InsufficientCpus'], 'cpus larger than the agent');
  t.same(declined(elsewhere), ['UnfulfilledConstraint'], 'a constraint no agent meets');
});

t.test('GET /v2/queue shows the backoff delay; DELETE /v2/queue/{id}/delay resets it', async (t) => {
  const clock = new FakeClock(Date.UTC(2026, 0, 1, 0, 0, 10));
  const stored: StoredApp = { app: validateApp({ id: '/crashy', cmd: 'false' }), version: '2026-01-01T00:00:00.000Z', lastConfigChangeAt: '2026-01-01T00:00:00.000Z', lastScalingAt: '2026-01-01T00:00:00.000Z' };
  let backoff: Backoff | undefined = { failures: 3, notBefore: clock.now() + 5500 };
  const resets: string[] = [];
  const source: QueueSource = {
    apps: () => [stored],
    tasksOf: () => [],
    lastFailure: () => ({ appId: '/crashy', host: 'a1.test', message: 'exit 1', state: 'TASK_FAILED', taskId: 'crashy.1', timestamp: new Date(clock.now() - 1000).toISOString(), version: stored.version }),
    backoffOf: () => backoff,
    resetBackoff: (id) => {
      resets.push(id);
      backoff = undefined;
    },
  };
  const server = Fastify();
  registerQueueRoutes(server, { source, agents: () => [], clock });
  t.teardown(() => server.close());

  const queued = (await server.inject({ method: 'GET', url: '/v2/queue' })).json().queue;
  t.match(queued, [{ app: { id: '/crashy' }, count: 1, delay: { timeLeftSeconds: 6, overdue: false }, since: new Date(clock.now() - 1000).toISOString() }], 'seconds left rounded up; since the last failure');
  const reset = await server.inject({ method: 'DELETE', url: '/v2/queue/crashy/delay' });
  t.equal(reset.statusCode, 204);
  t.same(resets, ['/crashy']);
  t.match((await server.inject({ method: 'GET', url: '/v2/queue' })).json().queue, [{ delay: { timeLeftSeconds: 0, overdue: true } }]);
  const unknown = await server.inject({ method: 'DELETE', url: '/v2/queue/nope/delay' });
  t.equal(unknown.statusCode, 404);
  t.equal(unknown.json().code, 'APP_NOT_FOUND');
  t.equal((await server.inject({ method: 'DELETE', url: '/v2/queue/crashy' })).statusCode, 404, 'only .../delay is a route');
});

t.test('GET /v2/leader, DELETE /v2/leader (init subscribes again, tasks keep running), GET /ping', async (t) => {
  const h = await initHarness(t);
  await h.apps.create({ id: '/web', cmd: 'serve', cpus: 1, mem: 64 });
  await h.settle();
  await h.runAll();
  const frameworkId = h.controller.frameworkId();
  t.same((await h.call('GET', '/v2/leader')).json(), { leader: '127.0.0.1:8080' });

  const abdicated = await h.call('DELETE', '/v2/leader');
  t.equal(abdicated.statusCode, 200);
  t.same(abdicated.json(), { message: 'Leadership abdicated' });
  await h.settle();
  t.equal(h.controller.frameworkId(), frameworkId, 'init is back, as the same framework');
  t.same(h.agent.killed, [], 'nothing was killed');
  t.equal(h.running('/web').length, 1, 'its task runs on (reconciled)');
  t.equal(h.agent.launched.length, 1, 'and was not replaced');

  const ping = await h.server.inject({ method: 'GET', url: '/ping' });
  t.equal(ping.statusCode, 200);
  t.equal(ping.body, 'pong');
  t.match(ping.headers['content-type'], /^text\/plain/);
  t.equal((await h.server.inject({ method: 'GET', url: '/v2/leader' })).statusCode, 401, '/v2/leader needs the token, /ping does not');
});

t.test('POST /v2/tasks/delete: kills the named tasks; init replaces them', async (t) => {
  const h = await initHarness(t);
  await h.apps.create({ id: '/web', cmd: 'serve', cpus: 1, mem: 64, instances: 2 });
  await h.settle();
  await h.runAll();
  const [first] = h.running('/web');
  const res = await h.call('POST', '/v2/tasks/delete', { ids: [first!.taskId, 'nobody.1', first!.taskId] });
  t.equal(res.statusCode, 200);
  t.match(res.json(), { tasks: [{ id: first!.taskId, appId: '/web', state: 'TASK_RUNNING', host: 'a1.test' }] }, 'Marathon ignores ids it does not know');
  t.equal(res.json().tasks.length, 1);
  t.same(h.agent.killed.map((k) => k.taskId), [first!.taskId]);
  h.agentUpdate(h.agent.launched.find((l) => l.taskId === first!.taskId)!, 'TASK_KILLED');
  await h.settle();
  await h.runAll();
  t.equal(h.agent.launched.length, 3, 'a replacement was launched');
  t.equal(h.running('/web').length, 2);
  t.equal(h.apps.get('/web').app.instances, 2, 'the instance count stays');
});

t.test('POST /v2/tasks/delete?scale=true: kills the named tasks and lowers the instance count', async (t) => {
  const h = await initHarness(t);
  await h.apps.create({ id: '/web', cmd: 'serve', cpus: 1, mem: 64, instances: 3 });
  await h.settle();
  await h.runAll();
  // The youngest would be init's own choice for a scale-down; name the oldest.
  const [oldest] = h.running('/web').sort((a, b) => a.stagedAt - b.stagedAt || a.taskId.localeCompare(b.taskId));
  const answer = h.call('POST', '/v2/tasks/delete?scale=true', { ids: [oldest!.taskId] });
  for (let i = 0; i < 20 && h.agent.killed.length === 0; i++) await h.settle();
  t.same(h.agent.killed.map((k) => k.taskId), [oldest!.taskId], 'only the named task is killed');
  h.agentUpdate(h.agent.launched.find((l) => l.taskId === oldest!.taskId)!, 'TASK_KILLED');
  const res = await answer;
  t.equal(res.statusCode, 200);
  t.match(res.json(), { deploymentId: String, version: String });
  await h.settle();
  await h.runAll();
  t.equal(h.apps.get('/web').app.instances, 2, 'instances lowered by one');
  t.equal(h.running('/web').length, 2);
  t.same(h.agent.killed.map((k) => k.taskId), [oldest!.taskId], 'no other task was killed');
  t.equal(h.agent.launched.length, 3, 'and none launched');

  const both = await h.call('POST', '/v2/tasks/delete?scale=true&wipe=true', { ids: [] });
  t.equal(both.statusCode, 400);
  t.equal(both.json().code, 'INVALID_REQUEST');
  const badFlag = await h.call('POST', '/v2/tasks/delete?scale=yes', { ids: [] });
  t.equal(badFlag.statusCode, 400);
  const noIds = await h.call('POST', '/v2/tasks/delete', { tasks: ['x'] });
  t.equal(noIds.statusCode, 422);
  t.match(noIds.json(), { code: 'VALIDATION_FAILED', details: [{ path: '/ids' }] });
});

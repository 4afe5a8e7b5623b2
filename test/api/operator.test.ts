// The operator API over real HTTP against a master on a fake clock: GET /api/v1/state and the
// GET /api/v1/events Server-Sent Events stream (snapshot first, one event per change, each
// delivered on its own without waiting for more output, heartbeat comments, type filter).
import t from 'tap';
import { FakeAgent, harness, HEARTBEAT_S, TOKEN } from './helpers/fake-kernel';
import { openSse } from './helpers/streams';

t.test('GET /api/v1/state: agents, frameworks, tasks and outstanding offers', async (t) => {
  const h = await harness(t);
  const empty = await h.state();
  t.match(empty, { agents: [{ id: 'a1', hostname: 'a1.test', resources: { cpus: 4 }, used: { cpus: 0 }, tasks: 0 }], frameworks: [], tasks: [], outstandingOffers: 0 });

  const fw = await h.subscribe({ name: 'fanout', role: 'batch', user: 'nobody' });
  h.allocate();
  const [offer] = await h.offers(fw);
  t.equal((await h.state()).outstandingOffers, 1);
  await fw.call({ type: 'ACCEPT', accept: { offer_ids: [offer!.id], operations: [{ type: 'LAUNCH', launch: { task_infos: [h.launch('t1'), h.launch('t2')] } }], filters: { refuse_seconds: 60 } } });
  const state = await h.state();
  t.same(state.frameworks, [
    { id: fw.id, name: 'fanout', role: 'batch', user: 'nobody', connected: true, failoverTimeoutSeconds: 604800, registeredAt: new Date(h.clock.now()).toISOString(), disconnectedAt: null, activeTasks: 2 },
  ]);
  t.match(state.tasks, [
    { id: 't1', frameworkId: fw.id, agentId: 'a1', host: 'a1.test', state: 'TASK_STAGING', resources: { cpus: 1, mem: 128, disk: 0 }, appId: null },
    { id: 't2', state: 'TASK_STAGING' },
  ], 'tasks in the /api/v1/tasks shape');
  t.match(state.agents, [{ id: 'a1', used: { cpus: 2, mem: 256 }, tasks: 2 }]);
  t.equal(state.outstandingOffers, 0);
});

t.test('GET /api/v1/events: a snapshot, then one event per change as it happens', async (t) => {
  const h = await harness(t);
  const sse = await openSse(`${h.url}/api/v1/events`, TOKEN);
  t.teardown(() => sse.close());
  t.equal(sse.res.status, 200);
  t.match(sse.res.headers.get('content-type'), /^text\/event-stream/);
  t.equal(sse.res.headers.get('cache-control'), 'no-cache, no-transform');
  const first = await sse.feed.next('SUBSCRIBED');
  t.equal(first.event, 'SUBSCRIBED', 'the first event is the snapshot');
  t.match(first.data.state, { agents: [{ id: 'a1' }], frameworks: [], tasks: [], outstandingOffers: 0 });

  const next = (type: string) => sse.feed.next(type, (e) => e.event !== ':');
  const fw = await h.subscribe({ name: 'fw', failover_timeout: 60 });
  t.same(await next('FRAMEWORK_ADDED'), { event: 'FRAMEWORK_ADDED', data: { framework: { id: fw.id, name: 'fw', role: '*', user: null, connected: true, failoverTimeoutSeconds: 60, registeredAt: new Date(h.clock.now()).toISOString(), disconnectedAt: null, activeTasks: 0 } } });

  h.allocate();
  const [offer] = await h.offers(fw);
  await fw.call({ type: 'ACCEPT', accept: { offer_ids: [offer!.id], operations: [{ type: 'LAUNCH', launch: { task_infos: [h.launch('t1')] } }] } });
  t.match(await next('TASK_ADDED'), { event: 'TASK_ADDED', data: { task: { id: 't1', state: 'TASK_STAGING', frameworkId: fw.id, host: 'a1.test' } } });

  h.agentUpdate(h.agent.launched[0]!, 'TASK_RUNNING', 'u1');
  t.match(await next('TASK_UPDATED'), { event: 'TASK_UPDATED', data: { task: { id: 't1', state: 'TASK_RUNNING', startedAt: String }, status: { state: 'TASK_RUNNING', uuid: 'u1' } } });
  h.agentUpdate(h.agent.launched[0]!, 'TASK_RUNNING', 'u1');
  const other = new FakeAgent({ id: 'a2', hostname: 'a2.test', resources: { cpus: 1, mem: 512, disk: 0, ports: [] }, attributes: { rack: 'r2' }, registeredAt: h.clock.now(), version: 'test' });
  h.master.registerAgent(other.info, other);
  t.match(await next('AGENT_ADDED'), { event: 'AGENT_ADDED', data: { agent: { id: 'a2', hostname: 'a2.test', attributes: { rack: 'r2' } } } }, 'a resent update that changes nothing is no event');

  h.clock.advance(HEARTBEAT_S * 1000);
  t.same(await sse.feed.next('heartbeat', (e) => e.event === ':'), { event: ':', data: 'heartbeat' }, 'heartbeats are comments');

  await h.drop(fw);
  t.match(await next('FRAMEWORK_UPDATED'), { event: 'FRAMEWORK_UPDATED', data: { framework: { id: fw.id, connected: false, disconnectedAt: String, activeTasks: 1 } } });
  h.clock.advance(60_000);
  t.same(await next('FRAMEWORK_REMOVED'), { event: 'FRAMEWORK_REMOVED', data: { frameworkId: fw.id } }, 'removed when the failover timeout passes');
  t.same(h.agent.killed, ['t1']);
});

t.test('GET /api/v1/events?type= streams only the named types; an unknown type is a 400', async (t) => {
  const h = await harness(t);
  const sse = await openSse(`${h.url}/api/v1/events?type=FRAMEWORK_REMOVED,TASK_ADDED`, TOKEN);
  t.teardown(() => sse.close());
  await sse.feed.next('SUBSCRIBED');
  const fw = await h.subscribe({ name: 'fw' });
  h.allocate();
  const [offer] = await h.offers(fw);
  await fw.call({ type: 'ACCEPT', accept: { offer_ids: [offer!.id], operations: [{ type: 'LAUNCH', launch: { task_infos: [h.launch('t1')] } }] } });
  await fw.call({ type: 'TEARDOWN' });
  await sse.feed.next('FRAMEWORK_REMOVED', (e) => e.event === 'FRAMEWORK_REMOVED');
  t.same(sse.feed.all.map((e) => e.event), ['SUBSCRIBED', 'TASK_ADDED', 'FRAMEWORK_REMOVED'], 'FRAMEWORK_ADDED was filtered out');

  const bad = await h.server.inject({ method: 'GET', url: '/api/v1/events?type=TASK_EXPLODED', headers: { authorization: `Bearer ${TOKEN}` } });
  t.equal(bad.statusCode, 400);
  t.equal(bad.json().code, 'INVALID_REQUEST');
  t.match(bad.json().message, /TASK_EXPLODED/);
});

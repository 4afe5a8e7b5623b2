// POST /api/v1/scheduler over real HTTP against a master on a fake clock with a fake agent:
// the RecordIO event stream, every call, stream-id checks, validation, heartbeats, and failover
// (a dropped stream keeps the framework's tasks until its failover timeout; re-subscribing in time
// gets them back). Time moves only when a test advances the clock.
import t from 'tap';
import { inProcessTransport } from '../../src/kernel/sdk/in-process';
import { harness, HEARTBEAT_S, json, post } from './helpers/fake-kernel';

t.test('SUBSCRIBE opens a RecordIO stream: SUBSCRIBED first, then offers, updates and heartbeats', async (t) => {
  const h = await harness(t);
  const fw = await h.subscribe({ name: 'fanout', role: 'batch' });
  t.equal(fw.res.status, 200);
  t.match(fw.res.headers.get('content-type'), /^application\/json/);
  t.match(fw.streamId, /^[0-9a-f-]{36}$/, 'Mesos-Stream-Id header');
  t.same(fw.first, { type: 'SUBSCRIBED', subscribed: { framework_id: fw.id, heartbeat_interval_seconds: HEARTBEAT_S } });

  h.allocate();
  const [offer] = await h.offers(fw);
  t.match(offer, { frameworkId: fw.id, agentId: 'a1', hostname: 'a1.test', resources: { cpus: 4, mem: 4096 } }, "Corral's camelCase Offer inside the envelope");

  const accepted = await fw.call({ type: 'ACCEPT', accept: { offer_ids: [offer!.id], operations: [{ type: 'LAUNCH', launch: { task_infos: [h.launch('t1')] } }], filters: { refuse_seconds: 0 } } });
  t.equal(accepted.status, 202);
  t.match(h.agent.launched, [{ taskId: 't1', name: 't1', frameworkId: fw.id, agentId: 'a1', resources: { cpus: 1, mem: 128, disk: 0, ports: [] }, command: { shell: true, value: 'sleep 100', environment: {} }, labels: {} }], 'defaults filled');

  h.agentUpdate(h.agent.launched[0]!, 'TASK_RUNNING', 'u1');
  const update = await fw.feed.next('UPDATE', (e) => e.type === 'UPDATE');
  t.match(update.update.status, { taskId: 't1', state: 'TASK_RUNNING', uuid: 'u1', agentId: 'a1' });
  t.equal((await fw.call({ type: 'ACKNOWLEDGE', acknowledge: { agent_id: 'a1', task_id: 't1', uuid: 'u1' } })).status, 202);
  t.same(h.agent.acks, ['u1'], 'the acknowledgement reaches the agent');

  h.clock.advance(HEARTBEAT_S * 1000);
  t.same(await fw.feed.next('HEARTBEAT', (e) => e.type === 'HEARTBEAT'), { type: 'HEARTBEAT' }, 'a heartbeat every interval');

  t.equal((await fw.call({ type: 'RECONCILE', reconcile: { tasks: [{ task_id: { value: 't1' } }] } })).status, 202, "Mesos's {value} ids are accepted");
  const answer = await fw.feed.next('reconciliation', (e) => e.type === 'UPDATE');
  t.match(answer.update.status, { taskId: 't1', state: 'TASK_RUNNING', reason: 'REASON_RECONCILIATION' });
  t.notOk(answer.update.status.uuid, 'reconciliation answers need no acknowledgement');

  t.equal((await fw.call({ type: 'KILL', kill: { task_id: 't1', grace_period_seconds: 2 } })).status, 202);
  t.same(h.agent.killed, ['t1']);

  h.allocate();
  const [left] = await h.offers(fw);
  t.equal((await fw.call({ type: 'SUPPRESS' })).status, 202);
  t.same(await fw.feed.next('RESCIND', (e) => e.type === 'RESCIND'), { type: 'RESCIND', rescind: { offer_id: left!.id } }, 'suppress rescinds outstanding offers');
  t.equal((await fw.call({ type: 'REVIVE' })).status, 202);
  h.allocate();
  const [again] = await h.offers(fw);
  t.equal((await fw.call({ type: 'DECLINE', decline: { offer_ids: [again!.id], filters: { refuse_seconds: 60 } } })).status, 202);
  t.equal((await h.state()).outstandingOffers, 0, 'the declined offer is gone');

  t.equal((await fw.call({ type: 'TEARDOWN' })).status, 202);
  await fw.feed.closed();
  t.same((await h.state()).frameworks, [], 'teardown removes the framework');
  const after = await fw.call({ type: 'REVIVE' });
  t.equal(after.status, 404);
  t.equal((await json(after)).code, 'FRAMEWORK_NOT_FOUND');
});

t.test('calls need the framework and its current stream id; bad calls get VALIDATION_FAILED details', async (t) => {
  const h = await harness(t);
  const fw = await h.subscribe();
  const missing = await fw.call({ type: 'REVIVE' }, {});
  t.equal(missing.status, 403, 'no Mesos-Stream-Id');
  t.equal((await json(missing)).code, 'STREAM_ID_INVALID');
  const wrong = await fw.call({ type: 'REVIVE' }, { 'Mesos-Stream-Id': 'not-it' });
  t.equal(wrong.status, 403, 'a stream id of no subscription');
  t.equal((await json(wrong)).code, 'STREAM_ID_INVALID');

  const unknown = await post(h.server, { type: 'REVIVE', framework_id: 'nope' }, { 'Mesos-Stream-Id': fw.streamId });
  t.equal(unknown.statusCode, 404);
  t.equal(unknown.json().code, 'FRAMEWORK_NOT_FOUND');

  const cases: Array<[string, unknown, string[]]> = [
    ['not an object', [1], ['/']],
    ['unknown type', { type: 'FLY' }, ['/type']],
    ['no framework_id', { type: 'REVIVE' }, ['/framework_id']],
    ['SUBSCRIBE without a name', { type: 'SUBSCRIBE', subscribe: { framework_info: { failover_timeout: -1 } } }, ['/subscribe/framework_info/name', '/subscribe/framework_info/failover_timeout']],
    ['SUBSCRIBE with mismatched ids', { type: 'SUBSCRIBE', framework_id: 'a', subscribe: { framework_info: { name: 'x', id: 'b' } } }, ['/subscribe/framework_info/id']],
    ['ACCEPT without offers', { type: 'ACCEPT', framework_id: fw.id, accept: { offer_ids: [], operations: [] } }, ['/accept/offer_ids']],
    ['a bad id', { type: 'KILL', framework_id: fw.id, kill: { task_id: 7 } }, ['/kill/task_id']],
    [
      'a bad task',
      { type: 'ACCEPT', framework_id: fw.id, accept: { offer_ids: ['o'], operations: [{ type: 'LAUNCH', launch: { task_infos: [{ taskId: 't', resources: { cpus: -1 }, command: {} }] } }] } },
      ['/accept/operations/0/launch/task_infos/0/resources/cpus', '/accept/operations/0/launch/task_infos/0/resources/mem', '/accept/operations/0/launch/task_infos/0/command/value'],
    ],
    ['ACKNOWLEDGE without uuid', { type: 'ACKNOWLEDGE', framework_id: fw.id, acknowledge: { agent_id: 'a1', task_id: 't' } }, ['/acknowledge/uuid']],
  ];
  for (const [name, body, paths] of cases) {
    const res = await post(h.server, body, { 'Mesos-Stream-Id': fw.streamId });
    t.equal(res.statusCode, 422, name);
    t.equal(res.json().code, 'VALIDATION_FAILED', name);
    t.same(res.json().details.map((d: { path: string }) => d.path).sort(), [...paths].sort(), `${name}: details name the fields`);
  }
  const badId = await post(h.server, { type: 'KILL', framework_id: fw.id, kill: { task_id: 7 } });
  t.same(badId.json().details[0].errors, ['must be an id: a non-empty string or {"value": "<string>"}'], 'a bad id is reported once, plainly');

  const stale = await fw.call({ type: 'ACCEPT', accept: { offer_ids: ['gone'], operations: [] } });
  t.equal(stale.status, 409, 'kernel errors keep their codes');
  t.equal((await json(stale)).code, 'OFFER_NOT_FOUND');

  for (const url of ['/api/v1/scheduler', '/api/v1/state', '/api/v1/events']) {
    const res = await h.server.inject({ method: url.endsWith('scheduler') ? 'POST' : 'GET', url });
    t.equal(res.statusCode, 401, `${url} needs the token`);
  }
});

t.test('a newer SUBSCRIBE replaces the older stream; an in-process framework cannot be taken over', async (t) => {
  const h = await harness(t);
  const first = await h.subscribe({ name: 'fw' });
  const second = await h.subscribe({ name: 'fw', id: first.id });
  t.equal(second.id, first.id, 'same framework');
  t.match(await first.feed.next('ERROR', (e) => e.type === 'ERROR'), { error: { message: /failed over/ } });
  await first.feed.closed();
  t.equal((await first.call({ type: 'REVIVE' })).status, 403, "the old stream's id no longer works");
  t.equal((await second.call({ type: 'REVIVE' })).status, 202);
  t.match((await h.state()).frameworks, [{ id: first.id, connected: true }], 'closing the replaced stream did not disconnect it');

  const init = await inProcessTransport(h.master).subscribe({ name: 'init' }, { offers: () => undefined, rescind: () => undefined, update: () => undefined });
  const takeover = await post(h.server, { type: 'SUBSCRIBE', subscribe: { framework_info: { name: 'evil', id: init.frameworkId } } });
  t.equal(takeover.statusCode, 400);
  t.equal(takeover.json().code, 'INVALID_REQUEST');
  const call = await post(h.server, { type: 'REVIVE', framework_id: init.frameworkId }, { 'Mesos-Stream-Id': 'x' });
  t.equal(call.statusCode, 404, 'an in-process framework has no HTTP subscription');
  t.match(call.json().message, /no open HTTP subscription/);
});

t.test('failover: a dropped stream keeps the tasks until the failover timeout; re-subscribing in time gets them back', async (t) => {
  const h = await harness(t);
  const fw = await h.subscribe({ name: 'fw', failover_timeout: 60 });
  h.allocate();
  const [offer] = await h.offers(fw);
  await fw.call({ type: 'ACCEPT', accept: { offer_ids: [offer!.id], operations: [{ type: 'LAUNCH', launch: { task_infos: [h.launch('t1')] } }] } });
  const task = h.agent.launched[0]!;
  h.agentUpdate(task, 'TASK_RUNNING', 'u1');
  await fw.feed.next('RUNNING', (e) => e.type === 'UPDATE');

  await h.drop(fw);
  const away = await h.state();
  t.match(away.frameworks, [{ id: fw.id, name: 'fw', connected: false, failoverTimeoutSeconds: 60, disconnectedAt: String, activeTasks: 1 }], 'disconnected, not removed');
  t.match(away.tasks, [{ id: 't1', state: 'TASK_RUNNING' }]);
  h.clock.advance(59_000);
  t.same(h.agent.killed, [], 'nothing killed within the failover timeout');

  const back = await h.subscribe({ name: 'fw', failover_timeout: 60 }, fw.id);
  t.equal(back.id, fw.id, 're-subscribed under the same id');
  h.allocate();
  t.ok((await h.offers(back)).length > 0, 'offers resume');
  h.agentUpdate(task, 'TASK_RUNNING', 'u1');
  t.match((await back.feed.next('resent update', (e) => e.type === 'UPDATE')).update.status, { taskId: 't1', uuid: 'u1' }, "the agent's resend of the unacknowledged update arrives");
  h.clock.advance(120_000);
  t.same(h.agent.killed, [], 'the old failover deadline no longer applies');
  t.match((await h.state()).frameworks, [{ connected: true, disconnectedAt: null }]);

  await h.drop(back);
  h.clock.advance(60_000);
  t.same(h.agent.killed, ['t1'], 'the tasks are killed once the timeout passes');
  t.same((await h.state()).frameworks, [], 'and the framework is removed');
  const late = await post(h.server, { type: 'REVIVE', framework_id: fw.id }, { 'Mesos-Stream-Id': back.streamId });
  t.equal(late.json().code, 'FRAMEWORK_NOT_FOUND');
});

t.test('failover timeouts: 0 removes at once, the default is a week, and timeouts beyond a Node timer still fire', async (t) => {
  const h = await harness(t);
  const zero = await h.subscribe({ name: 'zero', failover_timeout: 0 });
  const week = await h.subscribe({ name: 'week' });
  const month = await h.subscribe({ name: 'month', failover_timeout: 30 * 86400 });
  t.match((await h.state()).frameworks.find((f: { id: string }) => f.id === week.id), { failoverTimeoutSeconds: 604800 });
  for (const fw of [zero, week, month]) await h.drop(fw);
  const ids = async () => ((await h.state()).frameworks as Array<{ id: string; connected: boolean }>).filter((f) => !f.connected).map((f) => f.id);
  t.same((await ids()).sort(), [week.id, month.id].sort(), 'failover_timeout 0 removes the framework when its stream drops');
  h.clock.advance(7 * 86400_000);
  t.same(await ids(), [month.id], 'the default keeps a framework one week');
  h.clock.advance(23 * 86400_000 - 1);
  t.same(await ids(), [month.id], 'a 30-day timeout (longer than a Node timer) has not fired early');
  h.clock.advance(1);
  t.same(await ids(), [], 'and fires on time');
});

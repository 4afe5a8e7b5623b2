// The operator feed over node RPC: the master's side (OperatorFeed) and a node's copy
// (OperatorMirror) over an in-memory channel pair — the snapshot, events in order with the
// framework's hints, the endpoint, staleness when the channel closes and a new snapshot replacing
// the state on a new channel, chunked messages for 50,000 tasks, agent RPC and the feed on one
// channel, and bad messages refused cleanly on either side.
import t from 'tap';
import { memoryChannelPair, type NodeChannel } from '../../../src/kernel/remote/channel';
import { fitItem, jsonBytes, snapshotParts } from '../../../src/kernel/remote/feed-chunks';
import { serveAgent } from '../../../src/kernel/remote/master-side';
import { OperatorFeed } from '../../../src/kernel/remote/operator-feed';
import { OperatorMirror } from '../../../src/kernel/remote/operator-mirror';
import { FEED_CHUNK_BYTES, METHODS, NODE_RPC_VERSION, SERVED_BY, type FeedTaskHint } from '../../../src/kernel/remote/protocol';
import { routedChannel } from '../../../src/kernel/remote/router';
import type { TaskView } from '../../../src/kernel/sdk/operator';
import { FakeClock } from '../../../src/shared/clock';
import { silentLogger } from '../../../src/shared/logger';
import { taskView } from '../../discovery/helpers/state';
import { RecordingMaster } from '../agent/helpers/harness';
import { FakeSource, framework } from './helpers/fake-source';

const settle = () => new Promise<void>((resolve) => setImmediate(resolve));
const ids = (views: readonly TaskView[]) => views.map((v) => v.id).sort();

function setup(opts: { chunkBytes?: number } = {}) {
  const source = new FakeSource([{ id: 'agent-a', hostname: '10.0.0.1', status: 'alive' }], [framework('fw-init', 'corral-init')]);
  const hints = new Map<string, FeedTaskHint>();
  const feed = new OperatorFeed({ source, hint: (id) => hints.get(id), endpoint: { hostname: 'master-1', ip: '10.0.0.9' }, logger: silentLogger(), ...opts });
  const clock = new FakeClock();
  const mirror = new OperatorMirror({ clock, logger: silentLogger() });
  const connect = () => {
    const pair = memoryChannelPair();
    feed.serve(routedChannel(pair.b, SERVED_BY.feedMaster), 'node-1');
    mirror.follow(routedChannel(pair.a, SERVED_BY.feedNode));
    return pair;
  };
  return { source, hints, feed, mirror, clock, connect };
}

t.test('snapshot, then every event in order with its hint, then the endpoint', async (t) => {
  const { source, hints, feed, mirror, connect } = setup();
  source.tasks = [taskView({ id: 'web.1', name: 'web', healthChecked: true }), taskView({ id: 'old.1', state: 'TASK_FINISHED' })];
  hints.set('web.1', { appId: '/web', healthChecked: true, ports: [31001, 31000] });
  let resets = 0;
  mirror.onReset(() => resets++);
  const endpoints: unknown[] = [];
  mirror.onEndpoint((e) => endpoints.push(e));
  const pair = connect();
  await settle();
  t.equal(resets, 1, 'the snapshot is announced once');
  t.ok(mirror.current);
  t.same(ids(mirror.taskViews()), ['web.1'], 'tasks that ended are not sent');
  t.same(mirror.hint('web.1'), { appId: '/web', healthChecked: true, ports: [31001, 31000] }, 'the hint travels with the task');
  t.equal(mirror.taskViews()[0]!.healthChecked, true);
  t.same(mirror.agentViews(), [{ id: 'agent-a', hostname: '10.0.0.1', status: 'alive' }]);
  t.same(mirror.frameworkViews().map((f) => f.name), ['corral-init']);
  t.same(endpoints, [{ hostname: 'master-1', ip: '10.0.0.9' }]);
  t.equal(feed.subscribers, 1);

  const seen: string[] = [];
  const hintAtEvent: Array<FeedTaskHint | undefined> = [];
  mirror.onEvent((e) => {
    seen.push(e.type === 'TASK_ADDED' || e.type === 'TASK_UPDATED' ? `${e.type}:${e.task.id}:${e.task.state}` : e.type);
    if (e.type === 'TASK_ADDED') hintAtEvent.push(mirror.hint(e.task.id));
  });
  hints.set('web.2', { appId: '/web', healthChecked: true, ports: [31002] });
  const status = { taskId: 'web.2', agentId: 'agent-a', frameworkId: 'fw-init', state: 'TASK_RUNNING' as const, source: 'SOURCE_EXECUTOR' as const, timestamp: 1 };
  source.emit({ type: 'TASK_ADDED', task: taskView({ id: 'web.2', state: 'TASK_STAGING' }) });
  source.emit({ type: 'TASK_UPDATED', task: taskView({ id: 'web.2' }), status });
  source.emit({ type: 'AGENT_ADDED', agent: { id: 'agent-b', hostname: '10.0.0.2', resources: { cpus: 1, mem: 1, disk: 0, ports: [] }, attributes: {}, registeredAt: 0, version: 'x' } });
  source.emit({ type: 'AGENT_REMOVED', agentId: 'agent-a' });
  source.emit({ type: 'FRAMEWORK_ADDED', framework: framework('fw-cron', 'corral-cron') });
  source.emit({ type: 'TASK_UPDATED', task: taskView({ id: 'web.1', state: 'TASK_KILLED' }), status: { ...status, taskId: 'web.1', state: 'TASK_KILLED' } });
  source.emit({ type: 'FRAMEWORK_REMOVED', frameworkId: 'fw-cron' });
  await settle();
  t.same(seen, ['TASK_ADDED:web.2:TASK_STAGING', 'TASK_UPDATED:web.2:TASK_RUNNING', 'AGENT_ADDED', 'AGENT_REMOVED', 'FRAMEWORK_ADDED', 'TASK_UPDATED:web.1:TASK_KILLED', 'FRAMEWORK_REMOVED'], 'events arrive in the order the master emitted them');
  t.same(hintAtEvent, [{ appId: '/web', healthChecked: true, ports: [31002] }], 'a task event’s hint is known when listeners hear the event');
  t.same(ids(mirror.taskViews()), ['web.2'], 'the copy follows: web.1 ended, web.2 runs');
  t.equal(mirror.taskViews()[0]!.state, 'TASK_RUNNING');
  t.equal(mirror.hint('web.1'), undefined, 'an ended task’s hint is dropped');
  t.same(mirror.agentViews().map((a) => `${a.id}:${a.status}`).sort(), ['agent-a:unreachable', 'agent-b:alive']);
  t.same(mirror.frameworkViews().map((f) => f.id), ['fw-init']);

  feed.setEndpoint({ hostname: 'master-1', ip: '10.0.0.9', apiPort: 5050 });
  await settle();
  t.same(endpoints.at(-1), { hostname: 'master-1', ip: '10.0.0.9', apiPort: 5050 }, 'the API port, once known, follows');
  pair.close();
  t.equal(feed.subscribers, 0, 'a closed channel ends its subscription');
});

t.test('a lost master: the copy stays (stale); a new channel brings a snapshot that replaces it', async (t) => {
  const { source, feed, mirror, connect } = setup();
  source.tasks = [taskView({ id: 'a.1' }), taskView({ id: 'b.1' })];
  let resets = 0;
  mirror.onReset(() => resets++);
  const first = connect();
  await settle();
  first.close();
  t.notOk(mirror.current, 'not current once the channel closed');
  t.same(ids(mirror.taskViews()), ['a.1', 'b.1'], 'but still serving what it had');
  source.emit({ type: 'TASK_ADDED', task: taskView({ id: 'lost.1' }) });
  await settle();
  t.same(ids(mirror.taskViews()), ['a.1', 'b.1'], 'nothing arrives while disconnected');

  source.tasks = [taskView({ id: 'b.1' }), taskView({ id: 'c.1' })];
  const events: string[] = [];
  mirror.onEvent((e) => events.push(e.type));
  const second = connect();
  await settle();
  t.equal(resets, 2, 'the new snapshot is announced');
  t.ok(mirror.current);
  t.same(ids(mirror.taskViews()), ['b.1', 'c.1'], 'and replaces the state wholesale');
  source.emit({ type: 'TASK_ADDED', task: taskView({ id: 'd.1' }) });
  await settle();
  t.same(ids(mirror.taskViews()), ['b.1', 'c.1', 'd.1'], 'events flow again');
  t.same(events, ['TASK_ADDED']);
  t.equal(feed.subscribers, 1);
  mirror.stop();
  await settle();
  t.equal(feed.subscribers, 0, 'stop() unsubscribes');
  second.close();
});

t.test('50,000 tasks: the snapshot is chunked well under the frame limit, events batched', async (t) => {
  const { source, mirror } = setup();
  source.tasks = Array.from({ length: 50_000 }, (_, i) => taskView({ id: `app-${i % 100}.${i}`, name: `app-${i % 100}`, labels: { team: 'payments', tier: 'gold' } }));
  const pair = memoryChannelPair();
  const sizes: number[] = [];
  const batches: number[] = [];
  const tap = (channel: NodeChannel): NodeChannel => ({
    ...channel,
    onNotify: (handler) =>
      channel.onNotify((method, body) => {
        if (method === METHODS.feedSnapshot) sizes.push(jsonBytes(body));
        if (method === METHODS.feedEvents) batches.push((body as { items: unknown[] }).items.length);
        handler(method, body);
      }),
  });
  const feed = new OperatorFeed({ source, hint: () => undefined, endpoint: undefined, logger: silentLogger() });
  feed.serve(routedChannel(pair.b, SERVED_BY.feedMaster));
  const started = Date.now();
  mirror.follow(tap(routedChannel(pair.a, SERVED_BY.feedNode)));
  await t.resolves(async () => {
    for (let i = 0; i < 200 && !mirror.current; i++) await settle();
  });
  t.ok(mirror.current, `snapshot in after ${Date.now() - started} ms`);
  t.equal(mirror.taskViews().length, 50_000, 'every task arrives');
  t.ok(sizes.length > 10, `${sizes.length} chunks`);
  t.ok(Math.max(...sizes) < FEED_CHUNK_BYTES + 4096, `largest chunk ${Math.max(...sizes)} bytes (limit ${FEED_CHUNK_BYTES})`);

  // A launch of 5,000 tasks in one turn goes out as a few batches, not one message, not 5,000.
  for (let i = 0; i < 5000; i++) source.emit({ type: 'TASK_ADDED', task: taskView({ id: `burst.${i}`, name: 'burst' }) });
  await settle();
  await settle();
  t.equal(mirror.taskViews().length, 55_000);
  t.ok(batches.length > 1 && batches.length < 100, `${batches.length} batches`);
  pair.close();
});

t.test('sizing: a task too big for one message loses its labels, nothing else changes', async (t) => {
  const huge = taskView({ id: 'big.1', labels: { blob: 'x'.repeat(10_000) } });
  const parts = snapshotParts({ tasks: [{ view: huge }, { view: taskView({ id: 'small.1' }) }], agents: [], frameworks: [] }, 4096);
  t.same(parts.flatMap((p) => p.tasks.map((x) => [x.view.id, Object.keys(x.view.labels).length])), [['big.1', 0], ['small.1', 0]]);
  const item = { event: { type: 'TASK_ADDED' as const, task: huge } };
  const fitted = fitItem(item, 4096);
  t.ok('event' in fitted && fitted.event.type === 'TASK_ADDED' && Object.keys(fitted.event.task.labels).length === 0);
  t.equal(fitItem(item, 1_000_000), item, 'an item that fits is sent as it is');
  t.same(snapshotParts({ tasks: [], agents: [], frameworks: [] }, 4096), [{ tasks: [], agents: [], frameworks: [] }], 'an empty snapshot is one (last) chunk');
});

t.test('agent RPC and the feed share one channel', async (t) => {
  const { source, mirror } = setup();
  source.tasks = [taskView({ id: 'x.1' })];
  const pair = memoryChannelPair();
  const master = new RecordingMaster();
  serveAgent(routedChannel(pair.b, SERVED_BY.master), master);
  const feed = new OperatorFeed({ source, hint: () => undefined, endpoint: undefined, logger: silentLogger() });
  feed.serve(routedChannel(pair.b, SERVED_BY.feedMaster));
  mirror.follow(routedChannel(pair.a, SERVED_BY.feedNode));
  await settle();
  t.same(ids(mirror.taskViews()), ['x.1']);
  await t.rejects(pair.a.request(METHODS.register, { v: 99, info: {}, tasks: [], statuses: [] }), { code: 'INVALID_REQUEST', message: /version 99/ }, 'registration still reaches serveAgent');
  await t.rejects(pair.a.request('operator.nonsense', {}), { code: 'INVALID_REQUEST', message: /Unknown node RPC request/ }, 'a method nobody serves is refused');
  pair.close();
});

t.test('bad subscriptions are refused by the master with INVALID_REQUEST', async (t) => {
  const { feed } = setup();
  const pair = memoryChannelPair();
  feed.serve(pair.b);
  await t.rejects(pair.a.request(METHODS.feedSubscribe, { v: 99, sub: 's1' }), { code: 'INVALID_REQUEST', message: /version 99/ });
  await t.rejects(pair.a.request(METHODS.feedSubscribe, { v: NODE_RPC_VERSION }), { code: 'INVALID_REQUEST', message: /subscription name/ });
  await t.rejects(pair.a.request(METHODS.feedSubscribe, null), { code: 'INVALID_REQUEST' });
  await t.rejects(pair.a.request(METHODS.feedSubscribe, { v: NODE_RPC_VERSION, sub: 'x'.repeat(65) }), { code: 'INVALID_REQUEST' });
  t.equal(feed.subscribers, 0, 'nothing was half-subscribed');
  t.same(await pair.a.request(METHODS.feedSubscribe, { v: NODE_RPC_VERSION, sub: 's2' }), { v: NODE_RPC_VERSION, sub: 's2' });
  t.equal(feed.subscribers, 1);
  pair.a.notify(METHODS.feedUnsubscribe, { sub: 'other' });
  await settle();
  t.equal(feed.subscribers, 1, 'an unsubscribe of another subscription is ignored');
  pair.a.notify(METHODS.feedUnsubscribe, { sub: 's2' });
  await settle();
  t.equal(feed.subscribers, 0);
  pair.close();
});

t.test('a malformed or out-of-order notice is refused whole: the state stays, the mirror subscribes again', async (t) => {
  const clock = new FakeClock();
  const mirror = new OperatorMirror({ clock, logger: silentLogger(), retryMs: 1000 });
  const pair = memoryChannelPair();
  const subs: string[] = [];
  const unsubscribed: string[] = [];
  const good = (sub: string, seq: number) => ({ sub, seq, last: true, tasks: [{ view: taskView({ id: 'ok.1' }) }], agents: [], frameworks: [] });
  // A fake master that answers with a good snapshot, then whatever the test sends.
  pair.b.onRequest((_method, body) => {
    const { sub } = body as { sub: string };
    subs.push(sub);
    pair.b.notify(METHODS.feedSnapshot, good(sub, 0));
    return { v: NODE_RPC_VERSION, sub };
  });
  pair.b.onNotify((method, body) => method === METHODS.feedUnsubscribe && unsubscribed.push((body as { sub: string }).sub));
  mirror.follow(pair.a);
  await settle();
  t.same(ids(mirror.taskViews()), ['ok.1']);
  const sub = subs[0]!;

  const bad: Array<[string, string, unknown]> = [
    ['a task without an id', METHODS.feedEvents, { sub, seq: 1, items: [{ event: { type: 'TASK_ADDED', task: { name: 'x' } } }] }],
    ['an unknown event type', METHODS.feedEvents, { sub, seq: 1, items: [{ event: { type: 'TASK_EXPLODED' } }] }],
    ['a task state nobody knows', METHODS.feedEvents, { sub, seq: 1, items: [{ event: { type: 'TASK_ADDED', task: { ...taskView({ id: 'z.1' }), state: 'TASK_SIDEWAYS' } } }] }],
    ['a gap in the numbering', METHODS.feedEvents, { sub, seq: 5, items: [] }],
    ['a second snapshot', METHODS.feedSnapshot, good(sub, 1)],
    ['not an object', METHODS.feedEvents, 'garbage'],
    ['a bad hint', METHODS.feedEvents, { sub, seq: 1, items: [{ event: { type: 'TASK_ADDED', task: taskView({ id: 'h.1' }) }, hint: { ports: 'x' } }] }],
  ];
  for (const [what, method, body] of bad) {
    const before = subs.length;
    const current = subs.at(-1)!;
    const patched = typeof body === 'object' && body !== null ? { ...body, sub: current } : body;
    pair.b.notify(method, patched);
    await settle();
    t.same(ids(mirror.taskViews()), ['ok.1'], `${what}: nothing applied`);
    t.notOk(mirror.current, `${what}: the mirror knows it is not current`);
    t.equal(unsubscribed.at(-1), current, `${what}: the subscription is dropped`);
    clock.advance(1000);
    await settle();
    t.equal(subs.length, before + 1, `${what}: subscribed again after retryMs`);
    t.ok(mirror.current, `${what}: current again`);
  }
  // Notices of an older subscription are not ours: ignored without a fault.
  pair.b.notify(METHODS.feedEvents, { sub: 'stale', seq: 0, items: [{ event: { type: 'TASK_ADDED', task: taskView({ id: 'old.1' }) } }] });
  await settle();
  t.ok(mirror.current);
  t.same(ids(mirror.taskViews()), ['ok.1']);
  mirror.stop();
  pair.close();
});

t.test('a subscription the master refuses is tried again later', async (t) => {
  const clock = new FakeClock();
  const mirror = new OperatorMirror({ clock, logger: silentLogger(), retryMs: 500 });
  const pair = memoryChannelPair();
  let asked = 0;
  pair.b.onRequest(() => {
    asked++;
    throw new Error('not yet');
  });
  mirror.follow(pair.a);
  await settle();
  t.equal(asked, 1);
  clock.advance(499);
  await settle();
  t.equal(asked, 1);
  clock.advance(1);
  await settle();
  t.equal(asked, 2, 'asked again after retryMs');
  pair.close();
  clock.advance(10_000);
  await settle();
  t.equal(asked, 2, 'not once the channel is gone');
});

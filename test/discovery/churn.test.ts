// Discovery under task churn: an event resolves only the host it brings (no scan of every task),
// a failed host is retried after RESOLVE_RETRY_MS as before, and catalog rebuilds are folded
// together and spaced in proportion to their cost (nextRebuildDelay), while catalog() never reads
// a stale catalog.
import t from 'tap';
import { Discovery, nextRebuildDelay } from '../../src/discovery/discovery';
import { isIpv4 } from '../../src/discovery/names';
import { applyOperatorEvent, needsAddress, newHostsOf } from '../../src/discovery/state';
import type { DiscoverySettings } from '../../src/discovery/types';
import type { TaskView } from '../../src/kernel/sdk/operator';
import { FakeClock, type Clock } from '../../src/shared/clock';
import { silentLogger } from '../../src/shared/logger';
import { FakeSource, framework } from '../kernel/remote/helpers/fake-source';
import { baseState, INIT, taskView } from './helpers/state';

const settle = () => new Promise<void>((resolve) => setImmediate(resolve));
const RETRY_MS = 30_000;

t.test('nextRebuildDelay: at least the minimum, 10 × the last build, at most 250 ms apart', async (t) => {
  const rows: Array<[lastBuildMs: number, minDelayMs: number, sinceBuildMs: number, expected: number, why: string]> = [
    [0, 10, 0, 10, 'a cheap build: the plain delay'],
    [0.5, 10, 0, 10, 'still under the minimum'],
    [3, 10, 0, 30, '10 × a 3 ms build'],
    [20, 10, 0, 200, '10 × a 20 ms build'],
    [100, 10, 0, 250, 'capped at 250 ms'],
    [20, 10, 150, 50, 'spacing counts from the end of the last build'],
    [20, 10, 195, 10, 'but a change always waits the minimum (a burst is one rebuild)'],
    [20, 10, 10_000, 10, 'after a quiet spell: no extra latency'],
    [20, 300, 0, 300, 'a minimum above the cap wins'],
    [-5, 10, 0, 10, 'a clock stepping back counts as free'],
  ];
  for (const [b, min, since, expected, why] of rows) t.equal(nextRebuildDelay(b, min, since), expected, why);
  t.equal(nextRebuildDelay(7, 10), 70, 'sinceBuildMs defaults to right after the build');
});

t.test('needsAddress and newHostsOf: one definition, the event’s own host only', async (t) => {
  const state = baseState();
  t.notOk(needsAddress(state, 'node-a', isIpv4), 'resolved');
  t.notOk(needsAddress(state, '10.0.0.7', isIpv4), 'an IPv4 literal');
  t.ok(needsAddress(state, 'node-c', isIpv4));
  const added = (task: TaskView) => {
    const event = { type: 'TASK_ADDED' as const, task };
    applyOperatorEvent(state, event);
    return newHostsOf(state, event, isIpv4);
  };
  t.same(added(taskView({ id: 't1', host: 'node-a' })), [], 'a task on a resolved host');
  t.same(added(taskView({ id: 't2', host: 'node-c' })), ['node-c'], 'a task on a new host');
  t.same(added(taskView({ id: 't3', host: '10.0.0.7' })), []);
  t.same(added(taskView({ id: 't4', host: 'node-d', state: 'TASK_FAILED' })), [], 'a task that ended at once is not tracked, nor its host');
  const agent = { type: 'AGENT_ADDED' as const, agent: { id: 'agent-e', hostname: 'node-e' } } as Parameters<typeof applyOperatorEvent>[1];
  applyOperatorEvent(state, agent);
  t.same(newHostsOf(state, agent, isIpv4), ['node-e']);
  const update = { type: 'TASK_UPDATED' as const, task: taskView({ id: 't5', host: 'node-f' }), status: { taskId: 't5', agentId: 'agent-a', frameworkId: INIT, state: 'TASK_RUNNING' as const, source: 'SOURCE_EXECUTOR' as const, timestamp: 1 } };
  t.same(newHostsOf(state, update, isIpv4), [], 'only TASK_ADDED and AGENT_ADDED bring hosts (as before)');
});

t.test('resolving per event: known hosts cost nothing, a new one is resolved once, a failed one retried after 30 s', async (t) => {
  const addresses: Record<string, string> = { 'node-a': '10.0.0.1', 'node-b': '10.0.0.2', 'node-c': '10.0.0.3', 'node-e': '10.0.0.5' };
  const calls: string[] = [];
  let fixed = false;
  const resolveHost = async (host: string) => {
    calls.push(host);
    return host === 'bad' && fixed ? '10.0.0.66' : addresses[host];
  };
  // 2,000 tasks on two hosts; each view counts how often its host is read.
  let hostReads = 0;
  const tasks = Array.from({ length: 2000 }, (_, i) => {
    const view = taskView({ id: `job-${i}`, name: `job-${i % 50}`, agentId: i % 2 ? 'agent-a' : 'agent-b' });
    const host = i % 2 ? 'node-a' : 'node-b';
    Object.defineProperty(view, 'host', { get: () => (hostReads++, host), enumerable: true });
    return view;
  });
  const source = new FakeSource([{ id: 'agent-a', hostname: 'node-a', status: 'alive' }, { id: 'agent-b', hostname: 'node-b', status: 'alive' }], [framework(INIT, 'corral-init')]);
  source.tasks = tasks;
  const clock = new FakeClock();
  const discovery = new Discovery({ master: source, settings: { domain: 'corral', ttl: 5 }, listen: undefined, upstreams: [], leader: undefined, resolveHost, clock, logger: silentLogger() });
  await discovery.start();
  t.teardown(() => discovery.stop());
  await settle();
  t.same(calls.sort(), ['node-a', 'node-b'], 'the snapshot: every host once');
  clock.advance(10);
  t.equal(discovery.catalog().records.get('job-1.corral-init.corral')?.a[0], '10.0.0.1');

  calls.length = 0;
  hostReads = 0;
  const add = (id: string, host: string, over: Partial<TaskView> = {}) => source.emit({ type: 'TASK_ADDED', task: taskView({ id, host, ...over }) });
  for (let i = 0; i < 100; i++) add(`new-${i}`, i % 2 ? 'node-a' : 'node-b');
  t.same(calls, [], 'tasks on resolved hosts: no resolver call');
  t.equal(hostReads, 0, 'and no scan of the tasks already known');

  add('c-1', 'node-c');
  add('c-2', 'node-c');
  t.same(calls, ['node-c'], 'a new host: one call, not one per task while it is in flight');
  await settle();
  add('c-3', 'node-c');
  add('lit-1', '10.0.0.9');
  add('gone-1', 'node-d', { state: 'TASK_FAILED' });
  t.same(calls, ['node-c'], 'resolved: no more calls; an IPv4 literal or an ended task needs none');
  source.emit({ type: 'AGENT_ADDED', agent: { id: 'agent-e', hostname: 'node-e' } } as Parameters<typeof source.emit>[0]);
  t.same(calls, ['node-c', 'node-e'], 'a new agent’s host: one call');
  await settle();
  clock.advance(10);
  t.same(discovery.catalog().records.get('node-e.node.corral')?.a, ['10.0.0.5'], 'its address is in the catalog');

  calls.length = 0;
  add('bad-1', 'bad');
  await settle();
  add('bad-2', 'bad');
  clock.advance(RETRY_MS - 1_000);
  add('bad-3', 'bad');
  t.same(calls, ['bad'], 'a host that failed is not tried again within 30 s');
  clock.advance(1_000);
  fixed = true;
  hostReads = 0;
  add('a-late', 'node-a');
  t.same(calls, ['bad', 'bad'], 'after 30 s any host-bringing event retries it (as the full scan did)');
  t.ok(hostReads > 0, 'that retry scans the tasks once');
  await settle();
  hostReads = 0;
  add('a-later', 'node-a');
  t.equal(hostReads, 0, 'and then events are O(1) again');
  t.same(calls, ['bad', 'bad']);
  clock.advance(300);
  t.equal(discovery.catalog().tasks.find((x) => x.id === 'bad-1')?.ip, '10.0.0.66', 'the fixed host’s tasks are published');
});

/** A clock whose reading jumps by `cost` ms while a catalog is built (settings.ttl is read once per build). */
function slowBuilds(fake: FakeClock): { clock: Clock; settings: DiscoverySettings; setCost(ms: number): void } {
  let skew = 0;
  let cost = 0;
  const clock: Clock = {
    now: () => fake.now() + skew,
    setTimeout: (fn, ms) => fake.setTimeout(fn, ms),
    setInterval: (fn, ms) => fake.setInterval(fn, ms),
    sleep: (ms) => fake.sleep(ms),
  };
  const settings = {
    domain: 'corral',
    get ttl() {
      skew += cost;
      return 5;
    },
  };
  return { clock, settings, setCost: (ms) => (cost = ms) };
}

t.test('rebuilds: a burst is one rebuild, a slow build spaces the next, catalog() is never stale', async (t) => {
  const fake = new FakeClock();
  const slow = slowBuilds(fake);
  const source = new FakeSource([{ id: 'agent-a', hostname: '10.0.0.1', status: 'alive' }], [framework(INIT, 'corral-init')]);
  const discovery = new Discovery({ master: source, settings: slow.settings, listen: undefined, upstreams: [], leader: undefined, resolveHost: async () => undefined, clock: slow.clock, logger: silentLogger() });
  await discovery.start();
  t.teardown(() => discovery.stop());
  let rebuilds = 0;
  const setCatalog = discovery.answerer.setCatalog.bind(discovery.answerer);
  discovery.answerer.setCatalog = (c) => {
    rebuilds++;
    setCatalog(c);
  };
  const published = () => discovery.answerer.catalog.tasks.map((x) => x.id);
  let n = 0;
  const add = () => source.emit({ type: 'TASK_ADDED', task: taskView({ id: `t${++n}`, host: '10.0.0.1' }) });
  // A change rebuilt after the plain 10 ms by a build that costs `ms`, then one more change, now waiting.
  const afterBuildOf = (ms: number) => {
    slow.setCost(ms);
    add();
    fake.advance(10);
    slow.setCost(0);
    add();
  };

  for (let i = 0; i < 200; i++) add();
  fake.advance(9);
  t.equal(rebuilds, 0, 'nothing before the delay');
  fake.advance(1);
  t.equal(rebuilds, 1, '200 events within 10 ms: one rebuild');
  t.equal(published().length, 200);

  afterBuildOf(20);
  t.equal(rebuilds, 2, 'a cheap last build: the plain 10 ms');
  fake.advance(100);
  t.equal(rebuilds, 2, 'after a 20 ms build, not within 100 ms');
  t.equal(published().length, 201, 'the answerer still has the previous catalog');
  fake.advance(100);
  t.equal(rebuilds, 3, 'but by 200 ms (10 × 20 ms)');
  t.equal(published().length, 202);

  afterBuildOf(100);
  t.equal(rebuilds, 4);
  fake.advance(240);
  t.equal(rebuilds, 4, 'after a 100 ms build, not within 240 ms');
  fake.advance(10);
  t.equal(rebuilds, 5, 'but capped at 250 ms');
  t.equal(published().length, 204);

  afterBuildOf(100);
  t.equal(rebuilds, 6);
  fake.advance(100);
  t.equal(published().length, 205, 'DNS lags while the rebuild waits');
  t.equal(discovery.catalog().tasks.length, 206, 'catalog() rebuilds at once while one is pending');
  t.equal(rebuilds, 7);
  fake.advance(150);
  t.equal(rebuilds, 7, 'the pending timer finds nothing left to do');

  fake.advance(5_000);
  add();
  fake.advance(10);
  t.equal(rebuilds, 8, 'after a quiet spell a change waits only the plain delay');
});

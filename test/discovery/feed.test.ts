// What an agent-only node's resolver is built from: TaskView.healthChecked (set by the master from
// the TaskInfo, shown by the task JSON, honoured by the catalog without a framework's hint), and a
// Discovery fed by an OperatorMirror of the master's feed — names from the snapshot and events,
// kept while the master is away, replaced by a new snapshot, the leader from the feed's endpoint.
import t from 'tap';
import { nativeTaskJson } from '../../src/api/task-json';
import { Discovery } from '../../src/discovery/discovery';
import { newTaskRecord, toTaskView } from '../../src/kernel/master/task-record';
import { memoryChannelPair } from '../../src/kernel/remote/channel';
import { OperatorFeed } from '../../src/kernel/remote/operator-feed';
import { OperatorMirror } from '../../src/kernel/remote/operator-mirror';
import { SERVED_BY, type FeedTaskHint } from '../../src/kernel/remote/protocol';
import { routedChannel } from '../../src/kernel/remote/router';
import type { TaskView } from '../../src/kernel/sdk/operator';
import type { TaskInfo } from '../../src/kernel/types';
import { FakeClock } from '../../src/shared/clock';
import { silentLogger } from '../../src/shared/logger';
import { FakeSource, framework } from '../kernel/remote/helpers/fake-source';
import { baseState, catalogOf, INIT, taskView, withTasks } from './helpers/state';

const info = (over: Partial<TaskInfo> = {}): TaskInfo => ({
  taskId: 'web.1',
  name: 'web',
  agentId: 'agent-a',
  frameworkId: INIT,
  resources: { cpus: 0.1, mem: 16, disk: 0, ports: [] },
  command: { value: 'sleep 1', shell: true, environment: {} },
  labels: {},
  ...over,
});

t.test('healthChecked: from the TaskInfo, in the task JSON, honoured by the catalog without a hint', async (t) => {
  const checked = toTaskView(newTaskRecord(info({ healthChecks: [{ protocol: 'COMMAND', command: 'true', gracePeriodSeconds: 0, intervalSeconds: 1, timeoutSeconds: 1, maxConsecutiveFailures: 0, delaySeconds: 0 }] }), 'node-a', 0));
  const plain = toTaskView(newTaskRecord(info(), 'node-a', 0));
  t.equal(checked.healthChecked, true);
  t.equal(plain.healthChecked, false);
  t.equal(toTaskView(newTaskRecord(info({ healthChecks: [] }), 'node-a', 0)).healthChecked, false, 'an empty list is no check');
  t.equal(nativeTaskJson(checked, INIT).healthChecked, true, 'GET /api/v1/tasks shows it');

  const reasons = (views: TaskView[], hint?: { healthChecked: boolean }) =>
    catalogOf(withTasks(baseState(), views.map((v) => (hint ? [v, hint] : v)) as TaskView[])).tasks.map((x) => `${x.id}:${x.reason ?? 'published'}`);
  t.same(reasons([taskView({ id: 'a', healthChecked: true })]), ['a:health_unknown'], 'the view alone holds a checked task back');
  t.same(reasons([taskView({ id: 'a', healthChecked: true, healthy: true })]), ['a:published'], 'until its first passing result');
  t.same(reasons([taskView({ id: 'a', healthChecked: true, healthy: false })]), ['a:unhealthy']);
  t.same(reasons([taskView({ id: 'a' })], { healthChecked: true }), ['a:health_unknown'], 'or the hint alone');
  t.same(reasons([taskView({ id: 'a' })]), ['a:published'], 'neither: published at once');
});

const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

t.test('a resolver fed by the mirror: snapshot, events, a lost master, a new snapshot, the leader', async (t) => {
  const source = new FakeSource([{ id: 'agent-a', hostname: '10.0.0.1', status: 'alive' }, { id: 'agent-b', hostname: '10.0.0.2', status: 'alive' }], [framework(INIT, 'corral-init')]);
  const hints = new Map<string, FeedTaskHint>();
  const feed = new OperatorFeed({ source, hint: (id) => hints.get(id), endpoint: { hostname: 'master-1', ip: '10.0.0.9' }, logger: silentLogger() });
  const clock = new FakeClock();
  const mirror = new OperatorMirror({ clock, logger: silentLogger() });
  const discovery = new Discovery({ master: mirror, settings: { domain: 'corral', ttl: 5 }, listen: undefined, upstreams: [], leader: undefined, hint: (id) => mirror.hint(id), resolveHost: async () => undefined, clock, logger: silentLogger() });
  mirror.onEndpoint((e) => discovery.setLeader(e));
  await discovery.start();
  t.teardown(() => discovery.stop());
  const a = (name: string) => discovery.catalog().records.get(name)?.a ?? [];
  const srv = (name: string) => (discovery.catalog().records.get(name)?.srv ?? []).map((r) => r.port);
  t.same(a('web.corral-init.corral'), [], 'nothing before the first snapshot');

  const running = (id: string, host: string, port: number, over: Partial<TaskView> = {}) =>
    taskView({ id, name: 'web', agentId: host === '10.0.0.1' ? 'agent-a' : 'agent-b', host, resources: { cpus: 0.1, mem: 16, disk: 0, ports: [{ begin: port, end: port }] }, ...over });
  source.tasks = [running('web.1', '10.0.0.1', 31000), running('web.2', '10.0.0.2', 31001), running('api.1', '10.0.0.1', 31005, { name: 'api', healthChecked: true })];
  hints.set('web.1', { appId: '/web', healthChecked: false, ports: [31000] });
  let pair = memoryChannelPair();
  feed.serve(routedChannel(pair.b, SERVED_BY.feedMaster));
  mirror.follow(routedChannel(pair.a, SERVED_BY.feedNode));
  await settle();
  t.same(a('web.corral-init.corral'), ['10.0.0.1', '10.0.0.2'], 'A from the snapshot');
  t.same(srv('_web._tcp.corral-init.corral').sort(), [31000, 31001]);
  t.same(a('api.corral-init.corral'), [], 'a checked task without a result is held back (the view says so)');
  t.same(a('leader.corral'), ['10.0.0.9'], 'leader from the feed’s endpoint');
  t.equal(discovery.catalog().tasks.find((x) => x.id === 'web.1')?.appId, '/web', 'the hint came along');

  source.emit({ type: 'TASK_UPDATED', task: running('web.2', '10.0.0.2', 31001, { state: 'TASK_KILLED' }), status: { taskId: 'web.2', agentId: 'agent-b', frameworkId: INIT, state: 'TASK_KILLED', source: 'SOURCE_EXECUTOR', timestamp: 1 } });
  source.emit({ type: 'TASK_UPDATED', task: running('api.1', '10.0.0.1', 31005, { name: 'api', healthChecked: true, healthy: true }), status: { taskId: 'api.1', agentId: 'agent-a', frameworkId: INIT, state: 'TASK_RUNNING', source: 'SOURCE_EXECUTOR', timestamp: 1, healthy: true } });
  await settle();
  t.same(a('web.corral-init.corral'), ['10.0.0.1'], 'a killed task leaves');
  t.same(a('api.corral-init.corral'), ['10.0.0.1'], 'a healthy one arrives');

  pair.close();
  source.emit({ type: 'TASK_ADDED', task: running('web.3', '10.0.0.2', 31002) });
  await settle();
  t.same(a('web.corral-init.corral'), ['10.0.0.1'], 'the master lost: names stay as they were (stale, not empty)');

  source.tasks = [running('web.3', '10.0.0.2', 31002)];
  pair = memoryChannelPair();
  feed.serve(routedChannel(pair.b, SERVED_BY.feedMaster));
  mirror.follow(routedChannel(pair.a, SERVED_BY.feedNode));
  await settle();
  t.same(a('web.corral-init.corral'), ['10.0.0.2'], 'a new snapshot replaces them');
  t.same(a('api.corral-init.corral'), [], 'what ended meanwhile is gone');
  feed.setEndpoint({ hostname: 'master-2', ip: '10.0.0.8', apiPort: 5050 });
  await settle();
  t.same(a('leader.corral'), ['10.0.0.8']);
  t.same(srv('_leader._tcp.corral'), [5050]);
  pair.close();
});

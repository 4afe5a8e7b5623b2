// The pure cores behind Marathon's runtime endpoints: the task events of the event bus (taskEvents),
// the bus's attach-while-listened lifecycle, the event_type filter, and the launch queue with its
// offer funnel.
import t from 'tap';
import { validateApp } from '../../src/init/app';
import { eventTypeFilter } from '../../src/init/event-routes';
import { MarathonEventBus, taskEvents, type TaskMemory } from '../../src/init/events';
import { launchQueue, processedOffersSummary, rejectReason, type QueueAgent } from '../../src/init/queue';
import type { AppTask, StoredApp } from '../../src/init/types';
import type { OperatorEventListener, TaskView } from '../../src/kernel/sdk/operator';
import type { TaskState, TaskStatus } from '../../src/kernel/types';
import { FakeClock } from '../../src/shared/clock';
import { silentLogger } from '../../src/shared/logger';

const AT = '2026-01-01T00:00:00.000Z';
const known = { appId: '/web', version: 'v1', ports: [31000] };
const view = (state: TaskState): TaskView => ({
  id: 'web.1', name: 'web', frameworkId: 'init', agentId: 'a1', host: 'a1.test', state, reason: undefined, message: undefined, exitCode: undefined, healthy: undefined, healthChecked: false,
  resources: { cpus: 1, mem: 64, disk: 0, ports: [{ begin: 31000, end: 31000 }] }, labels: {}, stagedAt: 0, startedAt: undefined, updatedAt: 0,
});
const status = (state: TaskState, healthy?: boolean): TaskStatus => ({ taskId: 'web.1', agentId: 'a1', frameworkId: 'init', state, source: 'SOURCE_EXECUTOR', timestamp: 0, ...(healthy === undefined ? {} : { healthy }) });
const memory = (state: TaskState, healthy?: boolean): TaskMemory => ({ ...known, state, healthy });

t.test('taskEvents: which Marathon events one change of a task makes', async (t) => {
  const cases: Array<[string, TaskMemory | undefined, TaskState, TaskStatus | undefined, string[], TaskMemory | undefined]> = [
    ['a launch', undefined, 'TASK_STAGING', undefined, ['status_update_event', 'instance_changed_event'], memory('TASK_STAGING')],
    ['running', memory('TASK_STAGING'), 'TASK_RUNNING', status('TASK_RUNNING'), ['status_update_event', 'instance_changed_event'], memory('TASK_RUNNING')],
    ['the same state again', memory('TASK_RUNNING'), 'TASK_RUNNING', status('TASK_RUNNING'), [], memory('TASK_RUNNING')],
    ['a first failing check: alive stays false', memory('TASK_RUNNING'), 'TASK_RUNNING', status('TASK_RUNNING', false), ['instance_health_changed_event'], memory('TASK_RUNNING', false)],
    ['turns healthy', memory('TASK_RUNNING', false), 'TASK_RUNNING', status('TASK_RUNNING', true), ['health_status_changed_event', 'instance_health_changed_event'], memory('TASK_RUNNING', true)],
    ['healthy from unknown', memory('TASK_RUNNING'), 'TASK_RUNNING', status('TASK_RUNNING', true), ['health_status_changed_event', 'instance_health_changed_event'], memory('TASK_RUNNING', true)],
    ['an update without health keeps it', memory('TASK_RUNNING', true), 'TASK_RUNNING', status('TASK_RUNNING'), [], memory('TASK_RUNNING', true)],
    ['killing keeps health', memory('TASK_RUNNING', true), 'TASK_KILLING', status('TASK_KILLING'), ['status_update_event', 'instance_changed_event'], memory('TASK_KILLING', true)],
    ['ended: forgotten, no health event', memory('TASK_RUNNING', true), 'TASK_KILLED', status('TASK_KILLED'), ['status_update_event', 'instance_changed_event'], undefined],
  ];
  for (const [name, before, state, st, types, after] of cases) {
    const out = taskEvents(before, known, view(state), st, AT);
    t.same(out.events.map((e) => e.eventType), types, name);
    t.same(out.after, after, `${name}: remembered`);
  }
  const [update, changed] = taskEvents(undefined, known, { ...view('TASK_FAILED'), message: 'exit 1' }, undefined, AT).events;
  t.same(update, { eventType: 'status_update_event', timestamp: AT, slaveId: 'a1', taskId: 'web.1', taskStatus: 'TASK_FAILED', message: 'exit 1', appId: '/web', host: 'a1.test', ipAddresses: [{ ipAddress: '127.0.0.1', protocol: 'IPv4' }], ports: [31000], version: 'v1' });
  t.same(changed, { eventType: 'instance_changed_event', timestamp: AT, instanceId: 'web.1', condition: 'Failed', runSpecId: '/web', agentId: 'a1', host: 'a1.test', runSpecVersion: 'v1' });
  const [health, instanceHealth] = taskEvents(memory('TASK_RUNNING', true), known, view('TASK_RUNNING'), status('TASK_RUNNING', false), AT).events;
  t.same(health, { eventType: 'health_status_changed_event', timestamp: AT, appId: '/web', taskId: 'web.1', instanceId: 'web.1', version: 'v1', alive: false });
  t.same(instanceHealth, { eventType: 'instance_health_changed_event', timestamp: AT, instanceId: 'web.1', runSpecId: '/web', runSpecVersion: 'v1', healthy: false });
});

t.test('the bus listens to the master only while it has subscribers, and only to init’s tasks it knows', async (t) => {
  const listeners = new Set<OperatorEventListener>();
  const master = { onEvent: (l: OperatorEventListener) => (listeners.add(l), () => listeners.delete(l)) };
  const tasks = new Map<string, Pick<AppTask, 'appId' | 'version' | 'ports' | 'state' | 'healthy'>>([['web.1', { ...known, state: 'TASK_RUNNING', healthy: true }]]);
  const bus = new MarathonEventBus({ master, init: { frameworkId: () => 'init', task: (id) => tasks.get(id) }, clock: new FakeClock(Date.parse(AT)), logger: silentLogger() });
  bus.publish({ eventType: 'deployment_info' });
  t.equal(listeners.size, 0, 'publishing with no subscriber attaches nothing');
  const seen: string[] = [];
  const off = bus.subscribe((e) => {
    const fields = e as Record<string, unknown>;
    seen.push(`${e.eventType}:${String(fields.taskStatus ?? fields.alive ?? '')}`);
  });
  const off2 = bus.subscribe(() => undefined);
  t.equal(listeners.size, 1, 'one master listener for any number of subscribers');
  const emit = (state: TaskState, st: TaskStatus, frameworkId = 'init', id = 'web.1') => {
    for (const l of listeners) l({ type: 'TASK_UPDATED', task: { ...view(state), frameworkId, id }, status: st });
  };
  emit('TASK_RUNNING', status('TASK_RUNNING', true));
  emit('TASK_RUNNING', status('TASK_RUNNING'), 'other-framework');
  emit('TASK_RUNNING', status('TASK_RUNNING'), 'init', 'unknown.1');
  emit('TASK_RUNNING', status('TASK_RUNNING', false));
  t.same(seen, ['health_status_changed_event:false', 'instance_health_changed_event:'], 'first sight starts from init’s record (running, healthy); other frameworks’ and unknown tasks make nothing');
  off();
  t.equal(listeners.size, 1);
  off2();
  t.equal(listeners.size, 0, 'the last unsubscribe lets the master go');
  off2();
  t.equal(listeners.size, 0, 'unsubscribing twice is harmless');
});

t.test('eventTypeFilter: repeated parameters, commas, or none', async (t) => {
  t.equal(eventTypeFilter(undefined), undefined);
  t.equal(eventTypeFilter(''), undefined);
  t.same([...eventTypeFilter('status_update_event')!], ['status_update_event']);
  t.same([...eventTypeFilter(['a', 'b,c', ' '])!], ['a', 'b', 'c']);
});

const storedApp = (app: Record<string, unknown>, version = AT): StoredApp => ({ app: validateApp({ cmd: 'run', ...app }), version, lastConfigChangeAt: version, lastScalingAt: version });
const task = (appId: string, n: number, more: Partial<AppTask> = {}): AppTask => ({
  taskId: `${appId.slice(1)}.${n}`, appId, configVersion: AT, version: AT, agentId: 'a1', host: 'a1.test', ports: [], servicePorts: [], state: 'TASK_RUNNING', stagedAt: 0, startedAt: 0, killRequested: false, ...more,
});

t.test('launchQueue: apps with instances waiting, backoff or not', async (t) => {
  const now = Date.parse(AT) + 60_000;
  const apps = [storedApp({ id: '/full', instances: 2 }), storedApp({ id: '/short', instances: 3 }), storedApp({ id: '/failing', instances: 1 }), storedApp({ id: '/killing', instances: 1 })];
  const tasks: Record<string, AppTask[]> = {
    '/full': [task('/full', 1), task('/full', 2, { state: 'TASK_STAGING' })],
    '/short': [task('/short', 1)],
    '/failing': [],
    '/killing': [task('/killing', 1, { killRequested: true, state: 'TASK_KILLING' })],
  };
  const backoff = { failures: 2, notBefore: now + 1000 };
  const failedAt = now - 5000;
  const queue = launchQueue(apps, (id) => tasks[id] ?? [], (id) => (id === '/failing' ? backoff : undefined), (id) => (id === '/failing' ? failedAt : undefined), now);
  t.same(
    queue.map((q) => [q.stored.app.id, q.count, q.backoff, q.since]),
    [
      ['/failing', 1, backoff, failedAt],
      ['/killing', 1, undefined, Date.parse(AT)],
      ['/short', 2, undefined, Date.parse(AT)],
    ],
    'launched (even staging) instances are not waiting; those held by backoff are; since is the later of the last change and the last failure',
  );
});

t.test('processedOffersSummary: Marathon’s reason funnel, one agent for one offer', async (t) => {
  const agent = (id: string, cpus: number, more: Partial<QueueAgent> = {}): QueueAgent => ({ agentId: id, hostname: `${id}.test`, attributes: { zone: 'a' }, free: { cpus, mem: 1024, disk: 100, ports: [{ begin: 31000, end: 31001 }] }, available: true, ...more });
  const app = validateApp({ id: '/big', cmd: 'run', cpus: 2, mem: 512, portDefinitions: [{ port: 0 }] });
  const agents = [agent('a1', 1), agent('a2', 4, { available: false }), agent('a3', 4, { free: { cpus: 4, mem: 1024, disk: 100, ports: [] } }), agent('a4', 4)];
  t.same(agents.map((a) => rejectReason(app, a, [])), ['InsufficientCpus', 'AgentMaintenance', 'InsufficientPorts', undefined]);
  t.equal(rejectReason(validateApp({ id: '/z', cmd: 'run', constraints: [['zone', 'IS', 'b']] }), agents[3]!, []), 'UnfulfilledConstraint');
  t.equal(rejectReason(validateApp({ id: '/u', cmd: 'run', constraints: [['hostname', 'UNIQUE']] }), agents[3]!, [{ agentId: 'a4', hostname: 'a4.test' }]), 'UnfulfilledConstraint', 'constraints count the instances already placed');
  const summary = processedOffersSummary(app, agents, [], Date.parse(AT));
  t.match(summary, { processedOffersCount: 4, unusedOffersCount: 3, lastUnusedOfferAt: AT, lastUsedOfferAt: AT });
  t.same(
    summary.rejectSummaryLastOffers.map((r) => [r.reason, r.declined, r.processed]),
    [
      ['UnfulfilledRole', 0, 4],
      ['UnfulfilledConstraint', 0, 4],
      ['NoCorrespondingReservationFound', 0, 4],
      ['AgentMaintenance', 1, 4],
      ['InsufficientCpus', 1, 3],
      ['InsufficientMemory', 0, 2],
      ['InsufficientDisk', 0, 2],
      ['InsufficientGpus', 0, 2],
      ['InsufficientPorts', 1, 2],
      ['DeclinedScarceResources', 0, 1],
    ],
  );
  t.match(processedOffersSummary(app, [], [], 0), { processedOffersCount: 0, unusedOffersCount: 0, lastUnusedOfferAt: null, lastUsedOfferAt: null });
});

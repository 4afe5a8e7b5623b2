// GET /v2/events over real HTTP: Marathon's event shapes for an app's task as it launches, runs and
// turns healthy, in order; the event_type filter; attach and detach events; keep-alive comments; and
// events other parts of init publish on the bus.
import t from 'tap';
import { openSse, type SseItem } from './helpers/streams';
import { HEARTBEAT_S, initHarness, TOKEN } from './helpers/init-kernel';

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
const events = (all: SseItem[], type: string) => all.filter((e) => e.event === type).map((e) => e.data);

t.test('a deployed app’s task: status_update_event STAGING then RUNNING, with instance_changed_event', async (t) => {
  const h = await initHarness(t);
  const sse = await openSse(`${h.url}/v2/events`, TOKEN);
  t.teardown(() => sse.close());
  t.equal(sse.res.status, 200);
  t.match(sse.res.headers.get('content-type'), /^text\/event-stream/);
  const attached = await sse.feed.next('event_stream_attached');
  t.match(attached, { event: 'event_stream_attached', data: { eventType: 'event_stream_attached', remoteAddress: '127.0.0.1', timestamp: ISO } }, 'a client first sees its own attach, as in Marathon');

  const { stored } = await h.apps.create({ id: '/shop/web', cmd: 'serve', cpus: 1, mem: 64, portDefinitions: [{ port: 0 }] });
  await h.settle();
  const staging = await sse.feed.next('STAGING', (e) => e.event === 'status_update_event');
  const [launched] = h.agent.launched;
  t.ok(launched, 'init launched a task');
  const port = h.controller.tasksOf('/shop/web')[0]!.ports[0];
  t.same(staging.data, {
    eventType: 'status_update_event',
    timestamp: new Date(h.clock.now()).toISOString(),
    slaveId: 'a1',
    taskId: launched!.taskId,
    taskStatus: 'TASK_STAGING',
    message: '',
    appId: '/shop/web',
    host: 'a1.test',
    ipAddresses: [{ ipAddress: '127.0.0.1', protocol: 'IPv4' }],
    ports: [port],
    version: stored.version,
  });
  await h.runAll();
  const running = await sse.feed.next('RUNNING', (e) => e.event === 'status_update_event');
  t.match(running.data, { taskId: launched!.taskId, taskStatus: 'TASK_RUNNING', appId: '/shop/web', version: stored.version });
  t.same(events(sse.feed.all, 'status_update_event').map((d) => d.taskStatus), ['TASK_STAGING', 'TASK_RUNNING'], 'in order, once each');
  t.same(
    events(sse.feed.all, 'instance_changed_event').map((d) => [d.condition, d.instanceId, d.runSpecId, d.runSpecVersion, d.agentId, d.host]),
    [
      ['Staging', launched!.taskId, '/shop/web', stored.version, 'a1', 'a1.test'],
      ['Running', launched!.taskId, '/shop/web', stored.version, 'a1', 'a1.test'],
    ],
  );
  t.same(events(sse.feed.all, 'health_status_changed_event'), [], 'an app without health checks has no health events');

  h.clock.advance(HEARTBEAT_S * 1000);
  t.same(await sse.feed.next('heartbeat', (e) => e.event === ':'), { event: ':', data: 'heartbeat' }, 'keep-alive comments');

  h.agentUpdate(launched!, 'TASK_FAILED', { message: 'exited with 1' });
  const failed = await sse.feed.next('FAILED', (e) => e.event === 'status_update_event');
  t.match(failed.data, { taskStatus: 'TASK_FAILED', message: 'exited with 1' });
});

t.test('health_status_changed_event when the health check turns healthy, and back', async (t) => {
  const h = await initHarness(t);
  const sse = await openSse(`${h.url}/v2/events?event_type=health_status_changed_event&event_type=instance_health_changed_event&event_type=status_update_event`, TOKEN);
  t.teardown(() => sse.close());
  const { stored } = await h.apps.create({ id: '/web', cmd: 'serve', cpus: 1, mem: 64, portDefinitions: [{ port: 0 }], healthChecks: [{ protocol: 'HTTP', path: '/health' }] });
  await h.settle();
  await sse.feed.next('STAGING', (e) => e.event === 'status_update_event');
  const [task] = h.agent.launched;
  h.agentUpdate(task!, 'TASK_RUNNING');
  await h.settle();
  const check = { consecutiveFailures: 0, firstSuccess: h.clock.now(), lastSuccess: h.clock.now() };
  h.agentUpdate(task!, 'TASK_RUNNING', { uuid: 'failing', healthy: false, healthCheckResults: [{ alive: false, consecutiveFailures: 1, lastFailure: h.clock.now() }] });
  await h.settle();
  h.agentUpdate(task!, 'TASK_RUNNING', { uuid: 'healthy', healthy: true, healthCheckResults: [{ alive: true, ...check }] });
  const healthy = await sse.feed.next('healthy', (e) => e.event === 'health_status_changed_event');
  t.same(healthy.data, { eventType: 'health_status_changed_event', timestamp: ISO.test(healthy.data.timestamp) ? healthy.data.timestamp : 'not ISO', appId: '/web', taskId: task!.taskId, instanceId: task!.taskId, version: stored.version, alive: true });
  h.agentUpdate(task!, 'TASK_RUNNING', { uuid: 'again', healthy: true, healthCheckResults: [{ alive: true, ...check }] });
  h.agentUpdate(task!, 'TASK_RUNNING', { uuid: 'bare' });
  h.agentUpdate(task!, 'TASK_RUNNING', { uuid: 'sick', healthy: false, healthCheckResults: [{ alive: false, consecutiveFailures: 1 }] });
  await sse.feed.next('unhealthy', (e) => e.event === 'health_status_changed_event');
  await sse.feed.next('instance unhealthy', (e) => e.event === 'instance_health_changed_event' && e.data.healthy === false);

  t.same(
    sse.feed.all.filter((e) => e.event !== ':').map((e) => [e.event, e.data.taskStatus ?? e.data.alive ?? e.data.healthy]),
    [
      ['status_update_event', 'TASK_STAGING'],
      ['status_update_event', 'TASK_RUNNING'],
      ['instance_health_changed_event', false],
      ['health_status_changed_event', true],
      ['instance_health_changed_event', true],
      ['health_status_changed_event', false],
      ['instance_health_changed_event', false],
    ],
    'a first failure is no change of alive (Marathon starts instances not alive); repeats and updates without health are no change; other types are filtered out',
  );
});

t.test('the bus learns tasks it has not seen from init: a client attaching later sees only changes', async (t) => {
  const h = await initHarness(t);
  await h.apps.create({ id: '/web', cmd: 'serve', cpus: 1, mem: 64, portDefinitions: [{ port: 0 }], healthChecks: [{ protocol: 'TCP' }] });
  await h.settle();
  const [task] = h.agent.launched;
  h.agentUpdate(task!, 'TASK_RUNNING', { healthy: true, healthCheckResults: [{ alive: true, consecutiveFailures: 0 }] });
  await h.settle();
  t.equal(h.controller.tasksOf('/web')[0]!.healthy, true, 'init saw it healthy before anyone listened');

  const sse = await openSse(`${h.url}/v2/events?event_type=status_update_event,health_status_changed_event`, TOKEN);
  t.teardown(() => sse.close());
  h.agentUpdate(task!, 'TASK_RUNNING', { uuid: 'still', healthy: true, healthCheckResults: [{ alive: true, consecutiveFailures: 0 }] });
  h.agentUpdate(task!, 'TASK_KILLED');
  const killed = await sse.feed.next('KILLED', (e) => e.event === 'status_update_event');
  t.match(killed.data, { taskStatus: 'TASK_KILLED', taskId: task!.taskId, appId: '/web' });
  t.same(sse.feed.all.map((e) => e.event), ['status_update_event'], 'no health change and no RUNNING repeat; the comma form of the filter works too');
});

t.test('published events (deployments) reach clients with a timestamp; detach is announced', async (t) => {
  const h = await initHarness(t);
  const watcher = await openSse(`${h.url}/v2/events?event_type=deployment_info&event_type=event_stream_detached`, TOKEN);
  t.teardown(() => watcher.close());
  const other = await openSse(`${h.url}/v2/events`, TOKEN);
  await other.feed.next('attached');
  h.events.publish({ eventType: 'deployment_info', plan: { id: 'd1' }, currentStep: { actions: [] } });
  t.match(await watcher.feed.next('deployment_info'), { event: 'deployment_info', data: { eventType: 'deployment_info', plan: { id: 'd1' }, timestamp: ISO } });
  h.events.publish({ eventType: 'deployment_success', id: 'd1', timestamp: '2026-01-01T00:00:00.000Z' });
  t.match(await other.feed.next('deployment_success', (e) => e.event === 'deployment_success'), { data: { id: 'd1', timestamp: '2026-01-01T00:00:00.000Z' } }, 'a given timestamp is kept');

  other.close();
  t.match(await watcher.feed.next('detached', (e) => e.event === 'event_stream_detached'), { data: { eventType: 'event_stream_detached', remoteAddress: '127.0.0.1' } });
});

t.test('/v2/events needs the token', async (t) => {
  const h = await initHarness(t);
  const res = await h.server.inject({ method: 'GET', url: '/v2/events' });
  t.equal(res.statusCode, 401);
  t.equal(res.json().code, 'UNAUTHORIZED');
});

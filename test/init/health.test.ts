// Marathon health checks in init: validation and defaults (app.ts), resolution to the task's host
// ports (match.ts), the latest health from RUNNING updates (controller.ts), and Marathon's
// healthCheckResults / tasksHealthy / tasksUnhealthy (marathon-json.ts).
import t from 'tap';
import type tap from 'tap';
import { needsRestart, validateApp } from '../../src/init/app';
import { AppRepo } from '../../src/init/app-repo';
import { InitController } from '../../src/init/controller';
import { marathonApp, marathonTask } from '../../src/init/marathon-json';
import { matchOffer, taskHealthChecks } from '../../src/init/match';
import type { AppDefinition, AppTask, StoredApp } from '../../src/init/types';
import type { SchedulerEvents } from '../../src/kernel/sdk/types';
import type { Offer, Operation, TaskLaunch, TaskStatus } from '../../src/kernel/types';
import { FakeClock } from '../../src/shared/clock';
import { CorralError, type ErrorDetail } from '../../src/shared/errors';
import { silentLogger } from '../../src/shared/logger';
import { MemoryStore } from '../../src/store/memory';

const PORT_INDEX = 'Health check port indices must address an element of the ports array or container port mappings.';
const oneCheck = (check: Record<string, unknown>, app: Record<string, unknown> = { portDefinitions: [{ port: 0 }] }) => ({ id: 'web', cmd: 'run', ...app, healthChecks: [check] });

function detailsOf(t: tap.Test, body: unknown, name: string): ErrorDetail[] {
  try {
    validateApp(body);
  } catch (err) {
    t.ok(err instanceof CorralError && err.code === 'VALIDATION_FAILED' && err.status === 422, `${name}: 422 VALIDATION_FAILED`);
    return (err as CorralError).details ?? [];
  }
  t.fail(`${name}: did not throw`);
  return [];
}

t.test('healthChecks validation: Marathon’s rules, JSON-pointer paths', async (t) => {
  const bad: Array<[string, Record<string, unknown>, ErrorDetail[]]> = [
    ['portIndex beyond the ports', oneCheck({ portIndex: 1 }), [{ path: '/healthChecks/0/portIndex', errors: [PORT_INDEX] }]],
    ['default portIndex 0 without ports', oneCheck({ protocol: 'TCP' }, {}), [{ path: '/healthChecks/0/portIndex', errors: [PORT_INDEX] }]],
    ['legacy ports count too', oneCheck({ portIndex: 2 }, { ports: [0, 0] }), [{ path: '/healthChecks/0/portIndex', errors: [PORT_INDEX] }]],
    ['COMMAND without command', oneCheck({ protocol: 'COMMAND' }), [{ path: '/healthChecks/0/command', errors: ['A command is required when using the COMMAND health check protocol.'] }]],
    ['COMMAND with an empty command', oneCheck({ protocol: 'COMMAND', command: { value: '' } }), [{ path: '/healthChecks/0/command', errors: ['A command is required when using the COMMAND health check protocol.'] }]],
    ['both port and portIndex', oneCheck({ port: 8080, portIndex: 0 }), [{ path: '/healthChecks/0', errors: ['HealthCheck must specify either a port or a portIndex'] }]],
    ['timeout equal to interval', oneCheck({ intervalSeconds: 10, timeoutSeconds: 10 }), [{ path: '/healthChecks/0/timeoutSeconds', errors: ['must be less than intervalSeconds (10)'] }]],
    ['timeout above the default interval', oneCheck({ timeoutSeconds: 90 }), [{ path: '/healthChecks/0/timeoutSeconds', errors: ['must be less than intervalSeconds (60)'] }]],
  ];
  for (const [name, body, want] of bad) t.same(detailsOf(t, body, name), want, name);

  const schema: Array<[string, Record<string, unknown>, string]> = [
    ['unknown protocol', { protocol: 'UDP' }, '/healthChecks/0/protocol'],
    ['negative portIndex', { portIndex: -1 }, '/healthChecks/0/portIndex'],
    ['port above 65535', { port: 70000 }, '/healthChecks/0/port'],
    ['command without value', { protocol: 'COMMAND', command: {} }, '/healthChecks/0/command/value'],
    ['negative grace period', { gracePeriodSeconds: -1 }, '/healthChecks/0/gracePeriodSeconds'],
    ['zero interval', { intervalSeconds: 0 }, '/healthChecks/0/intervalSeconds'],
    ['zero timeout', { timeoutSeconds: 0 }, '/healthChecks/0/timeoutSeconds'],
    ['fractional delay', { delaySeconds: 1.5 }, '/healthChecks/0/delaySeconds'],
    ['negative maxConsecutiveFailures', { maxConsecutiveFailures: -1 }, '/healthChecks/0/maxConsecutiveFailures'],
    ['ignoreHttp1xx not a boolean', { ignoreHttp1xx: 'yes' }, '/healthChecks/0/ignoreHttp1xx'],
    ['path not a string', { path: 5 }, '/healthChecks/0/path'],
  ];
  for (const [name, check, path] of schema) t.same(detailsOf(t, oneCheck(check), name).map((d) => d.path), [path], name);
  t.same(detailsOf(t, { id: 'web', cmd: 'run', healthChecks: {} }, 'not an array').map((d) => d.path), ['/healthChecks']);

  const mixed = detailsOf(t, { id: 'web', portDefinitions: [{ port: 0 }], healthChecks: [{ protocol: 'TCP' }, { protocol: 'COMMAND' }, { portIndex: 3 }] }, 'several');
  t.same(mixed.map((d) => d.path), ['/cmd', '/healthChecks/1/command', '/healthChecks/2/portIndex'], 'reported together with the other rules, by index');

  const good: Array<[string, Record<string, unknown>, Record<string, unknown>?]> = [
    ['fixed port without ports', { protocol: 'TCP', port: 8080 }, {}],
    ['COMMAND without ports', { protocol: 'COMMAND', command: { value: 'true' } }, {}],
    ['MESOS_HTTP on the second port', { protocol: 'MESOS_HTTP', portIndex: 1 }, { portDefinitions: [{ port: 0 }, { port: 0 }] }],
    ['MESOS_TCP on the default port', { protocol: 'MESOS_TCP' }],
    ['a short interval without a timeout', { intervalSeconds: 10 }],
  ];
  for (const [name, check, app] of good) t.doesNotThrow(() => validateApp(oneCheck(check, app)), name);
});

t.test('healthChecks defaults are Marathon’s, filled by validateApp', async (t) => {
  const checksOf = (check: Record<string, unknown>, app?: Record<string, unknown>) => validateApp(oneCheck(check, app)).healthChecks;
  const timing = { gracePeriodSeconds: 300, intervalSeconds: 60, timeoutSeconds: 20, maxConsecutiveFailures: 3, delaySeconds: 15 };
  t.same(checksOf({}), [{ protocol: 'HTTP', portIndex: 0, ignoreHttp1xx: false, ...timing }], 'an empty check is HTTP on the first port');
  t.same(checksOf({ protocol: 'TCP' }), [{ protocol: 'TCP', portIndex: 0, ...timing }]);
  t.same(checksOf({ protocol: 'MESOS_HTTPS', path: '/ping' }), [{ protocol: 'MESOS_HTTPS', path: '/ping', portIndex: 0, ignoreHttp1xx: false, ...timing }]);
  t.same(checksOf({ protocol: 'COMMAND', command: { value: 'true' } }, {}), [{ protocol: 'COMMAND', command: { value: 'true' }, ...timing }], 'COMMAND gets no portIndex');
  t.same(checksOf({ port: 9000 }, {}), [{ protocol: 'HTTP', port: 9000, ignoreHttp1xx: false, ...timing }], 'a fixed port gets no portIndex');
  t.equal(checksOf({ intervalSeconds: 10 })![0]!.timeoutSeconds, 9, 'a default timeout stays below a shorter interval');
  const given = { protocol: 'HTTPS', path: '/h', portIndex: 0, gracePeriodSeconds: 0, intervalSeconds: 5, timeoutSeconds: 1, maxConsecutiveFailures: 0, delaySeconds: 0, ignoreHttp1xx: true, extra: 'kept' };
  t.same(checksOf(given), [given], 'given values, 0 included, and unknown fields are kept');
  const app = validateApp(oneCheck({ protocol: 'TCP' }));
  t.same(validateApp(JSON.parse(JSON.stringify(app))), app, 'the validated app posts back unchanged');
  t.notOk('healthChecks' in validateApp({ id: 'web', cmd: 'run' }), 'no checks, no field');
});

t.test('needsRestart: a health check change restarts; filling defaults does not', async (t) => {
  const base = validateApp(oneCheck({ protocol: 'TCP' }));
  const storedBeforeDefaults = { ...base, healthChecks: [{ protocol: 'TCP', portIndex: 0 }] } as AppDefinition;
  t.equal(needsRestart(storedBeforeDefaults, base), false, 'an app stored before defaults existed');
  t.equal(needsRestart(validateApp({ id: 'web', cmd: 'run' }), validateApp({ id: 'web', cmd: 'run', healthChecks: [] })), false, 'no checks and [] are the same');
  t.equal(needsRestart(base, validateApp(oneCheck({ protocol: 'TCP', intervalSeconds: 30 }))), true, 'a changed interval');
});

const stored = (app: Record<string, unknown>): StoredApp => ({ app: validateApp({ id: '/shop/web', cmd: 'run', ...app }), version: 'v1', lastConfigChangeAt: 'v1', lastScalingAt: 'v1' });
const offer: Offer = { id: 'o1', frameworkId: 'f', agentId: 'a1', hostname: 'a1.test', resources: { cpus: 8, mem: 8192, disk: 1000, ports: [{ begin: 31000, end: 31099 }] }, attributes: {} };
const timing = { gracePeriodSeconds: 300, intervalSeconds: 60, timeoutSeconds: 20, maxConsecutiveFailures: 3, delaySeconds: 15 };

t.test('matchOffer resolves each check to the task’s host port and the agent’s protocols', async (t) => {
  const app = stored({
    portDefinitions: [{ port: 10000 }, { port: 10001 }],
    healthChecks: [
      { protocol: 'HTTP', path: '/health', portIndex: 1 },
      { protocol: 'MESOS_HTTPS' },
      { protocol: 'MESOS_TCP', port: 8125 },
      { protocol: 'COMMAND', command: { value: 'curl -f localhost:$PORT0' }, gracePeriodSeconds: 5 },
    ],
  });
  const [m] = matchOffer(offer, [{ stored: app, count: 1 }], () => 't1', 0);
  t.same(m!.task.ports, [31000, 31001]);
  t.same(m!.launch.healthChecks, [
    { protocol: 'HTTP', path: '/health', port: 31001, ignoreHttp1xx: false, ...timing },
    { protocol: 'HTTPS', port: 31000, ignoreHttp1xx: false, ...timing },
    { protocol: 'TCP', port: 8125, ...timing },
    { protocol: 'COMMAND', command: 'curl -f localhost:$PORT0', ...timing, gracePeriodSeconds: 5 },
  ]);
  const [plain] = matchOffer(offer, [{ stored: stored({}), count: 1 }], () => 't2', 0);
  t.notOk('healthChecks' in plain!.launch, 'an app without checks launches without them');
  const raw = { ...stored({}).app, healthChecks: [{ protocol: 'TCP' }] } as AppDefinition;
  t.same(taskHealthChecks(raw, [31005]), [{ protocol: 'TCP', port: 31005, ...timing }], 'checks stored before validation filled defaults get them at launch');
});

const task = (taskId: string, more: Partial<AppTask> = {}): AppTask => ({
  taskId, appId: '/shop/web', configVersion: 'v1', version: 'v1', agentId: 'a1', host: 'a1.test', ports: [31000], servicePorts: [10000], state: 'TASK_RUNNING', stagedAt: 0, startedAt: 0, killRequested: false, ...more,
});

t.test('Marathon JSON: healthCheckResults per task, tasksHealthy and tasksUnhealthy per app', async (t) => {
  const T = Date.UTC(2026, 0, 1);
  const failing = task('t1', {
    healthy: false,
    healthCheckResults: [{ alive: false, consecutiveFailures: 2, firstSuccess: T, lastSuccess: T + 1000, lastFailure: T + 2000, lastFailureCause: '500 Internal Server Error' }, { alive: true, consecutiveFailures: 0, firstSuccess: T, lastSuccess: T }],
  });
  t.same(marathonTask(failing).healthCheckResults, [
    { alive: false, consecutiveFailures: 2, firstSuccess: '2026-01-01T00:00:00.000Z', lastSuccess: '2026-01-01T00:00:01.000Z', lastFailure: '2026-01-01T00:00:02.000Z', lastFailureCause: '500 Internal Server Error', instanceId: 't1', taskId: 't1' },
    { alive: true, consecutiveFailures: 0, firstSuccess: '2026-01-01T00:00:00.000Z', lastSuccess: '2026-01-01T00:00:00.000Z', lastFailure: null, lastFailureCause: null, instanceId: 't1', taskId: 't1' },
  ]);
  t.same(marathonTask(task('t0')).healthCheckResults, [], 'no results yet');

  const tasks = [failing, task('t2', { healthy: true }), task('t3', { healthy: true }), task('t4'), task('t5', { healthy: true, state: 'TASK_KILLING', killRequested: true }), task('t6', { healthy: false, killRequested: true, state: 'TASK_STAGING' })];
  const counts = (app: StoredApp) => {
    const info = marathonApp({ stored: app, tasks, deploymentId: undefined, lastTaskFailure: undefined, embedTasks: false });
    return [info.tasksHealthy, info.tasksUnhealthy];
  };
  t.same(counts(stored({ portDefinitions: [{ port: 0 }], healthChecks: [{}] })), [3, 1], 'healthy===true and healthy===false; unknown counts neither; a task init already stopped counts neither');
  t.same(counts(stored({})), [0, 0], 'an app without checks reports 0/0');
});

t.test('the controller keeps the latest health from RUNNING updates', async (t) => {
  const clock = new FakeClock();
  let events: SchedulerEvents | undefined;
  const launched: TaskLaunch[] = [];
  let accepted = () => {};
  const firstAccept = new Promise<void>((resolve) => (accepted = resolve));
  const transport = {
    subscribe: async (_f: unknown, e: SchedulerEvents) => {
      events = e;
      const done = async () => undefined;
      return { frameworkId: 'init', accept: async (_o: string[], ops: Operation[]) => (launched.push(...ops.flatMap((op) => op.tasks)), accepted()), decline: done, kill: done, acknowledge: done, reconcile: done, revive: done, suppress: done, teardown: done, disconnect: done };
    },
  };
  const controller = new InitController({ repo: new AppRepo(new MemoryStore()), transport, clock, logger: silentLogger() });
  await controller.start();
  t.teardown(() => controller.stop());
  controller.appChanged('/shop/web', { stored: stored({ portDefinitions: [{ port: 10000 }], healthChecks: [{ path: '/health' }] }), revision: 1 }, true);
  events!.offers([offer]);
  await firstAccept;
  t.equal(launched.length, 1, 'one task launched');
  t.match(launched[0]!.healthChecks, [{ protocol: 'HTTP', path: '/health', port: 31000 }]);
  const taskId = launched[0]!.taskId;
  const update = (more: Partial<TaskStatus>): void => events!.update({ taskId, agentId: 'a1', frameworkId: 'init', state: 'TASK_RUNNING', source: 'SOURCE_EXECUTOR', timestamp: clock.now(), ...more });
  const health = () => {
    const [tk] = controller.tasksOf('/shop/web');
    return [tk!.healthy, tk!.healthCheckResults];
  };
  update({});
  t.same(health(), [undefined, undefined], 'RUNNING without health: unknown');
  const down = [{ alive: false, consecutiveFailures: 1, lastFailure: 5, lastFailureCause: 'timed out after 20 s' }];
  update({ healthy: false, healthCheckResults: down });
  t.same(health(), [false, down]);
  update({});
  t.same(health(), [false, down], 'an update without health keeps the last known');
  const up = [{ alive: true, consecutiveFailures: 0, firstSuccess: 9, lastSuccess: 9 }];
  update({ healthy: true, healthCheckResults: up });
  t.same(health(), [true, up]);
});

// Readiness checks: Marathon's defaults and rules (readiness.ts), how they gate rolling upgrades and
// a deployment's end (plan.ts, deployment-plan.ts), and the runner that probes tasks over HTTP
// (readiness-runner.ts) with a fake clock and a fake HTTP client.
import t from 'tap';
import { validateApp } from '../../src/init/app';
import { actionDone } from '../../src/init/deployment-plan';
import { planInstances } from '../../src/init/plan';
import { readinessUrl } from '../../src/init/readiness';
import { ReadinessRunner, type HttpAnswer } from '../../src/init/readiness-runner';
import type { AppTask, StoredApp } from '../../src/init/types';
import { FakeClock } from '../../src/shared/clock';
import { CorralError } from '../../src/shared/errors';
import { createLogger } from '../../src/shared/logger';

const V1 = '2026-01-01T00:00:00.000Z';
const V2 = '2026-01-02T00:00:00.000Z';
const ports = [{ port: 0, name: 'http' }];
const check = { portName: 'http', path: '/ready', intervalSeconds: 5, timeoutSeconds: 2 };
const stored = (more: Record<string, unknown> = {}, config = V2): StoredApp => ({
  app: validateApp({ id: '/web', cmd: 'run', instances: 2, portDefinitions: ports, readinessChecks: [check], ...more }),
  version: config,
  lastConfigChangeAt: config,
  lastScalingAt: config,
});
const task = (taskId: string, configVersion: string, more: Partial<AppTask> = {}): AppTask => ({
  taskId,
  appId: '/web',
  configVersion,
  version: configVersion,
  agentId: 'a1',
  host: '127.0.0.1',
  ports: [31000],
  servicePorts: [10000],
  state: 'TASK_RUNNING',
  stagedAt: 1,
  startedAt: 1,
  killRequested: false,
  ...more,
});

function validationPaths(input: Record<string, unknown>): string[] {
  try {
    validateApp(input);
  } catch (err) {
    return ((err as CorralError).details ?? []).map((d) => d.path);
  }
  return [];
}

t.test("validation: Marathon's defaults and rules", async (t) => {
  const app = validateApp({ id: '/web', cmd: 'run', portDefinitions: [{ port: 0, name: 'http-api' }], readinessChecks: [{}] });
  t.same(app.readinessChecks, [
    { name: 'readinessCheck', protocol: 'HTTP', path: '/', portName: 'http-api', intervalSeconds: 30, timeoutSeconds: 10, httpStatusCodesForReady: [200], preserveLastResponse: false },
  ]);
  t.same(validationPaths({ id: '/web', cmd: 'run', portDefinitions: ports, readinessChecks: [{ portName: 'admin' }] }), ['/readinessChecks/0/portName'], 'the port must be named in portDefinitions');
  t.same(validationPaths({ id: '/web', cmd: 'run', portDefinitions: ports, readinessChecks: [check, check] }), ['/readinessChecks'], 'one check at most');
  t.same(validationPaths({ id: '/web', cmd: 'run', portDefinitions: ports, readinessChecks: [{ ...check, timeoutSeconds: 5 }] }), ['/readinessChecks/0/timeoutSeconds']);
  t.same(validationPaths({ id: '/web', cmd: 'run', portDefinitions: ports, readinessChecks: [{ ...check, protocol: 'TCP' }] }), ['/readinessChecks/0/protocol']);
  t.same(validationPaths({ id: '/web', cmd: 'run', portDefinitions: ports, readinessChecks: [{ ...check, httpStatusCodesForReady: [] }] }), ['/readinessChecks/0/httpStatusCodesForReady']);
  t.equal(readinessUrl(stored().app, task('t', V2), stored().app.readinessChecks![0]!), 'http://127.0.0.1:31000/ready');
  t.equal(readinessUrl(stored().app, task('t', V2, { ports: [] }), stored().app.readinessChecks![0]!), undefined, 'no port yet: nothing to check');
});

t.test('an old task is replaced only once its replacement passed the readiness check', async (t) => {
  const app = stored({ upgradeStrategy: { minimumHealthCapacity: 1, maximumOverCapacity: 0.5 } });
  const before = [task('old1', V1), task('old2', V1), task('new1', V2)];
  t.same(planInstances(app, before, undefined, 10).kill, [], 'the new task runs but is not ready: every old one stays');
  const after = [task('old1', V1), task('old2', V1), task('new1', V2, { ready: true })];
  t.same(planInstances(app, after, undefined, 10).kill, ['old1'], 'ready: the oldest old one goes');
  const healthChecked = stored({ healthChecks: [{ protocol: 'HTTP', portIndex: 0, intervalSeconds: 5, timeoutSeconds: 2 }], upgradeStrategy: { minimumHealthCapacity: 1, maximumOverCapacity: 0.5 } });
  t.same(planInstances(healthChecked, [task('old1', V1, { healthy: true }), task('old2', V1, { healthy: true }), task('new1', V2, { healthy: true })], undefined, 10).kill, [], 'healthy is not enough');
});

t.test("a deployment's action is done only when its tasks are ready", async (t) => {
  const app = stored();
  const action = { action: 'RestartApplication' as const, app: '/web' };
  t.notOk(actionDone(action, app, [task('a', V2), task('b', V2, { ready: true })]));
  t.ok(actionDone(action, app, [task('a', V2, { ready: true }), task('b', V2, { ready: true })]));
});

t.test('runner: probes running tasks every interval until ready, then marks them', async (t) => {
  const clock = new FakeClock(Date.UTC(2026, 0, 1));
  const app = stored({ readinessChecks: [{ ...check, preserveLastResponse: true }] });
  const tasks = [task('a', V2), task('b', V2, { state: 'TASK_STAGING' })];
  const listeners: Array<(appId: string) => void> = [];
  const marked: string[] = [];
  const controller = {
    apps: new Map([['/web', { stored: app, revision: 1 }]]),
    tasksOf: () => tasks,
    onActivity: (l: (appId: string) => void) => (listeners.push(l), () => listeners.splice(listeners.indexOf(l), 1)),
    markReady: (id: string) => {
      marked.push(id);
      tasks.find((x) => x.taskId === id)!.ready = true;
    },
  };
  const calls: string[] = [];
  let answer: HttpAnswer | Error = { status: 503, contentType: 'text/plain', body: 'warming up' };
  const get = async (url: string) => {
    calls.push(url);
    if (answer instanceof Error) throw answer;
    return answer;
  };
  const runner = new ReadinessRunner({ controller, clock, logger: createLogger({ level: 'silent' }), get });
  runner.start();
  t.teardown(() => runner.stop());
  await clock.advance(0);
  t.same(calls, ['http://127.0.0.1:31000/ready'], 'the running task is checked at once; the staging one is not');
  t.same(runner.results('/web'), [{ name: 'readinessCheck', taskId: 'a', ready: false, lastResponse: { status: 503, contentType: 'text/plain', body: 'warming up' } }]);

  answer = new Error('connection refused');
  await clock.advance(5000);
  t.equal(calls.length, 2, 'checked again after intervalSeconds');
  t.same(marked, []);

  tasks[1]!.state = 'TASK_RUNNING';
  tasks[1]!.ports = [31001];
  answer = { status: 200, contentType: 'text/plain', body: 'ok' };
  listeners.forEach((l) => l('/web'));
  await clock.advance(0);
  t.same(marked, ['b'], 'a task that starts running is checked at once');
  await clock.advance(5000);
  t.same(marked, ['b', 'a']);
  t.same(runner.results('/web'), [], 'ready tasks are no longer probed');
  const before = calls.length;
  await clock.advance(60_000);
  t.equal(calls.length, before, 'nothing is checked any more');
});

t.test('runner: a task killed while waiting stops being probed', async (t) => {
  const clock = new FakeClock(0);
  const tasks = [task('a', V2)];
  const listeners: Array<(appId: string) => void> = [];
  const controller = {
    apps: new Map([['/web', { stored: stored(), revision: 1 }]]),
    tasksOf: () => tasks,
    onActivity: (l: (appId: string) => void) => (listeners.push(l), () => undefined),
    markReady: () => t.fail('never ready'),
  };
  let calls = 0;
  const runner = new ReadinessRunner({ controller, clock, logger: createLogger({ level: 'silent' }), get: async () => (calls++, { status: 500, contentType: '', body: '' }) });
  runner.start();
  await clock.advance(0);
  tasks[0]!.killRequested = true;
  listeners.forEach((l) => l('/web'));
  await clock.advance(60_000);
  t.equal(calls, 1);
  t.same(runner.results('/web'), []);
  runner.stop();
});

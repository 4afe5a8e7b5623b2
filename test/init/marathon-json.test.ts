// The list routes send JSON joined from cached per-task and per-app text (marathon-json.ts): it must
// be byte for byte JSON.stringify of marathonTask / marathonApp, and follow a task changed in place.
import t from 'tap';
import { validateApp } from '../../src/init/app';
import { marathonApp, marathonAppJson, marathonTask, marathonTaskJson } from '../../src/init/marathon-json';
import type { AppTask, StoredApp } from '../../src/init/types';

const stored = (app: Record<string, unknown>): StoredApp => ({ app: validateApp({ id: '/shop/web', cmd: 'run', ...app }), version: 'v1', lastConfigChangeAt: 'v1', lastScalingAt: 'v1' });
const task = (taskId: string, more: Partial<AppTask> = {}): AppTask => ({
  taskId,
  appId: '/shop/web',
  configVersion: 'v1',
  version: 'v1',
  agentId: 'a1',
  host: 'a1.test',
  ports: [31000],
  servicePorts: [10000],
  state: 'TASK_STAGING',
  stagedAt: 1_000,
  startedAt: undefined,
  killRequested: false,
  ...more,
});

t.test('a task JSON follows its state, start and health results changed in place', async (t) => {
  const x = task('t1');
  t.equal(marathonTaskJson(x), JSON.stringify(marathonTask(x)), 'staging');
  x.state = 'TASK_RUNNING';
  x.startedAt = 2_000;
  t.equal(marathonTaskJson(x), JSON.stringify(marathonTask(x)), 'running');
  x.healthCheckResults = [{ alive: false, consecutiveFailures: 2, lastFailure: 3_000, lastFailureCause: 'HTTP 500' }];
  x.healthy = false;
  t.equal(marathonTaskJson(x), JSON.stringify(marathonTask(x)), 'with health results');
  x.state = 'TASK_KILLING';
  t.equal(marathonTaskJson(x), JSON.stringify(marathonTask(x)), 'killing');
});

t.test('an app JSON is JSON.stringify(marathonApp) with counts, deployment, tasks and last failure', async (t) => {
  const s = stored({ instances: 3, portDefinitions: [{ port: 0 }], healthChecks: [{}], labels: { team: 'a' } });
  const tasks = [task('t1', { state: 'TASK_RUNNING', startedAt: 2_000, healthy: true }), task('t2'), task('t3', { state: 'TASK_KILLING', killRequested: true })];
  const failure = { appId: '/shop/web', host: 'a1.test', message: 'exit 1', state: 'TASK_FAILED' as const, taskId: 't0', timestamp: '2026-01-01T00:00:00.000Z', version: 'v1' };
  const cases = [
    { deploymentId: undefined, lastTaskFailure: undefined, embedTasks: false },
    { deploymentId: 'd1', lastTaskFailure: undefined, embedTasks: false },
    { deploymentId: 'd1', lastTaskFailure: failure, embedTasks: true },
    { deploymentId: undefined, lastTaskFailure: failure, embedTasks: false },
    { deploymentId: undefined, lastTaskFailure: undefined, embedTasks: true },
  ];
  for (const c of cases) {
    const input = { stored: s, tasks, ...c };
    t.equal(marathonAppJson(input), JSON.stringify(marathonApp(input)), JSON.stringify(c));
  }
  t.equal(marathonAppJson({ stored: s, tasks: [], ...cases[0]! }), JSON.stringify(marathonApp({ stored: s, tasks: [], ...cases[0]! })), 'no tasks');
});

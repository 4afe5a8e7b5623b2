// The pure deployment planner (deployment-plan.ts), table-driven: which actions a change becomes and
// in which steps (dependencies first for starts and updates, dependents first for stops), when an
// action is done, what a rollback writes, and the deadline.
import t from 'tap';
import { validateApp } from '../../src/init/app';
import { actionDone, checkDependencies, deploymentDeadline, planDeployment, restoredApp, rollbackChanges } from '../../src/init/deployment-plan';
import type { AppChange, AppTask, DeploymentAction, StoredApp } from '../../src/init/types';
import { CorralError } from '../../src/shared/errors';

const V1 = '2026-01-01T00:00:00.000Z';
const V2 = '2026-01-02T00:00:00.000Z';
const V3 = '2026-01-03T00:00:00.000Z';

const stored = (id: string, more: Record<string, unknown> = {}, config = V1, version = config): StoredApp => ({
  app: validateApp({ id, cmd: 'serve', ...more }),
  version,
  lastConfigChangeAt: config,
  lastScalingAt: version,
});
const create = (s: StoredApp): AppChange => ({ appId: s.app.id, original: undefined, target: s });
const remove = (s: StoredApp): AppChange => ({ appId: s.app.id, original: s, target: undefined });
const change = (before: StoredApp, after: StoredApp): AppChange => ({ appId: before.app.id, original: before, target: after });
/** Steps as `Action /app, Action /app | next step`. */
const shape = (changes: AppChange[]) =>
  planDeployment('d1', V2, changes)
    .steps.map((s) => s.actions.map((a) => `${a.action} ${a.app}`).join(', '))
    .join(' | ');

t.test('a single app: every change is one deployment of Marathon’s actions', async (t) => {
  const web = stored('/web', { instances: 2 });
  const cases: Array<[string, AppChange[], string]> = [
    ['create: start with none, then scale up', [create(web)], 'StartApplication /web | ScaleApplication /web'],
    ['create with no instances: only the start', [create(stored('/web', { instances: 0 }))], 'StartApplication /web'],
    ['scale', [change(web, stored('/web', { instances: 5 }, V1, V2))], 'ScaleApplication /web'],
    ['new config: restart', [change(web, stored('/web', { instances: 2, env: { A: '1' } }, V2))], 'RestartApplication /web'],
    ['new config and instance count: one restart', [change(web, stored('/web', { instances: 4, env: { A: '1' } }, V2))], 'RestartApplication /web'],
    ['restart request (same definition, new config version)', [change(web, { ...web, version: V2, lastConfigChangeAt: V2 })], 'RestartApplication /web'],
    ['nothing that needs tasks (upgradeStrategy only): no step', [change(web, stored('/web', { instances: 2, upgradeStrategy: { minimumHealthCapacity: 0.5 } }, V1, V2))], ''],
    ['remove', [remove(web)], 'StopApplication /web'],
  ];
  for (const [name, changes, want] of cases) t.equal(shape(changes), want, name);
  const plan = planDeployment('d1', V2, [create(web)]);
  t.same({ id: plan.id, version: plan.version, affectedApps: plan.affectedApps }, { id: 'd1', version: V2, affectedApps: ['/web'] });
});

t.test('dependencies order the steps: depended on first for starts and updates, last for stops', async (t) => {
  const db = stored('/shop/db');
  const cache = stored('/shop/cache', { dependencies: ['db'] });
  const web = stored('/shop/web', { dependencies: ['db', '../shop/cache'] });
  const api = stored('/shop/api', { dependencies: ['/shop/db'] });
  t.same(web.app.dependencies, ['/shop/db', '/shop/cache'], 'relative ids resolve against the app’s group');
  t.equal(
    shape([create(web), create(api), create(cache), create(db)]),
    'StartApplication /shop/api, StartApplication /shop/cache, StartApplication /shop/db, StartApplication /shop/web | ScaleApplication /shop/db | ScaleApplication /shop/api, ScaleApplication /shop/cache | ScaleApplication /shop/web',
    'created: all start with none, then scale up by the longest chain below each',
  );
  const restarted = (s: StoredApp) => change(s, { ...s, version: V2, lastConfigChangeAt: V2 });
  t.equal(shape([restarted(web), restarted(db)]), 'RestartApplication /shop/db | RestartApplication /shop/web', 'updates: what is depended on first');
  t.equal(shape([remove(db), remove(cache), remove(web), remove(api)]), 'StopApplication /shop/web | StopApplication /shop/api, StopApplication /shop/cache | StopApplication /shop/db', 'stops: dependents first');
  t.equal(shape([restarted(web)]), 'RestartApplication /shop/web', 'dependencies outside the change are already met');
  t.equal(
    shape([remove(api), create(stored('/shop/new', { dependencies: ['/shop/db'] })), restarted(db)]),
    'StopApplication /shop/api | StartApplication /shop/new | RestartApplication /shop/db | ScaleApplication /shop/new',
    'stops, then starts, then scales and restarts in dependency order',
  );
});

t.test('dependency cycles are refused', async (t) => {
  const a = stored('/a', { dependencies: ['/b'] });
  const b = stored('/b', { dependencies: ['/c'] });
  const c = stored('/c', { dependencies: ['/a'] });
  t.throws(() => planDeployment('d', V2, [create(a), create(b), create(c)]), { code: 'VALIDATION_FAILED' });
  try {
    checkDependencies([a, b, c]);
    t.fail('a cycle over existing apps is refused');
  } catch (err) {
    t.match((err as CorralError).details, [{ path: '/dependencies', errors: [/cyclic/] }]);
  }
  t.doesNotThrow(() => checkDependencies([a, b, stored('/c')]), 'a chain is fine');
  t.throws(() => validateApp({ id: '/a', cmd: 'x', dependencies: ['a'] }), { code: 'VALIDATION_FAILED' }, 'an app may not depend on itself');
  t.throws(() => validateApp({ id: '/a', cmd: 'x', dependencies: ['/Bad_Id'] }), { code: 'VALIDATION_FAILED' }, 'a dependency must be a valid id');
});

const task = (taskId: string, config: string, state: AppTask['state'] = 'TASK_RUNNING', more: Partial<AppTask> = {}): AppTask => ({
  taskId,
  appId: '/web',
  configVersion: config,
  version: config,
  agentId: 'a1',
  host: 'a1.test',
  ports: [],
  servicePorts: [],
  state,
  stagedAt: 1,
  startedAt: 1,
  killRequested: false,
  ...more,
});

t.test('actionDone: the target count of the current config, running and healthy, nothing else left', async (t) => {
  const plain = stored('/web', { instances: 2 }, V2);
  const checked = stored('/web', { instances: 2, healthChecks: [{ protocol: 'COMMAND', command: { value: 'true' } }] }, V2);
  const scale: DeploymentAction = { action: 'ScaleApplication', app: '/web' };
  const restart: DeploymentAction = { action: 'RestartApplication', app: '/web' };
  const cases: Array<[string, DeploymentAction, StoredApp, AppTask[], boolean]> = [
    ['all running', scale, plain, [task('a', V2), task('b', V2)], true],
    ['one staging', scale, plain, [task('a', V2), task('b', V2, 'TASK_STAGING')], false],
    ['one short', scale, plain, [task('a', V2)], false],
    ['one too many', scale, plain, [task('a', V2), task('b', V2), task('c', V2)], false],
    ['an old one left', restart, plain, [task('a', V2), task('b', V2), task('o', V1)], false],
    ['an old one still dying', restart, plain, [task('a', V2), task('b', V2), task('o', V1, 'TASK_KILLING', { killRequested: true })], false],
    ['old config only', restart, plain, [task('a', V1), task('b', V1)], false],
    ['health checks: healthy', restart, checked, [task('a', V2, 'TASK_RUNNING', { healthy: true }), task('b', V2, 'TASK_RUNNING', { healthy: true })], true],
    ['health checks: one unknown', restart, checked, [task('a', V2, 'TASK_RUNNING', { healthy: true }), task('b', V2)], false],
    ['health checks: one unhealthy', restart, checked, [task('a', V2, 'TASK_RUNNING', { healthy: true }), task('b', V2, 'TASK_RUNNING', { healthy: false })], false],
  ];
  for (const [name, action, target, tasks, want] of cases) t.equal(actionDone(action, target, tasks), want, name);
  t.ok(actionDone({ action: 'StartApplication', app: '/web' }, plain, []), 'a start is done once the app exists');
  t.notOk(actionDone({ action: 'StopApplication', app: '/web' }, undefined, [task('a', V2, 'TASK_KILLING', { killRequested: true })]), 'a stop waits for the last task to end');
  t.ok(actionDone({ action: 'StopApplication', app: '/web' }, undefined, []), 'a stop is done with no task left');
});

t.test('rollback: back to the original definition and config version, as a new version', async (t) => {
  const v1 = stored('/web', { instances: 4, env: { V: '1' } }, V1);
  const v2 = stored('/web', { instances: 4, env: { V: '2' } }, V2);
  t.same(restoredApp(v1, v2, V3), { app: v1.app, version: V3, lastConfigChangeAt: V1, lastScalingAt: V2 }, 'the tasks of the original config are current again');
  const scaled = stored('/web', { instances: 6, env: { V: '1' } }, V1, V2);
  t.same(restoredApp(v1, scaled, V3), { app: v1.app, version: V3, lastConfigChangeAt: V1, lastScalingAt: V3 }, 'a scale rolled back is a scaling at the new version');

  const plan = planDeployment('d1', V2, [change(v1, v2), create(stored('/new')), remove(stored('/old'))]);
  const now = new Map<string, StoredApp>([['/web', v2], ['/new', stored('/new')]]);
  const back = rollbackChanges(plan, (id) => now.get(id), V3);
  t.same(
    back.map((c) => [c.appId, c.original?.version ?? null, c.target?.version ?? null]),
    [['/web', V2, V3], ['/new', V1, null], ['/old', null, V3]],
    'each app back: restored, removed again, created again',
  );
  t.equal(planDeployment('d2', V3, back).steps.map((s) => s.actions.map((a) => a.action).join()).join(' | '), 'StopApplication | StartApplication | ScaleApplication,RestartApplication', 'the rollback is a deployment too: /new stops, /old starts again, /web restarts');
});

t.test('deadline: the shortest upgradeStrategy.deadlineSeconds of the targets, or the request’s', async (t) => {
  const withDeadline = (id: string, s: number) => stored(id, { upgradeStrategy: { deadlineSeconds: s } });
  const plan = planDeployment('d', V2, [create(withDeadline('/a', 30)), create(withDeadline('/b', 20)), create(stored('/c'))]);
  t.equal(deploymentDeadline(plan, 1000), 21_000);
  t.equal(deploymentDeadline(plan, 1000, 5), 6_000, 'a shorter request deadline wins');
  t.equal(deploymentDeadline(planDeployment('d', V2, [create(stored('/c'))]), 1000), undefined, 'none: no deadline (Marathon)');
  t.throws(() => validateApp({ id: '/a', cmd: 'x', upgradeStrategy: { deadlineSeconds: 0 } }), { code: 'VALIDATION_FAILED' }, 'deadlineSeconds > 0');
});

t.test('upgradeStrategy: Marathon’s ranges and wording', async (t) => {
  const detailsOf = (upgradeStrategy: unknown) => {
    try {
      validateApp({ id: '/a', cmd: 'x', upgradeStrategy });
      return [];
    } catch (err) {
      return (err as CorralError).details ?? [];
    }
  };
  t.same(detailsOf({ minimumHealthCapacity: 1.5, maximumOverCapacity: -0.1 }), [
    { path: '/upgradeStrategy/minimumHealthCapacity', errors: ['is greater than 1'] },
    { path: '/upgradeStrategy/maximumOverCapacity', errors: ['is less than 0'] },
  ]);
  t.same(detailsOf({ minimumHealthCapacity: 0, maximumOverCapacity: 1 }), [], 'the ends of the range are fine');
  t.match(detailsOf({ minimumHealthCapacity: 'half' }), [{ path: '/upgradeStrategy/minimumHealthCapacity' }], 'a ratio is a number');
  t.same(validateApp({ id: '/a', cmd: 'x', upgradeStrategy: { minimumHealthCapacity: 0.5 } }).upgradeStrategy, { minimumHealthCapacity: 0.5, maximumOverCapacity: 1 }, 'a missing field gets its default');
});

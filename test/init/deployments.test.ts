// The deployment runner (deployments.ts) over a fake controller and a fake clock: steps hand their
// apps to the controller one after the other (an app waits for what it depends on), events come in
// Marathon's order, ending a deployment early hands over what it had not yet, and a deadline calls
// the rollback handler.
import t from 'tap';
import { validateApp } from '../../src/init/app';
import type { DeploymentEvent, DeploymentState } from '../../src/init/deployment-json';
import { planDeployment } from '../../src/init/deployment-plan';
import { Deployments, type AppEntry, type DeploymentController } from '../../src/init/deployments';
import type { AppChange, AppTask, StoredApp } from '../../src/init/types';
import { FakeClock } from '../../src/shared/clock';
import { silentLogger } from '../../src/shared/logger';
import { DeploymentStore } from '../../src/init/deployment-store';
import { MemoryStore } from '../../src/store/memory';

const V1 = '2026-01-01T00:00:00.000Z';
const stored = (id: string, more: Record<string, unknown> = {}): StoredApp => ({ app: validateApp({ id, cmd: 'serve', ...more }), version: V1, lastConfigChangeAt: V1, lastScalingAt: V1 });
const runningTask = (appId: string, n: number): AppTask => ({
  taskId: `${appId}.${n}`,
  appId,
  configVersion: V1,
  version: V1,
  agentId: 'a1',
  host: 'a1.test',
  ports: [],
  servicePorts: [],
  state: 'TASK_RUNNING',
  stagedAt: 1,
  startedAt: 1,
  killRequested: false,
});

function runner() {
  const clock = new FakeClock(Date.parse(V1));
  const tasks = new Map<string, AppTask[]>();
  /** What the controller was handed: app id and instance count (null: removed). */
  const handed: string[] = [];
  let activity: (appId: string) => void = () => undefined;
  const controller: DeploymentController = {
    tasksOf: (appId) => tasks.get(appId) ?? [],
    appChanged: (appId, entry) => void handed.push(`${appId}=${entry ? entry.stored.app.instances : 'gone'}`),
    onActivity: (listener) => {
      activity = listener;
      return () => undefined;
    },
  };
  const deployments = new Deployments({ controller, clock, logger: silentLogger() });
  deployments.start();
  t.teardown(() => deployments.stop());
  const events: DeploymentEvent[] = [];
  deployments.onEvent((e) => events.push(e));
  /** The app's instances run (the controller would report that). */
  const run = (appId: string, n: number) => {
    tasks.set(appId, Array.from({ length: n }, (_, i) => runningTask(appId, i)));
    activity(appId);
  };
  const deploy = (changes: AppChange[], opts = {}) => {
    const entries = new Map<string, AppEntry>(changes.map((c) => [c.appId, c.target ? { stored: c.target, revision: 1 } : undefined]));
    return deployments.deploy(planDeployment(`d${events.length}`, V1, changes), entries, opts);
  };
  const names = () => events.map((e) => `${e.eventType}${e.currentStep ? ` ${(e.currentStep as { actions: Array<{ app: string }> }).actions.map((a) => a.app).join(',')}` : ''}`);
  return { clock, deployments, handed, run, deploy, events, names };
}

const create = (s: StoredApp): AppChange => ({ appId: s.app.id, original: undefined, target: s });

t.test('an app is handed to the controller only once what it depends on is done', async (t) => {
  const r = runner();
  const d = r.deploy([create(stored('/web', { instances: 2, dependencies: ['/db'] })), create(stored('/db', { instances: 1 }))]);
  t.same(r.handed, ['/db=0', '/web=0', '/db=1'], 'both start with none; /db scales first');
  t.equal(d.status, 'running');
  r.run('/web', 2);
  t.same(r.handed, ['/db=0', '/web=0', '/db=1'], 'activity of /web does not move the /db step');
  r.run('/db', 1);
  t.same(r.handed, ['/db=0', '/web=0', '/db=1', '/web=2'], '/db done: /web scales');
  t.equal(d.status, 'succeeded', '/web already runs its 2: done at once');
  t.same(r.names(), [
    'deployment_info /db,/web',
    'deployment_step_success /db,/web',
    'deployment_info /db',
    'deployment_step_success /db',
    'deployment_info /web',
    'deployment_step_success /web',
    'deployment_success',
  ]);
  t.same(r.deployments.list(), [], 'nothing in progress');
  t.equal(r.deployments.find(d.plan.id)?.status, 'succeeded', 'kept in the history');
});

t.test('ending a deployment early hands over the apps of the steps not yet started', async (t) => {
  const r = runner();
  const d = r.deploy([create(stored('/web', { dependencies: ['/db'] })), create(stored('/db'))]);
  t.same(r.deployments.idsFor('/web'), [d.plan.id], 'the app is locked');
  t.throws(() => r.deployments.assertUnlocked(['/web'], false), { code: 'APP_LOCKED' });
  t.doesNotThrow(() => r.deployments.assertUnlocked(['/web'], true), 'unless forced');
  r.deployments.end(d.plan.id, 'stopped', 'stopped on request');
  t.same(r.handed, ['/db=0', '/web=0', '/db=1', '/web=1'], '/web gets its definition: the controller converges everything');
  t.match(r.events.at(-1), { eventType: 'deployment_failed', id: d.plan.id, reason: 'stopped on request' });
  t.same(r.deployments.idsFor('/web'), [], 'unlocked');
  t.throws(() => r.deployments.end(d.plan.id, 'stopped', 'again'), { code: 'DEPLOYMENT_NOT_FOUND' });
});

t.test('a forced deployment supersedes the one holding its app', async (t) => {
  const r = runner();
  const first = r.deploy([create(stored('/web'))]);
  t.throws(() => r.deploy([create(stored('/web', { instances: 3 }))]), { code: 'APP_LOCKED' });
  const second = r.deploy([create(stored('/web', { instances: 3 }))], { force: true });
  t.match(r.deployments.find(first.plan.id), { status: 'superseded', replacedBy: second.plan.id });
  t.same(r.deployments.list().map((d) => d.plan.id), [second.plan.id]);
});

t.test('the deadline calls the rollback handler; without one the deployment just stops', async (t) => {
  const r = runner();
  const expired: DeploymentState[] = [];
  r.deployments.onDeadline(async (d) => void expired.push(d));
  const d = r.deploy([create(stored('/web', { upgradeStrategy: { deadlineSeconds: 30 } }))]);
  t.equal(d.deadline, Date.parse(V1) + 30_000);
  r.clock.advance(29_999);
  t.same(expired, []);
  r.clock.advance(1);
  t.same(expired.map((x) => x.plan.id), [d.plan.id], 'the handler rolls it back');

  const rollback = r.deploy([create(stored('/other', { upgradeStrategy: { deadlineSeconds: 5 } }))], { rollbackOf: d.plan.id });
  t.equal(rollback.deadline, undefined, 'a rollback has no deadline');
  const bare = runner();
  const lone = bare.deploy([create(stored('/web'))], { deadlineSeconds: 5 });
  bare.clock.advance(5_000);
  t.match(bare.deployments.find(lone.plan.id), { status: 'stopped', reason: 'deadline passed' });
});

t.test('deployments in progress survive a restart: restored from the store, still locking, deadline kept, finished when done', async (t) => {
  const store = new MemoryStore();
  const clock = new FakeClock(Date.parse(V1));
  const tasks = new Map<string, AppTask[]>();
  const listeners: Array<(appId: string) => void> = [];
  const controller: DeploymentController = {
    tasksOf: (appId) => tasks.get(appId) ?? [],
    appChanged: () => undefined,
    onActivity: (l) => (listeners.push(l), () => undefined),
  };
  const persist = new DeploymentStore(store, silentLogger());
  const make = () => new Deployments({ controller, clock, logger: silentLogger(), persist });
  const before = make();
  before.start();
  const web = stored('/web', { instances: 2, upgradeStrategy: { deadlineSeconds: 60 } });
  const db = stored('/db', { instances: 1 });
  const plan = planDeployment('dep1', V1, [create(web), create(db)]);
  before.deploy(plan, new Map<string, AppEntry>([['/web', { stored: web, revision: 3 }], ['/db', { stored: db, revision: 4 }]]));
  const done = before.deploy(planDeployment('dep2', V1, [create(stored('/other', { instances: 0 }))]), new Map([['/other', { stored: stored('/other', { instances: 0 }), revision: 5 }]]));
  t.equal(done.status, 'succeeded', 'a deployment with nothing to wait for ends at once');
  await persist.flushed();
  before.stop();
  t.same((await store.list('/init/deployments/')).map((e) => e.key), ['/init/deployments/dep1'], 'only the one in progress is kept');

  // A new process: the runner restores it.
  clock.advance(10_000);
  const after = make();
  after.start();
  t.teardown(() => after.stop());
  const expired: string[] = [];
  after.onDeadline(async (d) => void expired.push(d.plan.id));
  const events: DeploymentEvent[] = [];
  after.onEvent((e) => events.push(e));
  await after.restore((appId) => (appId === '/web' ? { stored: web, revision: 3 } : appId === '/db' ? { stored: db, revision: 4 } : undefined));
  t.same(after.list().map((d) => d.plan.id), ['dep1']);
  t.equal(after.get('dep1').deadline, Date.parse(V1) + 60_000, 'the deadline is the one set at the start');
  t.throws(() => after.assertUnlocked(['/web'], false), { code: 'APP_LOCKED' }, 'its apps are still locked');
  t.equal(after.entryOf('dep1', '/web')?.revision, 3);

  tasks.set('/db', [runningTask('/db', 0)]);
  tasks.set('/web', [runningTask('/web', 0), runningTask('/web', 1)]);
  listeners.forEach((l) => l('/web'));
  t.same(after.list(), [], 'done once its apps run their instances');
  t.equal(events.at(-1)?.eventType, 'deployment_success');
  await persist.flushed();
  t.same(await store.list('/init/deployments/'), [], 'and forgotten in the store');

  // A restored deployment that does not finish rolls back at its deadline.
  const third = make();
  third.start();
  t.teardown(() => third.stop());
  third.onDeadline(async (d) => void expired.push(d.plan.id));
  const slow = stored('/slow', { instances: 1, upgradeStrategy: { deadlineSeconds: 30 } });
  third.deploy(planDeployment('dep3', V1, [create(slow)]), new Map([['/slow', { stored: slow, revision: 6 }]]));
  await persist.flushed();
  third.stop();
  const fourth = make();
  fourth.start();
  t.teardown(() => fourth.stop());
  fourth.onDeadline(async (d) => void expired.push(d.plan.id));
  await fourth.restore(() => ({ stored: slow, revision: 6 }));
  clock.advance(29_999);
  t.same(expired, []);
  clock.advance(1);
  t.same(expired, ['dep3'], 'the deadline fires in the new process');
});

// planInstances with draining agents, table-driven: instances on a draining agent are replaced
// elsewhere first and killed only while the rest keeps the instance count ready (RUNNING, and
// healthy when the app has health checks); undraining stops the moves.
import t from 'tap';
import { validateApp } from '../../src/init/app';
import { planInstances, type InstancePlan } from '../../src/init/plan';
import type { AppTask, Backoff, StoredApp } from '../../src/init/types';
import type { TaskState } from '../../src/kernel/types';

const NOW = 10_000;
const V1 = '2026-01-01T00:00:00.000Z';
const V2 = '2026-01-02T00:00:00.000Z';
const DRAINING: ReadonlySet<string> = new Set(['a1']);
const HEALTH = [{ protocol: 'COMMAND', command: { value: 'true' } }];

const storedApp = (app: Record<string, unknown>, lastConfigChangeAt = V1): StoredApp => ({
  app: validateApp({ id: '/shop/web', cmd: 'run', ...app }),
  version: lastConfigChangeAt,
  lastConfigChangeAt,
  lastScalingAt: lastConfigChangeAt,
});
/** A task on agent `agentId`, launched at `stagedAt`. */
const task = (taskId: string, agentId: string, stagedAt: number, state: TaskState = 'TASK_RUNNING', more: Partial<AppTask> = {}): AppTask => ({
  taskId,
  appId: '/shop/web',
  configVersion: V1,
  version: V1,
  agentId,
  host: `${agentId}.test`,
  ports: [],
  servicePorts: [],
  state,
  stagedAt,
  startedAt: state === 'TASK_RUNNING' ? stagedAt : undefined,
  killRequested: false,
  ...more,
});
const on1 = (id: string, stagedAt: number, state?: TaskState, more?: Partial<AppTask>) => task(id, 'a1', stagedAt, state, more);
const on2 = (id: string, stagedAt: number, state?: TaskState, more?: Partial<AppTask>) => task(id, 'a2', stagedAt, state, more);

t.test('planInstances moves instances off draining agents replace-first', async (t) => {
  const held: Backoff = { failures: 1, notBefore: NOW + 5000 };
  const cases: Array<[string, Record<string, unknown>, AppTask[], Backoff | undefined, InstancePlan]> = [
    ['all on the draining agent: replace them all, kill none yet', { instances: 2 }, [on1('o1', 1), on1('o2', 2)], undefined, { launch: 2, kill: [], expunge: [], delayedUntil: undefined }],
    ['replacements staged: still kill none', { instances: 2 }, [on1('o1', 1), on1('o2', 2), on2('n1', 5, 'TASK_STAGING'), on2('n2', 6, 'TASK_STARTING')], undefined, { launch: 0, kill: [], expunge: [], delayedUntil: undefined }],
    ['one replacement running: kill the oldest leaving one', { instances: 2 }, [on1('o2', 2), on1('o1', 1), on2('n1', 5), on2('n2', 6, 'TASK_STAGING')], undefined, { launch: 0, kill: ['o1'], expunge: [], delayedUntil: undefined }],
    ['all replacements running: kill every leaving one', { instances: 2 }, [on1('o1', 1), on1('o2', 2), on2('n1', 5), on2('n2', 6)], undefined, { launch: 0, kill: ['o1', 'o2'], expunge: [], delayedUntil: undefined }],
    ['only the instance on the draining agent is replaced', { instances: 2 }, [on1('o1', 1), on2('b', 2)], undefined, { launch: 1, kill: [], expunge: [], delayedUntil: undefined }],
    ['a leaving instance that never started goes at once', { instances: 2 }, [on1('o1', 1, 'TASK_STAGING'), on2('b', 2)], undefined, { launch: 1, kill: ['o1'], expunge: [], delayedUntil: undefined }],
    ['health checks: a running but not yet healthy replacement is not enough', { instances: 1, healthChecks: HEALTH }, [on1('o1', 1, 'TASK_RUNNING', { healthy: true }), on2('n1', 5)], undefined, { launch: 0, kill: [], expunge: [], delayedUntil: undefined }],
    ['health checks: an unhealthy replacement is not enough', { instances: 1, healthChecks: HEALTH }, [on1('o1', 1, 'TASK_RUNNING', { healthy: true }), on2('n1', 5, 'TASK_RUNNING', { healthy: false })], undefined, { launch: 0, kill: [], expunge: [], delayedUntil: undefined }],
    ['health checks: a healthy replacement is', { instances: 1, healthChecks: HEALTH }, [on1('o1', 1, 'TASK_RUNNING', { healthy: true }), on2('n1', 5, 'TASK_RUNNING', { healthy: true })], undefined, { launch: 0, kill: ['o1'], expunge: [], delayedUntil: undefined }],
    ['state unknown (init restarted) is kept until replacements are ready', { instances: 1 }, [on1('o1', 1, 'TASK_UNKNOWN'), on2('n1', 5, 'TASK_STAGING')], undefined, { launch: 0, kill: [], expunge: [], delayedUntil: undefined }],
    ['scaled down while draining: the rest elsewhere is enough', { instances: 1 }, [on1('o1', 1), on1('o2', 2), on2('b', 3)], undefined, { launch: 0, kill: ['o1', 'o2'], expunge: [], delayedUntil: undefined }],
    ['scaled to zero while draining: everything goes', { instances: 0 }, [on1('o1', 1), on2('b', 3)], undefined, { launch: 0, kill: ['b', 'o1'], expunge: [], delayedUntil: undefined }],
    ['too many elsewhere: the staying surplus and every leaving one go', { instances: 1 }, [on1('o1', 1), on2('b', 3), on2('c', 4)], undefined, { launch: 0, kill: ['c', 'o1'], expunge: [], delayedUntil: undefined }],
    ['backoff holds the replacements; the leaving ones stay', { instances: 2 }, [on1('o1', 1), on1('o2', 2)], held, { launch: 0, kill: [], expunge: [], delayedUntil: held.notBefore }],
    ['kill-requested leaving tasks are not killed again', { instances: 1 }, [on1('o1', 1, 'TASK_KILLING', { killRequested: true }), on2('n1', 5)], undefined, { launch: 0, kill: [], expunge: [], delayedUntil: undefined }],
  ];
  for (const [name, app, tasks, backoff, want] of cases) t.same(planInstances(storedApp(app), tasks, backoff, NOW, DRAINING), want, name);
});

t.test('without draining agents, or after undrain, the instances stay; the surplus of a move is killed', async (t) => {
  const tasks = [on1('o1', 1), on1('o2', 2)];
  t.same(planInstances(storedApp({ instances: 2 }), tasks, undefined, NOW), { launch: 0, kill: [], expunge: [], delayedUntil: undefined }, 'no draining set: nothing moves');
  t.same(planInstances(storedApp({ instances: 2 }), tasks, undefined, NOW, new Set(['a3'])), { launch: 0, kill: [], expunge: [], delayedUntil: undefined }, 'another agent drains');
  const midMove = [on1('o1', 1), on1('o2', 2), on2('n1', 5), on2('n2', 6, 'TASK_STAGING')];
  t.same(planInstances(storedApp({ instances: 2 }), midMove, undefined, NOW), { launch: 0, kill: ['n2', 'n1'], expunge: [], delayedUntil: undefined }, 'undrained mid-move: the replacements are the (youngest) surplus');
});

t.test('an outdated config on a draining agent is replaced by the upgrade rule', async (t) => {
  const old = (id: string, agentId: string, stagedAt: number) => task(id, agentId, stagedAt, 'TASK_RUNNING', { configVersion: V1 });
  const fresh = (id: string, agentId: string, stagedAt: number, state?: TaskState) => task(id, agentId, stagedAt, state, { configVersion: V2 });
  const stored = storedApp({ instances: 1 }, V2);
  t.same(planInstances(stored, [old('o1', 'a1', 1)], undefined, NOW, DRAINING), { launch: 1, kill: [], expunge: [], delayedUntil: undefined });
  t.same(planInstances(stored, [old('o1', 'a1', 1), fresh('n1', 'a2', 5)], undefined, NOW, DRAINING), { launch: 0, kill: ['o1'], expunge: [], delayedUntil: undefined });
  t.same(planInstances(stored, [fresh('n1', 'a1', 1), old('o1', 'a2', 2)], undefined, NOW, DRAINING), { launch: 1, kill: [], expunge: [], delayedUntil: undefined }, 'the new one on the draining agent is moved too; the old one holds until then');
});

t.test('step by step, a move never leaves fewer than the instance count running', async (t) => {
  const INSTANCES = 3;
  const stored = storedApp({ instances: INSTANCES });
  let tasks: AppTask[] = [on1('o1', 1), on1('o2', 2), on1('o3', 3)];
  let next = 10;
  for (let step = 0; step < 10; step++) {
    const plan = planInstances(stored, tasks, undefined, NOW, DRAINING);
    tasks = tasks.filter((x) => !plan.kill.includes(x.taskId));
    const running = tasks.filter((x) => x.state === 'TASK_RUNNING').length;
    t.ok(running >= INSTANCES, `step ${step}: ${running} running after killing ${plan.kill.join(',') || 'nothing'}`);
    // Launched tasks stage now; one staged task per step starts RUNNING (slow starters).
    const staged = tasks.find((x) => x.state === 'TASK_STAGING');
    if (staged) staged.state = 'TASK_RUNNING';
    for (let i = 0; i < plan.launch; i++) tasks.push(on2(`n${next}`, next++, 'TASK_STAGING'));
  }
  t.same(tasks.map((x) => `${x.agentId}:${x.state}`), ['a2:TASK_RUNNING', 'a2:TASK_RUNNING', 'a2:TASK_RUNNING'], 'every instance moved');
});

// The rolling upgrade (rolling.ts) and its use by planInstances: Marathon's upgradeStrategy bounds,
// table-driven decisions, and seeded simulations of whole upgrades in which tasks start, turn
// healthy (or never do) and end in random order — the healthy floor and the total ceiling hold at
// every step, and a healthy new version always replaces the old one completely.
import t from 'tap';
import { validateApp } from '../../src/init/app';
import { planInstances } from '../../src/init/plan';
import { planRollingUpgrade, upgradeBounds, type RollingHealth, type RollingInput, type RollingTask } from '../../src/init/rolling';
import type { AppTask, StoredApp } from '../../src/init/types';

const V1 = '2026-01-01T00:00:00.000Z';
const V2 = '2026-01-02T00:00:00.000Z';
const NOW = 1_000_000;

t.test('upgradeBounds: ⌈instances × minimumHealthCapacity⌉ and ⌊instances × (1 + maximumOverCapacity)⌋', async (t) => {
  const cases: Array<[string, number, number, number, number, number]> = [
    // name, instances, minimumHealthCapacity, maximumOverCapacity, minHealthy, maxTotal
    ["Marathon's defaults", 4, 1, 1, 4, 8],
    ['the issue’s strategy', 4, 0.5, 0.25, 2, 5],
    ['minimumHealthCapacity 1, maximumOverCapacity 0.25', 4, 1, 0.25, 4, 5],
    ['rounding: 0.7 × 10 is 7, not 8', 10, 0.7, 0.1, 7, 11],
    ['rounding: 3 × 0.34 rounds up', 3, 0.34, 0, 2, 3],
    ['kill all first, start all after', 4, 0, 0, 0, 4],
    ['no room at all: one over capacity (Marathon)', 4, 1, 0, 4, 5],
    ['no room at all with a small over-capacity', 4, 1, 0.2, 4, 5],
    ['no instances', 0, 1, 1, 0, 0],
    ['one instance, defaults', 1, 1, 1, 1, 2],
  ];
  for (const [name, instances, mhc, moc, minHealthy, maxTotal] of cases) {
    t.same(upgradeBounds(instances, { minimumHealthCapacity: mhc, maximumOverCapacity: moc }), { minHealthy, maxTotal }, name);
  }
});

const rt = (taskId: string, health: RollingHealth, stagedAt = 1): RollingTask => ({ taskId, health, stagedAt });
const olds = (n: number, health: RollingHealth = 'healthy') => Array.from({ length: n }, (_, i) => rt(`o${i + 1}`, health, i + 1));
const news = (...health: RollingHealth[]) => health.map((h, i) => rt(`n${i + 1}`, h, 100 + i));

t.test('planRollingUpgrade: kills within the healthy floor, launches within the total ceiling', async (t) => {
  const half = { minimumHealthCapacity: 0.5, maximumOverCapacity: 0.25 };
  const full = { minimumHealthCapacity: 1, maximumOverCapacity: 0.25 };
  const input = (over: Partial<RollingInput>): RollingInput => ({ instances: 4, strategy: half, old: olds(4), fresh: [], dying: 0, missing: 4, ...over });
  const cases: Array<[string, RollingInput, { launch: number; kill: string[] }]> = [
    ['start: kill down to the floor (oldest first), one new fits beside the dying', input({}), { launch: 1, kill: ['o1', 'o2'] }],
    ['kills ended: start into the room', input({ old: olds(4).slice(2), fresh: news('down'), missing: 3 }), { launch: 2, kill: [] }],
    ['new ones not healthy yet: nothing more', input({ old: olds(4).slice(2), fresh: news('down', 'unknown', 'down'), missing: 1 }), { launch: 0, kill: [] }],
    ['one new healthy: one old may go', input({ old: olds(4).slice(2), fresh: news('healthy', 'unknown', 'down'), missing: 1 }), { launch: 0, kill: ['o3'] }],
    ['all new healthy: every old goes', input({ old: olds(4).slice(2), fresh: news('healthy', 'healthy', 'healthy'), missing: 1 }), { launch: 0, kill: ['o3', 'o4'] }],
    ['the last one starts once the old ended', input({ old: [], fresh: news('healthy', 'healthy', 'healthy'), missing: 1 }), { launch: 1, kill: [] }],
    ['dying tasks hold their room', input({ old: [], fresh: news('healthy', 'healthy', 'healthy'), dying: 2, missing: 1 }), { launch: 0, kill: [] }],
    ['minimumHealthCapacity 1: no old goes before a new one is healthy', input({ strategy: full }), { launch: 1, kill: [] }],
    ['minimumHealthCapacity 1: one healthy new, one old goes', input({ strategy: full, fresh: news('healthy'), missing: 3 }), { launch: 0, kill: ['o1'] }],
    ['old tasks that serve nothing go at once, whatever the floor', input({ strategy: full, old: [...olds(3), rt('o9', 'down', 9)] }), { launch: 1, kill: ['o9'] }],
    ['unknown old tasks stay while the floor is not met by known healthy ones', input({ strategy: full, old: olds(4, 'unknown') }), { launch: 1, kill: [] }],
    ['unknown old tasks go once the floor is met without them', input({ strategy: full, old: olds(2, 'unknown'), fresh: news('healthy', 'healthy', 'healthy', 'healthy'), missing: 0 }), { launch: 0, kill: ['o1', 'o2'] }],
    ['down before unknown before healthy', input({ strategy: { minimumHealthCapacity: 0, maximumOverCapacity: 0 }, old: [rt('h', 'healthy', 1), rt('u', 'unknown', 2), rt('d', 'down', 3)] }), { launch: 1, kill: ['d', 'u', 'h'] }],
    ['minimumHealthCapacity 0: every old goes at once', input({ strategy: { minimumHealthCapacity: 0, maximumOverCapacity: 0 } }), { launch: 0, kill: ['o1', 'o2', 'o3', 'o4'] }],
    ['fewer healthy than the floor to begin with: keep them all', input({ strategy: full, old: [...olds(2), rt('o3', 'down', 3), rt('o4', 'down', 4)] }), { launch: 1, kill: ['o3', 'o4'] }],
    ['scaled down while upgrading: the floor is of the new count', input({ instances: 2, missing: 2, strategy: full }), { launch: 0, kill: ['o1', 'o2'] }],
    ['scaled to zero: everything goes', input({ instances: 0, missing: 0, strategy: full }), { launch: 0, kill: ['o1', 'o2', 'o3', 'o4'] }],
    ['same age: by task id', input({ strategy: { minimumHealthCapacity: 0.75, maximumOverCapacity: 0 }, old: [rt('b', 'healthy', 1), rt('a', 'healthy', 1), rt('c', 'healthy', 1), rt('d', 'healthy', 1)] }), { launch: 0, kill: ['a'] }],
  ];
  for (const [name, given, want] of cases) t.same(planRollingUpgrade(given), want, name);
});

// ---- whole upgrades through planInstances, simulated ----

const HEALTH = [{ protocol: 'COMMAND', command: { value: 'true' } }];

/** A small seeded PRNG (mulberry32): the same seed gives the same upgrade. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

interface SimResult {
  lowestHealthy: number;
  highestTotal: number;
  tasks: AppTask[];
  rounds: number;
}

/**
 * Upgrades `instances` healthy V1 tasks to V2 by planInstances. Each round the plan is applied
 * (kills mark the task killing, launches stage new tasks), then one random task moves on: a staged
 * task runs (health unknown), a running one gets its verdict (healthy, or unhealthy when the new
 * version is broken), a killed one ends.
 */
function simulate(seed: number, instances: number, strategy: { minimumHealthCapacity: number; maximumOverCapacity: number }, newVersionHealthy = true, maxRounds = 2000): SimResult {
  const random = prng(seed);
  const stored: StoredApp = { app: validateApp({ id: '/web', cmd: 'serve', instances, healthChecks: HEALTH, upgradeStrategy: strategy }), version: V2, lastConfigChangeAt: V2, lastScalingAt: V1 };
  let next = 0;
  const task = (configVersion: string, state: AppTask['state'], healthy: boolean | undefined): AppTask => ({
    taskId: `t${String(next).padStart(4, '0')}`,
    appId: '/web',
    configVersion,
    version: configVersion,
    agentId: 'a1',
    host: 'a1.test',
    ports: [],
    servicePorts: [],
    state,
    stagedAt: next++,
    startedAt: undefined,
    killRequested: false,
    ...(healthy === undefined ? {} : { healthy }),
  });
  let tasks: AppTask[] = Array.from({ length: instances }, () => task(V1, 'TASK_RUNNING', true));
  const healthyCount = () => tasks.filter((x) => !x.killRequested && x.state === 'TASK_RUNNING' && x.healthy === true).length;
  let lowestHealthy = healthyCount();
  let highestTotal = tasks.length;
  const done = () => tasks.length === instances && tasks.every((x) => x.configVersion === V2 && x.healthy === true && !x.killRequested);
  let rounds = 0;
  for (; rounds < maxRounds && !done(); rounds++) {
    const plan = planInstances(stored, tasks, undefined, NOW);
    for (const id of plan.kill) {
      const k = tasks.find((x) => x.taskId === id)!;
      k.killRequested = true;
      k.state = 'TASK_KILLING';
    }
    for (let i = 0; i < plan.launch; i++) tasks.push(task(V2, 'TASK_STAGING', undefined));
    lowestHealthy = Math.min(lowestHealthy, healthyCount());
    highestTotal = Math.max(highestTotal, tasks.length);
    const movable = tasks.filter((x) => x.killRequested || x.state === 'TASK_STAGING' || (x.state === 'TASK_RUNNING' && x.healthy === undefined));
    if (movable.length === 0) continue;
    const moving = movable[Math.floor(random() * movable.length)]!;
    if (moving.killRequested) tasks = tasks.filter((x) => x !== moving);
    else if (moving.state === 'TASK_STAGING') moving.state = 'TASK_RUNNING';
    else moving.healthy = newVersionHealthy;
  }
  return { lowestHealthy, highestTotal, tasks, rounds };
}

t.test('simulated upgrades keep the floor and the ceiling and finish', async (t) => {
  const strategies: Array<[number, number, number]> = [
    [4, 0.5, 0.25],
    [4, 1, 0.25],
    [4, 1, 1],
    [4, 0, 0],
    [4, 1, 0],
    [5, 0.6, 0.2],
    [10, 0.7, 0.1],
    [3, 0.34, 0.5],
    [1, 1, 1],
    [1, 0, 0],
  ];
  for (const [instances, mhc, moc] of strategies) {
    const { minHealthy, maxTotal } = upgradeBounds(instances, { minimumHealthCapacity: mhc, maximumOverCapacity: moc });
    let worstHealthy = Infinity;
    let worstTotal = 0;
    let unfinished = 0;
    for (let seed = 1; seed <= 40; seed++) {
      const r = simulate(seed, instances, { minimumHealthCapacity: mhc, maximumOverCapacity: moc });
      worstHealthy = Math.min(worstHealthy, r.lowestHealthy);
      worstTotal = Math.max(worstTotal, r.highestTotal);
      if (r.rounds >= 2000) unfinished++;
    }
    const name = `${instances} instances, minimumHealthCapacity ${mhc}, maximumOverCapacity ${moc}`;
    t.ok(worstHealthy >= minHealthy, `${name}: never below ${minHealthy} healthy (lowest ${worstHealthy})`);
    t.ok(worstTotal <= maxTotal, `${name}: never above ${maxTotal} tasks (highest ${worstTotal})`);
    t.equal(unfinished, 0, `${name}: every upgrade finished`);
  }
});

t.test('a new version that never turns healthy never replaces the healthy old tasks', async (t) => {
  for (const [mhc, moc] of [[1, 0.25], [1, 1], [0.5, 0.25]] as const) {
    const { minHealthy } = upgradeBounds(4, { minimumHealthCapacity: mhc, maximumOverCapacity: moc });
    const r = simulate(7, 4, { minimumHealthCapacity: mhc, maximumOverCapacity: moc }, false, 300);
    const oldLeft = r.tasks.filter((x) => x.configVersion === V1 && !x.killRequested).length;
    t.equal(oldLeft, minHealthy, `minimumHealthCapacity ${mhc}: the ${minHealthy} healthy old tasks the floor needs stay`);
    t.ok(r.lowestHealthy >= minHealthy, `minimumHealthCapacity ${mhc}: never below ${minHealthy} healthy`);
    t.notOk(r.tasks.some((x) => x.configVersion === V2 && x.healthy === true), 'no new task is healthy');
  }
});

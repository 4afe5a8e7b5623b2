// The init framework's pure cores, table-driven: Marathon app validation (app.ts), instance
// planning and backoff (plan.ts), and offer matching with the task environment (match.ts).
import t from 'tap';
import { needsRestart, normalizeAppId, validateApp } from '../../src/init/app';
import { backoffAfterFailure, planInstances, type InstancePlan } from '../../src/init/plan';
import { matchOffer, taskEnvironment, type LaunchRequest, type MatchedLaunch } from '../../src/init/match';
import { matchOffers } from '../../src/init/spread';
import type { AppDefinition, AppTask, Backoff, StoredApp } from '../../src/init/types';
import type { Offer, PortRange, Resources, TaskState } from '../../src/kernel/types';
import { portsToRanges } from '../../src/kernel/sdk/resources';
import { CorralError, type ErrorDetail } from '../../src/shared/errors';

type Test = tap.Test;

/** The VALIDATION_FAILED details `fn` throws, or fails the test. */
function detailsOf(t: Test, fn: () => unknown, name: string): ErrorDetail[] {
  try {
    fn();
  } catch (err) {
    t.ok(err instanceof CorralError && err.code === 'VALIDATION_FAILED' && err.status === 422, `${name}: VALIDATION_FAILED`);
    return (err as CorralError).details ?? [];
  }
  t.fail(`${name}: did not throw`);
  return [];
}

// ---- validateApp / normalizeAppId ----

t.test('validateApp fills Marathon defaults and keeps what is given', async (t) => {
  const app = validateApp({ id: 'web', cmd: 'python3 -m http.server $PORT0' });
  t.same(app, {
    id: '/web',
    cmd: 'python3 -m http.server $PORT0',
    instances: 1,
    cpus: 1,
    mem: 128,
    disk: 0,
    gpus: 0,
    portDefinitions: [],
    requirePorts: false,
    env: {},
    labels: {},
    backoffSeconds: 1,
    backoffFactor: 1.15,
    maxLaunchDelaySeconds: 300,
    unreachableStrategy: { inactiveAfterSeconds: 0, expungeAfterSeconds: 0 },
    upgradeStrategy: { minimumHealthCapacity: 1, maximumOverCapacity: 1 },
    dependencies: [],
  });

  const given = {
    id: '/shop/web',
    args: ['/bin/server', '--port', '$PORT0'],
    instances: 0,
    cpus: 0.25,
    mem: 64,
    disk: 10,
    gpus: 0,
    portDefinitions: [{ port: 8080, protocol: 'udp', name: 'http', labels: { VIP_0: '/web:80' } }],
    requirePorts: true,
    env: { MODE: 'prod' },
    labels: { owner: 'ops' },
    user: 'nobody',
    backoffSeconds: 2,
    backoffFactor: 1,
    maxLaunchDelaySeconds: 0,
    taskKillGracePeriodSeconds: 5,
    unreachableStrategy: 'disabled',
    upgradeStrategy: { minimumHealthCapacity: 0, maximumOverCapacity: 0, deadlineSeconds: 30 },
    dependencies: ['/shop/db'],
  };
  t.same(validateApp(given), given, 'every given value is kept, 0 included');
});

t.test('validateApp keeps Marathon fields it does not act on', async (t) => {
  const extras = {
    constraints: [['hostname', 'UNIQUE']],
    upgradeStrategy: { minimumHealthCapacity: 0.5, maximumOverCapacity: 0.2 },
    acceptedResourceRoles: ['*'],
    killSelection: 'OLDEST_FIRST',
    fetch: [{ uri: 'https://example.com/app.tgz', extract: true }],
  };
  t.match(validateApp({ id: 'web', cmd: 'x', ...extras }), extras);
});

t.test('app ids: relative ids become absolute; ids Marathon rejects fail with path /id', async (t) => {
  const good: Array<[string, string]> = [
    ['web', '/web'],
    ['/web', '/web'],
    ['shop/web', '/shop/web'],
    ['/shop/web/', '/shop/web'],
    ['shop//web', '/shop/web'],
    ['a.b-c/d0/9', '/a.b-c/d0/9'],
    ['/x/tasks-old', '/x/tasks-old'],
    ['/tasks/x', '/tasks/x'],
  ];
  for (const [raw, want] of good) {
    t.equal(normalizeAppId(raw), want, `normalizeAppId(${JSON.stringify(raw)})`);
    t.equal(validateApp({ id: raw, cmd: 'x' }).id, want, `validateApp id ${JSON.stringify(raw)}`);
  }
  const bad = ['Web', '/shop/Web', '-web', 'web-', '/a/-b', '', '/', '//', '/a/tasks', '/a/restart', '/a/versions', 'tasks', 'a..b', '.a', 'a.', 'a_b', 'a b', '/a/ü'];
  for (const raw of bad) {
    const details = detailsOf(t, () => validateApp({ id: raw, cmd: 'x' }), JSON.stringify(raw));
    t.equal(details.length, 1, `${JSON.stringify(raw)}: one detail`);
    t.equal(details[0]?.path, '/id', `${JSON.stringify(raw)}: path /id`);
    t.ok(details[0]!.errors.length > 0 && details[0]!.errors.every((e) => typeof e === 'string' && e.length > 0), `${JSON.stringify(raw)}: messages`);
  }
  t.same(detailsOf(t, () => normalizeAppId('Bad', '/apps/0/id'), 'custom path'), [
    { path: '/apps/0/id', errors: ["path segment 'Bad' must be lowercase letters, digits, '-' and '.', and may not start or end with '-' or '.'"] },
  ]);
  t.same(detailsOf(t, () => normalizeAppId('/a/tasks'), 'reserved'), [{ path: '/id', errors: ["must not end with 'tasks'"] }]);
  t.equal(validateApp({ id: 'from-body', cmd: 'x' }, { id: '/from/url' }).id, '/from/url', "the URL's id wins");
  t.equal(validateApp({ cmd: 'x' }, { id: 'from/url' }).id, '/from/url', 'the body may leave the id out when the URL names it');
});

t.test('cmd xor args', async (t) => {
  const ok: Array<[string, Record<string, unknown>]> = [
    ['cmd', { cmd: 'x' }],
    ['args', { args: ['x'] }],
    ['args with cmd null', { cmd: null, args: ['x'] }],
    ['cmd with args null', { cmd: 'x', args: null }],
    ['cmd with empty args', { cmd: 'x', args: [] }],
    ['args with empty cmd', { cmd: '', args: ['x'] }],
  ];
  for (const [name, body] of ok) t.doesNotThrow(() => validateApp({ id: 'a', ...body }), name);
  const bad: Array<[string, Record<string, unknown>, string]> = [
    ['neither', {}, "AppDefinition must supply exactly one of 'cmd' or 'args'"],
    ['both', { cmd: 'x', args: ['y'] }, "AppDefinition must not set both 'cmd' and 'args'"],
    ['empty both', { cmd: '', args: [] }, "AppDefinition must supply exactly one of 'cmd' or 'args'"],
    ['nulls', { cmd: null, args: null }, "AppDefinition must supply exactly one of 'cmd' or 'args'"],
  ];
  for (const [name, body, message] of bad) t.same(detailsOf(t, () => validateApp({ id: 'a', ...body }), name), [{ path: '/cmd', errors: [message] }], name);
});

t.test('ports and portDefinitions', async (t) => {
  const cases: Array<[string, Record<string, unknown>, unknown[]]> = [
    ['none', {}, []],
    ['legacy ports become portDefinitions', { ports: [8080, 0] }, [{ port: 8080, protocol: 'tcp' }, { port: 0, protocol: 'tcp' }]],
    ['protocol defaults to tcp', { portDefinitions: [{ port: 0, name: 'http' }] }, [{ port: 0, protocol: 'tcp', name: 'http' }]],
    ['a given protocol is kept', { portDefinitions: [{ port: 53, protocol: 'udp,tcp' }] }, [{ port: 53, protocol: 'udp,tcp' }]],
    ['both, agreeing (as GET /v2/apps returns them)', { ports: [8080], portDefinitions: [{ port: 8080, name: 'http' }] }, [{ port: 8080, protocol: 'tcp', name: 'http' }]],
    ['both, ports empty', { ports: [], portDefinitions: [{ port: 1 }] }, [{ port: 1, protocol: 'tcp' }]],
    ['both, portDefinitions empty', { ports: [2], portDefinitions: [] }, [{ port: 2, protocol: 'tcp' }]],
  ];
  for (const [name, body, want] of cases) {
    const app = validateApp({ id: 'a', cmd: 'x', ...body });
    t.same(app.portDefinitions, want, name);
    t.notOk('ports' in app, `${name}: no legacy ports field`);
  }
  t.same(detailsOf(t, () => validateApp({ id: 'a', cmd: 'x', ports: [1], portDefinitions: [{ port: 2 }] }), 'both, disagreeing'), [
    { path: '/ports', errors: ["You cannot specify both 'ports' and 'portDefinitions'"] },
  ]);
  t.same(detailsOf(t, () => validateApp({ id: 'a', cmd: 'x', portDefinitions: [{ port: 0, name: 'http' }, { port: 0, name: 'http' }] }), 'duplicate names'), [
    { path: '/portDefinitions', errors: ['port names must be unique'] },
  ]);
});

t.test('schema violations: VALIDATION_FAILED with JSON-pointer details', async (t) => {
  const cases: Array<[string, Record<string, unknown>, string[]]> = [
    ['negative instances', { instances: -1 }, ['/instances']],
    ['fractional instances', { instances: 1.5 }, ['/instances']],
    ['string cpus', { cpus: '1' }, ['/cpus']],
    ['negative mem', { mem: -1 }, ['/mem']],
    ['negative disk', { disk: -0.5 }, ['/disk']],
    ['gpus not an integer', { gpus: 0.5 }, ['/gpus']],
    ['port above 65535', { portDefinitions: [{ port: 70000 }] }, ['/portDefinitions/0/port']],
    ['second port negative', { portDefinitions: [{ port: 1 }, { port: -1 }] }, ['/portDefinitions/1/port']],
    ['port definition without port', { portDefinitions: [{ name: 'http' }] }, ['/portDefinitions/0/port']],
    ['unknown protocol', { portDefinitions: [{ port: 1, protocol: 'sctp' }] }, ['/portDefinitions/0/protocol']],
    ['port name with uppercase', { portDefinitions: [{ port: 1, name: 'Http' }] }, ['/portDefinitions/0/name']],
    ['port label not a string', { portDefinitions: [{ port: 1, labels: { a: 1 } }] }, ['/portDefinitions/0/labels/a']],
    ['legacy port not a number', { ports: ['80'] }, ['/ports/0']],
    ['env value not a string', { env: { A: 1 } }, ['/env/A']],
    ['env name not a variable name', { env: { '1A': 'x' } }, ['/env']],
    ['label value not a string', { labels: { a: true } }, ['/labels/a']],
    ['requirePorts not a boolean', { requirePorts: 'yes' }, ['/requirePorts']],
    ['backoffFactor below 1', { backoffFactor: 0.5 }, ['/backoffFactor']],
    ['negative backoffSeconds', { backoffSeconds: -1 }, ['/backoffSeconds']],
    ['negative maxLaunchDelaySeconds', { maxLaunchDelaySeconds: -1 }, ['/maxLaunchDelaySeconds']],
    ['zero grace period', { taskKillGracePeriodSeconds: 0 }, ['/taskKillGracePeriodSeconds']],
    ['args not strings', { cmd: undefined, args: [1] }, ['/args/0']],
    ['several at once', { instances: -1, cpus: -1, portDefinitions: [{ port: 'x' }] }, ['/instances', '/cpus', '/portDefinitions/0/port']],
  ];
  for (const [name, body, paths] of cases) {
    const details = detailsOf(t, () => validateApp({ id: 'a', cmd: 'x', ...body }), name);
    t.same(details.map((d) => d.path).sort(), [...paths].sort(), `${name}: paths`);
    t.ok(details.every((d) => d.errors.length > 0 && d.errors.every((e) => typeof e === 'string')), `${name}: messages`);
  }
  t.same(detailsOf(t, () => validateApp({ cmd: 'x' }), 'missing id'), [{ path: '/id', errors: ['is required'] }]);
  t.same(detailsOf(t, () => validateApp({ id: 5, cmd: 'x' }), 'numeric id').map((d) => d.path), ['/id']);
  for (const input of [null, [], 'web', 5, undefined]) {
    t.same(detailsOf(t, () => validateApp(input), `input ${JSON.stringify(input)}`), [{ path: '/', errors: ['must be a JSON object'] }]);
  }
  try {
    validateApp({ id: 'a', instances: -1, cmd: 'x' });
  } catch (err) {
    t.same((err as CorralError).toJSON(), { message: 'Object is not valid', code: 'VALIDATION_FAILED', details: [{ path: '/instances', errors: ['must be >= 0'] }] }, "Marathon's error body");
  }
});

t.test('needsRestart: only changes that need new tasks', async (t) => {
  const base = validateApp({
    id: 'a',
    cmd: 'run',
    env: { A: '1', B: '2' },
    labels: { x: 'y' },
    portDefinitions: [{ port: 10000, name: 'http' }],
    fetch: [{ uri: 'https://example.com/a.tgz', extract: true }],
  });
  const cases: Array<[string, Record<string, unknown>, boolean]> = [
    ['nothing', {}, false],
    ['instances', { instances: 5 }, false],
    ['labels (they are in the task environment)', { labels: { x: 'z' } }, true],
    ['backoff', { backoffSeconds: 9 }, false],
    ['health checks (the agent gets them with the task)', { healthChecks: [{ protocol: 'TCP' }] }, true],
    ['user undefined vs null', { user: null }, false],
    ['env in another key order', { env: { B: '2', A: '1' } }, false],
    ['fetch with keys in another order', { fetch: [{ extract: true, uri: 'https://example.com/a.tgz' }] }, false],
    ['cmd', { cmd: 'run2' }, true],
    ['cmd to args', { cmd: undefined, args: ['run'] }, true],
    ['cpus', { cpus: 2 }, true],
    ['mem', { mem: 256 }, true],
    ['disk', { disk: 1 }, true],
    ['port number', { portDefinitions: [{ port: 10001, name: 'http' }] }, true],
    ['port name', { portDefinitions: [{ port: 10000, name: 'web' }] }, true],
    ['requirePorts', { requirePorts: true }, true],
    ['env value', { env: { A: '1', B: '3' } }, true],
    ['env key added', { env: { A: '1', B: '2', C: '' } }, true],
    ['user', { user: 'nobody' }, true],
    ['fetch', { fetch: [] }, true],
    ['constraints (running instances must come to meet them)', { constraints: [['hostname', 'UNIQUE']] }, true],
    ['constraints: none and [] are the same', { constraints: [] }, false],
  ];
  for (const [name, change, want] of cases) {
    const after = validateApp({ ...base, ...change });
    t.equal(needsRestart(base, after), want, name);
    t.equal(needsRestart(after, base), want, `${name} (reversed)`);
  }
});

// ---- planInstances / backoffAfterFailure ----

const V1 = '2026-01-01T00:00:00.000Z';
const V2 = '2026-01-02T00:00:00.000Z';
const storedApp = (app: Record<string, unknown> = {}, lastConfigChangeAt = V1, version = lastConfigChangeAt): StoredApp => ({
  app: validateApp({ id: '/shop/web', cmd: 'run', ...app }),
  version,
  lastConfigChangeAt,
  lastScalingAt: version,
});
const appTask = (taskId: string, stagedAt: number, state: TaskState = 'TASK_RUNNING', more: Partial<AppTask> = {}): AppTask => ({
  taskId,
  appId: '/shop/web',
  configVersion: V1,
  version: V1,
  agentId: 'a1',
  host: 'a1.test',
  ports: [],
  servicePorts: [],
  state,
  stagedAt,
  startedAt: state === 'TASK_RUNNING' ? stagedAt : undefined,
  killRequested: false,
  ...more,
});
const old = (taskId: string, stagedAt: number, state: TaskState = 'TASK_RUNNING') => appTask(taskId, stagedAt, state, { configVersion: V1 });
const fresh = (taskId: string, stagedAt: number, state: TaskState = 'TASK_RUNNING') => appTask(taskId, stagedAt, state, { configVersion: V2 });

t.test('planInstances: scaling, kill selection, backoff', async (t) => {
  const NOW = 10_000;
  const held: Backoff = { failures: 2, notBefore: 15_000 };
  const cases: Array<[string, Record<string, unknown>, AppTask[], Backoff | undefined, Partial<InstancePlan>]> = [
    ['nothing running: launch all', { instances: 3 }, [], undefined, { launch: 3, kill: [] }],
    ['partly running: launch the rest', { instances: 3 }, [appTask('a', 1)], undefined, { launch: 2, kill: [] }],
    ['staged tasks count as instances', { instances: 2 }, [appTask('a', 1, 'TASK_STAGING'), appTask('b', 2, 'TASK_STARTING')], undefined, { launch: 0, kill: [] }],
    ['at count: nothing to do', { instances: 2 }, [appTask('a', 1), appTask('b', 2)], undefined, { launch: 0, kill: [] }],
    ['scale to zero kills all', { instances: 0 }, [appTask('a', 1), appTask('b', 2)], undefined, { launch: 0, kill: ['b', 'a'] }],
    ['scale down: youngest first by default', { instances: 1 }, [appTask('a', 1), appTask('c', 3), appTask('b', 2)], undefined, { launch: 0, kill: ['c', 'b'] }],
    ['scale down: YOUNGEST_FIRST', { instances: 1, killSelection: 'YOUNGEST_FIRST' }, [appTask('a', 1), appTask('c', 3), appTask('b', 2)], undefined, { kill: ['c', 'b'] }],
    ['scale down: OLDEST_FIRST', { instances: 1, killSelection: 'OLDEST_FIRST' }, [appTask('a', 1), appTask('c', 3), appTask('b', 2)], undefined, { kill: ['a', 'b'] }],
    ['same age: by task id', { instances: 1 }, [appTask('a', 1), appTask('b', 1)], undefined, { kill: ['b'] }],
    ['kill-and-scale: named tasks go first, before unstarted ones', { instances: 2 }, [appTask('a', 1, 'TASK_RUNNING', { killPreferred: true }), appTask('b', 2), appTask('c', 3, 'TASK_STAGING')], undefined, { launch: 0, kill: ['a'] }],
    ['kill-and-scale: named tasks still count until the scale-down', { instances: 3 }, [appTask('a', 1, 'TASK_RUNNING', { killPreferred: true }), appTask('b', 2), appTask('c', 3)], undefined, { launch: 0, kill: [] }],
    ['scale down: non-running first (youngest first)', { instances: 2 }, [appTask('a', 1), appTask('b', 2), appTask('c', 3), appTask('d', 0, 'TASK_STAGING')], undefined, { kill: ['d'] }],
    ['scale down: non-running first (oldest first)', { instances: 2, killSelection: 'OLDEST_FIRST' }, [appTask('a', 1), appTask('b', 2), appTask('c', 3), appTask('d', 4, 'TASK_STARTING')], undefined, { kill: ['d'] }],
    ['scale down: non-running in selection order, then running', { instances: 1 }, [appTask('a', 1), appTask('b', 2, 'TASK_STAGING'), appTask('c', 3, 'TASK_STAGING'), appTask('d', 4)], undefined, { kill: ['c', 'b', 'd'] }],
    ['kill-requested tasks do not count', { instances: 2 }, [appTask('a', 1), appTask('b', 2, 'TASK_KILLING', { killRequested: true })], undefined, { launch: 1, kill: [] }],
    ['kill-requested tasks are not killed again', { instances: 0 }, [appTask('a', 1, 'TASK_KILLING', { killRequested: true })], undefined, { launch: 0, kill: [] }],
    ['backoff holds launches', { instances: 2 }, [], held, { launch: 0, kill: [], expunge: [], delayedUntil: 15_000 }],
    ['backoff ended', { instances: 2 }, [], { failures: 2, notBefore: NOW }, { launch: 2, delayedUntil: undefined }],
    ['backoff with nothing to launch', { instances: 1 }, [appTask('a', 1)], held, { launch: 0, delayedUntil: undefined }],
    ['backoff does not hold kills', { instances: 1 }, [appTask('a', 1), appTask('b', 2)], held, { launch: 0, kill: ['b'], expunge: [], delayedUntil: undefined }],
    ['unreachable, default strategy: replaced at once', { instances: 2 }, [appTask('a', 1), appTask('b', 2, 'TASK_UNREACHABLE', { unreachableSince: NOW })], undefined, { launch: 1, kill: [] }],
    ['unreachable within inactiveAfterSeconds: still counts', { instances: 2, unreachableStrategy: { inactiveAfterSeconds: 60, expungeAfterSeconds: 120 } }, [appTask('a', 1), appTask('b', 2, 'TASK_UNREACHABLE', { unreachableSince: NOW - 59_999 })], undefined, { launch: 0, kill: [] }],
    ['unreachable past inactiveAfterSeconds: replaced', { instances: 2, unreachableStrategy: { inactiveAfterSeconds: 60, expungeAfterSeconds: 120 } }, [appTask('a', 1), appTask('b', 2, 'TASK_UNREACHABLE', { unreachableSince: NOW - 60_000 })], undefined, { launch: 1, kill: [] }],
    ['unreachable, disabled: never replaced', { instances: 2, unreachableStrategy: 'disabled' }, [appTask('a', 1), appTask('b', 2, 'TASK_UNREACHABLE', { unreachableSince: 0 })], undefined, { launch: 0, kill: [] }],
    ['unreachable, default strategy: forgotten at once', { instances: 2 }, [appTask('a', 1), appTask('b', 2, 'TASK_UNREACHABLE', { unreachableSince: NOW })], undefined, { launch: 1, kill: [], expunge: ['b'] }],
    ['unreachable within expungeAfterSeconds: kept', { instances: 2, unreachableStrategy: { inactiveAfterSeconds: 60, expungeAfterSeconds: 120 } }, [appTask('a', 1), appTask('b', 2, 'TASK_UNREACHABLE', { unreachableSince: NOW - 119_999 })], undefined, { launch: 1, kill: [], expunge: [] }],
    ['unreachable past expungeAfterSeconds: forgotten', { instances: 2, unreachableStrategy: { inactiveAfterSeconds: 60, expungeAfterSeconds: 120 } }, [appTask('a', 1), appTask('b', 2, 'TASK_UNREACHABLE', { unreachableSince: NOW - 120_000 })], undefined, { launch: 1, kill: [], expunge: ['b'] }],
    ['unreachable, disabled: never forgotten', { instances: 2, unreachableStrategy: 'disabled' }, [appTask('b', 2, 'TASK_UNREACHABLE', { unreachableSince: 0 })], undefined, { expunge: [] }],
    ['back from unreachable: the surplus (youngest) is killed', { instances: 2 }, [appTask('a', 1), appTask('b', 2), appTask('r', 5)], undefined, { launch: 0, kill: ['r'] }],
  ];
  for (const [name, app, tasks, backoff, want] of cases) {
    const got = planInstances(storedApp(app), tasks, backoff, NOW);
    t.match(got, want, name);
    t.same(Object.keys(got).sort(), ['delayedUntil', 'expunge', 'kill', 'launch'], `${name}: plan shape`);
  }
});

t.test('planInstances: an outdated config is replaced by the rolling upgrade (default strategy: start-first)', async (t) => {
  const NOW = 10_000;
  const cases: Array<[string, number, AppTask[], Backoff | undefined, InstancePlan]> = [
    ['new config: launch all new, keep the old running', 2, [old('o1', 1), old('o2', 2)], undefined, { launch: 2, kill: [], expunge: [], delayedUntil: undefined }],
    ['new ones staged: still keep the old', 2, [old('o1', 1), old('o2', 2), fresh('n1', 5, 'TASK_STAGING'), fresh('n2', 6, 'TASK_STARTING')], undefined, { launch: 0, kill: [], expunge: [], delayedUntil: undefined }],
    ['one new running: kill the oldest old one', 2, [old('o2', 2), old('o1', 1), fresh('n1', 5), fresh('n2', 6, 'TASK_STAGING')], undefined, { launch: 0, kill: ['o1'], expunge: [], delayedUntil: undefined }],
    ['all new running: kill every old one', 2, [old('o1', 1), old('o2', 2), fresh('n1', 5), fresh('n2', 6)], undefined, { launch: 0, kill: ['o1', 'o2'], expunge: [], delayedUntil: undefined }],
    ['old tasks not running are killed at once', 2, [old('o1', 1), old('o2', 2, 'TASK_STAGING')], undefined, { launch: 2, kill: ['o2'], expunge: [], delayedUntil: undefined }],
    ['old not-running go before old running', 1, [old('o1', 1), old('o2', 2, 'TASK_STARTING'), fresh('n1', 5)], undefined, { launch: 0, kill: ['o2', 'o1'], expunge: [], delayedUntil: undefined }],
    ['more old than instances: surplus old ones go at once; launches wait for room', 1, [old('o1', 1), old('o2', 2), old('o3', 3)], undefined, { launch: 0, kill: ['o1', 'o2'], expunge: [], delayedUntil: undefined }],
    ['the surplus gone: the new one starts', 1, [old('o3', 3)], undefined, { launch: 1, kill: [], expunge: [], delayedUntil: undefined }],
    ['scaled to zero: every old one goes', 0, [old('o1', 1), old('o2', 2)], undefined, { launch: 0, kill: ['o1', 'o2'], expunge: [], delayedUntil: undefined }],
    ['backoff holds the new ones and keeps the old', 2, [old('o1', 1), old('o2', 2)], { failures: 1, notBefore: 20_000 }, { launch: 0, kill: [], expunge: [], delayedUntil: 20_000 }],
    ['too many new ones and old ones: scale-down and replacement together', 1, [old('o1', 1), fresh('n1', 5), fresh('n2', 6)], undefined, { launch: 0, kill: ['n2', 'o1'], expunge: [], delayedUntil: undefined }],
  ];
  for (const [name, instances, tasks, backoff, want] of cases) t.same(planInstances(storedApp({ instances }, V2), tasks, backoff, NOW), want, name);
});

t.test('backoffAfterFailure: backoffSeconds × backoffFactor^(n−1), capped', async (t) => {
  const NOW = 1_000_000;
  const cases: Array<[string, Record<string, unknown>, number, number]> = [
    ['first failure: backoffSeconds', { backoffSeconds: 1, backoffFactor: 2, maxLaunchDelaySeconds: 10 }, 1, 1],
    ['second failure', { backoffSeconds: 1, backoffFactor: 2, maxLaunchDelaySeconds: 10 }, 2, 2],
    ['third failure', { backoffSeconds: 1, backoffFactor: 2, maxLaunchDelaySeconds: 10 }, 3, 4],
    ['fourth failure', { backoffSeconds: 1, backoffFactor: 2, maxLaunchDelaySeconds: 10 }, 4, 8],
    ['capped', { backoffSeconds: 1, backoffFactor: 2, maxLaunchDelaySeconds: 10 }, 5, 10],
    ['stays capped', { backoffSeconds: 1, backoffFactor: 2, maxLaunchDelaySeconds: 10 }, 30, 10],
    ['Marathon defaults, second failure', {}, 2, 1.15],
    ['Marathon defaults, tenth failure', {}, 10, 1.15 ** 9],
    ['Marathon defaults reach the 300 s cap', {}, 60, 300],
    ['factor 1 never grows', { backoffSeconds: 3, backoffFactor: 1 }, 7, 3],
    ['no backoff', { backoffSeconds: 0 }, 3, 0],
    ['cap of 0', { backoffSeconds: 5, maxLaunchDelaySeconds: 0 }, 1, 0],
  ];
  for (const [name, app, failures, seconds] of cases) {
    const stored = storedApp(app);
    let b: Backoff | undefined;
    for (let i = 0; i < failures; i++) b = backoffAfterFailure(stored.app, b, NOW);
    t.equal(b!.failures, failures, `${name}: failures`);
    t.ok(Math.abs(b!.notBefore - (NOW + seconds * 1000)) < 1e-6, `${name}: ${seconds} s (got ${(b!.notBefore - NOW) / 1000} s)`);
  }
  const prev: Backoff = { failures: 3, notBefore: 0 };
  const next = backoffAfterFailure(storedApp().app, prev, NOW);
  t.same(prev, { failures: 3, notBefore: 0 }, 'the previous backoff is not modified');
  t.equal(next.failures, 4);
});

// ---- matchOffer / taskEnvironment ----

const r = (begin: number, end: number): PortRange => ({ begin, end });
const offerOf = (resources: Partial<Resources>): Offer => ({
  id: 'o1',
  frameworkId: 'init',
  agentId: 'a1',
  hostname: 'a1.test',
  resources: { cpus: 8, mem: 8192, disk: 1000, ports: [r(31000, 31099)], ...resources },
  attributes: {},
});
let seq = 0;
const ids = (appId: string) => `${appId.slice(1).replace(/\//g, '_')}.${++seq}`;
const req = (app: Record<string, unknown>, count: number, lastConfigChangeAt = V1): LaunchRequest => ({ stored: storedApp(app, lastConfigChangeAt), count });
const NOW = Date.UTC(2026, 0, 3);

t.test('matchOffer packs as many instances as fit', async (t) => {
  const cases: Array<[string, Partial<Resources>, LaunchRequest[], number[][]]> = [
    ['cpus bound', { cpus: 2.5 }, [req({ cpus: 1, mem: 128, portDefinitions: [{ port: 0 }] }, 5)], [[31000], [31001]]],
    ['mem bound', { mem: 1000 }, [req({ cpus: 0.1, mem: 300, portDefinitions: [{ port: 0 }] }, 5)], [[31000], [31001], [31002]]],
    ['disk bound', { disk: 25 }, [req({ cpus: 0.1, disk: 10 }, 5)], [[], []]],
    ['ports bound', { ports: [r(31000, 31002)] }, [req({ cpus: 0.1, portDefinitions: [{ port: 0 }, { port: 0 }] }, 5)], [[31000, 31001]]],
    ['ports across ranges', { ports: [r(31000, 31000), r(32000, 32002)] }, [req({ cpus: 0.1, portDefinitions: [{ port: 0 }, { port: 0 }] }, 2)], [[31000, 32000], [32001, 32002]]],
    ['no ports needed, none offered', { ports: [] }, [req({ cpus: 0.5 }, 2)], [[], []]],
    ['count limits', {}, [req({ cpus: 0.1 }, 2)], [[], []]],
    ['count 0', {}, [req({ cpus: 0.1 }, 0)], []],
    ['nothing fits', { mem: 64 }, [req({ mem: 128 }, 3)], []],
    ['requirePorts: the service ports themselves', { ports: [r(8000, 8100)] }, [req({ cpus: 0.1, requirePorts: true, portDefinitions: [{ port: 8080 }, { port: 8001 }] }, 3)], [[8080, 8001]]],
    ['requirePorts: not offered, not placed', { ports: [r(31000, 31099)] }, [req({ cpus: 0.1, requirePorts: true, portDefinitions: [{ port: 8080 }] }, 1)], []],
    ['requirePorts: partly offered, not placed', { ports: [r(8080, 8080)] }, [req({ cpus: 0.1, requirePorts: true, portDefinitions: [{ port: 8080 }, { port: 8081 }] }, 1)], []],
    ['an app that does not fit does not block the next', { mem: 1024 }, [req({ mem: 2048 }, 1), req({ mem: 512, cpus: 0.1 }, 5)], [[], []]],
    ['requests are served in order', { cpus: 1 }, [req({ cpus: 0.5 }, 1), req({ cpus: 0.5 }, 5)], [[], []]],
  ];
  for (const [name, resources, requests, ports] of cases) {
    const out = matchOffer(offerOf(resources), requests, ids, NOW);
    t.same(out.map((m) => m.task.ports), ports, name);
    for (const m of out) t.same(m.launch.resources.ports, portsToRanges(m.task.ports), `${name}: the launch reserves exactly the task's ports`);
  }
  const reqs = [req({ cpus: 1 }, 3)];
  matchOffer(offerOf({}), reqs, ids, NOW);
  t.equal(reqs[0]!.count, 3, 'the request count is not modified');
});

t.test('matchOffers spreads an app over the offered agents', async (t) => {
  const on = (agentId: string, resources: Partial<Resources> = {}): Offer => ({ ...offerOf(resources), id: `o-${agentId}`, agentId, hostname: `${agentId}.test` });
  const placedOn = (out: Map<string, MatchedLaunch[]>) => Object.fromEntries([...out].map(([id, ms]) => [id, ms.length]));
  const none = () => [];
  t.same(placedOn(matchOffers([on('a'), on('b'), on('c')], [req({ cpus: 0.1 }, 6)], none, ids, NOW)), { 'o-a': 2, 'o-b': 2, 'o-c': 2 }, '6 over 3 empty agents: 2 each');
  t.same(placedOn(matchOffers([on('a'), on('b'), on('c')], [req({ cpus: 0.1 }, 4)], none, ids, NOW)), { 'o-a': 2, 'o-b': 1, 'o-c': 1 }, 'ties go to the earlier offer');
  const at = (agentId: string, n: number) => Array.from({ length: n }, () => ({ agentId, hostname: `${agentId}.test` }));
  const running = () => [...at('a', 3), ...at('b', 1)];
  t.same(placedOn(matchOffers([on('a'), on('b'), on('c')], [req({ cpus: 0.1 }, 2)], running, ids, NOW)), { 'o-a': 0, 'o-b': 1, 'o-c': 1 }, 'what already runs counts: the emptiest agents first');
  t.same(placedOn(matchOffers([on('a', { cpus: 0.25 }), on('b')], [req({ cpus: 0.1 }, 5)], none, ids, NOW)), { 'o-a': 2, 'o-b': 3 }, 'a full offer takes no more; the rest goes elsewhere');
  t.same(placedOn(matchOffers([on('a', { mem: 64 }), on('b', { mem: 64 })], [req({ mem: 128 }, 2)], none, ids, NOW)), { 'o-a': 0, 'o-b': 0 }, 'nothing fits: nothing placed, every offer answered');
  const twoApps = matchOffers([on('a'), on('b')], [req({ id: '/x', cpus: 0.1 }, 2), req({ id: '/y', cpus: 0.1 }, 2)], none, ids, NOW);
  t.same([...twoApps.values()].map((ms) => ms.map((m) => m.task.appId).sort()), [['/x', '/y'], ['/x', '/y']], 'each app spreads on its own');
  const two = matchOffers([on('a', { ports: [r(31000, 31001)] }), on('b', { ports: [r(31000, 31001)] })], [req({ cpus: 0.1, portDefinitions: [{ port: 0 }] }, 4)], none, ids, NOW);
  t.same([...two.values()].map((ms) => ms.map((m) => m.task.ports[0])), [[31000, 31001], [31000, 31001]], 'ports are taken per offer');
  t.same([...two.values()].flat().map((m) => m.task.agentId), ['a', 'a', 'b', 'b'], 'tasks carry their offer’s agent');
});

t.test('matchOffer builds the launch and init’s task record', async (t) => {
  const stored = storedApp(
    {
      cpus: 0.5,
      mem: 64,
      disk: 5,
      portDefinitions: [{ port: 10000, name: 'http' }],
      labels: { tier: 'web' },
      user: 'nobody',
      taskKillGracePeriodSeconds: 7,
      env: { MODE: 'prod' },
    },
    V1,
    V2,
  );
  const [m, ...rest] = matchOffer(offerOf({}), [{ stored, count: 1 }], (appId) => `${appId}#1`, NOW);
  t.equal(rest.length, 0);
  t.same(m!.launch, {
    taskId: '/shop/web#1',
    name: 'shop.web',
    resources: { cpus: 0.5, mem: 64, disk: 5, ports: [r(31000, 31000)] },
    labels: { tier: 'web' },
    command: { shell: true, value: 'run', environment: taskEnvironment(stored, 'a1.test', [31000]), user: 'nobody' },
    killGracePeriodSeconds: 7,
  });
  t.same(m!.task, {
    taskId: '/shop/web#1',
    appId: '/shop/web',
    configVersion: V1,
    version: V2,
    agentId: 'a1',
    host: 'a1.test',
    attributes: {},
    ports: [31000],
    servicePorts: [10000],
    state: 'TASK_STAGING',
    stagedAt: NOW,
    startedAt: undefined,
    killRequested: false,
  });

  const [argv] = matchOffer(offerOf({}), [req({ cmd: undefined, args: ['/bin/server', '--port', '$PORT0'], user: null }, 1)], ids, NOW);
  t.match(argv!.launch.command, { shell: false, value: '/bin/server', arguments: ['--port', '$PORT0'] }, 'args apps run without a shell');
  t.equal(argv!.launch.command.user, undefined, 'no user: the agent default');
  t.notOk('killGracePeriodSeconds' in argv!.launch, 'no grace: the agent default');
});

t.test('taskEnvironment: Marathon’s names, and the app’s env wins', async (t) => {
  const stored = storedApp(
    {
      cpus: 0.5,
      mem: 64,
      portDefinitions: [{ port: 10000, name: 'http' }, { port: 10001, name: 'admin-api' }, { port: 10002 }],
      labels: { owner: 'ops', 'traefik.enable': 'true', 'com.example/team-name': 'core', long: 'x'.repeat(512) },
    },
    V1,
    V2,
  );
  const env = taskEnvironment(stored, 'node-7.test', [31000, 31005, 31006]);
  t.same(env, {
    HOST: 'node-7.test',
    PORT0: '31000',
    PORT1: '31005',
    PORT2: '31006',
    PORT: '31000',
    PORTS: '31000,31005,31006',
    PORT_HTTP: '31000',
    PORT_ADMIN_API: '31005',
    MARATHON_APP_ID: '/shop/web',
    MARATHON_APP_VERSION: V2,
    MARATHON_APP_RESOURCE_CPUS: '0.5',
    MARATHON_APP_RESOURCE_MEM: '64',
    MARATHON_APP_RESOURCE_DISK: '0',
    MARATHON_APP_LABELS: 'OWNER TRAEFIK_ENABLE COM_EXAMPLE_TEAM_NAME',
    MARATHON_APP_LABEL_OWNER: 'ops',
    MARATHON_APP_LABEL_TRAEFIK_ENABLE: 'true',
    MARATHON_APP_LABEL_COM_EXAMPLE_TEAM_NAME: 'core',
  }, 'label names sanitized as Marathon does; values of 512+ characters left out');

  const bare = taskEnvironment(storedApp(), 'h', []);
  t.equal(bare.PORTS, '');
  t.notOk('PORT' in bare, 'no PORT without ports');
  t.notOk('PORT0' in bare);
  t.equal(bare.MARATHON_APP_LABELS, '');

  const overridden = taskEnvironment(storedApp({ env: { PORT: '8080', HOST: '0.0.0.0', MARATHON_APP_ID: 'mine', EXTRA: 'yes' } }), 'h', [31000]);
  t.match(overridden, { PORT: '8080', HOST: '0.0.0.0', MARATHON_APP_ID: 'mine', EXTRA: 'yes', PORT0: '31000' }, 'the app env overrides Marathon’s names');
});

t.test('planInstances and matchOffer together converge an app', async (t) => {
  // One pass of what the controller does: plan, match, mark the launches running, plan again.
  const stored = storedApp({ instances: 3, cpus: 1, mem: 128, portDefinitions: [{ port: 10000 }] });
  let tasks: AppTask[] = [];
  const first = planInstances(stored, tasks, undefined, NOW);
  t.equal(first.launch, 3);
  const matched = matchOffer(offerOf({ cpus: 2 }), [{ stored, count: first.launch }], ids, NOW);
  t.equal(matched.length, 2, 'the offer holds two');
  tasks = matched.map((m) => ({ ...m.task, state: 'TASK_RUNNING' as const }));
  t.match(planInstances(stored, tasks, undefined, NOW), { launch: 1, kill: [] }, 'one still to place');
  const more = matchOffer(offerOf({ cpus: 2 }), [{ stored, count: 1 }], ids, NOW);
  tasks.push(...more.map((m) => ({ ...m.task, state: 'TASK_RUNNING' as const })));
  t.same(planInstances(stored, tasks, undefined, NOW), { launch: 0, kill: [], expunge: [], delayedUntil: undefined }, 'converged');
  const scaled: StoredApp = { ...stored, app: { ...stored.app, instances: 1 } as AppDefinition };
  t.equal(planInstances(scaled, tasks, undefined, NOW).kill.length, 2, 'scaling down kills two');
});

// Marathon's placement constraints: the pure evaluator (src/init/constraints.ts), operator by
// operator, and their validation in the app definition (src/init/app.ts) with the JSON path.
import t from 'tap';
import { validateApp } from '../../src/init/app';
import { fieldValue, meetsConstraint, spreadKeepingKills, whereAllowed, type Placement } from '../../src/init/constraints';
import { marathonApp } from '../../src/init/marathon-json';
import { planInstances } from '../../src/init/plan';
import type { AppConstraint, AppTask } from '../../src/init/types';
import { CorralError } from '../../src/shared/errors';

/** An agent `host` with attributes; tasks stored before attributes were kept pass `undefined`. */
const at = (host: string, attributes: Record<string, string> | undefined = {}): Placement => ({ agentId: host, hostname: host, ...(attributes ? { attributes } : {}) });
const c = (...parts: string[]) => parts as unknown as AppConstraint;

t.test('fields: hostname, @hostname, @region/@zone (attributes region/zone), attributes', async (t) => {
  const p = at('h1', { rack: 'r1', zone: 'z1', region: 'eu' });
  t.equal(fieldValue('hostname', p), 'h1');
  t.equal(fieldValue('@hostname', p), 'h1');
  t.equal(fieldValue('@zone', p), 'z1');
  t.equal(fieldValue('@region', p), 'eu');
  t.equal(fieldValue('rack', p), 'r1');
  t.equal(fieldValue('disk', p), undefined, 'an attribute the agent lacks');
  t.equal(fieldValue('rack', at('h2', undefined)), undefined, 'a task stored before attributes were kept has none');
  t.equal(fieldValue('hostname', at('h2', undefined)), 'h2', 'but it has its hostname');
});

t.test('each operator', async (t) => {
  const r1a = at('h1', { rack: 'r1', zone: 'a' });
  const r1b = at('h2', { rack: 'r1', zone: 'b' });
  const r2a = at('h3', { rack: 'r2', zone: 'a' });
  const cases: Array<[string, AppConstraint, Placement, Placement[], boolean]> = [
    ['UNIQUE hostname: a free host', c('hostname', 'UNIQUE'), r1a, [r1b, r2a], true],
    ['UNIQUE hostname: a host already used', c('hostname', 'UNIQUE'), r1a, [r1a], false],
    ['UNIQUE @hostname works the same', c('@hostname', 'UNIQUE'), r1a, [r1a], false],
    ['UNIQUE rack: another host in a used rack', c('rack', 'UNIQUE'), r1b, [r1a], false],
    ['UNIQUE rack: an unused rack', c('rack', 'UNIQUE'), r2a, [r1a], true],
    ['UNIQUE rack: placed tasks without attributes do not conflict', c('rack', 'UNIQUE'), r1a, [at('h9', undefined)], true],
    ['UNIQUE: nothing placed yet', c('rack', 'UNIQUE'), r1a, [], true],
    ['CLUSTER rack r1: in r1', c('rack', 'CLUSTER', 'r1'), r1b, [], true],
    ['CLUSTER rack r1: in r2', c('rack', 'CLUSTER', 'r1'), r2a, [], false],
    ['CLUSTER hostname h1', c('hostname', 'CLUSTER', 'h1'), r1a, [r1a], true],
    ['CLUSTER rack, no value, nothing placed: any', c('rack', 'CLUSTER'), r2a, [], true],
    ['CLUSTER rack, no value: follows the placed ones', c('rack', 'CLUSTER'), r1b, [r1a], true],
    ['CLUSTER rack, no value: another rack refused', c('rack', 'CLUSTER'), r2a, [r1a], false],
    ['CLUSTER rack, empty value counts as none', c('rack', 'CLUSTER', ''), r1b, [r1a], true],
    ['CLUSTER rack, no value: tasks without attributes have none to follow', c('rack', 'CLUSTER'), r2a, [at('h9', undefined)], true],
    ['CLUSTER hostname, no value: the host of the placed ones', c('hostname', 'CLUSTER'), r1b, [r1a], false],
    ['MAX_PER rack 2: one there', c('rack', 'MAX_PER', '2'), r1b, [r1a], true],
    ['MAX_PER rack 2: two there', c('rack', 'MAX_PER', '2'), r1b, [r1a, r1b], false],
    ['MAX_PER rack 2: two in another rack', c('rack', 'MAX_PER', '2'), r2a, [r1a, r1b], true],
    ['MAX_PER hostname 1', c('hostname', 'MAX_PER', '1'), r1a, [r1a], false],
    ['LIKE rack r[12]', c('rack', 'LIKE', 'r[12]'), r2a, [], true],
    ['LIKE matches the whole value', c('rack', 'LIKE', 'r'), r1a, [], false],
    ['LIKE is not a prefix match', c('hostname', 'LIKE', 'h'), r1a, [], false],
    ['LIKE with an alternation is anchored as a whole', c('hostname', 'LIKE', 'x|h'), r1a, [], false],
    ['LIKE .* matches any value', c('rack', 'LIKE', '.*'), r1a, [], true],
    ['UNLIKE rack r1: in r1', c('rack', 'UNLIKE', 'r1'), r1a, [], false],
    ['UNLIKE rack r1: in r2', c('rack', 'UNLIKE', 'r1'), r2a, [], true],
    ['UNLIKE matches the whole value', c('rack', 'UNLIKE', 'r'), r1a, [], true],
    ['IS zone a', c('zone', 'IS', 'a'), r1a, [], true],
    ['IS zone a: zone b', c('zone', 'IS', 'a'), r1b, [], false],
    ['IS @zone a reads the zone attribute', c('@zone', 'IS', 'a'), r1a, [], true],
  ];
  for (const [name, constraint, candidate, placed, want] of cases) t.equal(meetsConstraint(constraint, candidate, placed), want, name);
});

t.test('an agent without the attribute meets only UNLIKE', async (t) => {
  const bare = at('h4');
  const old = at('h5', undefined);
  const constraints: Array<[AppConstraint, boolean]> = [
    [c('rack', 'UNIQUE'), false],
    [c('rack', 'CLUSTER'), false],
    [c('rack', 'CLUSTER', 'r1'), false],
    [c('rack', 'GROUP_BY'), false],
    [c('rack', 'MAX_PER', '5'), false],
    [c('rack', 'LIKE', '.*'), false],
    [c('rack', 'IS', 'r1'), false],
    [c('rack', 'UNLIKE', 'r1'), true],
    [c('@zone', 'UNLIKE', '.*'), true],
    [c('@region', 'LIKE', '.*'), false],
  ];
  for (const [constraint, want] of constraints) {
    t.equal(meetsConstraint(constraint, bare, []), want, `${constraint.join(' ')} on an agent without it`);
    t.equal(meetsConstraint(constraint, old, []), want, `${constraint.join(' ')} with attributes unknown`);
  }
});

t.test('GROUP_BY spreads evenly over the values seen', async (t) => {
  const a = at('ha', { zone: 'a' });
  const a2 = at('ha2', { zone: 'a' });
  const b = at('hb', { zone: 'b' });
  const cz = at('hc', { zone: 'c' });
  const zone = c('zone', 'GROUP_BY');
  const cases: Array<[string, AppConstraint, Placement, Placement[], Placement[], boolean]> = [
    ['nothing placed: any value', zone, a, [], [a, b], true],
    ['a new value is always welcome', zone, b, [a, a], [b], true],
    ['the least-used value may take one more', zone, b, [a, a, b], [a, b], true],
    ['a value above the least-used may not', zone, a, [a, a, b], [a, b], false],
    ['equal counts: either', zone, a, [a, b], [a, b], true],
    ['an offered value with none placed counts as 0', zone, a2, [a], [a2, b], false],
    ['only one value seen (Marathon without a count): it takes more', zone, a2, [a], [a2], true],
    ['a value placed but not offered still counts', zone, a, [a, b, cz, a], [a], false],
    ['GROUP_BY 3: until 3 values are seen, a used one waits', c('zone', 'GROUP_BY', '3'), a2, [a, b], [a2, b], false],
    ['GROUP_BY 3: an unseen value is welcome', c('zone', 'GROUP_BY', '3'), cz, [a, b], [cz], true],
    ['GROUP_BY 3: once 3 are seen, the least-used again', c('zone', 'GROUP_BY', '3'), a2, [a, b, cz], [a2], true],
    ['GROUP_BY 2 over 3 seen: the least-used', c('zone', 'GROUP_BY', '2'), a2, [a, a, b, cz], [a2, b], false],
    ['GROUP_BY hostname', c('hostname', 'GROUP_BY'), a, [a, a, a2], [a, a2], false],
    ['placed instances without the attribute are in no group', zone, b, [at('h9', undefined), a, b], [a, b], true],
  ];
  for (const [name, constraint, candidate, placed, offered, want] of cases) t.equal(meetsConstraint(constraint, candidate, placed, offered), want, name);
});

t.test('whereAllowed: every constraint must be met; GROUP_BY groups only where the others allow', async (t) => {
  const a = at('ha', { zone: 'a', rack: 'r1' });
  const b = at('hb', { zone: 'b', rack: 'r1' });
  const cz = at('hc', { zone: 'c', rack: 'r2' });
  t.same(whereAllowed([], [a, b], [a]), [a, b], 'no constraints: anywhere');
  t.same(whereAllowed([c('rack', 'IS', 'r1'), c('hostname', 'UNIQUE')], [a, b, cz], [a]), [b], 'all of them, candidates in order');
  t.same(whereAllowed([c('zone', 'GROUP_BY')], [a, b, cz], [a, b]), [cz], 'GROUP_BY alone: zone c catches up first');
  t.same(whereAllowed([c('rack', 'IS', 'r1'), c('zone', 'GROUP_BY')], [a, b, cz], [a]), [b], 'zone c is not allowed, so it is no group to wait for');
  t.same(whereAllowed([c('rack', 'IS', 'r1'), c('zone', 'GROUP_BY')], [a, cz], [a]), [a], 'nor when only zone a remains');
});

/** The VALIDATION_FAILED details of `input`, or [] when it is valid. */
function details(input: Record<string, unknown>): Array<{ path: string; errors: string[] }> {
  try {
    validateApp({ id: '/web', cmd: 'run', ...input });
    return [];
  } catch (err) {
    if (!(err instanceof CorralError) || err.code !== 'VALIDATION_FAILED') throw err;
    return err.details ?? [];
  }
}

t.test('validation: Marathon’s rules per operator, reported with the JSON path', async (t) => {
  const valid: string[][] = [
    ['hostname', 'UNIQUE'],
    ['@hostname', 'UNIQUE'],
    ['hostname', 'UNIQUE', ''],
    ['rack', 'CLUSTER'],
    ['rack', 'CLUSTER', 'r1'],
    ['@zone', 'GROUP_BY'],
    ['@region', 'GROUP_BY', '3'],
    ['rack', 'LIKE', 'r[0-9]+'],
    ['rack', 'UNLIKE', 'r1|r2'],
    ['hostname', 'MAX_PER', '2'],
    ['zone', 'IS', 'a'],
  ];
  for (const v of valid) t.same(details({ constraints: [v] }), [], `${v.join(' ')} is valid`);
  const invalid: Array<[string[], RegExp]> = [
    [['hostname'], /2 or 3 fields/],
    [['hostname', 'UNIQUE', 'x', 'y'], /2 or 3 fields/],
    [['', 'UNIQUE'], /Missing field/],
    [['@rack', 'UNIQUE'], /Unknown field '@rack'/],
    [['hostname', 'SPREAD'], /must be one of the following UNIQUE, CLUSTER, GROUP_BY, LIKE, UNLIKE, MAX_PER, IS/],
    [['hostname', 'unique'], /must be one of/],
    [['hostname', 'UNIQUE', 'x'], /UNIQUE takes no value/],
    [['zone', 'GROUP_BY', 'two'], /positive integer/],
    [['zone', 'GROUP_BY', '0'], /positive integer/],
    [['zone', 'GROUP_BY', '-1'], /positive integer/],
    [['hostname', 'MAX_PER'], /MAX_PER requires a positive integer/],
    [['hostname', 'MAX_PER', '0'], /MAX_PER requires a positive integer/],
    [['hostname', 'MAX_PER', '1.5'], /MAX_PER requires a positive integer/],
    [['rack', 'LIKE'], /LIKE requires a regular expression/],
    [['rack', 'UNLIKE', ''], /UNLIKE requires a regular expression/],
    [['rack', 'LIKE', 'r[1'], /'r\[1' is not a valid regular expression/],
    [['rack', 'UNLIKE', '(r1'], /is not a valid regular expression/],
    [['zone', 'IS'], /IS requires a value/],
  ];
  for (const [constraint, message] of invalid) {
    const d = details({ constraints: [['hostname', 'UNIQUE'], constraint] });
    t.equal(d.length, 1, `${JSON.stringify(constraint)}: one problem`);
    t.equal(d[0]?.path, '/constraints/1', `${JSON.stringify(constraint)}: at its path`);
    t.match(d[0]?.errors[0], message, `${JSON.stringify(constraint)}: ${String(message)}`);
  }
  t.same(details({ constraints: [['hostname', 'UNIQUE'], ['hostname', 'MAX_PER', 3]] }).map((x) => x.path), ['/constraints/1/2'], 'values are strings, as in Marathon');
  t.same(details({ constraints: 'hostname:UNIQUE' }).map((x) => x.path), ['/constraints'], 'an array of arrays');
  t.same(details({ constraints: [['a', 'IS'], ['b', 'LIKE']] }).map((x) => x.path), ['/constraints/0', '/constraints/1'], 'every broken constraint is reported');
});

t.test('constraints are kept as given and shown as Marathon shows them', async (t) => {
  const constraints = [['hostname', 'UNIQUE'], ['rack', 'GROUP_BY', '2'], ['zone', 'CLUSTER', '']];
  const app = validateApp({ id: '/web', cmd: 'run', constraints });
  t.same(app.constraints, constraints, 'stored as given');
  const stored = { app, version: 'v', lastConfigChangeAt: 'v', lastScalingAt: 'v' };
  const json = marathonApp({ stored, tasks: [], deploymentId: undefined, lastTaskFailure: undefined, embedTasks: false });
  t.same(json.constraints, constraints, 'in the app JSON');
  const none = marathonApp({ stored: { ...stored, app: validateApp({ id: '/web', cmd: 'run' }) }, tasks: [], deploymentId: undefined, lastTaskFailure: undefined, embedTasks: false });
  t.same(none.constraints, [], 'none: [] as Marathon shows it');
  t.notOk('constraints' in validateApp({ id: '/web', cmd: 'run' }), 'not added to a stored app that has none');
});

t.test('scale-down keeps GROUP_BY spreads even: kills come from the most crowded value, in kill-selection order', async (t) => {
  const at = (p: Placement) => p;
  const p = (id: string, zone: string, rack = 'r1'): Placement & { id: string } => ({ id, agentId: id, hostname: `${id}.test`, attributes: { zone, rack } });
  const order = [p('a1', 'a'), p('a2', 'a'), p('b1', 'b'), p('a3', 'a'), p('b2', 'b'), p('c1', 'c')];
  const ids = (ps: Array<{ id: string }>) => ps.map((x) => x.id);
  t.same(ids(spreadKeepingKills([], order, 2, at)), ['a1', 'a2'], 'no GROUP_BY: the kill selection alone');
  t.same(ids(spreadKeepingKills([['zone', 'GROUP_BY']], order, 2, at)), ['a1', 'a2'], 'zone a had 3: two go from it, oldest-by-selection first');
  t.same(ids(spreadKeepingKills([['zone', 'GROUP_BY']], order, 3, at)), ['a1', 'a2', 'b1'], 'then b holds the most (2): its first by selection goes');
  t.same(ids(spreadKeepingKills([['zone', 'GROUP_BY']], order, 4, at)), ['a1', 'a2', 'b1', 'a3'], 'all at 1: the selection order decides');
  const racks = [p('x1', 'a', 'r1'), p('x2', 'b', 'r1'), p('x3', 'a', 'r2'), p('x4', 'b', 'r1')];
  t.same(ids(spreadKeepingKills([['zone', 'GROUP_BY'], ['rack', 'GROUP_BY']], racks, 1, at)), ['x1'], 'zones tie: the rack with more instances (r1) breaks it');
  t.same(ids(spreadKeepingKills([['rack', 'GROUP_BY'], ['zone', 'GROUP_BY']], racks, 2, at)), ['x1', 'x2'], 'rack first: r1 holds 3, then 2 (x2 before x4 by selection)');
  t.same(ids(spreadKeepingKills([['zone', 'GROUP_BY']], order, 10, at)).length, 6, 'never more than there are');
});

t.test('planInstances scales a GROUP_BY app down evenly', async (t) => {
  const app = validateApp({ id: '/web', cmd: 'run', instances: 3, constraints: [['zone', 'GROUP_BY']] });
  const stored = { app, version: 'v1', lastConfigChangeAt: 'v1', lastScalingAt: 'v1' };
  const task = (taskId: string, zone: string, stagedAt: number): AppTask => ({ taskId, appId: '/web', configVersion: 'v1', version: 'v1', agentId: taskId, host: `${taskId}.test`, attributes: { zone }, ports: [], servicePorts: [], state: 'TASK_RUNNING', stagedAt, startedAt: stagedAt, killRequested: false });
  // Youngest first alone would kill b2, a3 and c1, leaving two in zone a and none in c.
  const tasks = [task('a1', 'a', 1), task('a2', 'a', 2), task('b1', 'b', 3), task('c1', 'c', 4), task('a3', 'a', 5), task('b2', 'b', 6)];
  t.same(planInstances(stored, tasks, undefined, 10).kill.sort(), ['a3', 'a2', 'b2'].sort(), 'one instance left per zone, the youngest of each crowded zone going');
});

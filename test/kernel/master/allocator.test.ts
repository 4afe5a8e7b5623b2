// The kernel's pure decision cores, table-driven: resource arithmetic (sdk/resources), the DRF
// allocator (master/allocator) and accept validation (master/launch).
import t from 'tap';
import {
  addResources,
  dominantShare,
  fits,
  isEmpty,
  normalizeRanges,
  portCount,
  portsToRanges,
  rangesContain,
  subtractRanges,
  subtractResources,
  takePorts,
} from '../../../src/kernel/sdk/resources';
import { allocateOffers, type AllocationInput, type AllocatorFramework } from '../../../src/kernel/master/allocator';
import { planLaunch } from '../../../src/kernel/master/launch';
import type { ErrorCode } from '../../../src/shared/errors';
import type { Offer, Operation, PortRange, Resources, TaskLaunch } from '../../../src/kernel/types';

const r = (begin: number, end: number): PortRange => ({ begin, end });
const res = (cpus: number, mem: number, disk = 0, ports: PortRange[] = []): Resources => ({ cpus, mem, disk, ports });

// ---- resources ----

t.test('normalizeRanges sorts, merges overlapping and adjacent ranges, drops inverted ones', async (t) => {
  const cases: Array<[string, PortRange[], PortRange[]]> = [
    ['empty', [], []],
    ['sorted by begin', [r(5, 7), r(1, 3)], [r(1, 3), r(5, 7)]],
    ['adjacent ranges merge', [r(1, 3), r(4, 6)], [r(1, 6)]],
    ['contained range vanishes', [r(1, 5), r(2, 3)], [r(1, 5)]],
    ['overlap merges to the larger end', [r(10, 20), r(15, 30), r(31, 31)], [r(10, 31)]],
    ['inverted range is dropped', [r(5, 4), r(8, 8)], [r(8, 8)]],
    ['a gap of one port stays a gap', [r(1, 3), r(5, 6)], [r(1, 3), r(5, 6)]],
  ];
  for (const [name, input, want] of cases) t.same(normalizeRanges(input), want, name);
  const input = [r(4, 6), r(1, 3)];
  normalizeRanges(input);
  t.same(input, [r(4, 6), r(1, 3)], 'the input is not modified');
});

t.test('subtractRanges cuts holes and trims ends', async (t) => {
  const cases: Array<[string, PortRange[], PortRange[], PortRange[]]> = [
    ['hole in the middle', [r(1, 10)], [r(3, 4)], [r(1, 2), r(5, 10)]],
    ['everything', [r(1, 10)], [r(1, 10)], []],
    ['more than everything', [r(1, 10)], [r(0, 11)], []],
    ['disjoint cut changes nothing', [r(1, 10)], [r(20, 30)], [r(1, 10)]],
    ['trim the end', [r(1, 10)], [r(8, 20)], [r(1, 7)]],
    ['trim the start', [r(1, 10)], [r(0, 2)], [r(3, 10)]],
    ['one cut across two ranges', [r(1, 5), r(10, 15)], [r(4, 11)], [r(1, 3), r(12, 15)]],
    ['several cuts', [r(1, 10)], [r(2, 2), r(5, 6)], [r(1, 1), r(3, 4), r(7, 10)]],
    ['single port ranges', [r(31000, 31000)], [r(31000, 31000)], []],
    ['nothing to cut from', [], [r(1, 2)], []],
  ];
  for (const [name, from, remove, want] of cases) t.same(subtractRanges(from, remove), want, name);
});

t.test('rangesContain, portCount and portsToRanges', async (t) => {
  const contain: Array<[PortRange[], PortRange[], boolean]> = [
    [[r(1, 10)], [r(2, 3)], true],
    [[r(1, 10)], [], true],
    [[], [], true],
    [[r(1, 5), r(6, 10)], [r(4, 7)], true],
    [[r(1, 5), r(7, 10)], [r(4, 7)], false],
    [[r(1, 10)], [r(10, 11)], false],
    [[], [r(1, 1)], false],
  ];
  for (const [outer, inner, want] of contain) t.equal(rangesContain(outer, inner), want, `${JSON.stringify(outer)} ⊇ ${JSON.stringify(inner)}`);
  t.equal(portCount([]), 0);
  t.equal(portCount([r(1, 1)]), 1);
  t.equal(portCount([r(31000, 31009), r(40000, 40001)]), 12);
  t.same(portsToRanges([]), []);
  t.same(portsToRanges([3, 1, 2, 7]), [r(1, 3), r(7, 7)]);
  t.same(portsToRanges([5, 5]), [r(5, 5)], 'a repeated port is one port');
});

t.test('fits compares scalars with slack and needs every port', async (t) => {
  const have = res(0.3, 512, 100, [r(31000, 31009)]);
  const cases: Array<[string, Resources, boolean]> = [
    ['0.1 + 0.2 fits in 0.3', res(0.1 + 0.2, 512, 100), true],
    ['exactly everything', res(0.3, 512, 100, [r(31000, 31009)]), true],
    ['nothing', res(0, 0, 0), true],
    ['too many cpus', res(0.31, 1), false],
    ['too much memory', res(0.1, 513), false],
    ['too much disk', res(0.1, 1, 101), false],
    ['a port outside the offer', res(0.1, 1, 0, [r(30999, 30999)]), false],
    ['a range sticking out', res(0.1, 1, 0, [r(31005, 31010)]), false],
    ['ports inside the offer', res(0.1, 1, 0, [r(31003, 31003), r(31009, 31009)]), true],
  ];
  for (const [name, need, want] of cases) t.equal(fits(need, have), want, name);
});

t.test('addResources and subtractResources', async (t) => {
  t.same(addResources(res(1, 100, 10, [r(1, 2)]), res(0.5, 28, 0, [r(3, 3), r(9, 9)])), res(1.5, 128, 10, [r(1, 3), r(9, 9)]));
  t.same(subtractResources(res(1, 100, 10, [r(1, 10)]), res(0.5, 28, 4, [r(3, 4)])), res(0.5, 72, 6, [r(1, 2), r(5, 10)]));
  t.same(subtractResources(res(1, 100), res(2, 200, 5)), res(0, 0, 0), 'clamped at zero');
  t.same(subtractResources(res(0.3, 1), res(0.1 + 0.2, 1)).cpus, 0, 'float residue below epsilon becomes 0');
});

t.test('isEmpty: nothing worth offering without a hundredth of a cpu or a MiB of memory', async (t) => {
  const cases: Array<[Resources, boolean]> = [
    [res(0, 0), true],
    [res(0.005, 1024), true],
    [res(4, 0.5), true],
    [res(0.01, 1), false],
    [res(0.01 - 1e-12, 1 - 1e-12), false],
    [res(4, 1024, 0, []), false],
  ];
  for (const [resources, want] of cases) t.equal(isEmpty(resources), want, JSON.stringify(resources));
});

t.test('takePorts hands out the lowest free ports or nothing', async (t) => {
  const cases: Array<[string, PortRange[], number, number[] | undefined]> = [
    ['within one range', [r(31000, 31009)], 2, [31000, 31001]],
    ['across ranges', [r(31000, 31001), r(31005, 31005)], 3, [31000, 31001, 31005]],
    ['unsorted input still lowest first', [r(40000, 40001), r(31000, 31000)], 2, [31000, 40000]],
    ['exactly all', [r(1, 2)], 2, [1, 2]],
    ['too few', [r(31000, 31001), r(31005, 31005)], 4, undefined],
    ['none asked', [r(1, 2)], 0, []],
    ['none asked, none there', [], 0, []],
    ['some asked, none there', [], 1, undefined],
  ];
  for (const [name, ranges, count, want] of cases) t.same(takePorts(ranges, count), want, name);
});

t.test('dominantShare is the largest scalar fraction', async (t) => {
  const total = res(4, 1024, 1000);
  const cases: Array<[string, Resources, Resources, number]> = [
    ['memory dominates', res(1, 512), total, 0.5],
    ['cpu dominates', res(3, 256), total, 0.75],
    ['disk dominates', res(0, 0, 900), total, 0.9],
    ['nothing used', res(0, 0), total, 0],
    ['a zero total is ignored', res(1, 0, 10), res(2, 0, 0), 0.5],
    ['ports do not count', res(0, 0, 0, [r(1, 100)]), total, 0],
  ];
  for (const [name, used, tot, want] of cases) t.equal(dominantShare(used, tot), want, name);
});

// ---- allocator ----

const agent = (id: string, available: Resources) => ({ id, available });
const fw = (id: string, more: Partial<AllocatorFramework> = {}): AllocatorFramework => ({
  id,
  role: '*',
  allocated: res(0, 0),
  suppressed: false,
  refusals: new Map(),
  ...more,
});
const NOW = 1_000_000;
const TOTAL = res(8, 8192, 0);
const ROLES = { w2: { weight: 2 }, w0: { weight: 0 } };
const plan = (agents: AllocationInput['agents'], frameworks: AllocationInput['frameworks'], total = TOTAL) =>
  allocateOffers({ now: NOW, total, agents, frameworks, roles: ROLES }).map((p) => `${p.agentId}->${p.frameworkId}`);

t.test('allocateOffers: DRF, refusals, suppression, determinism', async (t) => {
  const a1 = agent('a1', res(4, 4096));
  const a2 = agent('a2', res(4, 4096));
  const cases: Array<[string, AllocationInput['agents'], AllocationInput['frameworks'], string[]]> = [
    ['no frameworks, no offers', [a1], [], []],
    ['no agents, no offers', [], [fw('f1')], []],
    ['one agent, one framework', [a1], [fw('f1')], ['a1->f1']],
    ['the framework holding less goes first', [a1], [fw('f1', { allocated: res(2, 512) }), fw('f2', { allocated: res(1, 4096) })], ['a1->f1']],
    ['dominant share, not the sum, decides', [a1], [fw('f1', { allocated: res(3, 0) }), fw('f2', { allocated: res(2, 3000) })], ['a1->f2']],
    ['a tie goes to the lower id', [a1], [fw('fb'), fw('fa')], ['a1->fa']],
    ['ids compare by code unit, not locale', [a1], [fw('fa'), fw('fB')], ['a1->fB']],
    ['a role of weight 2 may hold twice the share', [a1], [fw('f1', { allocated: res(3, 0), role: 'w2' }), fw('f2', { allocated: res(2, 0) })], ['a1->f1']],
    ['a role weight of 0 counts as 1', [a1], [fw('f1', { allocated: res(3, 0), role: 'w0' }), fw('f2', { allocated: res(2, 0) })], ['a1->f2']],
    ['an empty role is the default role', [a1], [fw('f1', { allocated: res(3, 0), role: '' }), fw('f2', { allocated: res(2, 0), role: '*' })], ['a1->f2']],
    ['each agent goes to the framework lowest at that point of the cycle', [a1, a2], [fw('f1'), fw('f2')], ['a1->f1', 'a2->f2']],
    ['agents are visited in id order whatever the input order', [a2, a1], [fw('f1'), fw('f2')], ['a1->f1', 'a2->f2']],
    ['an agent with nothing worth offering is skipped', [agent('a1', res(0.001, 4096)), a2], [fw('f1')], ['a2->f1']],
    ['a suppressed framework gets nothing', [a1, a2], [fw('f1', { suppressed: true }), fw('f2', { allocated: res(8, 8192) })], ['a1->f2', 'a2->f2']],
    ['only suppressed frameworks: no offers', [a1], [fw('f1', { suppressed: true })], []],
    ['a refusal in the future filters the agent', [a1, a2], [fw('f1', { refusals: new Map([['a1', NOW + 1]]) })], ['a2->f1']],
    ['a refusal that ends now no longer filters', [a1], [fw('f1', { refusals: new Map([['a1', NOW]]) })], ['a1->f1']],
    ['a filtered agent goes to the next framework', [a1], [fw('f1', { refusals: new Map([['a1', NOW + 5000]]) }), fw('f2', { allocated: res(8, 8192) })], ['a1->f2']],
    ['every framework filtering: agent skipped', [a1], [fw('f1', { refusals: new Map([['a1', NOW + 1]]) })], []],
  ];
  for (const [name, agents, frameworks, want] of cases) t.same(plan(agents, frameworks), want, name);

  const out = allocateOffers({ now: NOW, total: TOTAL, agents: [agent('a1', res(1.5, 300, 7, [r(31000, 31002)]))], frameworks: [fw('f1')] });
  t.same(out, [{ agentId: 'a1', frameworkId: 'f1', resources: res(1.5, 300, 7, [r(31000, 31002)]) }], "an offer holds the agent's whole free resources");

  const input: AllocationInput = { now: NOW, total: TOTAL, agents: [a2, a1], frameworks: [fw('f2'), fw('f1', { allocated: res(1, 1) })] };
  const first = JSON.stringify(allocateOffers(input));
  t.equal(JSON.stringify(allocateOffers(input)), first, 'the same snapshot yields the same plan');
  t.same(input.frameworks[1]!.allocated, res(1, 1), 'the input is not modified');
});

// ---- launch ----

const offer = (id: string, agentId: string, resources: Resources, frameworkId = 'fw'): Offer => ({ id, agentId, frameworkId, hostname: `${agentId}.test`, resources, attributes: {} });
const task = (taskId: string, resources: Resources, more: Partial<TaskLaunch> = {}): TaskLaunch => ({
  taskId,
  name: taskId,
  resources,
  command: { shell: true, value: 'true', environment: {} },
  labels: {},
  ...more,
});
const launch = (...tasks: TaskLaunch[]): Operation[] => [{ type: 'LAUNCH', tasks }];

t.test('planLaunch fills agent and framework ids and returns what is left', async (t) => {
  const o = offer('o1', 'a1', res(2, 1024, 100, [r(31000, 31009)]));
  const p = planLaunch([o], launch(task('t1', res(1, 256, 10, [r(31001, 31001), r(31000, 31000)]))), new Set(), NOW);
  t.equal(p.tasks.length, 1);
  t.match(p.tasks[0], { taskId: 't1', agentId: 'a1', frameworkId: 'fw', name: 't1' });
  t.same(p.tasks[0]!.resources, res(1, 256, 10, [r(31000, 31001)]), 'ports normalized');
  t.same(p.unused, res(1, 768, 90, [r(31002, 31009)]));

  const two = planLaunch([o, offer('o2', 'a1', res(1, 1024))], launch(task('a', res(2, 1024)), task('b', res(1, 1024))), new Set(['other']), NOW);
  t.same(two.tasks.map((x) => x.taskId), ['a', 'b'], 'offers of one agent add up');
  t.same(two.unused, res(0, 0, 100, [r(31000, 31009)]));

  const none = planLaunch([o], [], new Set(), NOW);
  t.same(none, { tasks: [], unused: o.resources }, 'no operations: the whole offer is unused');
  const multi = planLaunch([o], [...launch(task('x', res(1, 1))), ...launch(task('y', res(1, 1)))], new Set(), NOW);
  t.same(multi.tasks.map((x) => x.taskId), ['x', 'y'], 'several LAUNCH operations draw on the same offers');
  const later = planLaunch([o], launch(task('s1', res(1, 1), { startAt: NOW + 60_000 }), task('s2', res(1, 1), { startAt: NOW - 5 })), new Set(), NOW);
  t.same(later.tasks.map((x) => x.startAt), [NOW + 60_000, NOW - 5], 'a startAt up to 60 s ahead (or past) is kept');
});

t.test('planLaunch rejects what the offers do not hold', async (t) => {
  const o = offer('o1', 'a1', res(2, 1024, 100, [r(31000, 31009)]));
  const cases: Array<[string, Offer[], Operation[], Set<string>, ErrorCode]> = [
    ['no offers', [], launch(task('t1', res(1, 1))), new Set(), 'OFFER_NOT_FOUND'],
    ['offers of two agents', [o, offer('o2', 'a2', res(1, 1))], launch(task('t1', res(1, 1))), new Set(), 'LAUNCH_INVALID'],
    ['the same offer twice', [o, o], launch(task('t1', res(3, 1))), new Set(), 'LAUNCH_INVALID'],
    ['too many cpus', [o], launch(task('t1', res(2.5, 1))), new Set(), 'LAUNCH_INVALID'],
    ['too much memory', [o], launch(task('t1', res(1, 1025))), new Set(), 'LAUNCH_INVALID'],
    ['too much disk', [o], launch(task('t1', res(1, 1, 101))), new Set(), 'LAUNCH_INVALID'],
    ['a port not offered', [o], launch(task('t1', res(1, 1, 0, [r(8080, 8080)]))), new Set(), 'LAUNCH_INVALID'],
    ['two tasks that do not fit together', [o], launch(task('t1', res(1.5, 1)), task('t2', res(1, 1))), new Set(), 'LAUNCH_INVALID'],
    ['two tasks wanting the same port', [o], launch(task('t1', res(1, 1, 0, [r(31000, 31000)])), task('t2', res(1, 1, 0, [r(31000, 31000)]))), new Set(), 'LAUNCH_INVALID'],
    ['negative cpus', [o], launch(task('t1', res(-1, 1))), new Set(), 'LAUNCH_INVALID'],
    ['NaN memory', [o], launch(task('t1', res(1, NaN))), new Set(), 'LAUNCH_INVALID'],
    ['empty task id', [o], launch(task('', res(1, 1))), new Set(), 'LAUNCH_INVALID'],
    ['task id with a space', [o], launch(task('a b', res(1, 1))), new Set(), 'LAUNCH_INVALID'],
    ['task id with a slash', [o], launch(task('a/b', res(1, 1))), new Set(), 'LAUNCH_INVALID'],
    ['task id of 201 characters', [o], launch(task('x'.repeat(201), res(1, 1))), new Set(), 'LAUNCH_INVALID'],
    ['task id twice in one accept', [o], launch(task('t1', res(0.5, 1)), task('t1', res(0.5, 1))), new Set(), 'LAUNCH_INVALID'],
    ['task id of a live task', [o], launch(task('t1', res(0.5, 1))), new Set(['t1']), 'LAUNCH_INVALID'],
    ['startAt beyond 60 s ahead', [o], launch(task('t1', res(1, 1), { startAt: NOW + 60_001 })), new Set(), 'LAUNCH_INVALID'],
    ['startAt negative', [o], launch(task('t1', res(1, 1), { startAt: -1 })), new Set(), 'LAUNCH_INVALID'],
    ['startAt not an integer', [o], launch(task('t1', res(1, 1), { startAt: NOW + 0.5 })), new Set(), 'LAUNCH_INVALID'],
  ];
  for (const [name, offers, ops, live, code] of cases) t.throws(() => planLaunch(offers, ops, live, NOW), { name: 'CorralError', code }, name);
  t.doesNotThrow(() => planLaunch([o], launch(task('x'.repeat(200), res(1, 1)), task('A-z_0.9:1', res(1, 1))), new Set(), NOW), '200 characters and every allowed character are fine');
});

// Hierarchical DRF with roles: weights, quota limits and static reservations (master/allocator),
// the pool accounting behind reservations (master/allocator-roles) and the one-pass input builder
// (master/allocation-input). Table-driven, plus simulated allocate → launch → repeat loops.
import t from 'tap';
import { allocateOffers, type AllocationInput, type AllocatorFramework, type PlannedOffer } from '../../../src/kernel/master/allocator';
import { freePools, roleLimit, roleWeight, type RoleConfig } from '../../../src/kernel/master/allocator-roles';
import { allocationInput } from '../../../src/kernel/master/allocation-input';
import { HoldingTally, type Holding } from '../../../src/kernel/master/holdings';
import { ShareHeap } from '../../../src/kernel/master/share-heap';
import { dominantShare, fits, subtractResources } from '../../../src/kernel/sdk/resources';
import type { AgentInfo, PortRange, Resources } from '../../../src/kernel/types';

const r = (begin: number, end: number): PortRange => ({ begin, end });
const res = (cpus: number, mem: number, disk = 0, ports: PortRange[] = []): Resources => ({ cpus, mem, disk, ports });
const NOW = 1_000_000;
const TOTAL = res(8, 8192, 100);
const fw = (id: string, role: string, more: Partial<AllocatorFramework> = {}): AllocatorFramework => ({ id, role, allocated: res(0, 0), suppressed: false, refusals: new Map(), ...more });
const agent = (id: string, available: Resources, reservations?: Record<string, Resources>) => ({ id, available, reservations });
const show = (plan: PlannedOffer[]) => plan.map((p) => `${p.agentId}->${p.frameworkId} ${p.resources.cpus}/${p.resources.mem}/${p.resources.disk}`);

type Case = [string, AllocationInput['agents'], AllocationInput['frameworks'], RoleConfig, string[]];
/** [got, want, name] per case. */
const run = (cases: Case[]) => cases.map(([name, agents, frameworks, roles, want]) => [show(allocateOffers({ now: NOW, total: TOTAL, agents, frameworks, roles })), want, name] as const);

t.test('hierarchical DRF: the lowest role first, then the lowest framework in it', async (t) => {
  const a1 = agent('a1', res(4, 4096));
  const a2 = agent('a2', res(4, 4096));
  for (const [got, want, name] of run([
    ['the role share decides before the framework share', [a1], [fw('f1', 'A', { allocated: res(2, 0) }), fw('f2', 'A'), fw('f3', 'B', { allocated: res(1.5, 0) })], {}, ['a1->f3 4/4096/0']],
    ['within the role, the lowest framework', [a1], [fw('f1', 'A', { allocated: res(2, 0) }), fw('f2', 'A', { allocated: res(1, 0) }), fw('f3', 'B', { allocated: res(4, 0) })], {}, ['a1->f2 4/4096/0']],
    ['role weight 3 holds three times the share', [a1], [fw('f1', 'light', { allocated: res(1, 0) }), fw('f2', 'heavy', { allocated: res(2.9, 0) })], { heavy: { weight: 3 } }, ['a1->f2 4/4096/0']],
    ['role weight 3, past three times', [a1], [fw('f1', 'light', { allocated: res(1, 0) }), fw('f2', 'heavy', { allocated: res(3.1, 0) })], { heavy: { weight: 3 } }, ['a1->f1 4/4096/0']],
    ['a suppressed framework still counts for its role', [a1], [fw('f1', 'A', { allocated: res(4, 0), suppressed: true }), fw('f2', 'A'), fw('f3', 'B', { allocated: res(1, 0) })], {}, ['a1->f3 4/4096/0']],
    ['a role of only suppressed frameworks gets nothing', [a1], [fw('f1', 'A', { suppressed: true }), fw('f2', 'B', { allocated: res(8, 0) })], {}, ['a1->f2 4/4096/0']],
    ['a role whose frameworks all refuse the agent: the next role', [a1, a2], [fw('f1', 'A', { refusals: new Map([['a1', NOW + 1]]) }), fw('f2', 'B', { allocated: res(1, 0) })], {}, ['a1->f2 4/4096/0', 'a2->f1 4/4096/0']],
    ['the refusing framework is skipped, its role-mate gets it', [a1], [fw('f1', 'A', { refusals: new Map([['a1', NOW + 1]]) }), fw('f2', 'A', { allocated: res(3, 0) }), fw('f3', 'B', { allocated: res(4, 0) })], {}, ['a1->f2 4/4096/0']],
    ['shares grow within a cycle, for roles too', [a1, a2], [fw('f1', 'A'), fw('f2', 'A'), fw('f3', 'B')], {}, ['a1->f1 4/4096/0', 'a2->f3 4/4096/0']],
    ['agents with nothing worth offering are skipped', [agent('a0', res(4, 0.5)), a1], [fw('f1', 'A')], {}, ['a1->f1 4/4096/0']],
  ])) t.same(got, want, name);
});

t.test('quota is a limit: offers are trimmed so a role never holds more', async (t) => {
  const a1 = agent('a1', res(4, 4096, 100, [r(31000, 31009)]));
  const a2 = agent('a2', res(4, 4096, 100));
  const q = (quota: NonNullable<RoleConfig[string]['quota']>): RoleConfig => ({ q: { quota } });
  for (const [got, want, name] of run([
    ['trimmed to the cpus left under the limit; other kinds in full', [a1], [fw('f1', 'q', { allocated: res(1, 0) })], q({ cpus: 2 }), ['a1->f1 1/4096/100']],
    ['what the trim leaves goes to the next in line', [a1], [fw('f1', 'q'), fw('f2', 'B', { allocated: res(4, 0) })], q({ cpus: 1, mem: 1024 }), ['a1->f1 1/1024/100', 'a1->f2 3/3072/0']],
    ['a role at its limit gets nothing', [a1], [fw('f1', 'q', { allocated: res(2, 0) }), fw('f2', 'B', { allocated: res(6, 0) })], q({ cpus: 2 }), ['a1->f2 4/4096/100']],
    ['a role over its limit gets nothing', [a1], [fw('f1', 'q', { allocated: res(3, 0) })], q({ cpus: 2 }), []],
    ['offers of this cycle count toward the limit', [a1, a2], [fw('f1', 'q')], q({ cpus: 6 }), ['a1->f1 4/4096/100', 'a2->f1 2/4096/100']],
    ['every framework of the role counts', [a1], [fw('f1', 'q', { allocated: res(1, 0), suppressed: true }), fw('f2', 'q', { allocated: res(2, 0) })], q({ cpus: 4 }), ['a1->f2 1/4096/100']],
    ['a limit of 0 disk: offers without disk', [a1], [fw('f1', 'q')], q({ disk: 0 }), ['a1->f1 4/4096/0']],
    ['a limit leaving less than a MiB: nothing', [a1], [fw('f1', 'q', { allocated: res(0, 1023.5) })], q({ mem: 1024 }), []],
    ['a negative limit counts as 0', [a1], [fw('f1', 'q')], q({ cpus: -1 }), []],
    ['other roles are not limited', [a1], [fw('f1', 'other')], q({ cpus: 1 }), ['a1->f1 4/4096/100']],
  ])) t.same(got, want, name);
  const [offer] = allocateOffers({ now: NOW, total: TOTAL, agents: [a1], frameworks: [fw('f1', 'q')], roles: q({ cpus: 1 }) });
  t.same(offer?.resources.ports, [r(31000, 31009)], 'a trimmed offer still carries the ports');
});

t.test('static reservations go only to frameworks of their role', async (t) => {
  const reserved = { web: res(2, 1024, 0, [r(80, 80)]) };
  const a1 = agent('a1', res(2, 3072), reserved);
  for (const [got, want, name] of run([
    ['reserved to the role even when another framework holds less', [a1], [fw('f1', 'web', { allocated: res(4, 0) }), fw('f2', 'batch')], {}, ['a1->f1 2/1024/0', 'a1->f2 2/3072/0']],
    ['no framework of the role: the reservation is not offered', [a1], [fw('f2', 'batch')], {}, ['a1->f2 2/3072/0']],
    ['the role also wins the unreserved part: one offer', [a1], [fw('f1', 'web'), fw('f2', 'batch', { allocated: res(4, 0) })], {}, ['a1->f1 4/4096/0']],
    ['an agent with only reserved resources free', [agent('a1', res(0, 0), reserved)], [fw('f1', 'web'), fw('f2', 'batch')], {}, ['a1->f1 2/1024/0']],
    ['the role’s lowest framework not refusing the agent', [a1], [fw('f1', 'web', { refusals: new Map([['a1', NOW + 1]]) }), fw('f3', 'web', { allocated: res(1, 0) }), fw('f2', 'batch')], {}, ['a1->f3 2/1024/0', 'a1->f2 2/3072/0']],
    ['a suppressed role-mate is skipped', [agent('a1', res(0, 0), reserved)], [fw('f1', 'web', { suppressed: true })], {}, []],
    ['reserved resources are trimmed by quota too', [agent('a1', res(0, 0), reserved)], [fw('f1', 'web', { allocated: res(1.5, 0) })], { web: { quota: { cpus: 2 } } }, ['a1->f1 0.5/1024/0']],
    ['reservations of several roles on one agent', [agent('a1', res(0, 0), { x: res(1, 100), y: res(2, 200) })], [fw('fx', 'x'), fw('fy', 'y')], {}, ['a1->fx 1/100/0', 'a1->fy 2/200/0']],
  ])) t.same(got, want, name);
  const [merged] = allocateOffers({ now: NOW, total: TOTAL, agents: [agent('a1', res(2, 3072, 0, [r(81, 90)]), reserved)], frameworks: [fw('f1', 'web')] });
  t.same(merged?.resources, res(4, 4096, 0, [r(80, 90)]), 'reserved and unreserved ports merge in one offer');
});

t.test('roleWeight and roleLimit defaults', async (t) => {
  const roles: RoleConfig = { a: { weight: 3, quota: { cpus: 4 } }, nan: { weight: NaN }, neg: { weight: -2 } };
  t.same([roleWeight(roles, 'a'), roleWeight(roles, 'nan'), roleWeight(roles, 'neg'), roleWeight(roles, 'none'), roleWeight(undefined, '*')], [3, 1, 1, 1, 1]);
  t.same(roleLimit(roles, 'a'), { cpus: 4, mem: Infinity, disk: Infinity });
  t.same(roleLimit(undefined, 'a'), { cpus: Infinity, mem: Infinity, disk: Infinity });
});

t.test('freePools: a role uses its reservation first and overflows into the unreserved part', async (t) => {
  const total = res(8, 8192, 0, [r(31000, 31009)]);
  const reserved = { web: res(2, 2048, 0, [r(31000, 31001)]) };
  const cases: Array<[string, Resources, Record<string, Resources> | undefined, Array<[string, Resources]>, Resources, Record<string, Resources> | undefined]> = [
    ['no reservations: total minus used', res(1, 1024, 0, [r(31005, 31005)]), undefined, [], res(7, 7168, 0, [r(31000, 31004), r(31006, 31009)]), undefined],
    ['nothing used', res(0, 0), reserved, [], res(6, 6144, 0, [r(31002, 31009)]), { web: res(2, 2048, 0, [r(31000, 31001)]) }],
    ['the role within its reservation', res(1, 1024, 0, [r(31000, 31000)]), reserved, [['web', res(1, 1024, 0, [r(31000, 31000)])]], res(6, 6144, 0, [r(31002, 31009)]), { web: res(1, 1024, 0, [r(31001, 31001)]) }],
    ['the role past its reservation', res(3, 1024), reserved, [['web', res(3, 1024)]], res(5, 6144, 0, [r(31002, 31009)]), { web: res(0, 1024, 0, [r(31000, 31001)]) }],
    ['another role uses only unreserved resources', res(3, 1024), reserved, [['batch', res(3, 1024)]], res(3, 5120, 0, [r(31002, 31009)]), { web: res(2, 2048, 0, [r(31000, 31001)]) }],
    ['everything used', res(8, 8192), reserved, [['web', res(2, 2048)], ['batch', res(6, 6144)]], res(0, 0, 0, [r(31002, 31009)]), { web: res(0, 0, 0, [r(31000, 31001)]) }],
  ];
  for (const [name, used, resv, byRole, available, reservations] of cases) {
    t.same(freePools(total, used, resv, new Map(byRole)), reservations ? { available, reservations } : { available }, name);
  }
});

t.test('allocationInput reads what tasks and offers hold per agent and framework', async (t) => {
  const agents: AgentInfo[] = [
    { id: 'a1', hostname: 'a1', resources: res(4, 4096, 10, [r(1, 10)]), attributes: {}, registeredAt: 0, version: 't', reservations: { web: res(1, 1024) } },
    { id: 'a2', hostname: 'a2', resources: res(4, 4096, 10), attributes: {}, registeredAt: 0, version: 't' },
  ];
  const holdings: Holding[] = [
    { agentId: 'a1', frameworkId: 'f1', resources: res(0.5, 512, 0, [r(1, 1)]) },
    { agentId: 'a1', frameworkId: 'f1', resources: res(1, 1024, 0, [r(2, 3)]) },
    { agentId: 'a1', frameworkId: 'f2', resources: res(1, 100) },
    { agentId: 'a2', frameworkId: 'gone', resources: res(2, 2048, 5) },
    { agentId: 'nowhere', frameworkId: 'f2', resources: res(1, 1) },
  ];
  const input = allocationInput({
    now: NOW,
    agents,
    frameworks: [fw('f1', 'web'), fw('f2', 'batch', { suppressed: true })],
    held: HoldingTally.of(holdings),
    roles: { web: { weight: 2 } },
  });
  t.same(input.total, res(8, 8192, 20));
  t.same(input.agents, [
    { id: 'a1', available: res(1.5, 2460, 10, [r(4, 10)]), reservations: { web: res(0, 0) } },
    { id: 'a2', available: res(2, 2048, 5) },
  ], 'web fills its 1 cpu / 1024 MiB reservation first, its overflow and batch use the unreserved part');
  t.same(input.frameworks.map((f) => [f.id, f.allocated, f.suppressed]), [['f1', res(1.5, 1536), false], ['f2', res(2, 101), true]], 'a framework sums its holdings on every agent');
  t.same(input.roles, { web: { weight: 2 } });
});

// ---- simulated cluster: allocate → every framework launches fixed-size tasks from every offer → repeat ----

interface SimFramework {
  id: string;
  role: string;
  task: Resources;
  /** Tasks it launches from one offer at most (Infinity: as many as fit). */
  perOffer: number;
}

function simulate(agentCount: number, agentResources: Resources, frameworks: SimFramework[], roles: RoleConfig, reservations?: Record<string, Resources>) {
  const agents: AgentInfo[] = Array.from({ length: agentCount }, (_, i) => ({ id: `a${String(i).padStart(3, '0')}`, hostname: `h${i}`, resources: agentResources, attributes: {}, registeredAt: 0, version: 't', reservations }));
  const tasks: Holding[] = [];
  let rounds = 0;
  for (; rounds < 10_000; rounds++) {
    const plan = allocateOffers(allocationInput({ now: NOW, agents, roles, frameworks: frameworks.map((f) => fw(f.id, f.role)), held: HoldingTally.of(tasks) }));
    let launched = 0;
    for (const offer of plan) {
      const f = frameworks.find((x) => x.id === offer.frameworkId)!;
      let left = offer.resources;
      for (let n = 0; n < f.perOffer && fits(f.task, left); n++, launched++) {
        tasks.push({ agentId: offer.agentId, frameworkId: f.id, resources: f.task });
        left = subtractResources(left, f.task);
      }
    }
    if (launched === 0) break;
  }
  const total = res(agentResources.cpus * agentCount, agentResources.mem * agentCount, agentResources.disk * agentCount);
  const held = (id: string) => tasks.filter((x) => x.frameworkId === id).reduce((s, x) => res(s.cpus + x.resources.cpus, s.mem + x.resources.mem), res(0, 0));
  return { rounds, shares: Object.fromEntries(frameworks.map((f) => [f.id, dominantShare(held(f.id), total)])), held };
}

t.test('simulated: weights 1 and 3 converge to a 1:3 dominant share', async (t) => {
  // cpu-heavy and memory-heavy tasks, so the two dominant shares are of different resources.
  const fws = (perOffer: number): SimFramework[] => [
    { id: 'light', role: 'one', task: res(1, 1024), perOffer },
    { id: 'heavy', role: 'three', task: res(0.5, 4096), perOffer },
  ];
  const roles = { one: { weight: 1 }, three: { weight: 3 } };
  for (const [name, count, perOffer] of [['one task per offer, 4 agents', 4, 1], ['packing every offer, 40 agents', 40, Infinity]] as const) {
    const { shares, rounds } = simulate(count, res(8, 32768), fws(perOffer), roles);
    t.ok(rounds >= 1, `${name}: ${rounds} rounds`);
    t.ok(Math.abs(shares.heavy! / shares.light! - 3) < 0.01, `${name}: heavy/light = ${(shares.heavy! / shares.light!).toFixed(3)} ≈ 3`);
    t.ok(shares.heavy! > 0.7 && shares.light! > 0.2, `${name}: the cluster is shared out (${shares.light!.toFixed(3)}, ${shares.heavy!.toFixed(3)})`);
  }
});

t.test('simulated: quota caps a role, reservations stay with theirs', async (t) => {
  const roles: RoleConfig = { capped: { weight: 10, quota: { cpus: 8 } } };
  const { shares, held } = simulate(8, res(4, 4096), [
    { id: 'capped', role: 'capped', task: res(1, 256), perOffer: 1 },
    { id: 'free', role: '*', task: res(1, 256), perOffer: 1 },
  ], roles);
  t.equal(held('capped').cpus, 8, 'the heavier role stops at its 8 cpus');
  t.equal(held('free').cpus, 24, 'the rest goes to the other role');
  t.equal(shares.capped, 0.25, 'a dominant share of 8 / 32 cpus');

  const reserved = simulate(4, res(4, 4096), [
    { id: 'web', role: 'web', task: res(1, 256), perOffer: Infinity },
    { id: 'batch', role: 'batch', task: res(1, 256), perOffer: Infinity },
  ], { batch: { weight: 100 } }, { web: res(2, 1024) });
  t.equal(reserved.held('web').cpus, 8, 'web gets its 2 reserved cpus on each agent despite batch’s weight');
  t.equal(reserved.held('batch').cpus, 8, 'batch gets everything unreserved');
});

t.test('ShareHeap pops the lowest share first, ties by id; popFirst keeps the skipped ones', async (t) => {
  let seed = 7;
  const random = () => ((seed = (seed * 48271) % 2147483647) / 2147483647);
  const items = Array.from({ length: 300 }, (_, i) => ({ id: `c${i % 50}-${i}`, share: Math.floor(random() * 20) / 20 }));
  const heap = new ShareHeap<(typeof items)[number]>();
  for (const x of items) heap.push(x);
  const order = [...items].sort((a, b) => a.share - b.share || (a.id < b.id ? -1 : 1)).map((x) => x.id);
  const first = heap.popFirst((x) => x.share > 0.5)!;
  t.equal(first.id, order.find((id) => items.find((x) => x.id === id)!.share > 0.5), 'the best item that qualifies');
  const popped: string[] = [];
  for (let x = heap.pop(); x; x = heap.pop()) popped.push(x.id);
  t.same(popped, order.filter((id) => id !== first.id), 'everything else, in order');
  t.equal(heap.popFirst(() => true), undefined, 'empty');
});

t.test('the plan does not depend on the order of the input', async (t) => {
  const agents = Array.from({ length: 30 }, (_, i) => agent(`a${i}`, res(1 + (i % 4), 1024 * (1 + (i % 3))), i % 5 === 0 ? { web: res(1, 256) } : undefined));
  const frameworks = ['web', 'web', 'batch', '*', 'batch', 'q'].map((role, i) => fw(`f${i}`, role, { allocated: res(i * 0.1, i * 10 + 1) }));
  const roles: RoleConfig = { web: { weight: 2 }, q: { quota: { cpus: 5 } } };
  const want = show(allocateOffers({ now: NOW, total: res(80, 60000), agents, frameworks, roles }));
  t.same(show(allocateOffers({ now: NOW, total: res(80, 60000), agents: [...agents].reverse(), frameworks: [...frameworks].reverse(), roles })), want);
});

t.test('a cycle over 10,000 agents and 1,000 frameworks stays fast (a generous bound for a loaded CI machine)', async (t) => {
  const agents = Array.from({ length: 10_000 }, (_, i) => agent(`a${i}`, res(32, 131072), i % 10 === 0 ? { r1: res(8, 1024) } : undefined));
  const frameworks = Array.from({ length: 1000 }, (_, i) => fw(`f${i}`, `r${i % 10}`, { refusals: new Map([[`a${i}`, NOW + 1]]) }));
  const start = performance.now();
  const plan = allocateOffers({ now: NOW, total: res(320_000, 1_310_720_000), agents, frameworks, roles: { r3: { weight: 3 }, r5: { quota: { cpus: 1000 } } } });
  const ms = performance.now() - start;
  t.equal(plan.length, 10_000 + 1000, 'one offer per agent, plus one per reserved pool');
  t.ok(ms < 3000, `${ms.toFixed(0)} ms (re-sorting all frameworks for every agent would be O(agents × frameworks × log frameworks))`);
});

// Placement under Marathon's constraints: matchOffers (src/init/spread.ts) places an instance only
// where it fits and the app's constraints allow, still on the agent with the fewest of the app;
// what no offer can take stays pending. Then the controller end to end on the real master with
// fake agents: UNIQUE hostname over 3 agents with 4 instances places 3.
import t from 'tap';
import { AppRepo } from '../../src/init/app-repo';
import { validateApp } from '../../src/init/app';
import type { Placement } from '../../src/init/constraints';
import { InitController } from '../../src/init/controller';
import type { MatchedLaunch } from '../../src/init/match';
import { matchOffers } from '../../src/init/spread';
import type { StoredApp } from '../../src/init/types';
import { inProcessTransport } from '../../src/kernel/sdk/in-process';
import type { Offer, Resources } from '../../src/kernel/types';
import { silentLogger } from '../../src/shared/logger';
import { MemoryStore } from '../../src/store/memory';
import { drainHarness, FakeAgent, res } from '../kernel/master/helpers/drain-harness';

const V1 = '2026-01-01T00:00:00.000Z';
const NOW = Date.UTC(2026, 0, 3);
let seq = 0;
const ids = (appId: string) => `${appId.slice(1)}.${++seq}`;
const stored = (app: Record<string, unknown>): StoredApp => ({ app: validateApp({ id: '/web', cmd: 'run', cpus: 0.1, mem: 16, ...app }), version: V1, lastConfigChangeAt: V1, lastScalingAt: V1 });

/** An offer of agent `host` (its id too) with attributes. */
const offer = (host: string, attributes: Record<string, string> = {}, resources: Partial<Resources> = {}): Offer => ({
  id: `o-${host}`,
  frameworkId: 'init',
  agentId: host,
  hostname: host,
  resources: { cpus: 8, mem: 8192, disk: 0, ports: [], ...resources },
  attributes,
});
/** Instances placed per agent, agents with none left out. */
const perAgent = (out: Map<string, MatchedLaunch[]>) => Object.fromEntries([...out.values()].filter((ms) => ms.length > 0).map((ms) => [ms[0]!.task.agentId, ms.length]));
const place = (offers: Offer[], app: Record<string, unknown>, count: number, placed: Placement[] = []) => perAgent(matchOffers(offers, [{ stored: stored(app), count }], () => placed, ids, NOW));
const zoned = { a1: offer('a1', { zone: 'a', rack: 'r1' }), a2: offer('a2', { zone: 'a', rack: 'r2' }), b1: offer('b1', { zone: 'b', rack: 'r1' }), c1: offer('c1', { zone: 'c', rack: 'r3' }) };
const { a1, a2, b1, c1 } = zoned;
const h = (n: number) => offer(`h${n}`);

t.test('UNIQUE hostname', async (t) => {
  t.same(place([h(1), h(2), h(3)], { constraints: [['hostname', 'UNIQUE']] }, 4), { h1: 1, h2: 1, h3: 1 }, '4 instances over 3 agents: 3 placed, one each');
  t.same(place([h(1), h(2), h(3)], { constraints: [['hostname', 'UNIQUE']] }, 3, [{ agentId: 'h1', hostname: 'h1' }]), { h2: 1, h3: 1 }, 'a host already running one takes none');
  t.same(place([h(1), h(2), h(3)], {}, 4), { h1: 2, h2: 1, h3: 1 }, 'without the constraint: spread, all placed');
});

t.test('CLUSTER', async (t) => {
  t.same(place([a1, a2, b1], { constraints: [['rack', 'CLUSTER', 'r1']] }, 4), { a1: 2, b1: 2 }, 'rack r1 only, spread within it');
  t.same(place([a2, a1, b1], { constraints: [['rack', 'CLUSTER']] }, 3), { a2: 3 }, 'no value: the first instance picks the rack, the rest follow');
  t.same(place([a1, a2, b1], { constraints: [['rack', 'CLUSTER']] }, 2, [{ agentId: 'x', hostname: 'x', attributes: { rack: 'r2' } }]), { a2: 2 }, 'no value: the rack of the running instances');
  t.same(place([a1, b1], { constraints: [['rack', 'CLUSTER', 'r9']] }, 2), {}, 'no agent in the rack: nothing placed');
});

t.test('GROUP_BY', async (t) => {
  t.same(place([a1, a2, b1], { constraints: [['zone', 'GROUP_BY']] }, 4), { a1: 1, a2: 1, b1: 2 }, 'even over zones (spread alone would put 3 in zone a)');
  t.same(place([a1, a2, b1], {}, 4), { a1: 2, a2: 1, b1: 1 }, 'spread alone, for comparison');
  t.same(place([a2, b1], { constraints: [['zone', 'GROUP_BY']] }, 2, [{ agentId: 'a1', hostname: 'a1', attributes: { zone: 'a' } }, { agentId: 'a1', hostname: 'a1', attributes: { zone: 'a' } }]), { b1: 2 }, 'running instances count: zone b catches up first');
  t.same(place([a1, b1], { constraints: [['zone', 'GROUP_BY', '3']] }, 4), { a1: 1, b1: 1 }, 'GROUP_BY 3 with two zones offered: one each, the rest waits for a third zone');
  t.same(place([a1, b1, c1], { constraints: [['zone', 'GROUP_BY', '3']] }, 6), { a1: 2, b1: 2, c1: 2 }, 'GROUP_BY 3 with three zones: two each');
  t.same(place([a1, offer('b1', { zone: 'b' }, { cpus: 0.05 })], { constraints: [['zone', 'GROUP_BY']] }, 2), { a1: 2 }, 'an offer the app does not fit in is not a group to wait for');
});

t.test('MAX_PER', async (t) => {
  t.same(place([a1, a2, b1], { constraints: [['zone', 'MAX_PER', '1']] }, 4), { a1: 1, b1: 1 }, 'one per zone');
  t.same(place([h(1), h(2), h(3)], { constraints: [['hostname', 'MAX_PER', '2']] }, 8), { h1: 2, h2: 2, h3: 2 }, 'two per host: 6 of 8');
  t.same(place([h(1), h(2)], { constraints: [['hostname', 'MAX_PER', '2']] }, 3, [{ agentId: 'h1', hostname: 'h1' }]), { h1: 1, h2: 2 }, 'running instances count');
});

t.test('LIKE and UNLIKE', async (t) => {
  t.same(place([h(1), h(2), h(3), h(12)], { constraints: [['hostname', 'LIKE', 'h[12]']] }, 4), { h1: 2, h2: 2 }, 'LIKE matches whole hostnames: not h3, not h12');
  t.same(place([a1, a2, b1, h(1)], { constraints: [['rack', 'UNLIKE', 'r1']] }, 2), { a2: 1, h1: 1 }, 'UNLIKE: not rack r1; an agent without a rack qualifies');
  t.same(place([a1, a2, b1, h(1)], { constraints: [['rack', 'LIKE', 'r.*']] }, 4), { a1: 2, a2: 1, b1: 1 }, 'LIKE: an agent without a rack does not');
});

t.test('missing attributes: only UNLIKE places there', async (t) => {
  const bare = [h(1), h(2)];
  for (const c of [['zone', 'UNIQUE'], ['zone', 'CLUSTER'], ['zone', 'GROUP_BY'], ['zone', 'MAX_PER', '3'], ['zone', 'IS', 'a'], ['@zone', 'LIKE', '.*'], ['@region', 'CLUSTER', 'eu']]) {
    t.same(place(bare, { constraints: [c] }, 2), {}, `${c.join(' ')}: nothing placed`);
  }
  t.same(place(bare, { constraints: [['zone', 'UNLIKE', 'a']] }, 2), { h1: 1, h2: 1 }, 'UNLIKE: placed');
  t.same(place([h(1), a1], { constraints: [['@zone', 'IS', 'a']] }, 2), { a1: 2 }, '@zone reads the zone attribute');
});

t.test('every constraint at once, resources still count, tasks keep the attributes', async (t) => {
  const app = { constraints: [['rack', 'LIKE', 'r[12]'], ['zone', 'GROUP_BY'], ['hostname', 'MAX_PER', '2']] };
  t.same(place([a1, a2, b1, c1], app, 8), { a1: 2, a2: 1, b1: 2 }, 'racks r1/r2 (not c1, so zone c is no group to wait for), zones a and b within one, at most 2 per host: 5 of 8');
  t.same(place([offer('a1', { zone: 'a' }, { mem: 20 }), offer('a2', { zone: 'a' })], { constraints: [['zone', 'IS', 'a']] }, 3), { a1: 1, a2: 2 }, 'a full offer takes no more even where allowed');
  const out = matchOffers([a1], [{ stored: stored({}), count: 1 }], () => [], ids, NOW);
  t.same(out.get('o-a1')![0]!.task.attributes, { zone: 'a', rack: 'r1' }, 'a task records its agent’s attributes');
  t.not(out.get('o-a1')![0]!.task.attributes, a1.attributes, 'a copy, not the offer’s object');
});

t.test('the controller: UNIQUE hostname over 3 agents, 4 instances → 3 run, 1 waits', async (t) => {
  const hs = drainHarness(t, { allocationIntervalMs: 1000 });
  for (const [id, zone] of [['n1', 'a'], ['n2', 'b'], ['n3', 'a']] as const) {
    hs.addAgent(id, new FakeAgent({ id, hostname: `${id}.test`, resources: res(4, 4096), attributes: { zone }, registeredAt: hs.clock.now(), version: 'test' }));
  }
  const repo = new AppRepo(new MemoryStore());
  const controller = new InitController({ repo, transport: inProcessTransport(hs.master), clock: hs.clock, logger: silentLogger(), tickMs: 1000 });
  await controller.start();
  t.teardown(() => controller.stop());
  const app = { app: validateApp({ id: '/web', cmd: 'serve', cpus: 0.5, mem: 64, instances: 4, constraints: [['hostname', 'UNIQUE']] }), version: V1, lastConfigChangeAt: V1, lastScalingAt: V1 };
  controller.appChanged('/web', { stored: app, revision: 1 }, true);
  const settle = async () => {
    for (let i = 0; i < 10; i++) await hs.settle(i === 0 ? 1000 : 0);
  };
  await settle();
  await settle();
  const launched = () => [...hs.agents.values()].flatMap((a) => a.launched.map((l) => a.info.hostname));
  t.same(launched().sort(), ['n1.test', 'n2.test', 'n3.test'], 'one instance per host');
  t.equal(controller.tasksOf('/web').length, 3, 'init tracks 3');
  for (const a of hs.agents.values()) for (const l of a.launched) hs.agentUpdate(l, 'TASK_RUNNING');
  await settle();
  t.equal(launched().length, 3, 'the fourth waits');
  t.ok(controller.isConverging('/web'), 'the app is still converging');
  t.same(controller.tasksOf('/web').map((x) => x.attributes?.zone).sort(), ['a', 'a', 'b'], 'tasks keep their agent’s attributes');
  t.same(await repo.listTasks().then((ts) => ts.map((x) => x.attributes?.zone).sort()), ['a', 'a', 'b'], 'and so does the store');

  hs.addAgent('n4', new FakeAgent({ id: 'n4', hostname: 'n4.test', resources: res(4, 4096), attributes: {}, registeredAt: hs.clock.now(), version: 'test' }));
  await settle();
  await settle();
  t.same(launched().sort(), ['n1.test', 'n2.test', 'n3.test', 'n4.test'], 'a fourth host takes the fourth instance');
});

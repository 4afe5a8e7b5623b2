// The master's running sums of what tasks and offers hold (HeldMap → HoldingTally): after any
// sequence of sets, replacements, deletes and clears they equal sums made afresh from what the maps
// hold, and holdings that come and go leave exactly nothing behind.
import t from 'tap';
import { allocationInput } from '../../../src/kernel/master/allocation-input';
import { HeldMap, HoldingTally, type Holding } from '../../../src/kernel/master/holdings';
import type { AgentInfo, PortRange, Resources } from '../../../src/kernel/types';

const res = (cpus: number, mem: number, disk = 0, ports: PortRange[] = []): Resources => ({ cpus, mem, disk, ports });
const agent = (id: string, reservations?: Record<string, Resources>): AgentInfo => ({ id, hostname: id, resources: res(16, 65536, 1000, [{ begin: 1000, end: 1999 }]), attributes: {}, registeredAt: 0, version: 't', ...(reservations ? { reservations } : {}) });
const frameworks = ['f1', 'f2', 'f3'].map((id, i) => ({ id, role: i === 0 ? 'web' : '*', suppressed: false, refusals: new Map<string, number>() }));

/** A small deterministic generator (tests must not depend on Math.random). */
function lcg(seed: number): () => number {
  let x = seed;
  return () => ((x = (x * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
}

t.test('running sums equal fresh sums after 20,000 random changes to tasks and offers', async (t) => {
  const rand = lcg(7);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const tally = new HoldingTally();
  const tasks = new HeldMap<{ info: Holding }>(tally, (r) => r.info);
  const offers = new HeldMap<Holding>(tally, (o) => o);
  const agents = [agent('a1', { web: res(2, 4096) }), agent('a2'), agent('a3')];
  const holding = (): Holding => {
    const port = 1000 + Math.floor(rand() * 1000);
    return { agentId: pick(['a1', 'a2', 'a3', 'lost']), frameworkId: pick(['f1', 'f2', 'f3', 'gone']), resources: res(pick([0.01, 0.1, 0.25, 1 / 3]), pick([1, 32.5, 128]), pick([0, 0.1, 10]), rand() < 0.3 ? [{ begin: port, end: port }] : []) };
  };
  const input = (held: HoldingTally) => allocationInput({ now: 0, agents, frameworks, held });
  for (let i = 0; i < 20_000; i++) {
    const map = rand() < 0.7 ? tasks : offers;
    const key = `k${Math.floor(rand() * 300)}`;
    const roll = rand();
    if (roll < 0.6) map === tasks ? tasks.set(key, { info: holding() }) : offers.set(key, holding());
    else if (roll < 0.999) map.delete(key);
    else map.clear();
    if (i % 1000 === 999) {
      const fresh = HoldingTally.of([...[...tasks.values()].map((r) => r.info), ...offers.values()]);
      t.same(input(tally), input(fresh), `after ${i + 1} changes`);
    }
  }
  tasks.clear();
  offers.clear();
  t.same([...tally.agents()], [], 'nothing is left once every holding is gone');
});

t.test('sums are exact: three tenths of a cpu come and go without a remainder', async (t) => {
  const tally = new HoldingTally();
  const tasks = new HeldMap<Holding>(tally, (h) => h);
  for (const k of ['a', 'b', 'c']) tasks.set(k, { agentId: 'a1', frameworkId: 'f1', resources: res(0.1, 0.1) });
  const used = () => allocationInput({ now: 0, agents: [agent('a1')], frameworks, held: tally }).frameworks[0]!.allocated;
  t.equal(used().cpus, 0.3, 'not 0.30000000000000004');
  tasks.delete('b');
  t.equal(used().cpus, 0.2);
  t.equal(tasks.delete('b'), false, 'deleting a missing key changes nothing');
  t.equal(used().cpus, 0.2);
  tasks.set('a', { agentId: 'a1', frameworkId: 'f1', resources: res(2, 1) });
  t.equal(used().cpus, 2.1, 'a replaced value is taken back before the new one counts');
  tasks.delete('a');
  tasks.delete('c');
  t.equal(tally.onAgent('a1'), undefined, 'an agent with nothing held has no entry');
  t.equal(used().cpus, 0);
});

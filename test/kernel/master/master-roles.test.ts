// Roles through the master shell: role weights, quota limits and reservations decide offers made
// to frameworks subscribed with the in-process SDK transport, on fake agents, with a fake clock.
import t from 'tap';
import { Master } from '../../../src/kernel/master/master';
import type { RoleConfig } from '../../../src/kernel/master/allocator-roles';
import { inProcessTransport } from '../../../src/kernel/sdk/in-process';
import { dominantShare, fits } from '../../../src/kernel/sdk/resources';
import type { SchedulerConnection } from '../../../src/kernel/sdk/types';
import type { AgentLink, LogChunk } from '../../../src/kernel/agent-link';
import type { AgentInfo, Offer, Resources, TaskInfo, TaskStatus } from '../../../src/kernel/types';
import { FakeClock } from '../../../src/shared/clock';
import { silentLogger } from '../../../src/shared/logger';

const res = (cpus: number, mem: number, disk = 0): Resources => ({ cpus, mem, disk, ports: [] });

class FakeAgent implements AgentLink {
  readonly running: TaskInfo[] = [];
  constructor(readonly info: AgentInfo) {}
  launch(task: TaskInfo): void {
    this.running.push(task);
  }
  kill(): void {}
  acknowledge(): void {}
  readLog(): Promise<LogChunk> {
    return Promise.reject(new Error('not used'));
  }
  taskStatuses(): TaskStatus[] {
    return [];
  }
}

/**
 * A framework that launches at most one task of a fixed size from each offer (so the allocator
 * decides again after every launch) and declines offers its task does not fit in.
 */
class OneAtATime {
  conn!: SchedulerConnection;
  offers = 0;
  private next = 0;
  constructor(readonly name: string, readonly task: Resources) {}
  onOffers(offers: Offer[]): void {
    for (const o of offers) {
      this.offers++;
      if (fits(this.task, o.resources)) {
        const taskId = `${this.name}-${this.next++}`;
        void this.conn.accept([o.id], [{ type: 'LAUNCH', tasks: [{ taskId, name: taskId, resources: this.task, command: { shell: true, value: 'true', environment: {} }, labels: {} }] }], { refuseSeconds: 0 });
      } else {
        void this.conn.decline([o.id], { refuseSeconds: 60 });
      }
    }
  }
}

async function cluster(t: tap.Test, roles: RoleConfig, agents: Array<Partial<AgentInfo> & { resources: Resources }>) {
  const clock = new FakeClock(Date.UTC(2026, 0, 1));
  const master = new Master({ clock, logger: silentLogger(), roles });
  master.start();
  t.teardown(() => master.stop());
  const links = agents.map((a, i) => new FakeAgent({ id: `a${i}`, hostname: `a${i}.test`, attributes: {}, registeredAt: clock.now(), version: 'test', ...a }));
  for (const l of links) master.registerAgent(l.info, l);
  const settle = async (ms = 0) => {
    clock.advance(ms);
    await new Promise((resolve) => setImmediate(resolve));
  };
  const subscribe = async (f: OneAtATime, role: string) => {
    f.conn = await inProcessTransport(master).subscribe({ name: f.name, role }, { offers: (o) => f.onOffers(o), rescind: () => {}, update: () => {} });
    return f;
  };
  /** Runs allocation cycles until nothing changes any more. */
  const untilQuiet = async (limit = 1000) => {
    let cycles = 0;
    for (let launched = -1; cycles < limit; cycles++) {
      await settle();
      const now = links.reduce((n, l) => n + l.running.length, 0);
      if (now === launched) break;
      launched = now;
    }
    return cycles;
  };
  const held = (frameworkId: string) =>
    links.flatMap((l) => l.running).filter((x) => x.frameworkId === frameworkId).reduce((s, x) => res(s.cpus + x.resources.cpus, s.mem + x.resources.mem), res(0, 0));
  return { master, links, settle, subscribe, untilQuiet, held };
}

t.test('two frameworks with role weights 1 and 3 competing for a full node converge to a 1:3 dominant share', async (t) => {
  const node = res(32, 65536);
  const c = await cluster(t, { one: { weight: 1 }, three: { weight: 3 } }, [{ resources: node }]);
  // Different dominant resources: light is cpu-bound (1/64 of the node per task), heavy memory-bound (1/64 too).
  const light = await c.subscribe(new OneAtATime('light', res(0.5, 256)), 'one');
  const heavy = await c.subscribe(new OneAtATime('heavy', res(0.125, 1024)), 'three');
  const cycles = await c.untilQuiet();
  const l = dominantShare(c.held(light.conn.frameworkId), node);
  const h = dominantShare(c.held(heavy.conn.frameworkId), node);
  t.ok(c.held(heavy.conn.frameworkId).mem + c.held(light.conn.frameworkId).mem > node.mem - 1024, `the node is full (memory) after ${cycles} cycles`);
  t.ok(Math.abs(h / l - 3) < 0.1, `dominant shares light ${l.toFixed(4)}, heavy ${h.toFixed(4)}: ${(h / l).toFixed(3)} ≈ 3`);
});

t.test('a quota limit caps a role; a reservation goes only to its role', async (t) => {
  const c = await cluster(t, { capped: { weight: 10, quota: { cpus: 3 } } }, [
    { resources: res(4, 4096) },
    { resources: res(4, 4096), reservations: { web: res(2, 1024) } },
  ]);
  const capped = await c.subscribe(new OneAtATime('capped', res(1, 256)), 'capped');
  const other = await c.subscribe(new OneAtATime('other', res(1, 256)), '*');
  const web = await c.subscribe(new OneAtATime('web', res(1, 256)), 'web');
  await c.untilQuiet();
  t.same(c.held(capped.conn.frameworkId), res(3, 768), 'the heavier role stops at 3 cpus');
  t.equal(c.held(web.conn.frameworkId).cpus >= 2, true, 'web holds at least its reservation');
  t.equal(c.links[1]!.running.filter((x) => x.frameworkId === web.conn.frameworkId).length >= 2, true, 'on the agent reserving for it');
  t.equal(c.held(other.conn.frameworkId).cpus + c.held(web.conn.frameworkId).cpus, 5, 'the rest of the 8 cpus goes to the other roles');
});

t.test('a framework without a role is in the default role *', async (t) => {
  const c = await cluster(t, { '*': { quota: { cpus: 1 } } }, [{ resources: res(4, 4096) }]);
  const f = new OneAtATime('plain', res(1, 256));
  f.conn = await inProcessTransport(c.master).subscribe({ name: 'plain' }, { offers: (o) => f.onOffers(o), rescind: () => {}, update: () => {} });
  await c.untilQuiet();
  t.same(c.held(f.conn.frameworkId), res(1, 256), "the '*' quota applies");
});

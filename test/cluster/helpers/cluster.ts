// Starts an N-node membership cluster on a MockNetwork in one call, on simulated time, and records
// every membership event every node observes.
import { SimClock } from '../../../src/cluster/sim-clock';
import { MockNetwork, type LinkConfig } from '../../../src/cluster/mock-network';
import { membershipConfig, type MembershipConfig } from '../../../src/cluster/membership/config';
import { Membership } from '../../../src/cluster/membership/membership';
import { MemberIndex } from '../../../src/cluster/membership/member-table';
import { deriveSeed, seededRandom } from '../../../src/cluster/membership/rng';
import type { MemberMeta, MemberStatus, MembershipEventType } from '../../../src/cluster/membership/types';

export interface RecordedEvent {
  readonly at: number;
  readonly observer: string;
  readonly type: MembershipEventType;
  readonly subject: string;
  readonly incarnation: number;
}

export interface ClusterOptions {
  readonly n: number;
  readonly seed?: number;
  readonly config?: MembershipConfig;
  readonly link?: Partial<LinkConfig>;
  readonly serialize?: boolean;
  /** 'join': every node joins node 0 by push-pull, one after another (default). 'none': started, not joined. */
  readonly bootstrap?: 'join' | 'none';
  readonly meta?: (i: number) => MemberMeta;
}

export const nodeId = (i: number): string => `node-${String(i).padStart(3, '0')}`;

export class SimCluster {
  readonly clock = new SimClock(Date.UTC(2026, 10, 21));
  readonly net: MockNetwork;
  readonly nodes = new Map<string, Membership>();
  readonly events: RecordedEvent[] = [];
  readonly config: MembershipConfig;
  private readonly index = new MemberIndex();
  private created = 0;

  constructor(private readonly opts: ClusterOptions) {
    this.net = new MockNetwork({ clock: this.clock, seed: opts.seed ?? 1, link: opts.link, serialize: opts.serialize });
    this.config = opts.config ?? membershipConfig();
  }

  /** Creates and starts a node (it joins nobody yet). Reusing an id models a restart. */
  add(id = nodeId(this.created)): Membership {
    const i = this.created++;
    this.net.revive(id);
    const node = new Membership({
      id,
      transport: this.net.transport(id),
      clock: this.clock,
      config: this.config,
      meta: this.opts.meta?.(i) ?? { roles: ['agent'], n: i },
      random: seededRandom(deriveSeed(this.opts.seed ?? 1, i)),
      index: this.index,
    });
    node.onEvent((e) => this.events.push({ at: e.at, observer: id, type: e.type, subject: e.member.id, incarnation: e.member.incarnation }));
    node.start();
    this.nodes.set(id, node);
    return node;
  }

  node(id: string): Membership {
    const n = this.nodes.get(id);
    if (!n) throw new Error(`no node ${id}`);
    return n;
  }

  get ids(): string[] {
    return [...this.nodes.keys()];
  }

  /** Advances simulated time, letting promise continuations run every 10 ms of it. */
  run(ms: number): Promise<void> {
    return this.clock.run(ms, 10);
  }

  /** Runs in steps of `stepMs` until `done()` or `maxMs`; returns the simulated ms it took, or -1. */
  async runUntil(done: () => boolean, maxMs: number, stepMs = 50): Promise<number> {
    const start = this.clock.now();
    while (this.clock.now() - start < maxMs) {
      if (done()) return this.clock.now() - start;
      await this.run(stepMs);
    }
    return done() ? this.clock.now() - start : -1;
  }

  /** Runs simulated time until `promise` settles (at most `maxMs`), and returns its value. */
  async settle<T>(promise: Promise<T>, maxMs = 60_000): Promise<T> {
    let done = false;
    const tracked = promise.finally(() => {
      done = true;
    });
    tracked.catch(() => {});
    await this.runUntil(() => done, maxMs, 10);
    if (!done) throw new Error(`promise did not settle within ${maxMs} simulated ms`);
    return tracked;
  }

  /** The network loses power at `id` and its process stops. */
  kill(id: string): void {
    this.net.kill(id);
    this.node(id).stop();
    this.nodes.delete(id);
  }

  /** What `observer` believes about `subject`. */
  status(observer: string, subject: string): MemberStatus | undefined {
    return this.node(observer).member(subject)?.status;
  }

  /** Every running node sees every running node alive. */
  converged(): boolean {
    const ids = this.ids;
    for (const a of ids) {
      const node = this.node(a);
      for (const b of ids) if (node.member(b)?.status !== 'alive') return false;
    }
    return true;
  }

  /** Events observed about `subject`, grouped by observer. */
  eventsAbout(subject: string): Map<string, MembershipEventType[]> {
    const out = new Map<string, MembershipEventType[]>();
    for (const e of this.events) {
      if (e.subject !== subject) continue;
      const list = out.get(e.observer) ?? [];
      list.push(e.type);
      out.set(e.observer, list);
    }
    return out;
  }

  stop(): void {
    for (const n of this.nodes.values()) n.stop();
  }
}

/** A cluster of n nodes, each joined to node 0 in turn, run until every node sees every other alive. */
export async function startCluster(opts: ClusterOptions): Promise<SimCluster> {
  const cluster = new SimCluster(opts);
  const first = cluster.add();
  for (let i = 1; i < opts.n; i++) {
    const node = cluster.add();
    if (opts.bootstrap !== 'none') {
      const answered = await cluster.settle(node.join([first.id]));
      if (answered !== 1) throw new Error(`node ${node.id} could not join`);
    }
  }
  if (opts.bootstrap !== 'none') {
    const took = await cluster.runUntil(() => cluster.converged(), 120_000);
    if (took < 0) throw new Error(`a ${opts.n}-node cluster did not converge within 120 simulated s`);
  }
  return cluster;
}

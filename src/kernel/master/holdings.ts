// What tasks and outstanding offers hold, summed per agent and framework as they come and go, so
// an allocation cycle reads sums instead of visiting every live task (0.5 µs a task, 848 ms a cycle
// at 1,000,000 tasks: bench/RESULTS.md, bench/allocator). The master keeps its tasks and offers in
// HeldMaps, which keep a HoldingTally up to date on every set and delete, wherever those happen.
import type { PortRange, Resources } from '../types';

/** Something that holds resources on an agent for a framework: a task or an outstanding offer. */
export interface Holding {
  agentId: string;
  frameworkId: string;
  resources: Resources;
}

/**
 * cpus, mem and disk are summed in millionths, as integers: adding and removing the same holdings
 * in any order, millions of times, always comes back to exactly zero (float sums would drift).
 */
const SCALE = 1e6;
const toUnits = (x: number) => Math.round(x * SCALE);
export const fromUnits = (units: number) => units / SCALE;

/** What one framework holds on one agent: scalars in units (fromUnits), ports per holding. */
export interface HeldSums {
  cpus: number;
  mem: number;
  disk: number;
  count: number;
  readonly ports: Map<string, readonly PortRange[]>;
}

export class HoldingTally {
  private readonly byAgent = new Map<string, Map<string, HeldSums>>();

  /** A tally of `holdings` (for tests and simulations; the master's come from HeldMaps). */
  static of(holdings: readonly Holding[]): HoldingTally {
    const tally = new HoldingTally();
    holdings.forEach((h, i) => tally.add(String(i), h));
    return tally;
  }

  /** `key` names the holding, uniquely in this tally: its ports are kept under it until removed. */
  add(key: string, h: Holding): void {
    let agent = this.byAgent.get(h.agentId);
    if (!agent) this.byAgent.set(h.agentId, (agent = new Map()));
    let sums = agent.get(h.frameworkId);
    if (!sums) agent.set(h.frameworkId, (sums = { cpus: 0, mem: 0, disk: 0, count: 0, ports: new Map() }));
    const r = h.resources;
    sums.cpus += toUnits(r.cpus);
    sums.mem += toUnits(r.mem);
    sums.disk += toUnits(r.disk);
    sums.count++;
    if (r.ports.length > 0) sums.ports.set(key, r.ports);
  }

  /** Takes back exactly what add(key, h) added (h must be the same holding). */
  remove(key: string, h: Holding): void {
    const agent = this.byAgent.get(h.agentId);
    const sums = agent?.get(h.frameworkId);
    if (!agent || !sums) return;
    const r = h.resources;
    sums.cpus -= toUnits(r.cpus);
    sums.mem -= toUnits(r.mem);
    sums.disk -= toUnits(r.disk);
    sums.ports.delete(key);
    if (--sums.count > 0) return;
    agent.delete(h.frameworkId);
    if (agent.size === 0) this.byAgent.delete(h.agentId);
  }

  /** What each framework holds on the agent (none: nothing held there). */
  onAgent(agentId: string): ReadonlyMap<string, HeldSums> | undefined {
    return this.byAgent.get(agentId);
  }

  /** Every agent with holdings, also agents no longer offered (lost, draining, gone). */
  agents(): IterableIterator<ReadonlyMap<string, HeldSums>> {
    return this.byAgent.values();
  }
}

let heldMaps = 0;

/** A Map whose values hold resources: every set and delete keeps `tally` up to date. */
export class HeldMap<V> extends Map<string, V> {
  /** Keys of two maps on one tally (a task and an offer of the same id) must not meet in it. */
  private readonly space = `${++heldMaps}:`;

  constructor(
    private readonly tally: HoldingTally,
    private readonly holdingOf: (value: V) => Holding,
  ) {
    super();
  }

  override set(key: string, value: V): this {
    const previous = super.get(key);
    if (previous !== undefined) this.tally.remove(this.space + key, this.holdingOf(previous));
    this.tally.add(this.space + key, this.holdingOf(value));
    return super.set(key, value);
  }

  override delete(key: string): boolean {
    const previous = super.get(key);
    if (previous === undefined) return false;
    this.tally.remove(this.space + key, this.holdingOf(previous));
    return super.delete(key);
  }

  override clear(): void {
    for (const [key, value] of super.entries()) this.tally.remove(this.space + key, this.holdingOf(value));
    super.clear();
  }
}

// Builds the allocator's input from the master's state: the agents that may be offered, every
// framework, and what tasks and offers hold, read from the running sums of a HoldingTally. A cycle
// costs O(agents + frameworks on each agent + port ranges held), not O(live tasks).
import { normalizeRanges } from '../sdk/resources';
import type { AgentInfo, PortRange, Resources } from '../types';
import type { AllocationInput, AllocatorFramework } from './allocator';
import { freePools, type RoleConfig } from './allocator-roles';
import { roleOf as frameworkRole, type FrameworkEntry } from './framework-entry';
import { fromUnits, type HeldSums, type HoldingTally } from './holdings';

export interface AllocationSnapshot {
  now: number;
  agents: readonly AgentInfo[];
  /** Every known framework, connected or not: what a disconnected one holds still counts for its role. */
  frameworks: ReadonlyArray<Omit<AllocatorFramework, 'allocated'>>;
  /** What every task and outstanding offer holds. */
  held: HoldingTally;
  roles?: RoleConfig;
}

/** The master's state as a snapshot: the agents that may be offered, every framework, and what is held. */
export function masterSnapshot(m: { now: number; roles: RoleConfig | undefined; agents: readonly AgentInfo[]; frameworks: Iterable<FrameworkEntry>; held: HoldingTally }): AllocationSnapshot {
  return {
    now: m.now,
    roles: m.roles,
    agents: m.agents,
    // A disconnected framework wants nothing, but what it holds still counts for its role.
    frameworks: [...m.frameworks].map((f) => ({ id: f.id, role: frameworkRole(f), suppressed: f.suppressed || !f.events, refusals: f.refusals })),
    held: m.held,
  };
}

/** cpus, mem and disk in the tally's units (fromUnits); ports as held. */
interface Tally {
  cpus: number;
  mem: number;
  disk: number;
  ports: PortRange[];
}

const tally = (): Tally => ({ cpus: 0, mem: 0, disk: 0, ports: [] });

function charge(t: Tally, sums: HeldSums): void {
  t.cpus += sums.cpus;
  t.mem += sums.mem;
  t.disk += sums.disk;
  for (const ranges of sums.ports.values()) for (const p of ranges) t.ports.push(p);
}

const resourcesOf = (t: Tally): Resources => ({ cpus: fromUnits(t.cpus), mem: fromUnits(t.mem), disk: fromUnits(t.disk), ports: t.ports.length ? normalizeRanges(t.ports) : [] });

export function allocationInput(s: AllocationSnapshot): AllocationInput {
  const roleOf = new Map(s.frameworks.map((f) => [f.id, f.role]));
  // A framework's holdings count on every agent, also on agents not offered now (lost, draining).
  const byFramework = new Map(s.frameworks.map((f) => [f.id, { cpus: 0, mem: 0, disk: 0 }]));
  for (const agent of s.held.agents()) {
    for (const [frameworkId, sums] of agent) {
      const f = byFramework.get(frameworkId);
      if (!f) continue;
      f.cpus += sums.cpus;
      f.mem += sums.mem;
      f.disk += sums.disk;
    }
  }

  const total: Resources = { cpus: 0, mem: 0, disk: 0, ports: [] };
  const agents = s.agents.map((a) => {
    total.cpus += a.resources.cpus;
    total.mem += a.resources.mem;
    total.disk += a.resources.disk;
    const used = tally();
    const reserved = a.reservations && Object.keys(a.reservations).length > 0;
    const byRole = reserved ? new Map<string, Tally>() : undefined;
    for (const [frameworkId, sums] of s.held.onAgent(a.id) ?? []) {
      charge(used, sums);
      const role = byRole && roleOf.get(frameworkId);
      if (byRole && role !== undefined) {
        let forRole = byRole.get(role);
        if (!forRole) byRole.set(role, (forRole = tally()));
        charge(forRole, sums);
      }
    }
    const usedByRole = byRole && new Map([...byRole].map(([role, t]) => [role, resourcesOf(t)]));
    return { id: a.id, ...freePools(a.resources, resourcesOf(used), a.reservations, usedByRole) };
  });
  const frameworks = s.frameworks.map((f) => {
    const held = byFramework.get(f.id)!;
    return { ...f, allocated: { cpus: fromUnits(held.cpus), mem: fromUnits(held.mem), disk: fromUnits(held.disk), ports: [] } };
  });
  return { now: s.now, total, agents, frameworks, roles: s.roles };
}

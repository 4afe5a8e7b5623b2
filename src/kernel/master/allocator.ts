// Hierarchical dominant resource fairness, as a pure function (Mesos's HierarchicalDRFAllocator):
// given what each agent has free and what each framework already holds, decide which framework
// is offered what. The role with the lowest weighted dominant share goes first, and within it the
// framework with the lowest dominant share. Like Mesos, a framework that wins an agent gets all of
// that agent's free resources it may take; what its role's quota limit trims off goes to the next
// one in line, in the same cycle.
//
// Two stages, as in Mesos: first every agent's reserved pools go to frameworks of their role, then
// every agent's unreserved pool goes to anyone. An offer can so hold both; it is one offer.
//
// Cost per cycle: O(agents log agents) for the stable agent order, plus O(log roles + log
// frameworks) per offer made (a heap pop and push each); no per-agent re-sorting, and no Resources
// objects besides the offers themselves.
import { isEmpty, normalizeRanges } from '../sdk/resources';
import type { Resources } from '../types';
import { DEFAULT_ROLE, roleLimit, roleWeight, type RoleConfig, type Scalars } from './allocator-roles';
import { ShareHeap } from './share-heap';

export interface AllocatorAgent {
  id: string;
  /** Free resources not reserved for any role: total minus running tasks minus outstanding offers. */
  available: Resources;
  /** Free resources reserved per role (see `freePools`): offered only to frameworks of that role. */
  reservations?: Readonly<Record<string, Resources>>;
}

export interface AllocatorFramework {
  id: string;
  /** Its role (FrameworkInfo.role, default '*'); weight and quota come from the role. */
  role: string;
  /** Resources held by its tasks and outstanding offers (only the scalars count). */
  allocated: Resources;
  /**
   * true while the framework wants no offers (it suppressed them, or is disconnected). What it
   * holds still counts toward its role's share and quota.
   */
  suppressed: boolean;
  /** agentId -> time (ms) until which that agent's resources are not offered to this framework. */
  refusals: ReadonlyMap<string, number>;
}

export interface AllocationInput {
  now: number;
  /** Sum of all agents' total resources (the DRF denominator). */
  total: Resources;
  agents: readonly AllocatorAgent[];
  frameworks: readonly AllocatorFramework[];
  /** Role weights and quota limits; roles not named have weight 1 and no limit. */
  roles?: RoleConfig;
}

export interface PlannedOffer {
  agentId: string;
  frameworkId: string;
  resources: Resources;
}

interface RoleState extends Scalars {
  readonly id: string;
  readonly weight: number;
  readonly limit: Scalars;
  share: number;
  /** Frameworks of the role that want offers. */
  readonly wanting: ShareHeap<FrameworkState>;
}

interface FrameworkState extends Scalars {
  readonly id: string;
  readonly role: RoleState;
  readonly refusals: ReadonlyMap<string, number>;
  share: number;
}

const byId = (a: { id: string }, b: { id: string }) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
const EMPTY: Resources = { cpus: 0, mem: 0, disk: 0, ports: [] };

export function allocateOffers(input: AllocationInput): PlannedOffer[] {
  const { now } = input;
  // Multiplying by a precomputed inverse keeps the share computation free of divisions by zero.
  const inv = (t: number) => (t > 0 ? 1 / t : 0);
  const invCpus = inv(input.total.cpus);
  const invMem = inv(input.total.mem);
  const invDisk = inv(input.total.disk);
  const dominant = (s: Scalars) => Math.max(s.cpus * invCpus, s.mem * invMem, s.disk * invDisk);

  // Roles and frameworks in id order, so sums (and so float ties) do not depend on input order.
  const roles = new Map<string, RoleState>();
  const wantingRoles: RoleState[] = [];
  for (const f of [...input.frameworks].sort(byId)) {
    const name = f.role || DEFAULT_ROLE;
    let role = roles.get(name);
    if (!role) {
      const weight = roleWeight(input.roles, name);
      role = { id: name, weight, limit: roleLimit(input.roles, name), cpus: 0, mem: 0, disk: 0, share: 0, wanting: new ShareHeap() };
      roles.set(name, role);
    }
    role.cpus += f.allocated.cpus;
    role.mem += f.allocated.mem;
    role.disk += f.allocated.disk;
    if (f.suppressed) continue;
    const { cpus, mem, disk } = f.allocated;
    const state: FrameworkState = { id: f.id, role, refusals: f.refusals, cpus, mem, disk, share: 0 };
    state.share = dominant(state);
    if (role.wanting.size === 0) wantingRoles.push(role);
    role.wanting.push(state);
  }
  for (const role of roles.values()) role.share = dominant(role) / role.weight;

  const plan: PlannedOffer[] = [];
  /** Stage-1 offers by agent then framework, so a stage-2 grant to the same framework merges in. */
  const reservedOffers = new Map<string, Map<string, PlannedOffer>>();
  const agents = [...input.agents].sort(byId);
  const notRefusing = (agentId: string) => (f: FrameworkState) => (f.refusals.get(agentId) ?? 0) <= now;

  /** What of `pool` the role may still take under its quota limit (the pool itself when unlimited). */
  const trim = (role: RoleState, pool: Resources): Resources => {
    const { limit } = role;
    if (limit.cpus === Infinity && limit.mem === Infinity && limit.disk === Infinity) return pool;
    const room = (k: keyof Scalars) => Math.max(0, Math.min(pool[k], limit[k] - role[k]));
    return { cpus: room('cpus'), mem: room('mem'), disk: room('disk'), ports: pool.ports };
  };

  const grant = (f: FrameworkState, take: Resources): void => {
    const { role } = f;
    f.cpus += take.cpus;
    f.mem += take.mem;
    f.disk += take.disk;
    f.share = dominant(f);
    role.cpus += take.cpus;
    role.mem += take.mem;
    role.disk += take.disk;
    role.share = dominant(role) / role.weight;
  };

  // Stage 1: reserved pools, each to the lowest-share framework of its role not refusing the agent.
  for (const agent of agents) {
    if (!agent.reservations) continue;
    for (const name of Object.keys(agent.reservations).sort()) {
      const pool = agent.reservations[name]!;
      const role = roles.get(name);
      if (!role || role.wanting.size === 0 || isEmpty(pool)) continue;
      const take = trim(role, pool);
      if (isEmpty(take)) continue;
      const f = role.wanting.popFirst(notRefusing(agent.id));
      if (!f) continue;
      grant(f, take);
      role.wanting.push(f);
      const offer: PlannedOffer = { agentId: agent.id, frameworkId: f.id, resources: { ...take, ports: [...take.ports] } };
      plan.push(offer);
      let byFramework = reservedOffers.get(agent.id);
      if (!byFramework) reservedOffers.set(agent.id, (byFramework = new Map()));
      byFramework.set(f.id, offer);
    }
  }

  // Stage 2: unreserved pools, hierarchically: lowest role first, then lowest framework in it.
  const roleHeap = new ShareHeap<RoleState>();
  for (const role of wantingRoles) roleHeap.push(role);
  const skippedRoles: RoleState[] = [];
  for (const agent of agents) {
    let pool = agent.available;
    const eligible = notRefusing(agent.id);
    while (!isEmpty(pool) && roleHeap.size > 0) {
      let winner: FrameworkState | undefined;
      let take: Resources | undefined;
      for (let role = roleHeap.pop(); role !== undefined; role = roleHeap.pop()) {
        skippedRoles.push(role);
        const t = trim(role, pool);
        if (isEmpty(t)) continue;
        winner = role.wanting.popFirst(eligible);
        if (winner) {
          take = t;
          break;
        }
      }
      if (winner && take) {
        grant(winner, take);
        winner.role.wanting.push(winner);
        const merged = reservedOffers.get(agent.id)?.get(winner.id);
        if (merged) {
          const r = merged.resources;
          merged.resources = { cpus: r.cpus + take.cpus, mem: r.mem + take.mem, disk: r.disk + take.disk, ports: normalizeRanges([...r.ports, ...take.ports]) };
        } else {
          plan.push({ agentId: agent.id, frameworkId: winner.id, resources: { ...take, ports: [...take.ports] } });
        }
        // Only a quota trim leaves something; ports always go with the first grant.
        pool = take === pool ? EMPTY : { cpus: pool.cpus - take.cpus, mem: pool.mem - take.mem, disk: pool.disk - take.disk, ports: [] };
      } else {
        pool = EMPTY;
      }
      for (const role of skippedRoles) roleHeap.push(role);
      skippedRoles.length = 0;
    }
  }
  return plan;
}

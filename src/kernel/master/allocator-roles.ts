// Roles for the allocator: their configuration (weight and quota limit) and the pure accounting
// that splits an agent's free resources into the pool anyone may use and the pools statically
// reserved for one role (Mesos's `cpus(role):8`).
import { subtractRanges, subtractResources } from '../sdk/resources';
import type { Resources } from '../types';

/** The role of a framework that names none (Mesos's default role). */
export const DEFAULT_ROLE = '*';

/** Scalar resources a role may hold at most; an absent field means no limit. cpus in cores, mem and disk in MiB. */
export interface RoleQuota {
  cpus?: number;
  mem?: number;
  disk?: number;
}

export interface RoleSettings {
  /** Relative weight (default 1): a role of weight 3 is entitled to three times the dominant share of a role of weight 1. */
  weight?: number;
  /**
   * A LIMIT, as in Mesos ≥ 1.9: the role never holds more than this (its frameworks' tasks plus
   * outstanding offers, reserved or not). Offers are trimmed to fit; nothing is guaranteed.
   */
  quota?: RoleQuota;
}

/** Role name → settings. Roles not named here have weight 1 and no quota. */
export type RoleConfig = Readonly<Record<string, RoleSettings>>;

/** Scalar amounts the allocator does arithmetic on (ports are never part of a share or a quota). */
export interface Scalars {
  cpus: number;
  mem: number;
  disk: number;
}

/** The role's weight; anything not a positive finite number counts as 1. */
export function roleWeight(config: RoleConfig | undefined, role: string): number {
  const w = config?.[role]?.weight;
  return w !== undefined && Number.isFinite(w) && w > 0 ? w : 1;
}

/** The role's quota limit per scalar (Infinity where unlimited; a negative or NaN limit counts as 0). */
export function roleLimit(config: RoleConfig | undefined, role: string): Scalars {
  const q = config?.[role]?.quota;
  const limit = (n: number | undefined) => (n === undefined ? Infinity : n > 0 ? n : 0);
  return { cpus: limit(q?.cpus), mem: limit(q?.mem), disk: limit(q?.disk) };
}

export interface AgentPools {
  /** Free resources not reserved for any role: offered to anyone. */
  available: Resources;
  /** Free resources reserved per role: offered only to frameworks of that role. */
  reservations?: Record<string, Resources>;
}

/**
 * Splits an agent's free resources. `used` is everything its tasks and outstanding offers take;
 * `usedByRole` is the same per role of the owning framework. A role's usage fills its own
 * reservation first and overflows into the unreserved part, so a role's tasks never make
 * another role's reservation look used.
 */
export function freePools(
  total: Resources,
  used: Resources,
  reserved?: Readonly<Record<string, Resources>>,
  usedByRole?: ReadonlyMap<string, Resources>,
): AgentPools {
  const roles = reserved ? Object.keys(reserved).sort() : [];
  if (roles.length === 0) return { available: subtractResources(total, used) };
  const reservations: Record<string, Resources> = {};
  const inReservations: Scalars = { cpus: 0, mem: 0, disk: 0 };
  let unreservedPorts = total.ports;
  const reservedTotal: Scalars = { cpus: 0, mem: 0, disk: 0 };
  for (const role of roles) {
    const r = reserved![role]!;
    const u = usedByRole?.get(role);
    const pool = subtractResources(r, u ?? { cpus: 0, mem: 0, disk: 0, ports: [] });
    // Every used port is taken whoever uses it; reserved ports are only ever offered to the role.
    reservations[role] = { ...pool, ports: subtractRanges(pool.ports, used.ports) };
    for (const k of ['cpus', 'mem', 'disk'] as const) {
      reservedTotal[k] += r[k];
      inReservations[k] += Math.min(u?.[k] ?? 0, r[k]);
    }
    unreservedPorts = subtractRanges(unreservedPorts, r.ports);
  }
  const unreserved: Resources = {
    cpus: total.cpus - reservedTotal.cpus,
    mem: total.mem - reservedTotal.mem,
    disk: total.disk - reservedTotal.disk,
    ports: unreservedPorts,
  };
  const overflow: Resources = {
    cpus: used.cpus - inReservations.cpus,
    mem: used.mem - inReservations.mem,
    disk: used.disk - inReservations.disk,
    ports: used.ports,
  };
  return { available: subtractResources(unreserved, overflow), reservations };
}

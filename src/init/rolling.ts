// Pure decision of a rolling upgrade (Marathon's upgradeStrategy): given an app's old tasks (an
// outdated config) and new ones with their health, which old tasks to kill now and how many new
// ones to start now, so that at least ⌈instances × minimumHealthCapacity⌉ stay healthy and at most
// instances × (1 + maximumOverCapacity) exist at any time. Called again after every change.
import type { UpgradeStrategy } from './types';

/** Ratios like 0.7 × 10 are 7.000000000000001 in floating point; this much is rounding, not intent. */
const EPSILON = 1e-9;

export interface UpgradeBounds {
  /** Healthy instances the upgrade never goes below (unless fewer were healthy to begin with). */
  minHealthy: number;
  /** Tasks of the app, old, new and those being killed, the upgrade never goes above. */
  maxTotal: number;
}

/**
 * ⌈instances × minimumHealthCapacity⌉ and ⌊instances × (1 + maximumOverCapacity)⌋. When the two
 * leave no room to replace anything (minimumHealthCapacity 1 with a maximumOverCapacity below
 * 1/instances), one instance over capacity is allowed, as Marathon does; otherwise the upgrade
 * could never start.
 */
export function upgradeBounds(instances: number, strategy: UpgradeStrategy): UpgradeBounds {
  const minHealthy = Math.max(0, Math.ceil(instances * strategy.minimumHealthCapacity - EPSILON));
  const maxTotal = Math.floor(instances * (1 + strategy.maximumOverCapacity) + EPSILON);
  return { minHealthy, maxTotal: instances > 0 && maxTotal <= minHealthy ? minHealthy + 1 : maxTotal };
}

/** What the upgrade knows of one task. */
export type RollingHealth =
  /** RUNNING, and healthy when the app has health checks: it serves. */
  | 'healthy'
  /** Known not to serve: staging, starting, or failing its health checks. Killing it costs nothing. */
  | 'down'
  /** RUNNING with no health verdict yet (grace period, init just restarted) or state unknown: it may serve. */
  | 'unknown';

export interface RollingTask {
  taskId: string;
  health: RollingHealth;
  /** ms since epoch; among old healthy tasks the oldest go first. */
  stagedAt: number;
}

export interface RollingInput {
  instances: number;
  strategy: UpgradeStrategy;
  /** Live tasks of an outdated config, not being killed. */
  old: readonly RollingTask[];
  /** Live tasks of the current config that stay (none that is being killed). */
  fresh: readonly RollingTask[];
  /** Tasks of the app being killed that have not ended yet, those killed by this plan's caller included. */
  dying: number;
  /** New tasks still wanted: instances minus the current-config tasks that stay. */
  missing: number;
}

export interface RollingPlan {
  /** New tasks to start now. */
  launch: number;
  /** Old tasks to kill now, in order. */
  kill: string[];
}

const KILL_ORDER: Record<RollingHealth, number> = { down: 0, unknown: 1, healthy: 2 };

/**
 * Old tasks that serve nothing go at once. The others go while the healthy count stays at or above
 * minHealthy: a healthy one only if one fewer is still enough, an unknown one (it may serve, e.g.
 * right after init restarted) only once minHealthy instances are known healthy without it. New
 * tasks start into the room left below maxTotal, counting tasks killed now until they have ended
 * (a killed task holds its resources and may serve until it exits).
 */
export function planRollingUpgrade(input: RollingInput): RollingPlan {
  const { minHealthy, maxTotal } = upgradeBounds(input.instances, input.strategy);
  let healthy = [...input.old, ...input.fresh].filter((t) => t.health === 'healthy').length;
  const order = [...input.old].sort((a, b) => KILL_ORDER[a.health] - KILL_ORDER[b.health] || a.stagedAt - b.stagedAt || a.taskId.localeCompare(b.taskId));
  const kill: string[] = [];
  for (const t of order) {
    if (t.health === 'healthy') {
      if (healthy - 1 < minHealthy) break;
      healthy--;
    } else if (t.health === 'unknown' && healthy < minHealthy) {
      continue;
    }
    kill.push(t.taskId);
  }
  const total = input.old.length + input.fresh.length + input.dying;
  const launch = Math.max(0, Math.min(input.missing, maxTotal - total));
  return { launch, kill };
}

// Which instances init kills for failing their health checks: a pure decision, and the ledger of
// past kills it is made against. The agent runs the checks and counts consecutive failures (none
// count within the grace period); an instance whose check reached its maxConsecutiveFailures (0:
// never, as in Marathon) is killed, and init replaces it. Unlike Marathon, the kills are
// rate-limited per app: when a dependency breaks and every instance fails at once, killing them
// all would turn a degraded service into a dead one (REFERENCE.md: "health checks that kill healthy
// services"). So at most `killsPerWindow` of an app's instances are killed for health in any
// `windowMs`; the others wait, still serving whatever they can, and are reported as held back.
import { withHealthCheckDefaults } from './app';
import type { AppDefinition, AppTask } from './types';

export interface HealthKillPolicy {
  /** The sliding window of the rate limit, ms. */
  readonly windowMs: number;
  /** Fraction of the app's instances that may be killed for health per window (at least one). */
  readonly fraction: number;
}

export const DEFAULT_HEALTH_KILL_POLICY: HealthKillPolicy = Object.freeze({ windowMs: 60_000, fraction: 0.25 });

export interface HealthKillPlan {
  /** Tasks to kill now, the longest-failing first. */
  kill: string[];
  /** Failing tasks the rate limit holds back for now. */
  held: string[];
}

/** How many consecutive failures past its limit a task is (its worst check), or undefined when none reached the limit. */
function overLimit(app: AppDefinition, task: AppTask): number | undefined {
  const checks = (app.healthChecks ?? []).map(withHealthCheckDefaults);
  let worst: number | undefined;
  (task.healthCheckResults ?? []).forEach((r, i) => {
    const max = checks[i]?.maxConsecutiveFailures ?? 0;
    if (max > 0 && !r.alive && r.consecutiveFailures >= max) worst = Math.max(worst ?? 0, r.consecutiveFailures - max);
  });
  return worst;
}

/** The most health kills `app` may have in one window. */
export function healthKillBudget(app: AppDefinition, policy: HealthKillPolicy = DEFAULT_HEALTH_KILL_POLICY): number {
  return Math.max(1, Math.floor(app.instances * policy.fraction));
}

/**
 * `recentKills`: when this app's earlier health kills happened (ms since epoch); those older than
 * the window no longer count. Only RUNNING instances not already being killed are considered.
 */
export function planHealthKills(app: AppDefinition, tasks: readonly AppTask[], recentKills: readonly number[], now: number, policy: HealthKillPolicy = DEFAULT_HEALTH_KILL_POLICY): HealthKillPlan {
  const failing = tasks
    .filter((t) => t.state === 'TASK_RUNNING' && !t.killRequested)
    .map((t) => ({ t, over: overLimit(app, t) }))
    .filter((x): x is { t: AppTask; over: number } => x.over !== undefined)
    .sort((a, b) => b.over - a.over || a.t.stagedAt - b.t.stagedAt || a.t.taskId.localeCompare(b.t.taskId));
  const used = recentKills.filter((at) => now - at < policy.windowMs).length;
  const allowed = Math.max(0, healthKillBudget(app, policy) - used);
  return { kill: failing.slice(0, allowed).map((x) => x.t.taskId), held: failing.slice(allowed).map((x) => x.t.taskId) };
}

/**
 * Init's memory of its health kills: when each app's instances were last killed for failing health,
 * so planHealthKills holds them to the policy's rate, and so the tick knows kills may still be held.
 */
export class HealthKillLedger {
  private readonly kills = new Map<string, number[]>();

  constructor(private readonly policy: HealthKillPolicy = DEFAULT_HEALTH_KILL_POLICY) {}

  /** The app's instances to kill now for failing health, recorded as killed at `now`, and those held back. */
  decide(app: AppDefinition, tasks: readonly AppTask[], now: number): HealthKillPlan {
    const recent = (this.kills.get(app.id) ?? []).filter((at) => now - at < this.policy.windowMs);
    const plan = planHealthKills(app, tasks, recent, now, this.policy);
    if (plan.kill.length > 0 || plan.held.length > 0) this.kills.set(app.id, [...recent, ...plan.kill.map(() => now)]);
    return plan;
  }

  /** Whether any app had an instance killed within the window (a held kill may become due). */
  recent(now: number): boolean {
    for (const at of this.kills.values()) if (at.some((t) => now - t < this.policy.windowMs)) return true;
    return false;
  }
}

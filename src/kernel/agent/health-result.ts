// Pure decisions of agent-run health checks (Marathon's fields, Mesos's grace-period rule): how
// one probe outcome changes a check's result, whether a task is healthy, and when that is news.
// The probes and timers live in health.ts.
import type { HealthCheck, HealthCheckResult } from '../types';

/** What one probe found. `ignored`: an HTTP 1xx with ignoreHttp1xx — the result stays as it was. */
export type HealthOutcome = { status: 'pass' } | { status: 'fail'; cause: string } | { status: 'ignored' };

/** Reported for a check that has no counted result yet (Marathon shows the same before the first check). */
export const UNKNOWN_RESULT: Readonly<HealthCheckResult> = Object.freeze({ alive: false, consecutiveFailures: 0 });

/**
 * Failures do not count while the task is within its grace period and has never passed this check;
 * the first success ends the grace period (Mesos). `startedAt` and `now` in ms since epoch.
 */
export function inGracePeriod(prev: HealthCheckResult | undefined, now: number, check: HealthCheck, startedAt: number): boolean {
  return prev?.firstSuccess === undefined && now < startedAt + check.gracePeriodSeconds * 1000;
}

/**
 * The check's result after `outcome` arrived at `now`. `prev` undefined: nothing counted yet.
 * Returns `prev` itself (same object) when the outcome does not count.
 */
export function nextResult(
  prev: HealthCheckResult | undefined,
  outcome: HealthOutcome,
  now: number,
  check: HealthCheck,
  startedAt: number,
): HealthCheckResult | undefined {
  if (outcome.status === 'ignored') return prev;
  if (outcome.status === 'pass') {
    return { ...prev, alive: true, consecutiveFailures: 0, firstSuccess: prev?.firstSuccess ?? now, lastSuccess: now };
  }
  if (inGracePeriod(prev, now, check, startedAt)) return prev;
  return { ...prev, alive: false, consecutiveFailures: (prev?.consecutiveFailures ?? 0) + 1, lastFailure: now, lastFailureCause: outcome.cause };
}

/** Every check alive; undefined until each check has a counted result (and for a task without checks). */
export function taskHealthy(results: ReadonlyArray<HealthCheckResult | undefined>): boolean | undefined {
  if (results.length === 0 || results.some((r) => r === undefined)) return undefined;
  return results.every((r) => r!.alive);
}

/** The health a task reports: one result per check, in check order, and the verdict. */
export interface HealthReport {
  results: HealthCheckResult[];
  healthy: boolean | undefined;
}

export function healthReport(results: ReadonlyArray<HealthCheckResult | undefined>): HealthReport {
  return { results: results.map((r) => ({ ...(r ?? UNKNOWN_RESULT) })), healthy: taskHealthy(results) };
}

/**
 * Whether `next` is worth a status update after `prev`: the verdict flipped, or some check's
 * alive/consecutiveFailures changed. Repeated successes only move lastSuccess and are not news.
 */
export function healthChanged(prev: HealthReport | undefined, next: HealthReport): boolean {
  if (!prev) return true;
  if (prev.healthy !== next.healthy || prev.results.length !== next.results.length) return true;
  return next.results.some((r, i) => r.alive !== prev.results[i]!.alive || r.consecutiveFailures !== prev.results[i]!.consecutiveFailures);
}

/**
 * Marathon's HTTP verdict: 200–399 pass; 1xx is ignored when `ignoreHttp1xx`, else it fails like any
 * other code. `cause` is Marathon's wording, e.g. "500 Internal Server Error".
 */
export function httpOutcome(statusCode: number, statusMessage: string, ignoreHttp1xx: boolean): HealthOutcome {
  if (statusCode >= 200 && statusCode <= 399) return { status: 'pass' };
  if (statusCode >= 100 && statusCode <= 199 && ignoreHttp1xx) return { status: 'ignored' };
  return { status: 'fail', cause: `${statusCode}${statusMessage ? ` ${statusMessage}` : ''}` };
}

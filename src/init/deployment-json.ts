// Marathon's shapes of a deployment: GET /v2/deployments entries and the deployment events of its
// event bus (deployment_info, deployment_step_success, deployment_success, deployment_failed), plus
// the native view of a finished one. Pure.
import type { ReadinessResult } from './readiness';
import type { DeploymentOutcome, DeploymentPlan, DeploymentStep, StoredApp } from './types';

/** The readiness results of an app's tasks still being checked; none when not given. */
export type ReadinessOf = (appId: string) => ReadinessResult[];
const NO_READINESS: ReadinessOf = () => [];

/** A deployment as the runner tracks it. */
export interface DeploymentState {
  plan: DeploymentPlan;
  /** Index of the step in progress; `plan.steps.length` once every step is done. */
  step: number;
  /** ms since epoch */
  startedAt: number;
  /** ms since epoch after which it rolls back by itself (upgradeStrategy.deadlineSeconds). */
  deadline: number | undefined;
  /** The deployment this one rolls back. */
  rollbackOf: string | undefined;
  status: 'running' | DeploymentOutcome;
  /** Why it did not succeed. */
  reason?: string;
  /** ms since epoch */
  finishedAt?: number;
  /** The deployment that took over its apps (a rollback, or a forced change). */
  replacedBy?: string;
}

const iso = (ms: number) => new Date(ms).toISOString();
const stepJson = (s: DeploymentStep | undefined) => ({ actions: (s?.actions ?? []).map((a) => ({ action: a.action, app: a.app })) });

/** GET /v2/deployments entry; `currentStep` counts from 1, as in Marathon. */
export function marathonDeployment(d: DeploymentState, readiness: ReadinessOf = NO_READINESS): Record<string, unknown> {
  const current = d.plan.steps[d.step];
  return {
    id: d.plan.id,
    version: d.plan.version,
    affectedApps: d.plan.affectedApps,
    affectedPods: [],
    steps: d.plan.steps.map(stepJson),
    currentActions: (current?.actions ?? []).map((a) => ({ action: a.action, app: a.app, readinessCheckResults: readiness(a.app) })),
    currentStep: Math.min(d.step + 1, d.plan.steps.length),
    totalSteps: d.plan.steps.length,
    // Corral extension: when it rolls back by itself.
    ...(d.deadline !== undefined ? { deadline: iso(d.deadline) } : {}),
  };
}

/** The native view (GET /api/v1/deployments/{id}): Marathon's entry plus how it ended. */
export function nativeDeployment(d: DeploymentState, readiness: ReadinessOf = NO_READINESS): Record<string, unknown> {
  return {
    ...marathonDeployment(d, readiness),
    status: d.status,
    startedAt: iso(d.startedAt),
    finishedAt: d.finishedAt === undefined ? null : iso(d.finishedAt),
    reason: d.reason ?? null,
    rollbackOf: d.rollbackOf ?? null,
    replacedBy: d.replacedBy ?? null,
  };
}

/** What a dry run answers: the plan, nothing written. */
export function dryRunJson(plan: DeploymentPlan, extra: Record<string, unknown>): Record<string, unknown> {
  return { dryRun: true, version: plan.version, affectedApps: plan.affectedApps, steps: plan.steps.map(stepJson), totalSteps: plan.steps.length, ...extra };
}

const appOf = (s: StoredApp | undefined) => (s ? [{ ...s.app, version: s.version }] : []);

/** Marathon's plan in events: the affected apps before and after (as root groups holding only them). */
function planJson(plan: DeploymentPlan): Record<string, unknown> {
  return {
    id: plan.id,
    version: plan.version,
    original: { id: '/', apps: plan.changes.flatMap((c) => appOf(c.original)), groups: [], dependencies: [] },
    target: { id: '/', apps: plan.changes.flatMap((c) => appOf(c.target)), groups: [], dependencies: [] },
    steps: plan.steps.map(stepJson),
  };
}

export type DeploymentEventType = 'deployment_info' | 'deployment_step_success' | 'deployment_success' | 'deployment_failed';

export interface DeploymentEvent {
  eventType: DeploymentEventType;
  /** ISO 8601 */
  timestamp: string;
  [field: string]: unknown;
}

/** deployment_info (a step starts) and deployment_step_success (it is done): the plan and that step. */
export function stepEvent(eventType: 'deployment_info' | 'deployment_step_success', d: DeploymentState, now: number): DeploymentEvent {
  return { eventType, timestamp: iso(now), plan: planJson(d.plan), currentStep: stepJson(d.plan.steps[d.step]) };
}

/** deployment_success, or deployment_failed with Corral's `reason`. */
export function endEvent(d: DeploymentState, now: number): DeploymentEvent {
  if (d.status === 'succeeded') return { eventType: 'deployment_success', timestamp: iso(now), id: d.plan.id, plan: planJson(d.plan) };
  return { eventType: 'deployment_failed', timestamp: iso(now), id: d.plan.id, plan: planJson(d.plan), reason: d.reason ?? d.status };
}

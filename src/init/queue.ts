// Marathon's launch queue, computed (pure): which apps have instances waiting to be launched, how long
// backoff still holds them, and why the agents cannot take them. Marathon counts the offers it
// processed since the instances were queued; Corral has no such history and instead tries one
// instance against every agent's free resources when asked — the same funnel of reasons, each
// agent standing for one offer.
import type { Resources } from '../kernel/types';
import { whereAllowed, type Placement } from './constraints';
import { instanceFit } from './match';
import { planInstances } from './plan';
import type { AppDefinition, AppTask, Backoff, StoredApp } from './types';

/** Marathon's NoOfferMatchReason funnel: an agent that fails is counted under the first reason only. */
export const REJECT_REASONS = [
  'UnfulfilledRole',
  'UnfulfilledConstraint',
  'NoCorrespondingReservationFound',
  'AgentMaintenance',
  'InsufficientCpus',
  'InsufficientMemory',
  'InsufficientDisk',
  'InsufficientGpus',
  'InsufficientPorts',
  'DeclinedScarceResources',
] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];

/** An agent as a candidate for one more instance. */
export interface QueueAgent extends Placement {
  /** Resources not used by tasks. */
  free: Resources;
  /** False while it is draining, drained or unreachable: nothing is offered there. */
  available: boolean;
}

export interface QueuedApp {
  stored: StoredApp;
  /** Instances waiting for a launch, those held back by backoff included. */
  count: number;
  backoff: Backoff | undefined;
  /** ms since epoch: the later of the app's last change and its last task failure. */
  since: number;
}

/**
 * The apps with instances waiting, in id order. The count is what init's planner would launch with
 * no backoff in the way, so instances delayed by failures are in the queue, as in Marathon.
 */
export function launchQueue(apps: Iterable<StoredApp>, tasksOf: (appId: string) => readonly AppTask[], backoffOf: (appId: string) => Backoff | undefined, lastFailureAt: (appId: string) => number | undefined, now: number): QueuedApp[] {
  const out: QueuedApp[] = [];
  for (const stored of apps) {
    const count = planInstances(stored, tasksOf(stored.app.id), undefined, now).launch;
    if (count === 0) continue;
    const since = Math.max(Date.parse(stored.version) || 0, lastFailureAt(stored.app.id) ?? 0);
    out.push({ stored, count, backoff: backoffOf(stored.app.id), since });
  }
  return out.sort((a, b) => a.stored.app.id.localeCompare(b.stored.app.id));
}

/** Why `agent` cannot take one more instance of `app`, or undefined when it can. */
export function rejectReason(app: AppDefinition, agent: QueueAgent, placed: readonly Placement[]): RejectReason | undefined {
  if (whereAllowed(app.constraints ?? [], [agent], placed).length === 0) return 'UnfulfilledConstraint';
  if (!agent.available) return 'AgentMaintenance';
  if (app.cpus > agent.free.cpus) return 'InsufficientCpus';
  if (app.mem > agent.free.mem) return 'InsufficientMemory';
  if (app.disk > agent.free.disk) return 'InsufficientDisk';
  // Corral's agents offer no GPUs.
  if (app.gpus > 0) return 'InsufficientGpus';
  if (!instanceFit(app, agent.free)) return 'InsufficientPorts';
  return undefined;
}

export interface ReasonCount {
  reason: RejectReason;
  /** Agents rejected for this reason. */
  declined: number;
  /** Agents that reached this step of the funnel. */
  processed: number;
}

/** Marathon's processedOffersSummary, each agent counted as one offer processed now. */
export function processedOffersSummary(app: AppDefinition, agents: readonly QueueAgent[], placed: readonly Placement[], now: number) {
  const reasons = agents.map((a) => rejectReason(app, a, placed));
  const unused = reasons.filter((r) => r !== undefined).length;
  let reaching = agents.length;
  const funnel: ReasonCount[] = REJECT_REASONS.map((reason) => {
    const declined = reasons.filter((r) => r === reason).length;
    const step = { reason, declined, processed: reaching };
    reaching -= declined;
    return step;
  });
  const at = new Date(now).toISOString();
  return {
    processedOffersCount: agents.length,
    unusedOffersCount: unused,
    lastUnusedOfferAt: unused > 0 ? at : null,
    lastUsedOfferAt: unused < agents.length ? at : null,
    rejectSummaryLastOffers: funnel,
    rejectSummaryLaunchAttempt: funnel,
  };
}


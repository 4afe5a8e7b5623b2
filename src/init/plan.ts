// Pure decisions of the init controller: how many instances to start and which tasks to stop
// for one app (including moving it off draining agents), and how long to hold launches back after
// failures.
import { upgradeStrategyOf } from './app';
import { spreadKeepingKills, type Placement } from './constraints';
import { readinessPassed } from './readiness';
import { planRollingUpgrade, type RollingHealth, type RollingTask } from './rolling';
import { DEFAULT_UNREACHABLE_STRATEGY, type AppDefinition, type AppTask, type Backoff, type StoredApp } from './types';

export interface InstancePlan {
  /** New tasks to start now. */
  launch: number;
  /** Tasks to kill now. */
  kill: string[];
  /**
   * Unreachable tasks to forget now (unreachableStrategy.expungeAfterSeconds passed): init stops
   * tracking them, and kills them as unknown should their agent come back.
   */
  expunge: string[];
  /** ms since epoch when launches are allowed again, if backoff holds them back. */
  delayedUntil: number | undefined;
}

const alive = (t: AppTask) => !t.killRequested;

/** An instance on a lost agent that no longer counts: its app's unreachableStrategy says so by `now`. */
function inactive(app: AppDefinition, t: AppTask, now: number): boolean {
  const strategy = app.unreachableStrategy ?? DEFAULT_UNREACHABLE_STRATEGY;
  if (t.state !== 'TASK_UNREACHABLE' || strategy === 'disabled') return false;
  return now - (t.unreachableSince ?? now) >= strategy.inactiveAfterSeconds * 1000;
}
/** An instance on a lost agent to forget: unreachable for expungeAfterSeconds by `now`. */
function expired(app: AppDefinition, t: AppTask, now: number): boolean {
  const strategy = app.unreachableStrategy ?? DEFAULT_UNREACHABLE_STRATEGY;
  if (t.state !== 'TASK_UNREACHABLE' || strategy === 'disabled') return false;
  return now - (t.unreachableSince ?? now) >= strategy.expungeAfterSeconds * 1000;
}
const placementOf = (t: AppTask): Placement => ({ agentId: t.agentId, hostname: t.host, ...(t.attributes ? { attributes: t.attributes } : {}) });
const byAgeYoungestFirst = (a: AppTask, b: AppTask) => b.stagedAt - a.stagedAt || b.taskId.localeCompare(a.taskId);
const NO_AGENTS: ReadonlySet<string> = new Set();
/** Serving: RUNNING, and healthy when the app has health checks. */
const serving = (app: AppDefinition, t: AppTask) => t.state === 'TASK_RUNNING' && (!app.healthChecks?.length || t.healthy === true);
/** A task of the current config serves once it also passed the app's readiness check, if there is one (old ones served before it existed). */
const ready = (app: AppDefinition, t: AppTask) => serving(app, t) && readinessPassed(app, t);
const unstarted = (t: AppTask) => t.state === 'TASK_STAGING' || t.state === 'TASK_STARTING';

/**
 * Which tasks of a draining agent to kill now, given the app's other current tasks: all of them
 * once the others alone keep `instances` ready; until then the ones that never started (they
 * serve nothing) and as many ready ones, oldest first, as the others make spare.
 */
function leavingKills(app: AppDefinition, leaving: readonly AppTask[], staying: readonly AppTask[]): string[] {
  const readyStaying = staying.filter((t) => ready(app, t)).length;
  if (readyStaying >= app.instances) return leaving.map((t) => t.taskId);
  const readyLeaving = leaving.filter((t) => ready(app, t)).sort((a, b) => a.stagedAt - b.stagedAt || a.taskId.localeCompare(b.taskId));
  const spare = Math.max(0, readyStaying + readyLeaving.length - app.instances);
  return [...leaving.filter(unstarted), ...readyLeaving.slice(0, spare)].map((t) => t.taskId);
}

/**
 * Converges one app on its instance count. Tasks of an outdated config are replaced by the rolling
 * upgrade of rolling.ts (the app's upgradeStrategy: a healthy floor, a total ceiling). Tasks on a
 * `draining` agent (agent ids) are moved start-first: each is replaced (elsewhere: a draining agent
 * is offered to nobody) and killed only while the rest keeps `instances` ready — RUNNING, and
 * healthy when the app has health checks.
 */
export function planInstances(stored: StoredApp, tasks: readonly AppTask[], backoff: Backoff | undefined, now: number, draining: ReadonlySet<string> = NO_AGENTS): InstancePlan {
  const app = stored.app;
  // An inactive instance is replaced; if its agent comes back, the surplus is killed below.
  const live = tasks.filter((t) => alive(t) && !inactive(app, t, now));
  const current = live.filter((t) => t.configVersion === stored.lastConfigChangeAt);
  const outdated = live.filter((t) => t.configVersion !== stored.lastConfigChangeAt);
  // Current tasks on draining agents no longer count: they leave once replaced.
  const leaving = current.filter((t) => draining.has(t.agentId));
  const staying = current.filter((t) => !draining.has(t.agentId));
  const kill: string[] = [];

  if (staying.length > app.instances) {
    const order = [...staying].sort(byAgeYoungestFirst);
    if (app.killSelection === 'OLDEST_FIRST') order.reverse();
    // Never-started tasks go first whatever the selection: stopping them costs nothing. Running ones
    // go in selection order, from the most crowded GROUP_BY value first.
    // Tasks a kill-and-scale named go before all of them.
    const excess = staying.length - app.instances;
    const named = order.filter((t) => t.killPreferred).slice(0, excess);
    const others = order.filter((t) => !t.killPreferred);
    const unstarted = others.filter((t) => t.state !== 'TASK_RUNNING').slice(0, excess - named.length);
    const running = others.filter((t) => t.state === 'TASK_RUNNING');
    const chosen = [...named, ...unstarted, ...spreadKeepingKills(app.constraints ?? [], running, excess - named.length - unstarted.length, placementOf)];
    kill.push(...chosen.map((t) => t.taskId));
  }
  kill.push(...leavingKills(app, leaving, staying.filter((t) => !kill.includes(t.taskId))));

  let launch = Math.max(0, app.instances - staying.length);
  // An upgrade runs while old tasks live or are still being killed: until they end they count.
  // Current tasks leaving a draining agent are moved by the rule above and count neither way: were
  // they counted healthy, an old task elsewhere could go for an instance that is about to leave.
  const dying = tasks.filter((t) => t.killRequested && t.state !== 'TASK_UNREACHABLE');
  if (outdated.length > 0 || dying.some((t) => t.configVersion !== stored.lastConfigChangeAt)) {
    const rolling = planRollingUpgrade({
      instances: app.instances,
      strategy: upgradeStrategyOf(app),
      old: outdated.map((t) => rollingTask(app, t, serving)),
      fresh: staying.filter((t) => !kill.includes(t.taskId)).map((t) => rollingTask(app, t, ready)),
      dying: dying.length + kill.filter((id) => staying.some((t) => t.taskId === id)).length,
      missing: launch,
    });
    kill.push(...rolling.kill);
    launch = rolling.launch;
  }

  const held = backoff !== undefined && backoff.notBefore > now && launch > 0;
  const expunge = tasks.filter((t) => expired(app, t, now)).map((t) => t.taskId);
  return { launch: held ? 0 : launch, kill, expunge, delayedUntil: held ? backoff.notBefore : undefined };
}

/** A task as the rolling upgrade sees it; an unknown state (init restarted) or health may still serve. */
function rollingTask(app: AppDefinition, t: AppTask, serves: (app: AppDefinition, t: AppTask) => boolean): RollingTask {
  let health: RollingHealth = 'down';
  if (serves(app, t)) health = 'healthy';
  // Healthy but not (yet, or not since init started) past its readiness check: it may serve.
  else if (t.state === 'TASK_UNKNOWN' || t.state === 'TASK_UNREACHABLE' || (t.state === 'TASK_RUNNING' && t.healthy !== false)) health = 'unknown';
  return { taskId: t.taskId, health, stagedAt: t.stagedAt };
}

/** Marathon's launch backoff: backoffSeconds × backoffFactor^(failures−1), capped at maxLaunchDelaySeconds. */
export function backoffAfterFailure(app: AppDefinition, previous: Backoff | undefined, now: number): Backoff {
  const failures = (previous?.failures ?? 0) + 1;
  const seconds = Math.min(app.backoffSeconds * app.backoffFactor ** (failures - 1), app.maxLaunchDelaySeconds);
  return { failures, notBefore: now + seconds * 1000 };
}

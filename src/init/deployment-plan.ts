// The pure deployment planner: from what apps were and what they become, the steps of a deployment
// (Marathon's DeploymentPlan), when an action is done, and how a rollback restores the original.
// Nothing here writes or schedules; deployments.ts runs the plans and the `--dry-run` shows them.
import { CorralError } from '../shared/errors';
import type { AppChange, AppTask, DeploymentAction, DeploymentActionType, DeploymentPlan, DeploymentStep, StoredApp } from './types';
import { readinessPassed } from './readiness';

/**
 * Marathon's order: first stop the removed apps (dependents before what they depend on), then start
 * the new ones with no instances, then scale, restart or scale up each app in dependency order —
 * an app in a later step than every app it depends on. Apps in the same step change at once; an app
 * whose change needs no task (e.g. only its upgradeStrategy) gets no action. Dependencies on apps
 * outside the change are already met.
 */
export function planDeployment(id: string, version: string, changes: readonly AppChange[]): DeploymentPlan {
  const stopped = changes.filter((c) => c.original && !c.target);
  const started = changes.filter((c) => !c.original && c.target);
  const kept = changes.filter((c) => c.target);
  const steps: DeploymentStep[] = [];
  const stopLayers = layers(stopped, (c) => c.original!.app.dependencies ?? []).reverse();
  for (const layer of stopLayers) steps.push(step(layer.map((c) => action('StopApplication', c.appId))));
  steps.push(step(started.map((c) => action('StartApplication', c.appId))));
  for (const layer of layers(kept, (c) => c.target!.app.dependencies ?? [])) {
    steps.push(step(layer.flatMap((c) => {
      const type = targetAction(c);
      return type ? [action(type, c.appId)] : [];
    })));
  }
  return {
    id,
    version,
    affectedApps: changes.map((c) => c.appId).sort(),
    steps: steps.filter((s) => s.actions.length > 0),
    changes: [...changes],
  };
}

/** A new app scales up from none; a new config restarts; a new instance count scales. */
function targetAction(c: AppChange): DeploymentActionType | undefined {
  const target = c.target!;
  if (!c.original) return target.app.instances > 0 ? 'ScaleApplication' : undefined;
  if (target.lastConfigChangeAt !== c.original.lastConfigChangeAt) return 'RestartApplication';
  return target.app.instances !== c.original.app.instances ? 'ScaleApplication' : undefined;
}

const action = (type: DeploymentActionType, app: string): DeploymentAction => ({ action: type, app });
const step = (actions: DeploymentAction[]): DeploymentStep => ({ actions: actions.sort((a, b) => a.app.localeCompare(b.app)) });

/**
 * Groups the changes by the longest chain of dependencies below them within the change: layer 0
 * depends on none of the others, layer n on something in layer n−1. A cycle is refused.
 */
function layers(changes: readonly AppChange[], depsOf: (c: AppChange) => readonly string[]): AppChange[][] {
  const byId = new Map(changes.map((c) => [c.appId, c]));
  const depth = new Map<string, number>();
  const visiting = new Set<string>();
  const depthOf = (c: AppChange): number => {
    const known = depth.get(c.appId);
    if (known !== undefined) return known;
    if (visiting.has(c.appId)) {
      throw new CorralError('VALIDATION_FAILED', 'Object is not valid', [{ path: '/dependencies', errors: [`Dependency graph has cyclic dependencies (through ${c.appId}).`] }]);
    }
    visiting.add(c.appId);
    const below = depsOf(c).map((d) => byId.get(d)).filter((d): d is AppChange => d !== undefined);
    const d = below.length === 0 ? 0 : 1 + Math.max(...below.map(depthOf));
    visiting.delete(c.appId);
    depth.set(c.appId, d);
    return d;
  };
  const out: AppChange[][] = [];
  for (const c of changes) (out[depthOf(c)] ??= []).push(c);
  return out.filter((l) => l !== undefined);
}

/** Refuses apps whose dependencies form a cycle (Marathon: "Dependency graph has cyclic dependencies."). */
export function checkDependencies(apps: readonly StoredApp[]): void {
  layers(
    apps.map((s) => ({ appId: s.app.id, original: undefined, target: s })),
    (c) => c.target!.app.dependencies ?? [],
  );
}

/**
 * Whether an action has reached its goal. A stopped app has no task left; a started one exists; a
 * scaled or restarted one has exactly `instances` tasks, every one of the current config, RUNNING
 * and — when the app has health checks — healthy, past its readiness check if the app has one, with
 * nothing else left (no old task still dying).
 */
export function actionDone(action: DeploymentAction, target: StoredApp | undefined, tasks: readonly AppTask[]): boolean {
  if (action.action === 'StartApplication') return true;
  if (action.action === 'StopApplication' || !target) return tasks.length === 0;
  const checked = (target.app.healthChecks?.length ?? 0) > 0;
  return (
    tasks.length === target.app.instances &&
    tasks.every((t) => !t.killRequested && t.configVersion === target.lastConfigChangeAt && t.state === 'TASK_RUNNING' && (!checked || t.healthy === true) && readinessPassed(target.app, t))
  );
}

/**
 * The definition a rollback writes: the original's, as a new version. Its config version comes back
 * too, so the tasks still running the original config count as current again and only the new ones
 * are replaced (a rollback of a scale-only change keeps every task).
 */
export function restoredApp(original: StoredApp, current: StoredApp, version: string): StoredApp {
  return {
    app: original.app,
    version,
    lastConfigChangeAt: original.lastConfigChangeAt,
    lastScalingAt: original.app.instances !== current.app.instances ? version : current.lastScalingAt,
  };
}

/** The reverse of a deployment's changes, for its rollback: each app back to its original (or gone). */
export function rollbackChanges(plan: DeploymentPlan, current: (appId: string) => StoredApp | undefined, version: string): AppChange[] {
  return plan.changes.map((c) => {
    const now = current(c.appId);
    const target = c.original ? (now ? restoredApp(c.original, now, version) : { ...c.original, version }) : undefined;
    return { appId: c.appId, original: now, target };
  });
}

/** The deadline of a deployment (ms since epoch): the shortest `upgradeStrategy.deadlineSeconds` of its targets. */
export function deploymentDeadline(plan: DeploymentPlan, startedAt: number, requestSeconds?: number): number | undefined {
  const seconds = plan.changes.map((c) => c.target?.app.upgradeStrategy?.deadlineSeconds).filter((s): s is number => s !== undefined);
  if (requestSeconds !== undefined) seconds.push(requestSeconds);
  return seconds.length === 0 ? undefined : startedAt + Math.min(...seconds) * 1000;
}

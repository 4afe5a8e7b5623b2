// Init's InstanceKiller (task-kill-routes.ts) built from the public sides of the master, the
// controller and the app service. A plain kill is the operator's (the master's killTask): init sees
// the task end and replaces it. Kill-and-scale marks the named tasks as the ones to go first and
// lowers their apps' instance counts in the same turn: the scale-down deployment kills exactly them
// (as init's own kills: no backoff), and no replacement is ever started in between. Several apps
// make one deployment each; the answer names the last.
import type { Clock } from '../shared/clock';
import { isCorralError } from '../shared/errors';
import { uuid } from '../shared/ids';
import type { ChangeResult } from './app-service';
import type { InstanceKiller } from './task-kill-routes';
import type { AppTask, StoredApp } from './types';

export interface InstanceKillerDeps {
  master: { killTask(taskId: string): unknown };
  tasks: { allTasks(): readonly AppTask[]; apps: ReadonlyMap<string, { stored: StoredApp }>; preferKills(taskIds: readonly string[], preferred?: boolean): void };
  apps: { update(appId: string, body: unknown, partial: boolean, opts?: { force?: boolean }): Promise<ChangeResult> };
  clock: Clock;
}

export function initInstanceKiller(deps: InstanceKillerDeps): InstanceKiller {
  /** Returns the ids the master had live (and so asked their agents to kill). */
  const kill = (tasks: readonly AppTask[]): string[] => {
    const sent: string[] = [];
    for (const t of tasks) {
      try {
        deps.master.killTask(t.taskId);
        sent.push(t.taskId);
      } catch (err) {
        // The master no longer has it (ended meanwhile, or init still reconciles it): nothing to kill.
        if (!isCorralError(err) || err.code !== 'TASK_NOT_FOUND') throw err;
      }
    }
    return sent;
  };

  return {
    known(taskIds) {
      const wanted = new Set(taskIds);
      return deps.tasks.allTasks().filter((t) => wanted.has(t.taskId));
    },
    kill: (tasks) => void kill(tasks),
    async killAndScale(tasks, force) {
      const perApp = new Map<string, AppTask[]>();
      for (const t of tasks) perApp.set(t.appId, [...(perApp.get(t.appId) ?? []), t]);
      let last: ChangeResult | undefined;
      for (const [appId, named] of perApp) {
        const stored = deps.tasks.apps.get(appId)?.stored;
        if (!stored) continue;
        const ids = named.map((t) => t.taskId);
        deps.tasks.preferKills(ids);
        try {
          last = await deps.apps.update(appId, { instances: Math.max(0, stored.app.instances - named.length) }, true, { force });
        } catch (err) {
          deps.tasks.preferKills(ids, false);
          throw err;
        }
      }
      return last ? { deploymentId: last.deploymentId, version: last.stored.version } : { deploymentId: uuid(), version: new Date(deps.clock.now()).toISOString() };
    },
  };
}

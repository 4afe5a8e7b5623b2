// Init's InstanceKiller (task-kill-routes.ts) built from the public sides of the master, the
// controller and the app service. A kill is the operator's (the master's killTask): init sees the
// task end and replaces it. Kill-and-scale kills, waits until init has seen every named task end,
// and only then lowers the instance counts: lowering first would let init pick its own victims
// (killSelection) besides the named ones. In the moment between, init may start a replacement,
// which it then stops again as surplus (youngest first, unless the app says OLDEST_FIRST). A
// controller operation that marks the tasks as its own kills and lowers the count in one step would
// close that gap. Several apps make one deployment each; the answer names the last.
import type { OperatorEventSource } from './events';
import type { Clock } from '../shared/clock';
import { isCorralError } from '../shared/errors';
import { uuid } from '../shared/ids';
import { isTerminal } from '../kernel/types';
import type { ChangeResult } from './app-service';
import type { InstanceKiller } from './task-kill-routes';
import type { AppTask, StoredApp } from './types';

/** Beyond the longest kill grace period among the apps, how long to wait for killed tasks to end (ms). */
const KILL_SETTLE_MS = 30_000;

export interface InstanceKillerDeps {
  master: OperatorEventSource & { killTask(taskId: string): unknown };
  tasks: { allTasks(): readonly AppTask[]; apps: ReadonlyMap<string, { stored: StoredApp }> };
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

  /** Resolves once every task has ended, or after the wait bound. */
  const ended = (tasks: readonly AppTask[]): Promise<void> => {
    const waiting = new Set(tasks.map((t) => t.taskId));
    const graceMs = Math.max(0, ...tasks.map((t) => (deps.tasks.apps.get(t.appId)?.stored.app.taskKillGracePeriodSeconds ?? 0) * 1000));
    return new Promise((resolve) => {
      const done = () => {
        off();
        timer.cancel();
        resolve();
      };
      const off = deps.master.onEvent((e) => {
        if (e.type !== 'TASK_UPDATED' || !isTerminal(e.task.state) || !waiting.delete(e.task.id)) return;
        if (waiting.size === 0) done();
      });
      const timer = deps.clock.setTimeout(done, graceMs + KILL_SETTLE_MS);
      const sent = new Set(kill(tasks));
      for (const id of [...waiting]) if (!sent.has(id)) waiting.delete(id);
      if (waiting.size === 0) done();
    });
  };

  return {
    known(taskIds) {
      const wanted = new Set(taskIds);
      return deps.tasks.allTasks().filter((t) => wanted.has(t.taskId));
    },
    kill: (tasks) => void kill(tasks),
    async killAndScale(tasks, force) {
      const perApp = new Map<string, number>();
      for (const t of tasks) perApp.set(t.appId, (perApp.get(t.appId) ?? 0) + 1);
      await ended(tasks);
      // Init handles the last update on a later microtask; let it forget the tasks first.
      await new Promise((resolve) => setImmediate(resolve));
      let last: ChangeResult | undefined;
      for (const [appId, killed] of perApp) {
        const stored = deps.tasks.apps.get(appId)?.stored;
        if (stored) last = await deps.apps.update(appId, { instances: Math.max(0, stored.app.instances - killed) }, true, { force });
      }
      return last ? { deploymentId: last.deploymentId, version: last.stored.version } : { deploymentId: uuid(), version: new Date(deps.clock.now()).toISOString() };
    },
  };
}

// What a task's end means for its app (pure): Marathon's lastTaskFailure, and the launch backoff
// that an unexpected end (not a kill init asked for) starts or grows.
import type { TaskStatus } from '../kernel/types';
import { backoffAfterFailure } from './plan';
import type { AppDefinition, AppTask, Backoff, TaskFailure } from './types';

export interface TaskEnd {
  /** The app's new lastTaskFailure, when this end is one. */
  failure?: TaskFailure;
  /** The app's new launch backoff, when the end was unexpected. */
  backoff?: Backoff;
}

export function taskEnd(app: AppDefinition, task: AppTask, status: TaskStatus, previous: Backoff | undefined, now: number): TaskEnd {
  const unexpected = !task.killRequested && status.state !== 'TASK_KILLED';
  const out: TaskEnd = {};
  if (unexpected || status.state === 'TASK_FAILED') {
    out.failure = { appId: task.appId, host: task.host, message: status.message ?? '', state: status.state, taskId: task.taskId, timestamp: new Date(status.timestamp).toISOString(), version: task.version };
  }
  if (unexpected) {
    // A task that stayed up for maxLaunchDelaySeconds was healthy enough to forgive past failures.
    const ranLong = task.startedAt !== undefined && status.timestamp - task.startedAt >= app.maxLaunchDelaySeconds * 1000;
    out.backoff = backoffAfterFailure(app, ranLong ? undefined : previous, now);
  }
  return out;
}

// How a status update that does not end a task changes init's record of it (pure: it changes only
// the task it is given).
import type { TaskStatus } from '../kernel/types';
import type { AppTask } from './types';

export interface LiveStatusEffect {
  /** The task was lost or came back: a replacement may be due, or a surplus to kill. */
  reachabilityChanged: boolean;
  /** It started or changed health: an upgrade or a move may take its next step. */
  progressed: boolean;
}

/**
 * Applies a non-terminal `status` to `task`: its state (RUNNING of a task init is killing stays
 * KILLING), since when it is unreachable, when it started, and its health as the agent last saw it
 * (an update without health, e.g. a bare reconciliation answer, keeps the last known).
 */
export function applyLiveStatus(task: AppTask, status: TaskStatus): LiveStatusEffect {
  const before = { state: task.state, healthy: task.healthy, unreachable: task.unreachableSince !== undefined };
  task.state = task.killRequested && status.state === 'TASK_RUNNING' ? 'TASK_KILLING' : status.state;
  if (status.state === 'TASK_UNREACHABLE') task.unreachableSince ??= status.timestamp;
  else delete task.unreachableSince;
  if (status.state === 'TASK_RUNNING' && task.startedAt === undefined) task.startedAt = status.timestamp;
  if (status.state === 'TASK_RUNNING') {
    if (status.healthCheckResults !== undefined) task.healthCheckResults = status.healthCheckResults;
    if (status.healthCheckResults !== undefined || status.healthy !== undefined) task.healthy = status.healthy;
  }
  return {
    reachabilityChanged: before.unreachable !== (task.unreachableSince !== undefined),
    progressed: before.state !== task.state || before.healthy !== task.healthy,
  };
}

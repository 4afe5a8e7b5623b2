// Pure: what a task's end means for its status. Mirrors the Mesos command executor: a task the
// framework asked to kill is TASK_KILLED however it ended; otherwise only exit status 0 is success.
import type { TaskReason, TaskState } from '../types';

export interface ExitOutcome {
  state: TaskState;
  reason?: TaskReason;
  message: string;
  /** Set only when the process exited with a status (not when a signal ended it). */
  exitCode?: number;
}

/**
 * @param code exit status, or null when a signal ended the process
 * @param signal the signal's name (e.g. 'SIGKILL'), or null
 * @param killRequested the framework (or the agent's stop) asked for this task to be killed
 */
export function exitOutcome(code: number | null, signal: string | null, killRequested: boolean): ExitOutcome {
  const how = code !== null ? `Command exited with status ${code}` : `Command terminated with signal ${signal ?? 'unknown'}`;
  const exitCode = code !== null ? { exitCode: code } : {};
  if (killRequested) return { state: 'TASK_KILLED', message: how, ...exitCode };
  if (code === 0) return { state: 'TASK_FINISHED', message: how, exitCode: 0 };
  return { state: 'TASK_FAILED', reason: 'REASON_COMMAND_EXECUTOR_FAILED', message: how, ...exitCode };
}

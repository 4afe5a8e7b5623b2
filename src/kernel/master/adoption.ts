// What the master makes of an agent that (re)registers with its tasks, as a pure plan: tasks it
// reports are adopted (running ones hold resources again, ended ones answer reconciliation), and
// tasks the master placed on that agent but the agent does not know are lost.
import { isTerminal, type TaskInfo, type TaskStatus } from '../types';
import { applyStatus, newTaskRecord, type TaskRecord } from './task-record';

export interface AdoptionPlan {
  /** New records for tasks the master did not know: running ones go live, ended ones to the completed list. */
  adopted: TaskRecord[];
  /** Tasks the master placed on this agent that the agent does not report. */
  lost: TaskStatus[];
}

/**
 * Records the master already has are brought up to date in place (their latest status); only
 * new records and lost updates are returned for the shell to apply.
 */
export function planAdoption(
  agent: { id: string; hostname: string },
  reported: ReadonlyArray<{ task: TaskInfo; status: TaskStatus }>,
  live: ReadonlyMap<string, TaskRecord>,
  now: number,
): AdoptionPlan {
  const known = new Set(reported.map((r) => r.task.taskId));
  const adopted: TaskRecord[] = [];
  for (const { task, status } of reported) {
    const existing = live.get(task.taskId);
    if (existing) {
      applyStatus(existing, status);
      continue;
    }
    const record = newTaskRecord(task, agent.hostname, status.timestamp);
    applyStatus(record, status);
    adopted.push(record);
  }
  const lost: TaskStatus[] = [];
  for (const record of live.values()) {
    if (record.info.agentId !== agent.id || known.has(record.info.taskId)) continue;
    lost.push({
      taskId: record.info.taskId,
      agentId: agent.id,
      frameworkId: record.info.frameworkId,
      state: 'TASK_LOST',
      source: 'SOURCE_MASTER',
      reason: 'REASON_AGENT_RESTARTED',
      message: 'The agent restarted and does not know this task',
      timestamp: now,
    });
  }
  return { adopted, lost };
}

/**
 * Applies a plan to the master's maps: running tasks hold resources again, ended ones go to the
 * completed list (they answer reconciliation truthfully). Returns the adopted records; the lost
 * statuses are the caller's to deliver.
 */
export function applyAdoption(plan: AdoptionPlan, live: Map<string, TaskRecord>, completed: TaskRecord[]): TaskRecord[] {
  for (const record of plan.adopted) {
    if (isLiveRecord(record)) live.set(record.info.taskId, record);
    else completed.unshift(record);
  }
  return plan.adopted;
}

/** A record whose task has not ended. */
export const isLiveRecord = (r: TaskRecord): boolean => !isTerminal(r.status.state);

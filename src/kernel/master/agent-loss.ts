// What the master makes of an agent the cluster plane lost (it stopped answering, or its link was
// cut), as pure plans: its live tasks become TASK_UNREACHABLE — not lost: they may still run, and
// the agent's registration when it comes back says how they are — and when it does come back, the
// tasks it still runs are announced to their frameworks again.
import type { TaskStatus } from '../types';
import type { TaskRecord } from './task-record';

/** TASK_UNREACHABLE for every live task of `agentId`, from the master. */
export function planUnreachable(agentId: string, live: Iterable<TaskRecord>, now: number): TaskStatus[] {
  const out: TaskStatus[] = [];
  for (const r of live) {
    if (r.info.agentId !== agentId || r.status.state === 'TASK_UNREACHABLE') continue;
    out.push({
      taskId: r.info.taskId,
      agentId,
      frameworkId: r.info.frameworkId,
      state: 'TASK_UNREACHABLE',
      source: 'SOURCE_MASTER',
      reason: 'REASON_AGENT_DISCONNECTED',
      message: 'The agent stopped answering; the task may still be running there',
      timestamp: now,
    });
  }
  return out;
}

/**
 * The statuses to tell frameworks when an agent registers again: tasks that were unreachable and
 * that the agent reports in another state. Sent without uuid (the agent's own update was already
 * acknowledged, or will be resent by the agent), with REASON_RECONCILIATION.
 */
export function planReturn(wasUnreachable: ReadonlySet<string>, live: Iterable<TaskRecord>): TaskStatus[] {
  const out: TaskStatus[] = [];
  for (const r of live) {
    if (!wasUnreachable.has(r.info.taskId) || r.status.state === 'TASK_UNREACHABLE') continue;
    const { uuid: _uuid, ...status } = r.status;
    out.push({ ...status, reason: 'REASON_RECONCILIATION' });
  }
  return out;
}

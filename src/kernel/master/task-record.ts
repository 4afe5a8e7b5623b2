// The master's record of one task and the pure rules for folding status updates into it.
import { isTerminal, type Resources, type TaskInfo, type TaskReason, type TaskState, type TaskStatus } from '../types';

export interface TaskRecord {
  info: TaskInfo;
  hostname: string;
  status: TaskStatus;
  stagedAt: number;
  startedAt: number | undefined;
}

/** The task as the operator API shows it. */
export interface TaskView {
  id: string;
  name: string;
  frameworkId: string;
  agentId: string;
  host: string;
  state: TaskState;
  reason: TaskReason | undefined;
  message: string | undefined;
  exitCode: number | undefined;
  healthy: boolean | undefined;
  /**
   * The task has health checks (its TaskInfo carries some): `healthy` stays undefined until the
   * first result, and discovery holds such a task back until then.
   */
  healthChecked: boolean;
  resources: Resources;
  labels: Record<string, string>;
  stagedAt: number;
  startedAt: number | undefined;
  updatedAt: number;
}

export function newTaskRecord(info: TaskInfo, hostname: string, now: number): TaskRecord {
  return {
    info,
    hostname,
    stagedAt: now,
    startedAt: undefined,
    status: { taskId: info.taskId, agentId: info.agentId, frameworkId: info.frameworkId, state: 'TASK_STAGING', source: 'SOURCE_MASTER', timestamp: now },
  };
}

/**
 * Folds an update into the record. Updates for a task that already ended are ignored (a resend
 * can arrive after the terminal one); returns whether the record changed.
 */
export function applyStatus(record: TaskRecord, status: TaskStatus): boolean {
  if (isTerminal(record.status.state)) return false;
  record.status = status;
  if (status.state === 'TASK_RUNNING' && record.startedAt === undefined) record.startedAt = status.timestamp;
  return true;
}

export function toTaskView(r: TaskRecord): TaskView {
  return {
    id: r.info.taskId,
    name: r.info.name,
    frameworkId: r.info.frameworkId,
    agentId: r.info.agentId,
    host: r.hostname,
    state: r.status.state,
    reason: r.status.reason,
    message: r.status.message,
    exitCode: r.status.exitCode,
    healthy: r.status.healthy,
    healthChecked: (r.info.healthChecks?.length ?? 0) > 0,
    resources: r.info.resources,
    labels: r.info.labels,
    stagedAt: r.stagedAt,
    startedAt: r.startedAt,
    updatedAt: r.status.timestamp,
  };
}

/** The master's answer for a task it does not know (Mesos: TASK_LOST for non-partition-aware frameworks). */
export function unknownTaskStatus(taskId: string, frameworkId: string, now: number): TaskStatus {
  return { taskId, frameworkId, agentId: '', state: 'TASK_LOST', source: 'SOURCE_MASTER', reason: 'REASON_RECONCILIATION', message: 'Task is unknown to the master', timestamp: now };
}

/**
 * The master's answers to RECONCILE: every live task of the framework when `asked` is empty,
 * otherwise one per asked task (TASK_LOST for a task it does not know or that is another's).
 */
export function reconcileAnswers(frameworkId: string, asked: ReadonlyArray<{ taskId: string }>, live: ReadonlyMap<string, TaskRecord>, completed: readonly TaskRecord[], now: number): TaskStatus[] {
  const answer = (r: TaskRecord): TaskStatus => ({ ...r.status, uuid: undefined, source: 'SOURCE_MASTER', reason: 'REASON_RECONCILIATION' });
  if (asked.length === 0) return [...live.values()].filter((r) => r.info.frameworkId === frameworkId).map(answer);
  return asked.map((t) => {
    const r = live.get(t.taskId) ?? completed.find((c) => c.info.taskId === t.taskId);
    return r && r.info.frameworkId === frameworkId ? answer(r) : unknownTaskStatus(t.taskId, frameworkId, now);
  });
}

/** How many records are in each task state. */
export function countByState(records: Iterable<TaskRecord>): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of records) counts[r.status.state] = (counts[r.status.state] ?? 0) + 1;
  return counts;
}

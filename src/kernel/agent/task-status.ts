// What the agent says about tasks: status updates built from a state change, reconciliation
// answers, launch refusals, container limits derived from resources, and Mesos-style statistics.
import { randomUUID } from 'node:crypto';
import type { HealthCheckResult, Resources, StatusSource, TaskInfo, TaskReason, TaskState, TaskStatus } from '../types';
import { isTerminal } from '../types';
import type { ContainerStats, TaskStatistics } from '../agent-link';
import type { ContainerLimits } from './isolation/types';
import { invalidTaskIdReason } from './sandbox';

/** A new state of a task, before the agent stamps it with ids, a timestamp and a uuid. */
export interface StatusFields {
  state: TaskState;
  source: StatusSource;
  reason?: TaskReason;
  message?: string;
  exitCode?: number;
  healthy?: boolean | undefined;
  healthCheckResults?: HealthCheckResult[];
  /** When it happened (ms), if known better than the moment the agent reports it. */
  at?: number;
}

/** A status update to be acknowledged: a fresh uuid, `fields.at` or `now` as timestamp, optional fields only when set. */
export function newStatus(task: Pick<TaskInfo, 'taskId' | 'agentId' | 'frameworkId'>, fields: StatusFields, agentId: string, now: number): TaskStatus {
  const status: TaskStatus = { taskId: task.taskId, agentId: task.agentId ?? agentId, frameworkId: task.frameworkId, state: fields.state, source: fields.source, timestamp: fields.at ?? now, uuid: randomUUID() };
  for (const key of ['reason', 'message', 'exitCode', 'healthy', 'healthCheckResults'] as const) {
    if (fields[key] !== undefined) Object.assign(status, { [key]: fields[key] });
  }
  return status;
}

export function withoutUuid(status: TaskStatus): TaskStatus {
  const { uuid: _uuid, ...rest } = status;
  return rest;
}

/**
 * The answer to a kill for a task this agent does not run. Mesos answers with TASK_LOST; so do we,
 * as a reconciliation answer: without a uuid and sent once, because the agent does not know the
 * task's framework and so nobody could acknowledge it. A task whose acknowledged end is still
 * remembered is answered with its real final state.
 */
export function unknownTaskAnswer(taskId: string, remembered: TaskStatus | undefined, agentId: string, now: number): TaskStatus {
  if (remembered) return { ...withoutUuid(remembered), timestamp: now };
  return { taskId, agentId, frameworkId: '', state: 'TASK_LOST', source: 'SOURCE_AGENT', reason: 'REASON_RECONCILIATION', message: `Task '${taskId}' is not known to this agent`, timestamp: now };
}

/** Container limits from a task's resources; a resource of 0 is limited only by the agent's total. */
export function containerLimits(resources: Resources, agentTotal: Resources, pids: number): ContainerLimits {
  return { cpus: resources.cpus > 0 ? resources.cpus : agentTotal.cpus, memMb: resources.mem > 0 ? resources.mem : agentTotal.mem, pids };
}

export interface LaunchFacts {
  stopping: boolean;
  /** Latest status of a tracked task with the same id. */
  known: TaskStatus | undefined;
  /** A checkpoint for this id exists (also before start() recovered it). */
  checkpointed: boolean;
}

/** Why a launch is refused (REASON_TASK_INVALID), or undefined to run it. A task is never launched twice. */
export function launchRefusal(task: TaskInfo, facts: LaunchFacts): string | undefined {
  if (facts.stopping) return 'The agent is stopping';
  const badId = invalidTaskIdReason(task.taskId);
  if (badId) return badId;
  if (facts.known && !isTerminal(facts.known.state)) return `Task '${task.taskId}' is already running on this agent`;
  if (facts.known) return `Task '${task.taskId}' has ended but its final status is not acknowledged yet`;
  if (facts.checkpointed) return `Task '${task.taskId}' is already known to this agent (checkpointed)`;
  if (!task.command || typeof task.command.value !== 'string' || task.command.value === '') return 'Task has no command';
  return undefined;
}

interface MeasuredRun {
  task: TaskInfo;
  phase: string;
  container: unknown;
  stats(): Promise<ContainerStats>;
}

/** Mesos's /monitor/statistics entries of the running tasks; a task that cannot be measured is left out. */
export async function runningStatistics(runs: readonly MeasuredRun[]): Promise<TaskStatistics[]> {
  const entries = await Promise.all(
    runs
      .filter((run) => run.phase === 'spawned' && run.container)
      .map(async (run) => {
        const { task } = run;
        const statistics = await run.stats().catch(() => undefined);
        return statistics && { executor_id: task.taskId, executor_name: `Command Executor (Task: ${task.taskId})`, framework_id: task.frameworkId, source: task.name, statistics };
      }),
  );
  return entries.filter((e): e is TaskStatistics => e !== undefined);
}

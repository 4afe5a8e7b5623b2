// The master <-> agent contract. In one process the daemon wires an Agent straight to the
// Master; the cluster plane (issue 4) carries the same calls over node RPC.
import type { AgentInfo, ContainerStats, TaskInfo, TaskStatus } from './types';

export type { ContainerStats };

export type LogStream = 'stdout' | 'stderr';

export interface LogChunk {
  data: Buffer;
  /** Byte offset of data[0] in the file. */
  offset: number;
  /** File size when read, in bytes. */
  size: number;
}

/** One running task's resource usage, in Mesos's /monitor/statistics shape. */
export interface TaskStatistics {
  /** The task id (Corral runs one task per executor). */
  executor_id: string;
  executor_name: string;
  framework_id: string;
  /** The task's name. */
  source: string;
  statistics: ContainerStats;
}

/** What the master can ask of an agent. */
export interface AgentLink {
  launch(task: TaskInfo): void;
  /** SIGTERM the task's process group, SIGKILL after the grace period (seconds; default from config). */
  kill(taskId: string, gracePeriodSeconds?: number): void;
  /** The framework acknowledged this update; the agent stops resending it. */
  acknowledge(taskId: string, uuid: string): void;
  /** Reads up to maxBytes of a task's stdout or stderr from `offset`. Throws TASK_NOT_FOUND / SANDBOX_GONE. */
  readLog(taskId: string, stream: LogStream, offset: number, maxBytes: number): Promise<LogChunk>;
  /** Latest status of every task the agent knows (for reconciliation). */
  taskStatuses(): TaskStatus[];
  /**
   * Every task the agent has not retired (running, or ended with its final update not yet
   * acknowledged), with its latest status without uuid: what a master (re)builds its view from
   * when the agent registers after a restart of either side.
   */
  reportTasks?(): Array<{ task: TaskInfo; status: TaskStatus }>;
  /**
   * Resource usage of a running task. Throws TASK_NOT_FOUND when the task is unknown or not running.
   * Optional, as reportTasks: links without statistics (test fakes, older agents) leave it out.
   */
  taskStats?(taskId: string): Promise<ContainerStats>;
  /** Resource usage of every running task (Mesos's /monitor/statistics). */
  statistics?(): Promise<TaskStatistics[]>;
}

/** What an agent tells its master. */
export interface MasterLink {
  registerAgent(info: AgentInfo, link: AgentLink): void;
  statusUpdate(status: TaskStatus): void;
}

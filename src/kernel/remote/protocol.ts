// Node RPC between an agent and its master, version 1: method names and bodies. Wire types live with
// their protocol (STYLE.md); methods are only ever added, and a change of meaning is a new version.
import type { AgentInfo, ContainerStats, TaskInfo, TaskStatus } from '../types';
import type { LogStream, TaskStatistics } from '../agent-link';

export const NODE_RPC_VERSION = 1;

/** Agent → master. */
export interface RegisterBody {
  v: number;
  info: AgentInfo;
  /** AgentLink.reportTasks(): what the master rebuilds its view of this agent from. */
  tasks: Array<{ task: TaskInfo; status: TaskStatus }>;
  /** AgentLink.taskStatuses(): the latest status of every task the agent knows. */
  statuses: TaskStatus[];
}
export interface StatusBody {
  status: TaskStatus;
}

/** Master → agent. */
export interface LaunchBody {
  task: TaskInfo;
}
export interface KillBody {
  taskId: string;
  gracePeriodSeconds?: number;
}
export interface AckBody {
  taskId: string;
  uuid: string;
}
export interface LogBody {
  taskId: string;
  stream: LogStream;
  offset: number;
  maxBytes: number;
}
/** A LogChunk on the wire: the bytes base64-encoded. */
export interface LogReply {
  data: string;
  offset: number;
  size: number;
}
export interface StatsBody {
  taskId: string;
}
export type StatsReply = ContainerStats;
export type StatisticsReply = TaskStatistics[];

export const METHODS = {
  register: 'agent.register',
  status: 'agent.status',
  launch: 'task.launch',
  kill: 'task.kill',
  ack: 'task.ack',
  log: 'task.log',
  stats: 'task.stats',
  statistics: 'agent.statistics',
} as const;

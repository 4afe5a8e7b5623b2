// Node RPC between an agent and its master, version 1: method names and bodies. Wire types live with
// their protocol (STYLE.md); methods are only ever added, and a change of meaning is a new version.
import type { AgentInfo, ContainerStats, TaskInfo, TaskStatus } from '../types';
import type { LogStream, TaskStatistics } from '../agent-link';
import type { FrameworkView, OperatorEvent, TaskView } from '../sdk/operator';

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
  feedSubscribe: 'operator.subscribe',
  feedUnsubscribe: 'operator.unsubscribe',
  feedSnapshot: 'operator.snapshot',
  feedEvents: 'operator.events',
} as const;

// The operator feed (added to version 1; operator-feed.ts, operator-mirror.ts): any node of the
// cluster asks the master for its operator view; the master answers with a snapshot sent as
// notices of at most about FEED_CHUNK_BYTES each, then pushes every operator event. All notices of
// one subscription are numbered (`seq` from 0, snapshot chunks first) so a lost one is noticed.

/** Node → master (request): start (or restart) this channel's subscription; `sub` names it in every notice. */
export interface FeedSubscribeBody {
  v: number;
  sub: string;
}
export interface FeedSubscribeReply {
  v: number;
  sub: string;
}
/** Node → master (notice): stop sending. */
export interface FeedUnsubscribeBody {
  sub: string;
}
/** What the master's framework (init) knows of a task that its TaskView does not say. */
export interface FeedTaskHint {
  appId?: string;
  healthChecked: boolean;
  /** Host ports in the app's port order. */
  ports?: readonly number[];
}
/** The master as discovery names it (`leader.`, `master.`): its host name, IPv4 address and API port. */
export interface FeedEndpoint {
  hostname: string;
  ip: string;
  apiPort?: number;
}
export interface FeedAgent {
  id: string;
  hostname: string;
  /** As in the node list: alive, suspect, unreachable, draining, drained. */
  status?: string;
}
export interface FeedTask {
  view: TaskView;
  hint?: FeedTaskHint;
}
/** Master → node (notice): one chunk of the snapshot; only tasks that have not ended. */
export interface FeedSnapshotBody {
  sub: string;
  seq: number;
  /** The final chunk: the snapshot is complete. */
  last: boolean;
  /** In the first chunk. */
  endpoint?: FeedEndpoint;
  tasks: FeedTask[];
  agents: FeedAgent[];
  frameworks: FrameworkView[];
}
/** An operator event (with the hint for task events), or a change of the master's endpoint. */
export type FeedItem = { event: OperatorEvent; hint?: FeedTaskHint } | { endpoint: FeedEndpoint };
/** Master → node (notice): events in the order the master emitted them. */
export interface FeedEventsBody {
  sub: string;
  seq: number;
  items: FeedItem[];
}
/** Snapshot chunks and event batches stay near this size (bytes of JSON), far below the swarm's 8 MiB frame limit. */
export const FEED_CHUNK_BYTES = 256 * 1024;

/** Which methods each side of a channel serves (router.ts): agent ↔ master, and the operator feed. */
export const SERVED_BY = {
  master: [METHODS.register, METHODS.status],
  agent: [METHODS.launch, METHODS.kill, METHODS.ack, METHODS.log, METHODS.stats, METHODS.statistics],
  feedMaster: [METHODS.feedSubscribe, METHODS.feedUnsubscribe],
  feedNode: [METHODS.feedSnapshot, METHODS.feedEvents],
} as const;

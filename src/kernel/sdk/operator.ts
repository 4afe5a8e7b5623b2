// The operator's view of the kernel: the events the master emits as agents, tasks and frameworks
// change (fed to `GET /api/v1/events`; discovery and the dashboard consume them) and the framework
// summary of `GET /api/v1/state`. Types only, so frameworks may import them.
import type { TaskView } from '../master/task-record';
import type { AgentInfo, TaskStatus } from '../types';

export type { TaskView };

export interface FrameworkView {
  id: string;
  name: string;
  role: string | undefined;
  user: string | undefined;
  /** A subscription is live (false while the framework is within its failover timeout). */
  connected: boolean;
  failoverTimeoutSeconds: number;
  registeredAt: number;
  /** When the subscription dropped (ms since epoch); undefined while connected. */
  disconnectedAt: number | undefined;
  /** Tasks of the framework that have not ended. */
  activeTasks: number;
}

export const OPERATOR_EVENT_TYPES = ['AGENT_ADDED', 'AGENT_REMOVED', 'AGENT_DRAINING', 'AGENT_UNDRAINED', 'TASK_ADDED', 'TASK_UPDATED', 'FRAMEWORK_ADDED', 'FRAMEWORK_UPDATED', 'FRAMEWORK_REMOVED'] as const;

export type OperatorEvent =
  | { type: 'AGENT_ADDED'; agent: AgentInfo }
  | { type: 'AGENT_REMOVED'; agentId: string }
  /** An operator drains the agent (again, when only its deadline changed); times in ms since the epoch. */
  | { type: 'AGENT_DRAINING'; agentId: string; since: number; deadline: number | undefined }
  | { type: 'AGENT_UNDRAINED'; agentId: string }
  | { type: 'TASK_ADDED'; task: TaskView }
  | { type: 'TASK_UPDATED'; task: TaskView; status: TaskStatus }
  /** FRAMEWORK_UPDATED: it disconnected or re-subscribed. */
  | { type: 'FRAMEWORK_ADDED' | 'FRAMEWORK_UPDATED'; framework: FrameworkView }
  | { type: 'FRAMEWORK_REMOVED'; frameworkId: string };

export type OperatorEventListener = (event: OperatorEvent) => void;

// The framework (scheduler) API: the one interface every framework uses — Corral's own init and
// cron as well as a user's. The in-process transport and the HTTP transport implement it alike.
import type { FrameworkInfo, Filters, Offer, Operation, TaskStatus } from '../types';

export interface SchedulerEvents {
  /** New offers for this framework. Accept or decline each; undeclined offers block their agent. */
  offers(offers: Offer[]): void;
  /** An offer is no longer valid (its agent went away, or it timed out). */
  rescind(offerId: string): void;
  /** A task changed state. If `status.uuid` is set the framework must acknowledge it. */
  update(status: TaskStatus): void;
  /** The master dropped this framework (e.g. torn down). */
  error?(message: string): void;
  /** An agent was lost or an executor ended (Mesos's FAILURE event); task updates follow separately. */
  failure?(failure: AgentFailure): void;
  /**
   * An operator is draining this agent: nothing more is offered on it, and at `deadline` the master
   * kills whatever still runs there (reason REASON_AGENT_DRAINING). Each framework decides for its
   * own tasks: a service framework moves them elsewhere first; a batch framework may let them
   * finish. Also sent right after (re)subscribing, once per agent that is draining then.
   */
  agentDraining?(drain: AgentDraining): void;
  /** The agent is no longer draining (an operator undrained it): offers on it resume. */
  agentUndrained?(agentId: string): void;
  /** The master is alive (HTTP transport: a HEARTBEAT event, every heartbeat interval). */
  heartbeat?(): void;
  /**
   * The connection ended without disconnect() or teardown() (HTTP transport: the event stream
   * closed). The framework's tasks keep running for its failover timeout; re-subscribe with the
   * same FrameworkInfo.id to get them back.
   */
  disconnected?(reason: string): void;
}

export interface AgentFailure {
  agentId: string;
  /** Exit status of an executor, when the failure is an executor's. */
  status?: number;
}

export interface AgentDraining {
  agentId: string;
  /** When (ms since the epoch) the master kills what still runs there; absent: no deadline. */
  deadline?: number;
}

export interface ReconcileTask {
  taskId: string;
  agentId?: string;
}

export interface SchedulerConnection {
  readonly frameworkId: string;
  accept(offerIds: string[], operations: Operation[], filters?: Filters): Promise<void>;
  decline(offerIds: string[], filters?: Filters): Promise<void>;
  kill(taskId: string, opts?: { agentId?: string; gracePeriodSeconds?: number }): Promise<void>;
  acknowledge(status: TaskStatus): Promise<void>;
  /** Asks for the latest state of these tasks (all of the framework's tasks when empty); answers arrive as updates without uuid. */
  reconcile(tasks: ReconcileTask[]): Promise<void>;
  /** Clears decline filters and resumes offers. */
  revive(): Promise<void>;
  /** Stops offers until revive. */
  suppress(): Promise<void>;
  /** Unsubscribes; the framework's tasks are killed. */
  teardown(): Promise<void>;
  /** Unsubscribes without killing tasks (the framework may re-subscribe with the same id). */
  disconnect(): Promise<void>;
}

export interface SchedulerTransport {
  subscribe(framework: FrameworkInfo, events: SchedulerEvents): Promise<SchedulerConnection>;
}

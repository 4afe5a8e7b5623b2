// Draining an agent (Mesos 1.9's DRAIN_AGENT / REACTIVATE_AGENT, adapted): an operator takes an
// agent out of service. Nothing more is offered on it, its outstanding offers are rescinded, and
// every framework is told (AGENT_DRAINING) so it decides for its own tasks there: init moves its
// instances elsewhere first, a batch framework lets its tasks finish. At the optional deadline the
// master kills whatever still runs there through the normal kill path, and the terminal update says
// REASON_AGENT_DRAINING. A draining agent with no live task left is 'drained'. Undraining resumes
// offers (AGENT_UNDRAINED). The master keeps no other agent state in the store, so the drain set
// alone is persisted, by agent id: a restarted master still drains, and kills at the deadline
// once the agent registers again.
import type { Clock, TimerHandle } from '../../shared/clock';
import { CorralError, errors } from '../../shared/errors';
import type { Logger } from '../../shared/logger';
import type { JsonValue, Store } from '../../store/types';
import type { AgentLink } from '../agent-link';
import type { OperatorEvent } from '../sdk/operator';
import type { AgentDraining, SchedulerEvents } from '../sdk/types';
import type { TaskStatus } from '../types';
import type { TaskRecord } from './task-record';
import { timerAt } from './timer-at';

export interface AgentDrain {
  /** When the drain began (ms since the epoch); draining again keeps it. */
  since: number;
  /** When the master kills what still runs there (ms since the epoch); absent: never. */
  deadline?: number;
}

/** Where the drain set outlives the master process. */
export interface DrainStore {
  load(): Promise<Map<string, AgentDrain>>;
  /** Writes the agent's drain, or forgets it when `drain` is undefined. */
  save(agentId: string, drain: AgentDrain | undefined): Promise<void>;
}

/** How the operator sees an agent; 'suspect' (gossip membership's doubt) is added by the API. */
export type AgentStatus = 'alive' | 'unreachable' | 'draining' | 'drained';

/** Losing the agent says more than draining it; a drain with nothing live left is done. */
export function agentStatus(unreachableSince: number | undefined, drain: AgentDrain | undefined, liveTasks: number): AgentStatus {
  if (unreachableSince !== undefined) return 'unreachable';
  if (drain) return liveTasks === 0 ? 'drained' : 'draining';
  return 'alive';
}

export function drainNotice(agentId: string, drain: AgentDrain): AgentDraining {
  return drain.deadline === undefined ? { agentId } : { agentId, deadline: drain.deadline };
}

const DRAINS = '/kernel/drains/';

/** The drain set in the cluster store, one key per agent: `/kernel/drains/<agent id>`. */
export function storedDrains(store: Store): DrainStore {
  return {
    async load() {
      return new Map((await store.list<AgentDrain>(DRAINS)).map((e) => [e.key.slice(DRAINS.length), e.value]));
    },
    async save(agentId, drain) {
      if (drain) await store.put(DRAINS + agentId, drain as unknown as JsonValue);
      else await store.delete(DRAINS + agentId);
    },
  };
}

/** What the drains read and do of the master's (read-only views of its maps). */
export interface DrainHost {
  agents: ReadonlyMap<string, { link: AgentLink }>;
  /** Tasks that have not ended, by id. */
  tasks: ReadonlyMap<string, TaskRecord>;
  /** `events` is undefined while a framework is disconnected. */
  frameworks: ReadonlyMap<string, { events: SchedulerEvents | undefined }>;
  rescindOffers(agentId: string): void;
  /** Offers on an undrained agent may resume. */
  queueAllocation(): void;
  emit(make: () => OperatorEvent): void;
}

export interface AgentDrainsOptions {
  clock: Clock;
  logger: Logger;
  host: DrainHost;
  /** Without one, drains last as long as the master process. */
  store?: DrainStore;
  /** The drain set as `store.load()` gave it when the master started. */
  restored?: ReadonlyMap<string, AgentDrain>;
}

export class AgentDrains {
  private readonly drains = new Map<string, AgentDrain>();
  private readonly timers = new Map<string, TimerHandle>();
  /** Tasks killed because their agent's deadline passed → that agent; their TASK_KILLED is relabelled. */
  private readonly killedAtDeadline = new Map<string, string>();
  /** Draining agents already logged as drained. */
  private readonly drained = new Set<string>();
  private running = false;

  constructor(private readonly opts: AgentDrainsOptions) {
    for (const [agentId, drain] of opts.restored ?? []) this.drains.set(agentId, drain);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    for (const agentId of this.drains.keys()) this.arm(agentId);
  }

  stop(): void {
    this.running = false;
    for (const timer of this.timers.values()) timer.cancel();
    this.timers.clear();
  }

  get(agentId: string): AgentDrain | undefined {
    return this.drains.get(agentId);
  }

  has(agentId: string): boolean {
    return this.drains.has(agentId);
  }

  /**
   * Drains a registered agent; `deadlineMs` is how long (ms from now) its tasks may keep running,
   * undefined for no deadline. Draining again replaces the deadline. Persisted before it applies.
   */
  async drain(agentId: string, deadlineMs: number | undefined): Promise<AgentDrain> {
    if (!this.opts.host.agents.has(agentId)) throw errors.agentNotFound(agentId);
    if (deadlineMs !== undefined && !(Number.isFinite(deadlineMs) && deadlineMs >= 0)) {
      throw new CorralError('INVALID_REQUEST', `A drain deadline must be a number of milliseconds >= 0, got ${deadlineMs}`);
    }
    const now = this.opts.clock.now();
    const drain: AgentDrain = { since: this.drains.get(agentId)?.since ?? now, ...(deadlineMs === undefined ? {} : { deadline: now + deadlineMs }) };
    await this.opts.store?.save(agentId, drain);
    this.drains.set(agentId, drain);
    const { host } = this.opts;
    host.rescindOffers(agentId);
    for (const f of host.frameworks.values()) f.events?.agentDraining?.(drainNotice(agentId, drain));
    host.emit(() => ({ type: 'AGENT_DRAINING', agentId, since: drain.since, deadline: drain.deadline }));
    this.opts.logger.info({ event: 'agent_draining', agentId, deadline: drain.deadline }, 'agent draining');
    this.arm(agentId);
    this.noteIfDrained(agentId);
    return drain;
  }

  /** Ends a drain: offers resume. An agent that is not draining is left as it is. */
  async undrain(agentId: string): Promise<void> {
    if (!this.drains.has(agentId)) {
      if (!this.opts.host.agents.has(agentId)) throw errors.agentNotFound(agentId);
      return;
    }
    await this.opts.store?.save(agentId, undefined);
    this.drains.delete(agentId);
    this.drained.delete(agentId);
    this.timers.get(agentId)?.cancel();
    this.timers.delete(agentId);
    for (const [taskId, agent] of this.killedAtDeadline) if (agent === agentId) this.killedAtDeadline.delete(taskId);
    const { host } = this.opts;
    for (const f of host.frameworks.values()) f.events?.agentUndrained?.(agentId);
    host.emit(() => ({ type: 'AGENT_UNDRAINED', agentId }));
    this.opts.logger.info({ event: 'agent_undrained', agentId }, 'agent undrained');
    host.queueAllocation();
  }

  /** Tells a framework that just (re)subscribed which agents are draining. */
  tellSubscriber(events: SchedulerEvents): void {
    for (const [agentId, drain] of this.drains) events.agentDraining?.(drainNotice(agentId, drain));
  }

  /** An agent (re)registered: if its deadline has passed, what it runs is killed now (again: an earlier kill may have gone to a lost link). */
  agentRegistered(agentId: string): void {
    if (this.running) this.killIfDue(agentId, true);
  }

  /** A task-killed update caused by the deadline carries REASON_AGENT_DRAINING. */
  relabel(status: TaskStatus): TaskStatus {
    const agentId = this.killedAtDeadline.get(status.taskId);
    if (agentId === undefined || status.state !== 'TASK_KILLED') return status;
    return { ...status, reason: 'REASON_AGENT_DRAINING', message: `Killed at the drain deadline of agent ${agentId}${status.message ? `: ${status.message}` : ''}` };
  }

  /** After a task of `agentId` ended (or a drain began): a draining agent with nothing live left is drained. */
  noteIfDrained(agentId: string): void {
    if (!this.drains.has(agentId) || this.drained.has(agentId) || this.liveTasks(agentId).length > 0) return;
    this.drained.add(agentId);
    this.opts.logger.info({ event: 'agent_drained', agentId }, 'agent drained: no task runs there');
  }

  private arm(agentId: string): void {
    this.timers.get(agentId)?.cancel();
    this.timers.delete(agentId);
    const deadline = this.drains.get(agentId)?.deadline;
    if (deadline === undefined || !this.running) return;
    this.timers.set(
      agentId,
      timerAt(this.opts.clock, deadline, () => {
        this.timers.delete(agentId);
        if (this.running) this.killIfDue(agentId);
      }),
    );
  }

  private killIfDue(agentId: string, again = false): void {
    const deadline = this.drains.get(agentId)?.deadline;
    if (deadline === undefined || deadline > this.opts.clock.now()) return;
    const live = this.liveTasks(agentId).filter((r) => again || !this.killedAtDeadline.has(r.info.taskId));
    if (live.length > 0) this.opts.logger.warn({ event: 'agent_drain_deadline', agentId, tasks: live.length }, 'drain deadline passed; killing what still runs on the agent');
    for (const record of live) {
      this.killedAtDeadline.set(record.info.taskId, agentId);
      // The normal kill path, with the task's own grace period.
      this.opts.host.agents.get(agentId)?.link.kill(record.info.taskId, record.info.killGracePeriodSeconds);
    }
  }

  private liveTasks(agentId: string): TaskRecord[] {
    return [...this.opts.host.tasks.values()].filter((r) => r.info.agentId === agentId);
  }
}

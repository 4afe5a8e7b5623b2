// The master's imperative shell: it owns agents, frameworks, offers and tasks, asks the pure
// allocator whom to offer what, validates accepts with the pure launch planner, and relays status
// updates from agents to frameworks (and acknowledgements back).
import type { Clock, TimerHandle } from '../../shared/clock';
import { CorralError, errors } from '../../shared/errors';
import { uuid } from '../../shared/ids';
import type { Logger } from '../../shared/logger';
import type { Metrics } from '../../shared/metrics';
import type { AgentLink, MasterLink } from '../agent-link';
import type { FrameworkView, OperatorEvent, OperatorEventListener } from '../sdk/operator';
import type { ReconcileTask, SchedulerEvents } from '../sdk/types';
import { DEFAULT_FAILOVER_TIMEOUT_SECONDS } from '../sdk/wire';
import { frameworkView, type FrameworkEntry } from './framework-entry';
import { OperatorEventHub } from './operator-events';
import { isTerminal, type AgentInfo, type Filters, type FrameworkInfo, type Offer, type Operation, type TaskStatus } from '../types';
import { allocateOffers } from './allocator';
import { allocationInput, masterSnapshot } from './allocation-input';
import { HeldMap, HoldingTally } from './holdings';
import type { RoleConfig } from './allocator-roles';
import { applyAdoption, planAdoption } from './adoption';
import { agentView, offersByFramework, planReturn, planUnreachable, type AgentState, type AgentView } from './agent-loss';
import { AgentDrains, type AgentDrain, type DrainStore } from './drain';
export type { AgentView };
import { planLaunch } from './launch';
import { applyStatus, countByState, newTaskRecord, reconcileAnswers, toTaskView, unknownTaskStatus, type TaskRecord, type TaskView } from './task-record';
import { DEFAULT_AGENT_REREGISTER_MS, ReconcileHold } from './reconcile-hold';
import { timerAt } from './timer-at';

export interface MasterOptions {
  clock: Clock;
  logger: Logger;
  metrics?: Metrics;
  /** Periodic allocation cycle (ms); changes also trigger an immediate cycle. */
  allocationIntervalMs?: number;
  /** How many ended tasks to keep for the API. */
  completedTaskLimit?: number;
  /** Role weights and quota limits, e.g. `{ batch: { weight: 3, quota: { cpus: 64 } } }`; unnamed roles have weight 1, no limit. */
  roles?: RoleConfig;
  /** Keeps the drain set across master restarts (`restored`: as loaded from `store` at start); without it drains last as long as the process. */
  drains?: { store: DrainStore; restored?: ReadonlyMap<string, AgentDrain> };
  /** After start, how long reconciliation of tasks on agents not yet registered again waits for them (ms; reconcile-hold.ts). */
  agentReregisterMs?: number;
}

interface AgentEntry extends AgentState {
  link: AgentLink;
}

const DEFAULT_REFUSE_SECONDS = 5;

export class Master implements MasterLink {
  private readonly agents = new Map<string, AgentEntry>();
  private readonly frameworks = new Map<string, FrameworkEntry>();
  /** What the tasks and offers below hold, per agent and framework (kept by their HeldMaps). */
  private readonly holdings = new HoldingTally();
  private readonly offers = new HeldMap<Offer>(this.holdings, (o) => o);
  private readonly tasks = new HeldMap<TaskRecord>(this.holdings, (r) => r.info);
  private readonly completed: TaskRecord[] = [];
  /** Frameworks torn down or timed out: their updates are acknowledged on their behalf. */
  private readonly removedFrameworks = new Set<string>();
  private readonly events: OperatorEventHub;
  private readonly drains: AgentDrains;
  private readonly held: ReconcileHold;
  private timer: TimerHandle | undefined;
  private allocationQueued = false;
  private running = false;

  constructor(private readonly opts: MasterOptions) {
    this.events = new OperatorEventHub(opts.logger);
    const host = { agents: this.agents, tasks: this.tasks, frameworks: this.frameworks, rescindOffers: (id: string) => this.rescindOffers((o) => o.agentId === id), queueAllocation: () => this.queueAllocation(), emit: this.emit.bind(this) };
    this.drains = new AgentDrains({ clock: opts.clock, logger: opts.logger, ...opts.drains, host });
    this.held = new ReconcileHold(opts.clock, opts.agentReregisterMs ?? DEFAULT_AGENT_REREGISTER_MS, (frameworkId, tasks) => this.reconcile(frameworkId, tasks));
    opts.metrics?.setTaskCounter(() => countByState([...this.tasks.values(), ...this.completed]));
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.timer = this.opts.clock.setInterval(() => this.allocate(), this.opts.allocationIntervalMs ?? 1000);
    this.drains.start();
    this.queueAllocation();
  }

  stop(): void {
    if (!this.running) return;
    this.running = false;
    this.drains.stop();
    this.held.cancel();
    this.timer?.cancel();
    this.timer = undefined;
  }

  // ---- agent side (MasterLink) ----

  registerAgent(info: AgentInfo, link: AgentLink): void {
    const unreachable = new Set([...this.tasks.values()].filter((r) => r.info.agentId === info.id && r.status.state === 'TASK_UNREACHABLE').map((r) => r.info.taskId));
    this.agents.set(info.id, { info, link, lastContact: this.opts.clock.now() });
    // Rebuild the view of its tasks (after a restart of the agent, the master, or both): adoption.ts.
    const plan = planAdoption(info, link.reportTasks?.() ?? [], this.tasks, this.opts.clock.now());
    for (const r of applyAdoption(plan, this.tasks, this.completed)) this.emit(() => ({ type: 'TASK_ADDED', task: toTaskView(r) }));
    for (const status of plan.lost) this.statusUpdate(status);
    this.drains.agentRegistered(info.id);
    this.held.agentRegistered(info.id);
    for (const status of planReturn(unreachable, this.tasks.values())) this.frameworks.get(status.frameworkId)?.events?.update(status);
    this.opts.logger.info({ event: 'agent_registered', agentId: info.id, hostname: info.hostname, resources: info.resources }, 'agent registered');
    this.emit(() => ({ type: 'AGENT_ADDED', agent: info }));
    this.queueAllocation();
  }

  /**
   * The cluster plane lost the agent: its offers are rescinded, its live tasks become
   * TASK_UNREACHABLE, and nothing is offered on it until it registers again.
   */
  agentUnreachable(agentId: string): void {
    const agent = this.agents.get(agentId);
    if (!agent || agent.unreachableSince !== undefined) return;
    agent.unreachableSince = this.opts.clock.now();
    this.rescindOffers((o) => o.agentId === agentId);
    for (const status of planUnreachable(agentId, this.tasks.values(), agent.unreachableSince)) this.statusUpdate(status);
    this.opts.logger.warn({ event: 'agent_unreachable', agentId }, 'agent unreachable');
    this.emit(() => ({ type: 'AGENT_REMOVED', agentId }));
  }

  statusUpdate(reported: TaskStatus): void {
    const status = this.drains.relabel(reported);
    if (status.source !== 'SOURCE_MASTER') this.agentContact(status.agentId);
    const record = this.tasks.get(status.taskId);
    const framework = this.frameworks.get(status.frameworkId);
    if (record) {
      const resend = status.uuid !== undefined && status.uuid === record.status.uuid;
      if (applyStatus(record, status) && !resend) this.emit(() => ({ type: 'TASK_UPDATED', task: toTaskView(record), status }));
      if (isTerminal(status.state)) this.retire(record);
      if (isTerminal(status.state)) this.drains.noteIfDrained(record.info.agentId);
    }
    if (framework?.events) {
      // Also updates of tasks the master has already retired: a resend whose ack was lost must
      // reach the framework so it can acknowledge it.
      framework.events.update(status);
    } else if (status.uuid && this.removedFrameworks.has(status.frameworkId)) {
      // Nobody will ever acknowledge it; settle it so the agent stops resending.
      this.agents.get(status.agentId)?.link.acknowledge(status.taskId, status.uuid);
    }
    // Otherwise the framework is disconnected or not yet re-subscribed: the agent resends later.
  }

  // ---- framework side (used by the SDK transports) ----

  subscribe(info: FrameworkInfo, events: SchedulerEvents): string {
    const id = info.id ?? uuid();
    const existing = this.frameworks.get(id);
    if (existing) {
      existing.events = events;
      existing.info = info;
      existing.failover?.cancel();
      existing.failover = undefined;
      existing.disconnectedAt = undefined;
      this.emit(() => ({ type: 'FRAMEWORK_UPDATED', framework: this.frameworkView(existing) }));
    } else {
      const entry: FrameworkEntry = { id, info, events, suppressed: false, refusals: new Map(), registeredAt: this.opts.clock.now(), disconnectedAt: undefined, failover: undefined };
      this.frameworks.set(id, entry);
      this.removedFrameworks.delete(id);
      this.emit(() => ({ type: 'FRAMEWORK_ADDED', framework: this.frameworkView(entry) }));
    }
    this.opts.logger.info({ event: 'framework_subscribed', frameworkId: id, name: info.name, resubscribed: existing !== undefined }, 'framework subscribed');
    this.drains.tellSubscriber(events);
    this.queueAllocation();
    return id;
  }

  accept(frameworkId: string, offerIds: readonly string[], operations: readonly Operation[], filters?: Filters): void {
    const framework = this.framework(frameworkId);
    const offers = offerIds.map((id) => this.offers.get(id)).filter((o): o is Offer => o?.frameworkId === frameworkId);
    for (const o of offers) this.offers.delete(o.id);
    if (offers.length !== offerIds.length) {
      this.queueAllocation();
      throw new CorralError('OFFER_NOT_FOUND', `Offer(s) ${offerIds.filter((id) => !offers.some((o) => o.id === id)).join(', ')} are not outstanding for this framework`);
    }
    try {
      const plan = planLaunch(offers, operations, this.tasks, this.opts.clock.now());
      const agent = this.agents.get(offers[0]!.agentId);
      if (!agent) throw errors.agentNotFound(offers[0]!.agentId);
      for (const task of plan.tasks) {
        const record = newTaskRecord(task, agent.info.hostname, this.opts.clock.now());
        this.tasks.set(task.taskId, record);
        this.emit(() => ({ type: 'TASK_ADDED', task: toTaskView(record) }));
        this.opts.metrics?.taskLaunches.inc();
        agent.link.launch(task);
      }
      this.refuse(framework, offers[0]!.agentId, filters);
    } finally {
      this.queueAllocation();
    }
  }

  decline(frameworkId: string, offerIds: readonly string[], filters?: Filters): void {
    const framework = this.framework(frameworkId);
    for (const id of offerIds) {
      const offer = this.offers.get(id);
      if (offer?.frameworkId !== frameworkId) continue;
      this.offers.delete(id);
      this.refuse(framework, offer.agentId, filters);
    }
    this.queueAllocation();
  }

  kill(frameworkId: string, taskId: string, gracePeriodSeconds?: number): void {
    const framework = this.framework(frameworkId);
    const record = this.tasks.get(taskId);
    if (record && record.info.frameworkId === frameworkId) {
      this.agents.get(record.info.agentId)?.link.kill(taskId, gracePeriodSeconds ?? record.info.killGracePeriodSeconds);
      return;
    }
    framework.events?.update(unknownTaskStatus(taskId, frameworkId, this.opts.clock.now()));
  }

  acknowledge(frameworkId: string, status: TaskStatus): void {
    this.framework(frameworkId);
    if (!status.uuid) return;
    this.agents.get(status.agentId)?.link.acknowledge(status.taskId, status.uuid);
  }

  reconcile(frameworkId: string, asked: readonly ReconcileTask[]): void {
    const framework = this.framework(frameworkId);
    const now = this.held.take(frameworkId, asked, (t) => this.tasks.has(t.taskId) || this.agents.has(t.agentId!));
    if (asked.length > 0 && now.length === 0) return; // all held until their agents register
    for (const a of reconcileAnswers(frameworkId, now, this.tasks, this.completed, this.opts.clock.now())) framework.events?.update(a);
  }

  revive(frameworkId: string): void {
    const framework = this.framework(frameworkId);
    framework.suppressed = false;
    framework.refusals.clear();
    this.queueAllocation();
  }

  suppress(frameworkId: string): void {
    this.framework(frameworkId).suppressed = true;
    this.rescindOffers((o) => o.frameworkId === frameworkId);
  }

  /**
   * Unsubscribes. `killTasks` (teardown) ends every task of the framework and forgets it. Without
   * it the framework is disconnected: its tasks keep running for its failover timeout, then they
   * are killed and it is removed, unless it re-subscribes with its id first.
   */
  removeFramework(frameworkId: string, killTasks: boolean): void {
    const framework = this.framework(frameworkId);
    if (!killTasks && !framework.events) return; // already disconnected: its failover clock keeps running
    this.rescindOffers((o) => o.frameworkId === frameworkId);
    framework.failover?.cancel();
    framework.failover = undefined;
    const timeoutSeconds = framework.info.failoverTimeoutSeconds ?? DEFAULT_FAILOVER_TIMEOUT_SECONDS;
    if (!killTasks && timeoutSeconds > 0) {
      framework.events = undefined;
      framework.disconnectedAt = this.opts.clock.now();
      this.armFailover(framework, framework.disconnectedAt + timeoutSeconds * 1000);
      this.opts.logger.info({ event: 'framework_disconnected', frameworkId, failoverTimeoutSeconds: timeoutSeconds }, 'framework disconnected');
      this.emit(() => ({ type: 'FRAMEWORK_UPDATED', framework: this.frameworkView(framework) }));
      return;
    }
    for (const r of this.tasks.values()) if (r.info.frameworkId === frameworkId) this.agents.get(r.info.agentId)?.link.kill(r.info.taskId);
    this.frameworks.delete(frameworkId);
    this.removedFrameworks.add(frameworkId);
    this.opts.logger.info({ event: 'framework_removed', frameworkId }, 'framework removed');
    this.emit(() => ({ type: 'FRAMEWORK_REMOVED', frameworkId }));
  }

  /** Removes a disconnected framework at `deadline` (ms since epoch) unless it has re-subscribed. */
  private armFailover(framework: FrameworkEntry, deadline: number): void {
    framework.failover = timerAt(this.opts.clock, deadline, () => {
      framework.failover = undefined;
      if (this.running && this.frameworks.get(framework.id) === framework && !framework.events) this.removeFramework(framework.id, true);
    });
  }

  // ---- operator side (read by the API) ----

  /** Calls `listener` with every operator event (agents, tasks, frameworks); returns the unsubscribe. */
  onEvent(listener: OperatorEventListener): () => void {
    return this.events.subscribe(listener);
  }

  frameworkViews(): FrameworkView[] {
    return [...this.frameworks.values()].map((f) => this.frameworkView(f));
  }

  /** Offers sent to frameworks and not yet accepted, declined or rescinded. */
  outstandingOffers(): number {
    return this.offers.size;
  }

  agentViews(): AgentView[] {
    return [...this.agents.values()].map((a) => agentView(a, this.drains.get(a.info.id), this.tasks.values(), this.offers.values()));
  }

  /** A message from the agent arrived (registration, a status update, or its connection heard, `at`). */
  agentContact(agentId: string, at = this.opts.clock.now()): void {
    const agent = this.agents.get(agentId);
    if (agent) agent.lastContact = Math.max(agent.lastContact, at);
  }

  /** Stops offers on the agent and tells frameworks (see drain.ts); `deadlineMs` from now, none by default. */
  async drainAgent(agentId: string, opts: { deadlineMs?: number } = {}): Promise<AgentView> {
    await this.drains.drain(agentId, opts.deadlineMs);
    return this.agentViews().find((a) => a.id === agentId)!;
  }

  /** Ends a drain: the agent is offered again. Resolves to its view, undefined if it is not registered. */
  async undrainAgent(agentId: string): Promise<AgentView | undefined> {
    await this.drains.undrain(agentId);
    return this.agentViews().find((a) => a.id === agentId);
  }

  taskViews(): TaskView[] {
    return [...this.tasks.values(), ...this.completed].map(toTaskView);
  }

  taskView(taskId: string): TaskView {
    const r = this.tasks.get(taskId) ?? this.completed.find((c) => c.info.taskId === taskId);
    if (!r) throw errors.taskNotFound(taskId);
    return toTaskView(r);
  }

  /** An operator's kill: the owning framework sees TASK_KILLED and decides what to do. */
  killTask(taskId: string): TaskView {
    const r = this.tasks.get(taskId);
    if (!r) throw errors.taskNotFound(taskId);
    this.agents.get(r.info.agentId)?.link.kill(taskId, r.info.killGracePeriodSeconds);
    return toTaskView(r);
  }

  /** The link of the agent `taskId` runs on: the master proxies its logs and statistics, wherever it runs. */
  agentLinkOf(taskId: string): AgentLink {
    const { agentId } = this.taskView(taskId);
    const link = this.agents.get(agentId)?.link;
    if (!link) throw errors.agentNotFound(agentId);
    return link;
  }

  // ---- internals ----

  private emit(make: () => OperatorEvent): void {
    this.events.emit(make);
  }

  private frameworkView(f: FrameworkEntry): FrameworkView {
    let activeTasks = 0;
    for (const r of this.tasks.values()) if (r.info.frameworkId === f.id) activeTasks++;
    return frameworkView(f, activeTasks);
  }

  private framework(id: string): FrameworkEntry {
    const f = this.frameworks.get(id);
    if (!f) throw new CorralError('FRAMEWORK_NOT_FOUND', `Framework '${id}' is not subscribed`);
    return f;
  }

  private refuse(framework: FrameworkEntry, agentId: string, filters: Filters | undefined): void {
    const seconds = filters?.refuseSeconds ?? DEFAULT_REFUSE_SECONDS;
    if (seconds > 0) framework.refusals.set(agentId, this.opts.clock.now() + seconds * 1000);
  }

  private retire(record: TaskRecord): void {
    this.tasks.delete(record.info.taskId);
    this.completed.unshift(record);
    this.completed.length = Math.min(this.completed.length, this.opts.completedTaskLimit ?? 1000);
    const { state, reason } = record.status;
    if (state === 'TASK_FAILED' || state === 'TASK_ERROR' || state === 'TASK_LOST') this.opts.metrics?.taskFailures.inc({ state, reason: reason ?? 'none' });
    this.queueAllocation();
  }

  private rescindOffers(which: (offer: Offer) => boolean): void {
    for (const offer of [...this.offers.values()]) {
      if (!which(offer)) continue;
      this.offers.delete(offer.id);
      this.frameworks.get(offer.frameworkId)?.events?.rescind(offer.id);
    }
    this.queueAllocation();
  }

  private queueAllocation(): void {
    if (this.allocationQueued || !this.running) return;
    this.allocationQueued = true;
    this.opts.clock.setTimeout(() => this.allocate(), 0);
  }

  /** One allocation cycle: offer every agent's free resources per hierarchical DRF (roles, then frameworks). */
  allocate(): void {
    this.allocationQueued = false;
    // A cycle tallies every task: skip it while no framework wants offers (all suppressed or gone).
    if (!this.running || ![...this.frameworks.values()].some((f) => f.events && !f.suppressed)) return;
    // Nothing is offered on lost or draining agents.
    const agents = [...this.agents.values()].filter((a) => a.unreachableSince === undefined && !this.drains.has(a.info.id)).map((a) => a.info);
    const snapshot = masterSnapshot({ now: this.opts.clock.now(), roles: this.opts.roles, agents, frameworks: this.frameworks.values(), held: this.holdings });
    for (const [fid, offers] of offersByFramework(allocateOffers(allocationInput(snapshot)), (id) => this.agents.get(id)!.info, uuid)) {
      for (const offer of offers) this.offers.set(offer.id, offer);
      this.frameworks.get(fid)?.events?.offers(offers);
    }
  }
}

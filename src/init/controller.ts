// The init framework's shell: a kernel framework (through the SDK only) that keeps every app at
// its instance count. Decisions come from the pure planInstances / matchOffers; this class applies
// them: accepts and declines offers, kills tasks, acknowledges updates, and applies backoff.
import type { SchedulerConnection, SchedulerTransport } from '../kernel/sdk/types';
import { isTerminal, type Offer, type TaskStatus } from '../kernel/types';
import type { Clock, TimerHandle } from '../shared/clock';
import { marathonTaskId } from '../shared/ids';
import type { Logger } from '../shared/logger';
import type { AppRepo } from './app-repo';
import type { Placement } from './constraints';
import type { LaunchRequest } from './match';
import { matchOffers } from './spread';
import { TaskIndex } from './task-index';
import { HealthKillLedger } from './health-kills';
import { planInstances, type InstancePlan } from './plan';
import { taskEnd } from './task-end';
import { applyLiveStatus } from './task-update';
import type { AppTask, Backoff, StoredApp, TaskFailure } from './types';

export interface InitControllerOptions {
  repo: AppRepo;
  transport: SchedulerTransport;
  clock: Clock;
  logger: Logger;
  /** Re-check period for every app (ms). */
  tickMs?: number;
}

export class InitController {
  readonly apps = new Map<string, { stored: StoredApp; revision: number }>();
  private readonly tasks = new TaskIndex();
  private readonly backoffs = new Map<string, Backoff>();
  private readonly failures = new Map<string, TaskFailure>();
  /** When each app's instances were last killed for failing health (health-kills.ts rate-limits them). */
  private readonly healthKills = new HealthKillLedger();
  private readonly pending = new Map<string, number>();
  /** Agents the master says are draining: init moves its instances off them (planInstances). */
  private readonly draining = new Set<string>();
  private readonly activity: Array<(appId: string) => void> = [];
  private conn: SchedulerConnection | undefined;
  private changes = 0;
  /** `changes` when the last periodic converge found nothing more to do. */
  private settledAt = -1;
  private wantsOffers = true;
  private tick: TimerHandle | undefined;
  private wake: TimerHandle | undefined;

  constructor(private readonly opts: InitControllerOptions) {}

  async start(): Promise<void> {
    if (this.conn) return;
    for (const e of await this.opts.repo.list()) this.apps.set(e.stored.app.id, e);
    this.changes++;
    // Tasks an earlier run launched count as live (state unknown) until reconciliation answers.
    for (const t of await this.opts.repo.listTasks()) this.track({ ...t, state: 'TASK_UNKNOWN', killRequested: false });
    const id = await this.opts.repo.frameworkId();
    this.conn = await this.opts.transport.subscribe(
      { name: 'corral-init', role: '*', ...(id ? { id } : {}) },
      {
        offers: (offers) => void this.onOffers(offers).catch((err) => this.opts.logger.error({ event: 'init_offer_error', err }, 'handling offers failed')),
        rescind: () => undefined,
        update: (status) => this.onUpdate(status),
        agentDraining: ({ agentId, deadline }) => this.onDraining(agentId, true, deadline),
        agentUndrained: (agentId) => this.onDraining(agentId, false),
      },
    );
    if (this.conn.frameworkId !== id) await this.opts.repo.saveFrameworkId(this.conn.frameworkId);
    await this.conn.reconcile([...this.tasks.values()].map((t) => ({ taskId: t.taskId, agentId: t.agentId })));
    this.tick = this.opts.clock.setInterval(() => this.periodicConverge(), this.opts.tickMs ?? 1000);
    this.opts.logger.info({ event: 'init_started', apps: this.apps.size, frameworkId: this.conn.frameworkId }, 'init framework started');
    this.converge();
  }

  async stop(): Promise<void> {
    this.tick?.cancel();
    this.wake?.cancel();
    const conn = this.conn;
    this.conn = undefined;
    await conn?.disconnect();
  }

  /**
   * Moves on every change to init's tasks, apps or last failures (the controller is their only
   * writer): an answer built from them stays valid while it holds (the /v2 list routes cache on it).
   */
  get stateVersion(): number {
    return this.changes;
  }

  frameworkId(): string | undefined {
    return this.conn?.frameworkId;
  }

  tasksOf(appId: string): AppTask[] {
    return this.tasks.ofApp(appId);
  }

  allTasks(): AppTask[] {
    return [...this.tasks.values()];
  }

  task(taskId: string): AppTask | undefined {
    return this.tasks.get(taskId);
  }

  /** The launch delay after failures (Marathon's backoff), if one holds the app back. */
  backoffOf(appId: string): Backoff | undefined {
    return this.backoffs.get(appId);
  }

  /** Marathon's `DELETE /v2/queue/{app}/delay`: launches may go at once. */
  resetBackoff(appId: string): void {
    if (this.backoffs.delete(appId)) this.converge();
  }

  lastFailure(appId: string): TaskFailure | undefined {
    return this.failures.get(appId);
  }

  /** True while the app has launches or kills outstanding. */
  isConverging(appId: string): boolean {
    const entry = this.apps.get(appId);
    if (!entry) return false;
    const live = this.tasksOf(appId).filter((t) => !t.killRequested);
    const current = live.filter((t) => t.configVersion === entry.stored.lastConfigChangeAt && t.state === 'TASK_RUNNING' && !this.draining.has(t.agentId));
    return current.length !== entry.stored.app.instances || live.length !== current.length || this.tasksOf(appId).some((t) => t.killRequested);
  }

  /** Called by the app service after it changed an app in the store. */
  appChanged(appId: string, entry: { stored: StoredApp; revision: number } | undefined, configChanged: boolean): void {
    this.changes++;
    if (entry) this.apps.set(appId, entry);
    else this.apps.delete(appId);
    if (configChanged || !entry) {
      this.backoffs.delete(appId);
      this.failures.delete(appId);
    }
    this.converge();
  }

  /**
   * `listener(appId)` after a status update of one of the app's tasks was applied (deployments
   * check their progress then). Returns a function that removes the listener.
   */
  onActivity(listener: (appId: string) => void): () => void {
    this.activity.push(listener);
    return () => {
      const i = this.activity.indexOf(listener);
      if (i >= 0) this.activity.splice(i, 1);
    };
  }

  /**
   * Kill-and-scale: the named tasks are the ones the next scale-down of their apps kills (or, with
   * `preferred` false, no longer). Until then they run and count, so nothing replaces them.
   */
  preferKills(taskIds: readonly string[], preferred = true): void {
    for (const id of taskIds) {
      const task = this.tasks.get(id);
      if (task) task.killPreferred = preferred || undefined;
      this.changes++;
    }
  }

  /** The task passed its app's readiness check (readiness-runner.ts): an upgrade or a move may go on. */
  markReady(taskId: string): void {
    const task = this.tasks.get(taskId);
    if (!task || task.ready) return;
    this.changes++;
    task.ready = true;
    this.convergeApp(task.appId);
    this.notifyActivity(task.appId);
  }

  /** Applies planInstances to every app: kills what must go, queues launches, asks for offers. */
  converge(): void {
    if (!this.conn) return;
    const now = this.opts.clock.now();
    let wanted = 0;
    let earliestDelay: number | undefined;
    for (const task of this.tasks.values()) {
      if (!this.apps.has(task.appId) && !task.killRequested) this.killTask(task);
    }
    for (const [appId, { stored }] of this.apps) {
      const plan = this.applyPlan(appId, stored, now);
      wanted += plan.launch;
      if (plan.delayedUntil !== undefined) earliestDelay = Math.min(earliestDelay ?? Infinity, plan.delayedUntil);
    }
    for (const appId of this.pending.keys()) if (!this.apps.has(appId)) this.pending.delete(appId);
    if (earliestDelay !== undefined) {
      this.wake?.cancel();
      this.wake = this.opts.clock.setTimeout(() => this.converge(), Math.max(0, earliestDelay - now));
    }
    this.askForOffers(wanted);
  }

  /**
   * The tick: converges unless nothing can have changed since the last tick that settled — no change
   * to tasks or apps, no launch waiting for offers, no unreachable task (its strategy runs on time),
   * no health kill held back by the rate limit. Backoff expiry has its own wake-up. At 2,000 apps a
   * converge costs tens of milliseconds of event loop every second; a steady cluster skips it.
   */
  private periodicConverge(): void {
    if (this.changes === this.settledAt && !this.timeMatters(this.opts.clock.now())) return;
    const before = this.changes;
    this.converge();
    this.settledAt = this.changes === before ? this.changes : -1;
  }

  /** Whether the tick has work even with no change: launches waiting, held health kills, unreachable tasks. */
  private timeMatters(now: number): boolean {
    for (const n of this.pending.values()) if (n > 0) return true;
    if (this.healthKills.recent(now)) return true;
    for (const t of this.tasks.values()) if (t.state === 'TASK_UNREACHABLE') return true;
    return false;
  }

  /**
   * planInstances for one app only: after a task of it started, changed health or ended, the next
   * move of a rolling upgrade or drain comes at once (not at the next tick) without planning all apps.
   */
  private convergeApp(appId: string): void {
    const entry = this.apps.get(appId);
    if (!this.conn || !entry) return;
    const plan = this.applyPlan(appId, entry.stored, this.opts.clock.now());
    // A backoff delay is left to the periodic converge, which sets the wake-up timer.
    if (plan.delayedUntil === undefined) this.askForOffers([...this.pending.values()].reduce((a, b) => a + b, 0));
  }

  /** Kills, expunges and queues launches as planInstances says; returns the plan. */
  private applyPlan(appId: string, stored: StoredApp, now: number): InstancePlan {
    const plan = planInstances(stored, this.tasksOf(appId), this.backoffs.get(appId), now, this.draining);
    for (const taskId of plan.kill) this.killTask(this.tasks.get(taskId)!);
    this.killUnhealthy(appId, stored, now);
    for (const taskId of plan.expunge) {
      this.opts.logger.info({ event: 'init_task_expunged', appId, taskId }, 'unreachable past expungeAfterSeconds: forgotten (killed if its agent comes back)');
      this.forget(taskId);
    }
    this.pending.set(appId, plan.launch);
    return plan;
  }

  /** Instances past maxConsecutiveFailures are killed (and so replaced), at the rate health-kills.ts allows. */
  private killUnhealthy(appId: string, stored: StoredApp, now: number): void {
    if (!stored.app.healthChecks?.some((c) => c.maxConsecutiveFailures > 0)) return;
    const plan = this.healthKills.decide(stored.app, this.tasksOf(appId), now);
    for (const taskId of plan.kill) {
      this.opts.logger.warn({ event: 'init_health_kill', appId, taskId, heldBack: plan.held.length }, 'killing an instance that failed its health check too often');
      this.killTask(this.tasks.get(taskId)!);
    }
    if (plan.held.length > 0 && plan.kill.length > 0) this.opts.logger.warn({ event: 'init_health_kills_held', appId, held: plan.held }, 'more instances fail their health checks than may be killed now; the rest wait');
  }

  private askForOffers(wanted: number): void {
    const conn = this.conn;
    if (!conn) return;
    if (wanted > 0 && !this.wantsOffers) {
      this.wantsOffers = true;
      void conn.revive();
    } else if (wanted === 0 && this.wantsOffers) {
      this.wantsOffers = false;
      void conn.suppress();
    }
  }

  /** An agent started or stopped draining: instances there move (replaced first) or stay. */
  private onDraining(agentId: string, draining: boolean, deadline?: number): void {
    if (draining === this.draining.has(agentId)) return;
    if (draining) this.draining.add(agentId);
    else this.draining.delete(agentId);
    const instances = [...this.tasks.values()].filter((t) => t.agentId === agentId && !t.killRequested).length;
    this.opts.logger.info({ event: draining ? 'init_agent_draining' : 'init_agent_undrained', agentId, deadline, instances }, draining ? 'moving instances off a draining agent' : 'agent undrained; instances stay');
    this.converge();
  }

  private killTask(task: AppTask): void {
    this.changes++;
    task.killRequested = true;
    if (task.state !== 'TASK_STAGING') task.state = 'TASK_KILLING';
    const grace = this.apps.get(task.appId)?.stored.app.taskKillGracePeriodSeconds ?? undefined;
    void this.conn?.kill(task.taskId, grace ? { agentId: task.agentId, gracePeriodSeconds: grace } : { agentId: task.agentId });
  }

  /**
   * Where the app's instances that count for spreading and constraints are: those of its current
   * config, not being killed, not leaving a draining agent and not unreachable (those are being
   * replaced). Outdated ones are left out so a start-first upgrade under UNIQUE or MAX_PER cannot
   * wait forever for room its own old instances hold.
   */
  private placements(appId: string): Placement[] {
    const config = this.apps.get(appId)?.stored.lastConfigChangeAt;
    const out: Placement[] = [];
    for (const t of this.tasks.appView(appId)) {
      if (t.killRequested || t.configVersion !== config || t.state === 'TASK_UNREACHABLE' || this.draining.has(t.agentId)) continue;
      out.push({ agentId: t.agentId, hostname: t.host, ...(t.attributes ? { attributes: t.attributes } : {}) });
    }
    return out;
  }

  private async onOffers(offers: Offer[]): Promise<void> {
    const conn = this.conn;
    if (!conn) return;
    const requests: LaunchRequest[] = [];
    for (const [appId, count] of this.pending) {
      const entry = this.apps.get(appId);
      if (entry && count > 0) requests.push({ stored: entry.stored, count });
    }
    const placed = matchOffers(offers, requests, (appId) => this.placements(appId), marathonTaskId, this.opts.clock.now());
    for (const matched of placed.values()) {
      for (const m of matched) {
        this.track(m.task);
        this.pending.set(m.task.appId, (this.pending.get(m.task.appId) ?? 1) - 1);
      }
    }
    const stillPending = [...this.pending.values()].some((n) => n > 0);
    for (const offer of offers) {
      const matched = placed.get(offer.id)!;
      if (matched.length === 0) {
        await conn.decline([offer.id], { refuseSeconds: 5 });
        continue;
      }
      try {
        await this.opts.repo.saveTasks(matched.map((m) => m.task));
        // Leftovers come straight back when more instances wait, so big scale-ups need few cycles.
        await conn.accept([offer.id], [{ type: 'LAUNCH', tasks: matched.map((m) => m.launch) }], { refuseSeconds: stillPending ? 0 : 5 });
      } catch (err) {
        for (const m of matched) {
          this.untrack(m.task.taskId);
          void this.opts.repo.removeTask(m.task.taskId).catch(() => undefined);
        }
        this.opts.logger.warn({ event: 'init_accept_failed', err }, 'accept failed; will retry with the next offer');
        this.converge();
      }
    }
  }

  private track(task: AppTask): void {
    this.changes++;
    this.tasks.add(task);
  }

  private untrack(taskId: string): void {
    if (this.tasks.remove(taskId)) this.changes++;
  }

  /** Stops tracking a task, here and in the store. */
  private forget(taskId: string): void {
    this.untrack(taskId);
    this.opts.repo.removeTask(taskId).catch((err) => this.opts.logger.warn({ event: 'init_task_forget_failed', taskId, err }, 'could not remove a task from the store'));
  }

  private onUpdate(status: TaskStatus): void {
    this.changes++;
    if (status.uuid) void this.conn?.acknowledge(status);
    const task = this.tasks.get(status.taskId);
    if (!task) {
      // Not ours (any more): an expunged instance whose agent came back, say. Marathon kills those.
      if (!isTerminal(status.state) && status.state !== 'TASK_UNREACHABLE') {
        this.opts.logger.info({ event: 'init_unknown_task_killed', taskId: status.taskId, state: status.state }, 'killing a task init does not know');
        void this.conn?.kill(status.taskId, { agentId: status.agentId });
      }
      return;
    }
    if (!isTerminal(status.state)) {
      const effect = applyLiveStatus(task, status);
      if (effect.reachabilityChanged) this.converge();
      else if (effect.progressed) this.convergeApp(task.appId);
      this.notifyActivity(task.appId);
      return;
    }
    this.forget(status.taskId);
    const entry = this.apps.get(task.appId);
    const now = this.opts.clock.now();
    const end = entry ? taskEnd(entry.stored.app, task, status, this.backoffs.get(task.appId), now) : {};
    if (end.failure) this.failures.set(task.appId, end.failure);
    if (end.backoff) {
      this.backoffs.set(task.appId, end.backoff);
      this.opts.logger.info({ event: 'task_failed_backoff', appId: task.appId, taskId: task.taskId, state: status.state, failures: end.backoff.failures, delayMs: end.backoff.notBefore - now }, 'task ended; relaunch delayed');
    }
    this.converge();
    this.notifyActivity(task.appId);
  }

  private notifyActivity(appId: string): void {
    for (const listener of [...this.activity]) {
      try {
        listener(appId);
      } catch (err) {
        this.opts.logger.error({ event: 'init_activity_listener_failed', appId, err }, 'an activity listener threw');
      }
    }
  }
}

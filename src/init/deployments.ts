// The deployment runner: the shell around the pure planner. It hands each step's apps to the
// controller (which converges them, rolling upgrades included), watches the tasks until every action
// of the step is done, then starts the next step. It keeps one deployment per app (APP_LOCKED unless
// forced), rolls a deployment back when its deadline passes (through the handler the app service
// sets), and emits Marathon's deployment events. Deployments in progress are kept in the store
// (deployment-store.ts) and restored after a restart: their apps have converged meanwhile (the
// controller loads every stored definition at once, so the order of steps not yet started is not
// kept), and they end as their apps reach their targets, or roll back at their deadline.
import type { Clock, TimerHandle } from '../shared/clock';
import { errors } from '../shared/errors';
import type { Logger } from '../shared/logger';
import type { InitController } from './controller';
import { endEvent, stepEvent, type DeploymentEvent, type DeploymentState } from './deployment-json';
import { actionDone, deploymentDeadline } from './deployment-plan';
import type { DeploymentStore } from './deployment-store';
import type { AppChange, DeploymentOutcome, DeploymentPlan, StoredApp } from './types';

/** What the runner needs of the controller. */
export type DeploymentController = Pick<InitController, 'tasksOf' | 'appChanged' | 'onActivity'>;

/** An app as written to the store for a deployment (undefined: removed). */
export type AppEntry = { stored: StoredApp; revision: number } | undefined;

export interface DeploymentsOptions {
  controller: DeploymentController;
  clock: Clock;
  logger: Logger;
  /** How often every deployment's progress is checked besides after each task update (ms). */
  checkIntervalMs?: number;
  /** Finished deployments kept for GET /api/v1/deployments/{id}. */
  historySize?: number;
  /** Where deployments in progress are kept across restarts; none: in memory only. */
  persist?: DeploymentStore;
}

export interface DeployOptions {
  /** Replace the deployments that hold the apps instead of refusing (Marathon's ?force=true). */
  force?: boolean;
  /** Seconds until it rolls back by itself, besides the apps' upgradeStrategy.deadlineSeconds. */
  deadlineSeconds?: number;
  /** The deployment this one rolls back: it gets no deadline, so a rollback never rolls back. */
  rollbackOf?: string;
}

interface Running extends DeploymentState {
  /** What was written for each affected app: what the controller gets when the app's step starts. */
  entries: Map<string, AppEntry>;
  /** Apps already handed to the controller. */
  released: Set<string>;
  timer: TimerHandle | undefined;
  /** A check is running (handing apps over may deliver task updates at once). */
  checking: boolean;
  /** Activity arrived during the check: check again. */
  recheck: boolean;
}

const DEFAULT_HISTORY = 100;

export class Deployments {
  private readonly running = new Map<string, Running>();
  private readonly finished: DeploymentState[] = [];
  private readonly listeners: Array<(event: DeploymentEvent) => void> = [];
  private deadlineHandler: ((d: DeploymentState) => Promise<unknown>) | undefined;
  private unsubscribe: (() => void) | undefined;
  private tick: TimerHandle | undefined;

  constructor(private readonly opts: DeploymentsOptions) {}

  start(): void {
    if (this.unsubscribe) return;
    this.unsubscribe = this.opts.controller.onActivity((appId) => this.checkApp(appId));
    this.tick = this.opts.clock.setInterval(() => this.checkAll(), this.opts.checkIntervalMs ?? 1000);
  }

  stop(): void {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    this.tick?.cancel();
    this.tick = undefined;
    for (const d of this.running.values()) d.timer?.cancel();
  }

  /** Marathon-shaped deployment events; returns a function that removes the listener. */
  onEvent(listener: (event: DeploymentEvent) => void): () => void {
    this.listeners.push(listener);
    return () => {
      const i = this.listeners.indexOf(listener);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }

  /** What to do when a deployment's deadline passes (the app service rolls it back). */
  onDeadline(handler: (d: DeploymentState) => Promise<unknown>): void {
    this.deadlineHandler = handler;
  }

  /** Deployments in progress, oldest first. */
  list(): DeploymentState[] {
    return [...this.running.values()].sort((a, b) => a.startedAt - b.startedAt);
  }

  /** A deployment in progress; DEPLOYMENT_NOT_FOUND if none has this id. */
  get(id: string): DeploymentState {
    const d = this.running.get(id);
    if (!d) throw errors.deploymentNotFound(id);
    return d;
  }

  /** A deployment in progress or one of the last finished ones. */
  find(id: string): DeploymentState | undefined {
    return this.running.get(id) ?? this.finished.find((d) => d.plan.id === id);
  }

  /** What the deployment wrote for an app it affects. */
  entryOf(id: string, appId: string): AppEntry {
    return this.running.get(id)?.entries.get(appId);
  }

  /** Ids of the deployments in progress that affect the app. */
  idsFor(appId: string): string[] {
    return this.list().filter((d) => d.plan.affectedApps.includes(appId)).map((d) => d.plan.id);
  }

  /** APP_LOCKED when a deployment in progress affects one of the apps, unless `force`. */
  assertUnlocked(appIds: readonly string[], force: boolean | undefined): void {
    if (force) return;
    const holding = [...new Set(appIds.flatMap((a) => this.idsFor(a)))];
    if (holding.length > 0) throw errors.appLocked(holding);
  }

  /**
   * Runs a plan whose definitions are already written (`entries`, one per affected app). With
   * `force` the deployments holding its apps are superseded first. Apps whose change needs no action
   * go to the controller at once, the others step by step.
   */
  deploy(plan: DeploymentPlan, entries: Map<string, AppEntry>, opts: DeployOptions = {}): DeploymentState {
    this.assertUnlocked(plan.affectedApps, opts.force);
    for (const appId of plan.affectedApps) {
      for (const id of this.idsFor(appId)) this.end(id, 'superseded', `superseded by deployment ${plan.id}`, plan.id);
    }
    const now = this.opts.clock.now();
    const d: Running = {
      plan,
      step: 0,
      startedAt: now,
      deadline: opts.rollbackOf ? undefined : deploymentDeadline(plan, now, opts.deadlineSeconds),
      rollbackOf: opts.rollbackOf,
      status: 'running',
      entries,
      released: new Set(),
      timer: undefined,
      checking: false,
      recheck: false,
    };
    this.running.set(plan.id, d);
    this.opts.persist?.save(d);
    this.opts.logger.info({ event: 'deployment_started', id: plan.id, apps: plan.affectedApps, steps: plan.steps.length, rollbackOf: opts.rollbackOf }, 'deployment started');
    const acting = new Set(plan.steps.flatMap((s) => s.actions.map((a) => a.app)));
    for (const c of plan.changes) if (!acting.has(c.appId)) this.release(d, c);
    if (d.deadline !== undefined) d.timer = this.opts.clock.setTimeout(() => this.expire(plan.id), Math.max(0, d.deadline - now));
    if (plan.steps.length > 0) {
      this.emit(stepEvent('deployment_info', d, now));
      this.releaseStep(d);
    }
    this.check(d);
    return d;
  }

  /**
   * Resumes the deployments the store kept (after a restart): every app of theirs is with the
   * controller already (`entryOf`: what it holds), so they are only watched until done, and roll
   * back at their deadline as before.
   */
  async restore(entryOf: (appId: string) => AppEntry): Promise<void> {
    for (const p of (await this.opts.persist?.load()) ?? []) {
      if (this.running.has(p.plan.id)) continue;
      const d: Running = {
        plan: p.plan,
        step: p.step,
        startedAt: p.startedAt,
        deadline: p.deadline ?? undefined,
        rollbackOf: p.rollbackOf ?? undefined,
        status: 'running',
        entries: new Map(p.plan.affectedApps.map((id) => [id, entryOf(id)])),
        released: new Set(p.plan.affectedApps),
        timer: undefined,
        checking: false,
        recheck: false,
      };
      this.running.set(p.plan.id, d);
      this.opts.logger.info({ event: 'deployment_restored', id: p.plan.id, apps: p.plan.affectedApps, step: p.step }, 'deployment in progress restored');
      if (d.deadline !== undefined) d.timer = this.opts.clock.setTimeout(() => this.expire(p.plan.id), Math.max(0, d.deadline - this.opts.clock.now()));
      this.check(d);
    }
  }

  /**
   * Ends a deployment in progress without success: its apps are no longer locked. Apps of steps not
   * yet started go to the controller now, so it converges every app to what the store holds.
   */
  end(id: string, outcome: Exclude<DeploymentOutcome, 'succeeded'>, reason: string, replacedBy?: string): DeploymentState {
    const d = this.running.get(id);
    if (!d) throw errors.deploymentNotFound(id);
    for (const c of d.plan.changes) if (!d.released.has(c.appId)) this.release(d, c);
    d.reason = reason;
    if (replacedBy) d.replacedBy = replacedBy;
    this.finish(d, outcome);
    return d;
  }

  private changeOf(d: Running, appId: string): AppChange {
    return d.plan.changes.find((c) => c.appId === appId)!;
  }

  /** Hands an app's new definition to the controller; a started app begins with no instances. */
  private release(d: Running, c: AppChange, startOnly = false): void {
    const entry = d.entries.get(c.appId);
    const configChanged = !c.original || !c.target || c.original.lastConfigChangeAt !== c.target.lastConfigChangeAt;
    const handed = entry && startOnly ? { ...entry, stored: { ...entry.stored, app: { ...entry.stored.app, instances: 0 } } } : entry;
    this.opts.controller.appChanged(c.appId, handed, configChanged);
    if (!startOnly) d.released.add(c.appId);
  }

  private releaseStep(d: Running): void {
    for (const a of d.plan.steps[d.step]!.actions) this.release(d, this.changeOf(d, a.app), a.action === 'StartApplication');
  }

  private checkApp(appId: string): void {
    for (const d of this.list()) if (d.plan.affectedApps.includes(appId)) this.check(this.running.get(d.plan.id)!);
  }

  private checkAll(): void {
    for (const d of this.list()) this.check(this.running.get(d.plan.id)!);
  }

  private check(d: Running): void {
    if (d.checking) {
      d.recheck = true;
      return;
    }
    d.checking = true;
    try {
      do {
        d.recheck = false;
        this.advance(d);
      } while (d.recheck && d.status === 'running');
    } finally {
      d.checking = false;
    }
  }

  /** Moves past every step whose actions are all done; finishes the deployment after the last. */
  private advance(d: Running): void {
    while (d.status === 'running' && d.step < d.plan.steps.length) {
      const step = d.plan.steps[d.step]!;
      const done = step.actions.every((a) => actionDone(a, d.entries.get(a.app)?.stored, this.opts.controller.tasksOf(a.app)));
      if (!done) return;
      const now = this.opts.clock.now();
      this.emit(stepEvent('deployment_step_success', d, now));
      d.step++;
      if (d.step < d.plan.steps.length) {
        this.opts.persist?.save(d);
        this.emit(stepEvent('deployment_info', d, now));
        this.releaseStep(d);
      }
    }
    if (d.status === 'running') this.finish(d, 'succeeded');
  }

  private finish(d: Running, outcome: DeploymentOutcome): void {
    d.timer?.cancel();
    d.status = outcome;
    d.finishedAt = this.opts.clock.now();
    this.running.delete(d.plan.id);
    this.opts.persist?.remove(d.plan.id);
    const { entries: _e, released: _r, timer: _t, checking: _c, recheck: _rc, ...state } = d;
    this.finished.unshift(state);
    this.finished.splice(this.opts.historySize ?? DEFAULT_HISTORY);
    this.opts.logger.info({ event: 'deployment_finished', id: d.plan.id, outcome, reason: d.reason }, outcome === 'succeeded' ? 'deployment succeeded' : 'deployment ended without success');
    this.emit(endEvent(d, d.finishedAt));
  }

  /** The deadline passed before the deployment finished: the handler rolls it back. */
  private expire(id: string): void {
    const d = this.running.get(id);
    if (!d) return;
    this.opts.logger.warn({ event: 'deployment_deadline_passed', id, apps: d.plan.affectedApps }, 'deployment did not finish before its deadline; rolling back');
    const handler = this.deadlineHandler;
    if (!handler) {
      this.end(id, 'stopped', 'deadline passed');
      return;
    }
    handler(d).catch((err: unknown) => {
      this.opts.logger.error({ event: 'deployment_rollback_failed', id, err }, 'rolling back after the deadline failed; the deployment is stopped');
      if (this.running.has(id)) this.end(id, 'stopped', 'deadline passed; rollback failed');
    });
  }

  private emit(event: DeploymentEvent): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(event);
      } catch (err) {
        this.opts.logger.error({ event: 'deployment_listener_failed', err }, 'a deployment event listener threw');
      }
    }
  }
}

// The cron framework's shell: a kernel framework (through the SDK only) that runs jobs' occurrences
// as tasks. Decisions come from the pure cores (due.ts, run-state.ts, launch.ts, graph.ts); this
// class applies them in one serial order of steps. Kernel events are gathered in an inbox and one
// step handles all that arrived since the last: status updates, due occurrences (a timer heap),
// retries and deadlines (heaps in RunBook), placement of waiting runs on the offers at hand. A step
// writes the store first, in one transaction (a run exists, with its task id, before its task is
// launched; an update is acknowledged once it is recorded), then talks to the kernel. After a crash
// it re-subscribes with its stored framework id, reconciles the tasks of unfinished runs and
// follows them to their end.
import type { SchedulerConnection, SchedulerTransport } from '../kernel/sdk/types';
import { MAX_START_AHEAD_MS, type Offer, type TaskStatus } from '../kernel/types';
import type { Clock, TimerHandle } from '../shared/clock';
import type { Logger } from '../shared/logger';
import { Dependencies } from './dependencies';
import { runIdOf } from './due';
import { DueQueue } from './due-queue';
import { CronStep, type Inbox } from './framework-step';
import type { JobEntry, JobRepo, RunBatch } from './job-repo';
import { RunBook } from './run-book';
import { RunWrites } from './run-writes';
import { cursorAt, type Cursor } from './schedule';
import { emptyStats, type JobRun, type JobStats } from './types';

export interface CronFrameworkOptions {
  repo: JobRepo;
  transport: SchedulerTransport;
  clock: Clock;
  logger: Logger;
  /** Ended runs kept per job, newest first (default 100). */
  historyLimit?: number;
  /**
   * How long before an occurrence (or the end of a retry's backoff) the framework asks for offers
   * and keeps them, so one is at hand when the run is due (ms, default 200). Offers are held only
   * for that long: the rest of the time they go back to the kernel for other frameworks.
   */
  offerLeadMs?: number;
  /**
   * How long before its scheduled time a run is created and launched (ms, default 2000, at most
   * the kernel's MAX_START_AHEAD_MS): its task is staged then and its program starts at the
   * scheduled time (TaskInfo.startAt), so staging never makes a run late. A job whose
   * concurrencyPolicy is not ALLOW is staged ahead only while none of its runs is active; otherwise
   * the policy is applied at the scheduled time. 0 launches every run at its time.
   */
  launchAheadMs?: number;
  /**
   * Runs staged ahead are staged up to this much earlier still, each job at its own fixed place in
   * the window (ms, default 1000; launchAheadMs + launchSpreadMs at most MAX_START_AHEAD_MS), so the
   * work of staging many runs due at one second is spread out instead of landing on the moment
   * earlier runs start.
   */
  launchSpreadMs?: number;
}

export const DEFAULT_HISTORY_LIMIT = 100;
export const DEFAULT_OFFER_LEAD_MS = 200;
export const DEFAULT_LAUNCH_AHEAD_MS = 2000;
export const DEFAULT_LAUNCH_SPREAD_MS = 1000;

export class CronFramework {
  readonly jobs = new Map<string, JobEntry>();
  readonly cursors = new Map<string, Cursor>();
  readonly stats = new Map<string, JobStats>();
  private readonly book = new RunBook();
  private readonly due: DueQueue;
  private readonly deps: Dependencies;
  private readonly stepper: CronStep;
  private readonly inbox: Inbox = { updates: [], offers: [], rescinded: [] };
  private conn: SchedulerConnection | undefined;
  private chain: Promise<unknown> = Promise.resolve();
  private stepQueued = false;
  private wake: { at: number; timer: TimerHandle } | undefined;
  private readonly listeners: Array<(run: JobRun) => void> = [];

  constructor(private readonly opts: CronFrameworkOptions) {
    const ahead = opts.launchAheadMs ?? DEFAULT_LAUNCH_AHEAD_MS;
    const spread = opts.launchSpreadMs ?? DEFAULT_LAUNCH_SPREAD_MS;
    if (!(ahead >= 0 && spread >= 0 && ahead + spread <= MAX_START_AHEAD_MS)) throw new Error(`launchAheadMs + launchSpreadMs must be 0..${MAX_START_AHEAD_MS}`);
    this.due = new DueQueue(ahead, spread);
    this.deps = new Dependencies({
      repo: opts.repo,
      jobs: this.jobs,
      book: this.book,
      now: () => opts.clock.now(),
      newRun: (job, at, trigger) => this.newRun(job, at, trigger),
      created: async (run, replaced) => {
        if (run.status === 'skipped') this.book.remember(run);
        else this.book.track(run);
        this.notify(run);
        await this.writeNow((w) => this.stepper.killRuns(replaced, 'replaced by a newer run (concurrencyPolicy REPLACE)', 'killed', w));
        this.queueStep();
      },
    });
    this.stepper = new CronStep({
      ...opts,
      historyLimit: opts.historyLimit ?? DEFAULT_HISTORY_LIMIT,
      offerLeadMs: opts.offerLeadMs ?? DEFAULT_OFFER_LEAD_MS,
      jobs: this.jobs,
      cursors: this.cursors,
      stats: this.stats,
      book: this.book,
      due: this.due,
      deps: this.deps,
      newRun: (job, at, trigger) => this.newRun(job, at, trigger),
      notify: (run) => this.notify(run),
    });
  }

  async start(): Promise<void> {
    if (this.conn) return;
    const { repo, clock } = this.opts;
    for (const e of await repo.listJobs()) this.jobs.set(e.stored.job.name, e);
    for (const [k, v] of await repo.cursors()) this.cursors.set(k, v);
    for (const [k, v] of await repo.stats()) this.stats.set(k, v);
    for (const run of await repo.activeRuns()) this.book.track(run);
    for (const [job, ids] of await repo.runIdsByJob()) this.book.loadEnded(job, ids);
    // A scheduled job written without a cursor (older data) starts from now.
    const fresh: RunBatch = { runs: [], cursors: [] };
    for (const [name, e] of this.jobs) if (e.stored.schedule && !this.cursors.has(name)) fresh.cursors.push({ job: name, cursor: cursorAt(e.stored.schedule, clock.now()) });
    await repo.createRuns(fresh);
    for (const c of fresh.cursors) this.cursors.set(c.job, c.cursor);
    for (const [name, e] of this.jobs) this.jobIndexed(e, name);
    const id = await repo.frameworkId();
    const conn = await this.opts.transport.subscribe(
      { name: 'corral-cron', role: '*', ...(id ? { id } : {}) },
      {
        offers: (offers) => this.receive(() => this.inbox.offers.push(...offers)),
        rescind: (offerId) => this.receive(() => this.inbox.rescinded.push(offerId)),
        update: (status) => this.receive(() => this.inbox.updates.push(status)),
      },
    );
    this.conn = conn;
    this.stepper.connected(conn);
    if (conn.frameworkId !== id) await repo.saveFrameworkId(conn.frameworkId);
    const launched = [...this.book.active.values()].filter((r) => r.status !== 'queued');
    if (launched.length > 0) await conn.reconcile(launched.map((r) => ({ taskId: r.attempts.at(-1)!.taskId, ...(r.attempts.at(-1)!.agentId ? { agentId: r.attempts.at(-1)!.agentId! } : {}) })));
    for (const r of launched) this.book.watchDeadline(r, this.jobs.get(r.job)?.stored.job.maxCompletionTime ?? 0);
    await this.serial(() => this.deps.catchUp());
    await this.serial(() => this.step());
    this.opts.logger.info({ event: 'cron_started', jobs: this.jobs.size, activeRuns: this.book.active.size, frameworkId: conn.frameworkId }, 'cron framework started');
  }

  async stop(): Promise<void> {
    this.wake?.timer.cancel();
    this.wake = undefined;
    const conn = this.conn;
    this.conn = undefined;
    this.stepper.connected(undefined);
    await this.chain.catch(() => undefined);
    await conn?.disconnect();
  }

  frameworkId(): string | undefined {
    return this.conn?.frameworkId;
  }

  /** Unfinished runs by id. */
  get active(): ReadonlyMap<string, JobRun> {
    return this.book.active;
  }

  /** `listener(run)` after a run was created or changed (tests and events). */
  onRun(listener: (run: JobRun) => void): void {
    this.listeners.push(listener);
  }

  activeRunsOf(job: string): JobRun[] {
    return this.book.ofJob(job);
  }

  /** The job service changed a job in the store (cursor set when its schedule restarted). */
  jobChanged(entry: JobEntry, cursor: Cursor | undefined): Promise<void> {
    return this.serial(async () => {
      const name = entry.stored.job.name;
      this.jobs.set(name, entry);
      if (cursor) this.cursors.set(name, cursor);
      if (!entry.stored.schedule) this.cursors.delete(name);
      this.stats.set(name, this.stats.get(name) ?? emptyStats());
      this.jobIndexed(entry, name);
      for (const r of this.book.ofJob(name)) if (r.status !== 'queued') this.book.watchDeadline(r, entry.stored.job.maxCompletionTime);
      // Runs staged ahead for occurrences that no longer come (disabled, schedule restarted) do not start.
      const now = this.opts.clock.now();
      const early = this.book.ofJob(name).filter((r) => r.trigger === 'schedule' && r.scheduledAt > now && r.status !== 'running');
      if (early.length > 0 && (entry.stored.job.disabled || cursor)) {
        await this.writeNow((w) => this.stepper.killRuns(early, 'not started: the job was disabled or its schedule changed before the scheduled time', 'killed', w));
      }
      this.queueStep();
    });
  }

  /** Kills the job's active runs and forgets it (the service deleted it from the store). */
  jobRemoved(name: string): Promise<void> {
    return this.serial(async () => {
      await this.writeNow((w) => this.stepper.killRuns(this.book.ofJob(name), 'the job was deleted', 'killed', w));
      this.book.forgetJob(name);
      this.jobs.delete(name);
      this.cursors.delete(name);
      this.stats.delete(name);
      this.due.set(name, undefined);
      this.deps.children.set(name, undefined);
      this.queueStep();
    });
  }

  /** Starts a run now (Chronos's PUT /job/{name}); the concurrency policy does not hold it back. */
  runNow(name: string, args?: string[]): Promise<JobRun> {
    return this.serial(async () => {
      // Two manual runs within one ms get the next free ms: a run id is never written twice.
      let at = this.opts.clock.now();
      let run = this.newRun(name, at, 'manual', args);
      while (!(await this.opts.repo.createRun(run))) run = this.newRun(name, ++at, 'manual', args);
      this.book.track(run);
      this.notify(run);
      this.queueStep();
      return run;
    });
  }

  /** Kills every active run of the job; resolves to how many. */
  killJob(name: string): Promise<number> {
    return this.serial(async () => {
      const runs = this.book.ofJob(name);
      await this.writeNow((w) => this.stepper.killRuns(runs, 'killed on request', 'killed', w));
      return runs.length;
    });
  }

  /** Runs `fn` after everything queued before it: store writes and kernel calls never interleave. */
  private serial<T>(fn: () => Promise<T> | T): Promise<T> {
    const next = this.chain.then(fn, fn);
    this.chain = next.catch((err) => this.opts.logger.error({ event: 'cron_step_failed', err }, 'a cron step failed'));
    return next;
  }

  /** A kernel event: kept in the inbox for the next step (one step takes all that arrived). */
  private receive(keep: () => void): void {
    keep();
    this.queueStep();
  }

  private queueStep(): void {
    if (this.stepQueued || !this.conn) return;
    this.stepQueued = true;
    void this.serial(() => this.step());
  }

  private async step(): Promise<void> {
    this.stepQueued = false;
    const inbox = { updates: this.inbox.updates.splice(0), offers: this.inbox.offers.splice(0), rescinded: this.inbox.rescinded.splice(0) };
    const wakeAt = await this.stepper.run(inbox);
    this.arm(wakeAt);
  }

  /** Wakes the shell at `at` (ms) for the next due occurrence, retry, deadline or offer lead. */
  private arm(at: number | undefined): void {
    if (this.wake && this.wake.at === at) return;
    this.wake?.timer.cancel();
    this.wake = undefined;
    if (at === undefined || !this.conn) return;
    const timer = this.opts.clock.setTimeout(() => {
      this.wake = undefined;
      this.queueStep();
    }, Math.max(0, at - this.opts.clock.now()));
    this.wake = { at, timer };
  }

  /** Writes what `fill` records (and does what it defers) now, outside a step. */
  private async writeNow(fill: (w: RunWrites) => void): Promise<void> {
    const writes = new RunWrites();
    fill(writes);
    await this.stepper.commit(writes);
  }

  /** Puts a job's schedule and parents into the due queue and the dependency index. */
  private jobIndexed(entry: JobEntry, name: string): void {
    const { stored } = entry;
    this.due.set(name, stored.schedule && !stored.job.disabled ? this.cursors.get(name)?.next : undefined);
    this.deps.children.set(name, stored.job.parents);
  }

  private newRun(job: string, scheduledAt: number, trigger: JobRun['trigger'], args?: string[]): JobRun {
    const id = runIdOf(job, scheduledAt, trigger === 'manual');
    return { id, job, trigger, scheduledAt, status: 'queued', attempt: 1, createdAt: this.opts.clock.now(), attempts: [], ...(args ? { arguments: args } : {}) };
  }

  private notify(run: JobRun): void {
    for (const l of this.listeners) l(run);
  }
}

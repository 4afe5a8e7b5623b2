// One step of the cron shell: everything that happened since the last step, handled together so
// its store writes go in one transaction. In order: offers in and out, status updates, retries
// whose backoff ended, runs past maxCompletionTime, due occurrences, placement of waiting runs on
// the offers at hand; then the commit; then the kernel calls that needed the commit (acks, kills,
// one accept per offer with all the runs placed on it); then children of succeeded runs, and
// offers kept, declined or asked for (see offersWantedFrom). Every part costs O(log n) per run it
// touches (RunBook, DueQueue), never a scan over all jobs or all unfinished runs.
import type { SchedulerConnection } from '../kernel/sdk/types';
import { isTerminal, type Offer, type TaskLaunch, type TaskStatus } from '../kernel/types';
import type { Clock } from '../shared/clock';
import type { Logger } from '../shared/logger';
import type { Dependencies } from './dependencies';
import { decideConcurrency, planDue, runIdOf } from './due';
import type { DueQueue } from './due-queue';
import { epsilonMs } from './job';
import { isEnded, type JobEntry, type JobRepo, type RunBatch } from './job-repo';
import { offersWantedFrom, runTask, takeOffer, type Placed } from './launch';
import type { RunBook } from './run-book';
import { applyTaskStatus, notRunRecord, statsAfter } from './run-state';
import { RunWrites } from './run-writes';
import type { Cursor } from './schedule';
import { emptyStats, type JobRun, type JobStats } from './types';

export interface Inbox {
  updates: TaskStatus[];
  offers: Offer[];
  rescinded: string[];
}

export interface CronStepDeps {
  repo: JobRepo;
  clock: Clock;
  logger: Logger;
  historyLimit: number;
  offerLeadMs: number;
  jobs: ReadonlyMap<string, JobEntry>;
  cursors: Map<string, Cursor>;
  stats: Map<string, JobStats>;
  book: RunBook;
  due: DueQueue;
  deps: Dependencies;
  newRun(job: string, scheduledAt: number, trigger: JobRun['trigger']): JobRun;
  notify(run: JobRun): void;
}

const MISSED = 'missed: the scheduler was not running at the scheduled time (older than epsilon, or a later occurrence ran instead)';
const REPLACED = 'replaced by a newer run (concurrencyPolicy REPLACE)';
/** Seconds an offer declined while runs wait is kept from us (it did not fit them). */
const REFUSE_UNFIT_SECONDS = 1;
/** Longest refusal of a declined offer (s); a revive clears it anyway when offers are wanted. */
const REFUSE_MAX_SECONDS = 5;

export class CronStep {
  /** Offers at hand, by id. */
  private readonly held = new Map<string, Offer>();
  /** Whether the kernel is to send offers (revived) or not (suppressed). */
  private wanting = true;
  private conn: SchedulerConnection | undefined;

  constructor(private readonly d: CronStepDeps) {}

  connected(conn: SchedulerConnection | undefined): void {
    this.conn = conn;
    this.held.clear();
    this.wanting = true;
  }

  /** Handles the inbox and whatever fell due; resolves to when the shell must wake next. */
  async run(inbox: Inbox): Promise<number | undefined> {
    const conn = this.conn;
    if (!conn) return undefined;
    const { book, clock } = this.d;
    const now = clock.now();
    for (const id of inbox.rescinded) this.held.delete(id);
    for (const o of inbox.offers) this.held.set(o.id, o);
    const writes = new RunWrites();
    const succeeded: JobRun[] = [];
    for (const status of inbox.updates) this.applyUpdate(conn, status, now, writes, succeeded);
    book.releaseRetries(now);
    this.killRuns(book.takeOverdue(now, (job) => this.d.jobs.get(job)?.stored.job.maxCompletionTime ?? 0), "killed: the run took longer than the job's maxCompletionTime", 'failed', writes);
    await this.fireDue(now, writes);
    const placed = this.place(clock.now(), writes);
    await this.commit(writes);
    await this.launch(conn, placed);
    for (const run of succeeded) await this.d.deps.parentSucceeded(run);
    return this.manageOffers(conn, clock.now());
  }

  /** Commits `writes`, tells listeners, then does what had to wait for the commit. */
  async commit(writes: RunWrites): Promise<void> {
    await this.d.repo.commit(writes);
    for (const run of writes.runs.values()) this.d.notify(run);
    for (const action of writes.takeActions()) {
      try {
        await action();
      } catch (err) {
        this.d.logger.warn({ event: 'cron_kernel_call_failed', err }, 'a call to the kernel failed');
      }
    }
  }

  /** Kills runs: queued ones end at once; launched ones when their task reports its end. */
  killRuns(runs: readonly JobRun[], reason: string, outcome: 'killed' | 'failed', writes: RunWrites): void {
    for (const run of runs) {
      if (run.killRequested || isEnded(run)) continue;
      run.killRequested = { reason, outcome };
      if (run.status === 'queued') {
        run.status = outcome;
        run.endedAt = this.d.clock.now();
        run.message = reason;
        this.endRun(run, outcome, writes);
        continue;
      }
      writes.save(run);
      const attempt = run.attempts.at(-1)!;
      writes.afterCommit(() => this.conn?.kill(attempt.taskId, attempt.agentId ? { agentId: attempt.agentId } : undefined));
    }
  }

  private applyUpdate(conn: SchedulerConnection, status: TaskStatus, now: number, writes: RunWrites, succeeded: JobRun[]): void {
    // Acknowledged once recorded: until then the agent keeps resending it.
    if (status.uuid) writes.afterCommit(() => conn.acknowledge(status));
    const run = this.d.book.runOfTask(status.taskId);
    if (!run) {
      // Not a task of an unfinished run: one whose job was deleted, say. Stop it.
      if (!isTerminal(status.state) && status.state !== 'TASK_UNREACHABLE' && status.state !== 'TASK_UNKNOWN') writes.afterCommit(() => conn.kill(status.taskId, { agentId: status.agentId }));
      return;
    }
    const change = applyTaskStatus(run, this.d.jobs.get(run.job)?.stored.job, status, now);
    if (change.kind === 'none') return;
    if (isTerminal(status.state)) this.d.book.unbindTask(status.taskId);
    writes.save(run);
    if (change.kind === 'retry') {
      this.d.logger.info({ event: 'cron_run_retry', run: run.id, attempt: run.attempt, notBefore: run.notBefore }, 'run attempt failed; retrying after backoff');
      this.d.book.requeue(run);
    } else if (change.kind === 'ended') {
      this.endRun(run, change.status, writes);
      if (change.status === 'succeeded') succeeded.push(run);
    }
  }

  private endRun(run: JobRun, status: 'succeeded' | 'failed' | 'killed', writes: RunWrites): void {
    if (this.d.jobs.has(run.job)) {
      const stats = statsAfter(this.d.stats.get(run.job) ?? emptyStats(), status, this.d.clock.now());
      this.d.stats.set(run.job, stats);
      writes.saveStats(run.job, stats);
    }
    writes.save(run);
    this.d.book.untrack(run);
    this.remember(run, writes);
    this.d.logger.info({ event: 'cron_run_ended', run: run.id, status, exitCode: run.exitCode }, 'run ended');
  }

  /** Keeps an ended run in the job's history, dropping the oldest beyond the limit. */
  private remember(run: JobRun, writes: RunWrites): void {
    this.d.book.remember(run);
    writes.deleteRuns(run.job, this.d.book.takeBeyond(run.job, this.d.historyLimit));
  }

  /** Occurrences due now: run, skipped by the concurrency policy, or recorded missed. */
  private async fireDue(now: number, writes: RunWrites): Promise<void> {
    const { book, cursors, due, repo } = this.d;
    const batch: RunBatch = { runs: [], cursors: [] };
    const replaced: JobRun[] = [];
    for (const name of due.takeDue(now)) {
      const stored = this.d.jobs.get(name)?.stored;
      const cursor = cursors.get(name);
      if (!stored?.schedule || !cursor || cursor.next === undefined || stored.job.disabled) continue;
      const job = stored.job;
      // Taken ahead of its time (to be staged early): the concurrency policy can be applied now
      // only if it says start whatever happens until then; else it is decided at the time.
      const ahead = cursor.next > now;
      if (ahead && job.concurrencyPolicy !== 'ALLOW' && book.countOf(name) > 0) {
        due.set(name, cursor.next, 0);
        continue;
      }
      const plan = planDue(stored.schedule, cursor, Math.max(now, cursor.next), epsilonMs(job.epsilon), job.missedRuns);
      for (const t of plan.missed) batch.runs.push(notRunRecord(name, runIdOf(name, t), t, 'missed', MISSED, now));
      if (plan.uncounted) this.d.logger.warn({ event: 'cron_missed_uncounted', job: name }, 'more missed occurrences than are recorded one by one');
      if (plan.run !== undefined) {
        const decision = job.concurrencyPolicy === 'ALLOW' || book.countOf(name) === 0 ? { action: 'start' as const } : decideConcurrency(job.concurrencyPolicy, book.ofJob(name));
        if (decision.action === 'skip') batch.runs.push(notRunRecord(name, runIdOf(name, plan.run), plan.run, 'skipped', `skipped: ${decision.reason}`, now));
        else {
          if (decision.action === 'replace') replaced.push(...book.ofJob(name));
          batch.runs.push(this.d.newRun(name, plan.run, 'schedule'));
        }
      }
      batch.cursors.push({ job: name, cursor: plan.cursor });
    }
    if (batch.cursors.length === 0) return;
    if (!(await repo.createRuns(batch))) {
      // Some run exists already (written before a crash): keep those, create the others.
      await repo.createRuns({ runs: [], cursors: batch.cursors });
      const created: JobRun[] = [];
      for (const r of batch.runs) if (await repo.createRun(r)) created.push(r);
      batch.runs = created;
    }
    for (const c of batch.cursors) {
      cursors.set(c.job, c.cursor);
      due.set(c.job, c.cursor.next);
    }
    for (const r of batch.runs) {
      if (isEnded(r)) this.remember(r, writes);
      else book.track(r);
      this.d.notify(r);
    }
    this.killRuns(replaced, REPLACED, 'killed', writes);
  }

  /** Places waiting runs, oldest occurrence first, on the offers at hand; records them launching. */
  private place(now: number, writes: RunWrites): Placed[] {
    const { book, jobs } = this.d;
    if (this.held.size === 0 || book.readyCount === 0) return [];
    const offers = [...this.held.values()];
    const left = new Map(offers.map((o) => [o.id, o.resources]));
    const placed: Placed[] = [];
    book.placeReady((run) => {
      const job = jobs.get(run.job)?.stored.job;
      const offer = job && takeOffer(offers, left, job);
      if (!job || !offer) return false;
      const launch = runTask(job, run, run.attempt);
      // Staged ahead: its program starts at the scheduled time.
      if (run.scheduledAt > now) launch.startAt = run.scheduledAt;
      run.status = 'launching';
      run.attempts.push({ attempt: run.attempt, taskId: launch.taskId, agentId: offer.agentId, host: offer.hostname, launchedAt: now });
      book.bindTask(launch.taskId, run);
      book.watchDeadline(run, job.maxCompletionTime);
      writes.save(run);
      placed.push({ run, offer, launch });
      return true;
    });
    return placed;
  }

  /** One accept per offer with every run placed on it (recorded before); undone if the accept fails. */
  private async launch(conn: SchedulerConnection, placed: readonly Placed[]): Promise<void> {
    const byOffer = new Map<string, { offer: Offer; tasks: TaskLaunch[]; runs: JobRun[] }>();
    for (const p of placed) {
      const entry = byOffer.get(p.offer.id) ?? { offer: p.offer, tasks: [], runs: [] };
      entry.tasks.push(p.launch);
      entry.runs.push(p.run);
      byOffer.set(p.offer.id, entry);
    }
    for (const { offer, tasks, runs } of byOffer.values()) {
      this.held.delete(offer.id);
      try {
        await conn.accept([offer.id], [{ type: 'LAUNCH', tasks }], { refuseSeconds: 0 });
      } catch (err) {
        this.d.logger.warn({ event: 'cron_accept_failed', err, runs: runs.length }, 'accept failed; the runs wait for the next offer');
        const undo = new RunWrites();
        for (const run of runs) {
          const attempt = run.attempts.pop()!;
          run.status = 'queued';
          this.d.book.unbindTask(attempt.taskId);
          this.d.book.requeue(run);
          undo.save(run);
        }
        await this.commit(undo);
      }
    }
  }

  /**
   * Keeps offers while runs wait or one is due within the lead, declines them otherwise; revives
   * offers from the lead before the next due time and suppresses them while none is near.
   * Resolves to when the shell must wake next.
   */
  private manageOffers(conn: SchedulerConnection, now: number): number | undefined {
    const { book, due } = this.d;
    const wantedFrom = offersWantedFrom(now, book.readyCount, due.earliest(), book.nextRetry(), this.d.offerLeadMs);
    const wanted = wantedFrom !== undefined && wantedFrom <= now;
    if (book.readyCount > 0 && this.held.size > 0) {
      // What is left of these offers fits none of the waiting runs.
      void conn.decline([...this.held.keys()], { refuseSeconds: REFUSE_UNFIT_SECONDS }).catch(() => undefined);
      this.held.clear();
    } else if (!wanted && this.held.size > 0) {
      const refuse = wantedFrom === undefined ? REFUSE_MAX_SECONDS : Math.min(REFUSE_MAX_SECONDS, Math.max(0, (wantedFrom - now) / 1000));
      void conn.decline([...this.held.keys()], { refuseSeconds: refuse }).catch(() => undefined);
      this.held.clear();
    }
    if (wanted && !this.wanting) {
      this.wanting = true;
      void conn.revive().catch(() => undefined);
    } else if (!wanted && this.wanting) {
      this.wanting = false;
      void conn.suppress().catch(() => undefined);
    }
    const wakes = [due.earliest(), book.nextWake(), wanted ? undefined : wantedFrom].filter((t): t is number => t !== undefined);
    return wakes.length === 0 ? undefined : Math.min(...wakes);
  }
}

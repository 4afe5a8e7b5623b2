// The cron shell's in-memory book of runs, indexed so that every event costs O(1) or O(log n) in
// the number of unfinished runs, however many queue up: unfinished runs by id, by job and by task;
// runs waiting for an offer in scheduled order; retries waiting out their backoff and runs with a
// maxCompletionTime deadline, each in a heap by time; ended run ids per job for retention. Heaps
// drop entries lazily: an entry whose run moved on is skipped when it comes out.
import { MinHeap } from '../shared/min-heap';
import { deadlineBase, isOverdue } from './due';
import type { JobRun } from './types';

interface Timed {
  at: number;
  run: JobRun;
  /** The attempt the entry was made for (a deadline belongs to one attempt). */
  attempt: number;
}

const byTimeThenId = (a: Timed, b: Timed) => a.at < b.at || (a.at === b.at && a.run.id < b.run.id);
const byScheduleThenId = (a: JobRun, b: JobRun) => a.scheduledAt < b.scheduledAt || (a.scheduledAt === b.scheduledAt && a.id < b.id);

export class RunBook {
  private readonly byId = new Map<string, JobRun>();
  private readonly byJob = new Map<string, Set<JobRun>>();
  private readonly byTask = new Map<string, JobRun>();
  /** Ended run ids per job, oldest first (retention). */
  private readonly endedIds = new Map<string, string[]>();
  private readonly ready = new MinHeap<JobRun>(byScheduleThenId);
  private readonly readySet = new Set<JobRun>();
  private readonly retries = new MinHeap<Timed>(byTimeThenId);
  private readonly deadlines = new MinHeap<Timed>(byTimeThenId);

  /** Unfinished runs by id. */
  get active(): ReadonlyMap<string, JobRun> {
    return this.byId;
  }

  /** Unfinished runs of one job, oldest first. */
  ofJob(job: string): JobRun[] {
    return [...(this.byJob.get(job) ?? [])];
  }

  countOf(job: string): number {
    return this.byJob.get(job)?.size ?? 0;
  }

  runOfTask(taskId: string): JobRun | undefined {
    return this.byTask.get(taskId);
  }

  /** Starts following an unfinished run (new, or loaded at start), queueing it if it waits for an offer. */
  track(run: JobRun): void {
    this.byId.set(run.id, run);
    let set = this.byJob.get(run.job);
    if (!set) this.byJob.set(run.job, (set = new Set()));
    set.add(run);
    for (const a of run.attempts) if (a.endedAt === undefined) this.byTask.set(a.taskId, run);
    this.requeue(run);
  }

  untrack(run: JobRun): void {
    this.byId.delete(run.id);
    const set = this.byJob.get(run.job);
    set?.delete(run);
    if (set?.size === 0) this.byJob.delete(run.job);
    for (const a of run.attempts) if (this.byTask.get(a.taskId) === run) this.byTask.delete(a.taskId);
    this.readySet.delete(run);
  }

  /** A task id now belongs to `run` (it was placed), or no longer does (its attempt ended or was undone). */
  bindTask(taskId: string, run: JobRun): void {
    this.byTask.set(taskId, run);
  }

  unbindTask(taskId: string): void {
    this.byTask.delete(taskId);
  }

  /** Puts a queued run where it waits: the retry heap while in backoff, else the ready queue. */
  requeue(run: JobRun): void {
    if (run.status !== 'queued') return;
    if (run.notBefore !== undefined) this.retries.push({ at: run.notBefore, run, attempt: run.attempt });
    else if (!this.readySet.has(run)) {
      this.readySet.add(run);
      this.ready.push(run);
    }
  }

  /** Watches a launched attempt for its job's maxCompletionTime (ms; 0 = no limit). */
  watchDeadline(run: JobRun, limitMs: number): void {
    const since = deadlineBase(run);
    if (limitMs > 0 && since !== undefined) this.deadlines.push({ at: since + limitMs + 1, run, attempt: run.attempt });
  }

  /** Retries whose backoff is over by `now` move to the ready queue; true if any did. */
  releaseRetries(now: number): boolean {
    let released = false;
    for (let top = this.retries.peek(); top && top.at <= now; top = this.retries.peek()) {
      this.retries.pop();
      const { run } = top;
      if (!this.byId.has(run.id) || run.status !== 'queued' || run.notBefore !== top.at) continue;
      delete run.notBefore;
      this.requeue(run);
      released = true;
    }
    return released;
  }

  /** Launched runs whose deadline passed by `now` (their attempt still unfinished), per `limitOf` now. */
  takeOverdue(now: number, limitOf: (job: string) => number): JobRun[] {
    const out: JobRun[] = [];
    for (let top = this.deadlines.peek(); top && top.at <= now; top = this.deadlines.peek()) {
      this.deadlines.pop();
      const { run } = top;
      if (!this.byId.has(run.id) || run.attempt !== top.attempt || (run.status !== 'running' && run.status !== 'launching')) continue;
      const limit = limitOf(run.job);
      if (isOverdue(run, limit, now)) out.push(run);
      else this.watchDeadline(run, limit); // the limit was raised (or removed: then nothing)
    }
    return out;
  }

  /**
   * Takes ready runs in scheduled order while `place` accepts them; a run `place` turns down stays
   * ready. Stops after `maxMisfits` refusals in a row, so a full agent costs O(maxMisfits), not O(queue).
   */
  placeReady(place: (run: JobRun) => boolean, maxMisfits = 64): void {
    const misfits: JobRun[] = [];
    while (misfits.length < maxMisfits) {
      const run = this.ready.pop();
      if (!run) break;
      if (!this.readySet.has(run)) continue;
      if (run.status !== 'queued' || run.notBefore !== undefined || !this.byId.has(run.id)) {
        this.readySet.delete(run);
        continue;
      }
      if (place(run)) {
        this.readySet.delete(run);
        misfits.length = 0;
      } else misfits.push(run);
    }
    for (const run of misfits) this.ready.push(run);
  }

  /** Runs waiting for an offer now. */
  get readyCount(): number {
    return this.readySet.size;
  }

  /** The earliest time something here needs the shell: a retry's end of backoff or a deadline. */
  nextWake(): number | undefined {
    const a = this.retries.peek()?.at;
    const b = this.deadlines.peek()?.at;
    return a === undefined ? b : b === undefined ? a : Math.min(a, b);
  }

  /** The earliest end of a retry backoff (offers are wanted from then). */
  nextRetry(): number | undefined {
    return this.retries.peek()?.at;
  }

  // ---- ended runs (retention) ----

  remember(run: Pick<JobRun, 'id' | 'job'>): void {
    const ids = this.endedIds.get(run.job);
    if (ids) ids.push(run.id);
    else this.endedIds.set(run.job, [run.id]);
  }

  loadEnded(job: string, ids: string[]): void {
    this.endedIds.set(job, ids.filter((id) => !this.byId.has(id)));
  }

  hasEnded(job: string, id: string): boolean {
    return this.endedIds.get(job)?.includes(id) ?? false;
  }

  /** Takes the ids of the oldest ended runs beyond `limit` (for deletion). */
  takeBeyond(job: string, limit: number): string[] {
    const ids = this.endedIds.get(job);
    if (!ids || ids.length <= limit) return [];
    return ids.splice(0, ids.length - limit);
  }

  forgetJob(job: string): void {
    for (const run of this.ofJob(job)) this.untrack(run);
    this.endedIds.delete(job);
  }
}

// The store writes of one step of the cron shell, gathered so the step commits them in one
// transaction (JobRepo.commit) instead of one per event, and the actions that may only happen
// once they are durable: launching a placed run's task (a run is recorded before its task is
// launched), acknowledging a status update (the agent resends it until then), killing a task.
import type { JobRun, JobStats } from './types';

export class RunWrites {
  /** Runs to write as they are at commit time (the latest state of a run changed twice wins). */
  readonly runs = new Map<string, JobRun>();
  readonly stats = new Map<string, JobStats>();
  /** Ended runs dropped by retention. */
  readonly deletes: Array<{ job: string; ids: string[] }> = [];
  private readonly actions: Array<() => Promise<void> | void> = [];

  save(run: JobRun): void {
    this.runs.set(run.id, run);
  }

  saveStats(job: string, stats: JobStats): void {
    this.stats.set(job, stats);
  }

  deleteRuns(job: string, ids: string[]): void {
    if (ids.length > 0) this.deletes.push({ job, ids });
  }

  /** `action` runs after the commit, in the order given. */
  afterCommit(action: () => Promise<void> | void): void {
    this.actions.push(action);
  }

  get empty(): boolean {
    return this.runs.size === 0 && this.stats.size === 0 && this.deletes.length === 0;
  }

  /** The actions, once (the caller runs them after the commit). */
  takeActions(): Array<() => Promise<void> | void> {
    return this.actions.splice(0);
  }
}

// Dependent jobs in the shell: when a parent's run succeeded, each child whose parents all
// succeeded for the same upstream run (same scheduled time, or the same manual instant) gets one
// run, created in the store only if its id is new. Runs after the step that ended the parent's run
// committed, so the parents' runs read from the store are as they are now.
import { decideConcurrency } from './due';
import { ChildIndex } from './graph';
import { isEnded, type JobEntry, type JobRepo } from './job-repo';
import type { RunBook } from './run-book';
import { notRunRecord } from './run-state';
import type { JobRun } from './types';

export interface DependencyHost {
  repo: JobRepo;
  jobs: ReadonlyMap<string, JobEntry>;
  book: RunBook;
  now(): number;
  newRun(job: string, scheduledAt: number, trigger: JobRun['trigger']): JobRun;
  /** A child run was created: follow it (a skipped record is ended already); `replaced` are to be killed. */
  created(run: JobRun, replaced: JobRun[]): Promise<void>;
}

export class Dependencies {
  readonly children = new ChildIndex();

  constructor(private readonly host: DependencyHost) {}

  /** A parent's run succeeded: children whose parents all succeeded for the same upstream run start. */
  async parentSucceeded(parentRun: JobRun): Promise<void> {
    for (const child of this.children.of(parentRun.job)) await this.maybeStartChild(child, parentRun);
  }

  /**
   * After a restart: a parent run that succeeded while (or just before) the scheduler went down
   * may not have started its children yet. Only parent runs that ended after the child job existed count.
   */
  async catchUp(): Promise<void> {
    for (const [name, { stored }] of this.host.jobs) {
      for (const p of stored.job.parents ?? []) {
        for (const run of await this.host.repo.runs(p)) {
          if (run.status === 'succeeded' && (run.endedAt ?? 0) >= stored.createdAt) await this.maybeStartChild(name, run);
        }
      }
    }
  }

  private async maybeStartChild(child: string, upstream: JobRun): Promise<void> {
    const { host } = this;
    const job = host.jobs.get(child)?.stored.job;
    if (!job || job.disabled || !job.parents) return;
    const suffix = upstream.id.slice(upstream.job.length);
    const id = child + suffix;
    if (host.book.active.has(id) || host.book.hasEnded(child, id)) return;
    for (const p of job.parents) {
      if (p === upstream.job) continue;
      const run = await host.repo.getRun(p, p + suffix);
      if (run?.status !== 'succeeded') return;
    }
    const run = host.newRun(child, upstream.scheduledAt, 'dependency');
    run.id = id;
    const active = host.book.ofJob(child);
    const decision = decideConcurrency(job.concurrencyPolicy, active);
    const record = decision.action === 'skip' ? notRunRecord(child, id, upstream.scheduledAt, 'skipped', `skipped: ${decision.reason}`, host.now(), 'dependency') : run;
    if (suffix.endsWith(':manual')) record.message ??= `after manual run ${upstream.id}`;
    if (!(await host.repo.createRun(record))) return;
    await host.created(record, decision.action === 'replace' && !isEnded(record) ? active : []);
  }
}

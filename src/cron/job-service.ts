// Job changes as one door for both APIs: validate (Chronos rules), check the dependency graph,
// write the store (compare-and-set), then tell the framework. Changes go one at a time, so two
// submissions cannot together close a cycle that each alone would not.
import type { Clock } from '../shared/clock';
import { CorralError } from '../shared/errors';
import { checkDependencies, dependents, type ParentLookup } from './graph';
import { storedJob, validateJob } from './job';
import type { JobEntry, JobRepo } from './job-repo';
import type { CronFramework } from './framework';
import { cursorAt } from './schedule';
import type { JobDefinition, JobRun } from './types';

export const jobNotFound = (name: string) => new CorralError('JOB_NOT_FOUND', `Job '${name}' not found`);

export class JobService {
  private chain: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly repo: JobRepo,
    private readonly framework: CronFramework,
    private readonly clock: Pick<Clock, 'now'>,
  ) {}

  /** Every job, by name. */
  list(): JobEntry[] {
    return [...this.framework.jobs.values()].sort((a, b) => (a.stored.job.name < b.stored.job.name ? -1 : 1));
  }

  get(name: string): JobEntry {
    const entry = this.framework.jobs.get(name);
    if (!entry) throw jobNotFound(name);
    return entry;
  }

  /**
   * Creates or replaces a job (Chronos's POST /iso8601 and /dependency both upsert). A new or
   * changed schedule, or enabling a disabled job, starts its count from now.
   */
  upsert(input: unknown, kind: 'scheduled' | 'dependent' | 'any' = 'any', name?: string): Promise<{ entry: JobEntry; created: boolean }> {
    return this.serial(async () => {
      const body = name !== undefined && typeof input === 'object' && input !== null && !Array.isArray(input) ? { ...(input as object), name } : input;
      const job = validateJob(body, kind);
      checkDependencies(this.parents, job);
      const previous = this.framework.jobs.get(job.name);
      const now = this.clock.now();
      const stored = storedJob(job, now, previous?.stored);
      const restart = stored.schedule && (!previous || previous.stored.schedule !== stored.schedule || (previous.stored.job.disabled && !job.disabled));
      const cursor = restart ? cursorAt(stored.schedule!, now) : undefined;
      const res = await this.repo.putJob(stored, previous?.revision ?? 0, cursor);
      if (!res.ok) throw new CorralError('JOB_LOCKED', `Job '${job.name}' was changed by another request; retry`);
      const entry = { stored, revision: res.revision };
      await this.framework.jobChanged(entry, cursor);
      return { entry, created: !previous };
    });
  }

  /** Deletes a job, killing its active runs; JOB_HAS_DEPENDENTS while other jobs name it as a parent. */
  remove(name: string): Promise<void> {
    return this.serial(async () => {
      this.get(name);
      const children = dependents(this.definitions(), name);
      if (children.length > 0) throw new CorralError('JOB_HAS_DEPENDENTS', `Job '${name}' is a parent of ${children.join(', ')}; delete or change those first`);
      await this.framework.jobRemoved(name);
      await this.repo.deleteJob(name);
    });
  }

  runNow(name: string, args?: string[]): Promise<JobRun> {
    this.get(name);
    return this.framework.runNow(name, args);
  }

  kill(name: string): Promise<number> {
    this.get(name);
    return this.framework.killJob(name);
  }

  /** The job's kept runs, newest first (active ones included). */
  async runs(name: string): Promise<JobRun[]> {
    this.get(name);
    const stored = await this.repo.runs(name);
    // The in-memory copy of an active run is the freshest.
    return stored.map((r) => this.framework.active.get(r.id) ?? r).reverse();
  }

  async run(name: string, runId: string): Promise<JobRun> {
    this.get(name);
    const run = this.framework.active.get(runId) ?? (await this.repo.getRun(name, runId));
    if (!run || run.job !== name) throw new CorralError('JOB_RUN_NOT_FOUND', `Job '${name}' has no run '${runId}'`);
    return run;
  }

  /** The jobs' parents, read from the framework's jobs without a copy (a submission is O(its ancestors)). */
  private readonly parents: ParentLookup = { has: (n) => this.framework.jobs.has(n), get: (n) => this.framework.jobs.get(n)?.stored.job };

  definitions(): Map<string, JobDefinition> {
    return new Map([...this.framework.jobs].map(([k, v]) => [k, v.stored.job]));
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.chain.then(fn, fn);
    this.chain = next.catch(() => undefined);
    return next;
  }
}

// Cron state in the store, under /cron/:
//   jobs/<name>            StoredJob (compare-and-set on its revision)
//   cursors/<name>         Cursor: the next occurrence not yet handled
//   stats/<name>           JobStats (Chronos's read-only counters)
//   runs/<name>/<key>      JobRun, key = zero-padded scheduled ms (+ ':manual'), so keys sort by time
//   active/<run id>        marker of a run not yet ended (recovery reads these, not all history)
//   framework-id
// A run is created together with the cursor move that produced it, and only if its key is absent:
// a run id can never be written twice, whatever crashed in between.
import type { JsonValue, Store, TxnOp } from '../store/types';
import type { RunWrites } from './run-writes';
import type { Cursor } from './schedule';
import type { JobRun, JobStats, StoredJob } from './types';

const ROOT = '/cron/';
const JOBS = ROOT + 'jobs/';
const CURSORS = ROOT + 'cursors/';
const STATS = ROOT + 'stats/';
const RUNS = ROOT + 'runs/';
const ACTIVE = ROOT + 'active/';
const FRAMEWORK_ID = ROOT + 'framework-id';

// A run, cursor or job as the store's JSON type. No copy: the store serialises a value when it is
// called (Store), so a run changed after its commit was asked for is written as it was then.
const json = (v: object) => v as unknown as JsonValue;

/** The key of a run below its job: the scheduled time padded to sort, plus `:manual` for manual runs. */
export function runKey(run: Pick<JobRun, 'id' | 'job'>): string {
  const [ms, ...rest] = run.id.slice(run.job.length + 1).split(':');
  return [ms!.padStart(15, '0'), ...rest].join(':');
}

const runPath = (run: Pick<JobRun, 'id' | 'job'>) => `${RUNS}${run.job}/${runKey(run)}`;

export interface JobEntry {
  stored: StoredJob;
  revision: number;
}

/** One batch of new runs (and missed/skipped records) with the cursor moves that made them. */
export interface RunBatch {
  runs: JobRun[];
  cursors: Array<{ job: string; cursor: Cursor }>;
}

export class JobRepo {
  constructor(private readonly store: Store) {}

  async listJobs(): Promise<JobEntry[]> {
    return (await this.store.list<StoredJob>(JOBS)).map((e) => ({ stored: e.value, revision: e.modRevision }));
  }

  /**
   * Writes the job if its key is at `revision` (0: absent), and its cursor when given (a new or
   * changed schedule starts counting again). False when someone changed the job meanwhile.
   */
  async putJob(stored: StoredJob, revision: number, cursor: Cursor | undefined): Promise<{ ok: boolean; revision: number }> {
    const key = JOBS + stored.job.name;
    const ops: TxnOp[] = [{ type: 'put', key, value: json(stored) }];
    if (cursor) ops.push({ type: 'put', key: CURSORS + stored.job.name, value: json(cursor) });
    const res = await this.store.txn({ compare: [{ key, target: 'modRevision', op: '=', value: revision }], success: ops });
    return { ok: res.succeeded, revision: res.revision };
  }

  /** Removes the job with its cursor, counters and whole history. */
  async deleteJob(name: string): Promise<boolean> {
    const actives = (await this.store.list<string>(ACTIVE)).filter((e) => e.value === name).map((e): TxnOp => ({ type: 'delete', key: e.key }));
    const res = await this.store.txn({
      compare: [{ key: JOBS + name, target: 'exists', value: true }],
      success: [{ type: 'delete', key: JOBS + name }, { type: 'delete', key: CURSORS + name }, { type: 'delete', key: STATS + name }, { type: 'deletePrefix', prefix: `${RUNS}${name}/` }, ...actives],
    });
    return res.succeeded;
  }

  async cursors(): Promise<Map<string, Cursor>> {
    return new Map((await this.store.list<Cursor>(CURSORS)).map((e) => [e.key.slice(CURSORS.length), e.value]));
  }

  async stats(): Promise<Map<string, JobStats>> {
    return new Map((await this.store.list<JobStats>(STATS)).map((e) => [e.key.slice(STATS.length), e.value]));
  }

  /**
   * Creates the batch's runs and moves its cursors in one transaction, only if none of the runs
   * exists. False (nothing written) when one does: the caller then creates them one by one.
   */
  async createRuns(batch: RunBatch): Promise<boolean> {
    if (batch.runs.length === 0 && batch.cursors.length === 0) return true;
    const ops: TxnOp[] = [];
    for (const r of batch.runs) {
      ops.push({ type: 'put', key: runPath(r), value: json(r) });
      if (!isEnded(r)) ops.push({ type: 'put', key: ACTIVE + r.id, value: r.job });
    }
    for (const c of batch.cursors) ops.push({ type: 'put', key: CURSORS + c.job, value: json(c.cursor) });
    const res = await this.store.txn({ compare: batch.runs.map((r) => ({ key: runPath(r), target: 'exists' as const, value: false })), success: ops });
    return res.succeeded;
  }

  /** Creates one run unless a run with its id exists; true if it was created. */
  async createRun(run: JobRun): Promise<boolean> {
    return this.createRuns({ runs: [run], cursors: [] });
  }

  /**
   * Commits every change of one step of the shell in one transaction: runs as they are now (ended
   * ones leave the active index), job counters, and ended runs dropped by retention.
   */
  async commit(writes: RunWrites): Promise<void> {
    if (writes.empty) return;
    const ops: TxnOp[] = [];
    for (const r of writes.runs.values()) {
      ops.push({ type: 'put', key: runPath(r), value: json(r) });
      if (isEnded(r)) ops.push({ type: 'delete', key: ACTIVE + r.id });
    }
    for (const [job, stats] of writes.stats) ops.push({ type: 'put', key: STATS + job, value: json(stats) });
    for (const { job, ids } of writes.deletes) for (const id of ids) ops.push({ type: 'delete', key: runPath({ id, job }) });
    await this.store.txn({ compare: [], success: ops });
  }

  async activeRuns(): Promise<JobRun[]> {
    const out: JobRun[] = [];
    for (const e of await this.store.list<string>(ACTIVE)) {
      const id = e.key.slice(ACTIVE.length);
      const run = await this.getRun(e.value, id);
      if (run) out.push(run);
    }
    return out;
  }

  async getRun(job: string, runId: string): Promise<JobRun | undefined> {
    if (!runId.startsWith(job + ':')) return undefined;
    return (await this.store.get<JobRun>(runPath({ id: runId, job })))?.value;
  }

  /** The job's kept runs, oldest first. */
  async runs(job: string): Promise<JobRun[]> {
    return (await this.store.list<JobRun>(`${RUNS}${job}/`)).map((e) => e.value);
  }

  /** Run keys per job (for retention), oldest first. */
  async runIdsByJob(): Promise<Map<string, string[]>> {
    const out = new Map<string, string[]>();
    for (const e of await this.store.list<JobRun>(RUNS)) out.set(e.value.job, [...(out.get(e.value.job) ?? []), e.value.id]);
    return out;
  }

  async frameworkId(): Promise<string | undefined> {
    return (await this.store.get<string>(FRAMEWORK_ID))?.value;
  }

  async saveFrameworkId(id: string): Promise<void> {
    await this.store.put(FRAMEWORK_ID, id);
  }
}

export function isEnded(run: Pick<JobRun, 'status'>): boolean {
  return run.status !== 'queued' && run.status !== 'launching' && run.status !== 'running';
}

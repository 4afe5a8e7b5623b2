// Jobs and runs as the APIs show them: Chronos's job JSON (the definition, the schedule as it
// stands now — `Rn` counting down — and the read-only counters), its summary and stat shapes, and
// Corral's native run JSON (times as ISO 8601).
import type { JobEntry } from './job-repo';
import { scheduleText, type Cursor } from './schedule';
import { emptyStats, type JobRun, type JobStats } from './types';

export interface JobView {
  entry: JobEntry;
  stats: JobStats | undefined;
  cursor: Cursor | undefined;
  active: readonly JobRun[];
}

export function chronosJob(v: JobView): Record<string, unknown> {
  const { job, schedule } = v.entry.stored;
  const stats = v.stats ?? emptyStats();
  const shown = schedule ? scheduleText(schedule, v.cursor ?? { next: undefined, index: 0 }) : undefined;
  return {
    ...job.extra,
    name: job.name,
    command: job.command,
    arguments: job.arguments,
    shell: job.shell,
    ...(shown !== undefined ? { schedule: shown } : { parents: job.parents }),
    scheduleTimeZone: job.scheduleTimeZone,
    epsilon: job.epsilon,
    owner: job.owner,
    ownerName: job.ownerName,
    description: job.description,
    async: job.async,
    retries: job.retries,
    disabled: job.disabled,
    concurrent: job.concurrent,
    concurrencyPolicy: job.concurrencyPolicy,
    missedRuns: job.missedRuns,
    cpus: job.cpus,
    mem: job.mem,
    disk: job.disk,
    environmentVariables: job.environmentVariables,
    fetch: job.fetch,
    uris: [],
    constraints: job.constraints,
    runAsUser: job.runAsUser,
    maxCompletionTime: job.maxCompletionTime,
    successCount: stats.successCount,
    errorCount: stats.errorCount,
    lastSuccess: stats.lastSuccess,
    lastError: stats.lastError,
    errorsSinceLastSuccess: stats.errorsSinceLastSuccess,
  };
}

/** Chronos's last-run word: success, failure or fresh. */
export function lastRunStatus(stats: JobStats | undefined): 'success' | 'failure' | 'fresh' {
  if (!stats || (stats.lastSuccess === '' && stats.lastError === '')) return 'fresh';
  return stats.lastSuccess >= stats.lastError ? 'success' : 'failure';
}

/** Chronos's state word: idle, queued, or `<n> running`. */
export function runState(active: readonly JobRun[]): string {
  const running = active.filter((r) => r.status !== 'queued').length;
  if (running > 0) return `${running} running`;
  return active.length > 0 ? 'queued' : 'idle';
}

export function chronosSummary(v: JobView): Record<string, unknown> {
  const { job, schedule } = v.entry.stored;
  return {
    name: job.name,
    status: lastRunStatus(v.stats),
    state: runState(v.active),
    schedule: schedule ? scheduleText(schedule, v.cursor ?? { next: undefined, index: 0 }) : '',
    parents: job.parents ?? [],
    disabled: job.disabled,
  };
}

const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());

export function runJson(run: JobRun): Record<string, unknown> {
  return {
    id: run.id,
    job: run.job,
    trigger: run.trigger,
    status: run.status,
    scheduledAt: iso(run.scheduledAt),
    createdAt: iso(run.createdAt),
    startedAt: iso(run.startedAt),
    endedAt: iso(run.endedAt),
    exitCode: run.exitCode ?? null,
    attempt: run.attempt,
    taskId: run.attempts.at(-1)?.taskId ?? null,
    message: run.message ?? null,
    ...(run.arguments ? { arguments: run.arguments } : {}),
    attempts: run.attempts.map((a) => ({
      attempt: a.attempt,
      taskId: a.taskId,
      agentId: a.agentId ?? null,
      host: a.host ?? null,
      launchedAt: iso(a.launchedAt),
      startedAt: iso(a.startedAt),
      endedAt: iso(a.endedAt),
      state: a.state ?? null,
      exitCode: a.exitCode ?? null,
    })),
  };
}

/** Corral's native job JSON: Chronos's plus when it runs next and its unfinished runs. */
export function nativeJob(v: JobView): Record<string, unknown> {
  return { ...chronosJob(v), nextRunAt: iso(v.entry.stored.job.disabled ? undefined : v.cursor?.next), state: runState(v.active), status: lastRunStatus(v.stats), activeRuns: v.active.map(runJson) };
}

/** Chronos's GET /job/stat/{name}: run-time percentiles (seconds) over the kept history, and the recent tasks. */
export function jobStat(runs: readonly JobRun[]): Record<string, unknown> {
  const durations = runs
    .filter((r) => r.status === 'succeeded' && r.startedAt !== undefined && r.endedAt !== undefined)
    .map((r) => (r.endedAt! - r.startedAt!) / 1000)
    .sort((a, b) => a - b);
  const pct = (p: number) => (durations.length === 0 ? 0 : durations[Math.min(durations.length - 1, Math.ceil((p / 100) * durations.length) - 1)]!);
  return {
    histogram: {
      '75thPercentile': pct(75),
      '95thPercentile': pct(95),
      '98thPercentile': pct(98),
      '99thPercentile': pct(99),
      median: pct(50),
      mean: durations.length === 0 ? 0 : durations.reduce((a, b) => a + b, 0) / durations.length,
      count: durations.length,
    },
    taskStatHistory: runs.flatMap((r) =>
      r.attempts.map((a) => ({ taskId: a.taskId, jobName: r.job, slaveId: a.agentId ?? '', taskState: a.state ?? 'TASK_RUNNING', taskStartTs: iso(a.startedAt ?? a.launchedAt), taskEndTs: iso(a.endedAt) })),
    ),
  };
}

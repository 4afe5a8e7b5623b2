// How a run moves when its task reports, pure: `applyTaskStatus(run, job, status, now)` returns the
// run as it is after the update and what the shell must do next (nothing, retry later, or the run
// ended). Counters follow Chronos: a run that fails after its last retry is one error; a success
// resets errorsSinceLastSuccess.
import { isTerminal, type TaskStatus } from '../kernel/types';
import { retryDelayMs, shouldRetry } from './due';
import type { JobDefinition, JobRun, JobStats, RunStatus } from './types';

export type RunChange =
  | { kind: 'none' }
  /** Persist the run (it started running). */
  | { kind: 'started' }
  /** The attempt failed or never reached the kernel: the run is queued again (notBefore set). */
  | { kind: 'retry' }
  | { kind: 'ended'; status: Extract<RunStatus, 'succeeded' | 'failed' | 'killed'> };

/** Applies a task status of attempt `taskId` of `run`; mutates `run` and returns what changed. */
export function applyTaskStatus(run: JobRun, job: Pick<JobDefinition, 'retries'> | undefined, status: TaskStatus, now: number): RunChange {
  const attempt = run.attempts.find((a) => a.taskId === status.taskId);
  if (!attempt) return { kind: 'none' };
  const current = attempt.attempt === run.attempt;
  if (!isTerminal(status.state)) {
    if (status.state !== 'TASK_RUNNING' || attempt.startedAt !== undefined) return { kind: 'none' };
    attempt.startedAt = status.timestamp;
    if (!current) return { kind: 'started' };
    run.status = 'running';
    run.startedAt ??= status.timestamp;
    return { kind: 'started' };
  }
  if (attempt.endedAt !== undefined) return { kind: 'none' };
  attempt.endedAt = status.timestamp;
  attempt.state = status.state;
  if (status.exitCode !== undefined) attempt.exitCode = status.exitCode;
  if (status.message) attempt.message = status.message;
  // A task of an earlier attempt ending late (it was replaced already) changes nothing else.
  if (!current) return { kind: 'started' };
  const end = (s: 'succeeded' | 'failed' | 'killed', message?: string): RunChange => {
    run.status = s;
    run.endedAt = now;
    if (status.exitCode !== undefined) run.exitCode = status.exitCode;
    const why = message ?? status.message;
    if (why) run.message = why;
    return { kind: 'ended', status: s };
  };
  if (run.killRequested) return end(run.killRequested.outcome, run.killRequested.reason);
  if (status.state === 'TASK_FINISHED') return end('succeeded');
  if (status.state === 'TASK_KILLED') return end('killed', status.message ?? 'the task was killed');
  // Written before launch but unknown to the master: the launch never reached it. Not a failure.
  const neverLaunched = run.status === 'launching' && status.state === 'TASK_LOST' && status.reason === 'REASON_RECONCILIATION';
  if (neverLaunched || (job && shouldRetry(run.attempt, job.retries))) {
    run.notBefore = now + (neverLaunched ? 0 : retryDelayMs(run.attempt));
    run.attempt += 1;
    run.status = 'queued';
    return { kind: 'retry' };
  }
  return end('failed');
}

/** The job's counters after a run ended with `status` at `now`. */
export function statsAfter(stats: JobStats, status: 'succeeded' | 'failed' | 'killed', now: number): JobStats {
  const at = new Date(now).toISOString();
  if (status === 'succeeded') return { ...stats, successCount: stats.successCount + 1, lastSuccess: at, errorsSinceLastSuccess: 0 };
  if (status === 'failed') return { ...stats, errorCount: stats.errorCount + 1, lastError: at, errorsSinceLastSuccess: stats.errorsSinceLastSuccess + 1 };
  return stats;
}

/** A record of an occurrence that was not run (missed or skipped): ended as it is created. */
export function notRunRecord(job: string, id: string, scheduledAt: number, status: 'missed' | 'skipped', message: string, now: number, trigger: JobRun['trigger'] = 'schedule'): JobRun {
  return { id, job, trigger, scheduledAt, status, attempt: 0, createdAt: now, endedAt: now, message, attempts: [] };
}

// Pure decisions of the cron dispatcher: which occurrences are due now and which were missed,
// whether a new run may start beside active ones, when a failed attempt retries, and which runs
// are past their maxCompletionTime. The shell (framework.ts) applies them.
import { advance, latestAtOrBefore, skipTo, type Cursor, type Schedule } from './schedule';
import type { ConcurrencyPolicy, JobRun, MissedRunPolicy } from './types';

/** Missed occurrences recorded one by one per plan at most; older ones beyond are only counted. */
export const MAX_MISSED_RECORDED = 1000;

export interface DuePlan {
  /** The occurrence to run now, if any. */
  run: number | undefined;
  /** Occurrences to record as missed, oldest first. */
  missed: number[];
  /** Missed occurrences beyond MAX_MISSED_RECORDED (counted, not recorded). */
  uncounted: boolean;
  /** The cursor after every occurrence at or before `now`. */
  cursor: Cursor;
}

/**
 * Occurrences from `cursor.next` up to `now`. In normal operation that is one, run on time. After
 * the scheduler was down (or stalled past a period), only the latest is a candidate: it runs once
 * if it is at most `epsilonMs` old and the policy is RUN_ONCE; every other one is missed. So a
 * recovering scheduler never fires a backlog, and never silently drops an occurrence.
 */
export function planDue(s: Schedule, cursor: Cursor, now: number, epsilonMs: number, policy: MissedRunPolicy): DuePlan {
  if (cursor.next === undefined || cursor.next > now) return { run: undefined, missed: [], uncounted: false, cursor };
  // The usual case, one occurrence due: a single step of the schedule decides it.
  const after = advance(s, cursor);
  if (after.next === undefined || after.next > now) {
    const runIt = policy === 'RUN_ONCE' && now - cursor.next <= epsilonMs;
    return { run: runIt ? cursor.next : undefined, missed: runIt ? [] : [cursor.next], uncounted: false, cursor: after };
  }
  const latest = latestAtOrBefore(s, now);
  // latest >= cursor.next since cursor.next <= now is itself an occurrence.
  const last = latest === undefined || latest < cursor.next ? cursor.next : latest;
  const missed: number[] = [];
  let c = cursor;
  let uncounted = false;
  while (c.next !== undefined && c.next < last) {
    if (missed.length >= MAX_MISSED_RECORDED) {
      uncounted = true;
      c = skipTo(s, c, last);
      break;
    }
    missed.push(c.next);
    c = advance(s, c);
  }
  const runIt = policy === 'RUN_ONCE' && now - last <= epsilonMs;
  if (!runIt) missed.push(last);
  return { run: runIt ? last : undefined, missed, uncounted, cursor: advance(s, c.next === last ? c : { next: last, index: c.index }) };
}

export type ConcurrencyDecision = { action: 'start' } | { action: 'skip'; reason: string } | { action: 'replace'; kill: string[] };

/** May a new run start while `active` runs of the same job have not ended? */
export function decideConcurrency(policy: ConcurrencyPolicy, active: readonly JobRun[]): ConcurrencyDecision {
  if (active.length === 0 || policy === 'ALLOW') return { action: 'start' };
  if (policy === 'FORBID') return { action: 'skip', reason: `run ${active[0]!.id} of the job is still active (concurrencyPolicy FORBID)` };
  return { action: 'replace', kill: active.map((r) => r.id) };
}

/** Backoff before attempt `attempt + 1` after attempt `attempt` failed: 1 s, 2 s, 4 s, ... at most 60 s. */
export function retryDelayMs(attempt: number): number {
  return Math.min(60_000, 1000 * 2 ** Math.max(0, attempt - 1));
}

/** Whether a failed attempt gets another one (`retries` extra attempts after the first). */
export function shouldRetry(attempt: number, retries: number): boolean {
  return attempt <= retries;
}

/** Since when the current attempt counts against maxCompletionTime: its launch, or its scheduled time when staged ahead of it. */
export function deadlineBase(r: JobRun): number | undefined {
  const launched = r.attempts.at(-1)?.launchedAt;
  return launched === undefined ? undefined : Math.max(launched, r.scheduledAt);
}

/** Whether a run has been running (since its launch) for longer than its job's maxCompletionTime (ms; 0 = no limit). */
export function isOverdue(r: JobRun, limitMs: number, now: number): boolean {
  const since = deadlineBase(r);
  return limitMs > 0 && since !== undefined && (r.status === 'running' || r.status === 'launching') && now - since > limitMs;
}

/** Runs that have been running (since launch) for longer than their job's maxCompletionTime. */
export function overdueRuns(runs: Iterable<JobRun>, limitOf: (job: string) => number, now: number): JobRun[] {
  const out: JobRun[] = [];
  for (const r of runs) if (isOverdue(r, limitOf(r.job), now)) out.push(r);
  return out;
}

/** The run id: the job and its occurrence, so a crash and restart cannot make a second run of it. */
export function runIdOf(job: string, scheduledAt: number, manual = false): string {
  return `${job}:${scheduledAt}${manual ? ':manual' : ''}`;
}

/** The kernel task id of one attempt, in Chronos's `ct:<millis>:<attempt>:<job>:<args>` shape (`manual` for a manual run's). */
export function taskIdOf(run: Pick<JobRun, 'id' | 'job' | 'scheduledAt'>, attempt: number): string {
  return `ct:${run.scheduledAt}:${attempt - 1}:${run.job}:${run.id.endsWith(':manual') ? 'manual' : ''}`;
}

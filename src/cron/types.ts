// Domain types of the cron framework. A job is Chronos's job JSON (validated, defaults filled);
// a run is one execution of a job for one scheduled time, identified by both, with its attempts.
// Times are ms since the epoch unless a name says otherwise.
import type { Schedule } from './schedule';

/** Allow overlapping runs, skip a new one while one is active, or kill the active one for it. */
export type ConcurrencyPolicy = 'ALLOW' | 'FORBID' | 'REPLACE';

/** What happens to occurrences that passed while no scheduler ran (see planDue). */
export type MissedRunPolicy = 'RUN_ONCE' | 'SKIP';

export interface EnvironmentVariable {
  name: string;
  value: string;
}

export interface JobFetch {
  uri: string;
  extract?: boolean;
  executable?: boolean;
  cache?: boolean;
  destPath?: string;
}

/** Chronos's job constraint: [attribute, EQUALS|LIKE|UNLIKE, value]. `hostname` is the agent's hostname. */
export type JobConstraint = [string, 'EQUALS' | 'LIKE' | 'UNLIKE', string];

export interface JobDefinition {
  /** Chronos: [\w.-]+ */
  name: string;
  command: string;
  /** Appended to the command (shell) or passed as argv (shell false). */
  arguments: string[];
  /** true: `command` runs under /bin/sh -c; false: it is the program. */
  shell: boolean;
  /** ISO 8601 `R[n]/[start]/period` or a cron expression; absent on dependent jobs. */
  schedule?: string;
  /** Jobs that must all succeed (for the same upstream run) before this one runs. */
  parents?: string[];
  /** IANA zone for the schedule; '' means UTC. */
  scheduleTimeZone: string;
  /** ISO 8601 duration: how late a run may still start (Chronos default PT60S). */
  epsilon: string;
  owner: string;
  ownerName: string;
  description: string;
  async: boolean;
  /** Extra attempts after a failed one (Chronos default 2). */
  retries: number;
  disabled: boolean;
  /** Chronos's flag; maps onto concurrencyPolicy (true: ALLOW, false: FORBID) unless that is given. */
  concurrent: boolean;
  concurrencyPolicy: ConcurrencyPolicy;
  missedRuns: MissedRunPolicy;
  cpus: number;
  mem: number;
  disk: number;
  environmentVariables: EnvironmentVariable[];
  fetch: JobFetch[];
  constraints: JobConstraint[];
  /** Unix user of the task; '' means the agent's default. */
  runAsUser: string;
  /** Ms a run may take before it is killed; 0 means no limit (Chronos's unit and default). */
  maxCompletionTime: number;
  /** Chronos fields Corral does not act on, kept so job JSON round-trips. */
  extra?: Record<string, unknown>;
}

/** A job as stored: the definition, its parsed schedule and when it was created. */
export interface StoredJob {
  job: JobDefinition;
  /** Parsed at submission (an empty ISO start is then fixed to that time). */
  schedule?: Schedule;
  createdAt: number;
  updatedAt: number;
}

export interface JobStats {
  successCount: number;
  errorCount: number;
  /** ISO 8601 or '' (Chronos's shape). */
  lastSuccess: string;
  lastError: string;
  errorsSinceLastSuccess: number;
}

export const emptyStats = (): JobStats => ({ successCount: 0, errorCount: 0, lastSuccess: '', lastError: '', errorsSinceLastSuccess: 0 });

export type RunTrigger = 'schedule' | 'dependency' | 'manual';

/**
 * queued: waiting for an offer (no task launched); launching: a task id was chosen and written
 * before the launch; running; then one of the ends. missed: the scheduler was not running at the
 * scheduled time (beyond epsilon, or an older occurrence than the one run on recovery); skipped:
 * FORBID while another run was active.
 */
export type RunStatus = 'queued' | 'launching' | 'running' | 'succeeded' | 'failed' | 'killed' | 'missed' | 'skipped';

export const ACTIVE_RUN_STATUSES: ReadonlySet<RunStatus> = new Set(['queued', 'launching', 'running']);

export interface RunAttempt {
  attempt: number;
  taskId: string;
  agentId?: string;
  host?: string;
  launchedAt: number;
  startedAt?: number;
  endedAt?: number;
  state?: string;
  exitCode?: number;
  message?: string;
}

export interface JobRun {
  /** `<job>:<scheduledAt ms>`, plus `:manual` for a run asked for by hand. */
  id: string;
  job: string;
  trigger: RunTrigger;
  /** The occurrence this run is for; a dependent run carries its upstream run's. */
  scheduledAt: number;
  status: RunStatus;
  /** 1-based; the attempt in progress or the last one made. */
  attempt: number;
  /** No new attempt before this (retry backoff). */
  notBefore?: number;
  createdAt: number;
  startedAt?: number;
  endedAt?: number;
  exitCode?: number;
  /** Why it ended as it did (kill reason, missed/skipped reason, last task message). */
  message?: string;
  /** Arguments of a manual run (`PUT /job/{name}?arguments=`), instead of the job's. */
  arguments?: string[];
  attempts: RunAttempt[];
  /** Set when Corral asked the kernel to kill the run's task: why, and how the run then ends. */
  killRequested?: { reason: string; outcome: 'killed' | 'failed' };
}

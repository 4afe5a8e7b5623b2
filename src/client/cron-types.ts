// Response shapes of the cron API (/v1/scheduler, /api/v1/jobs); docs/api.md describes them.

/** A job as Chronos shows it (the definition, the schedule as it stands now, the counters). */
export interface ChronosJob {
  name: string;
  command: string;
  arguments: string[];
  shell: boolean;
  /** ISO 8601 `R<left>/<next>/<period>` or a cron expression; absent on dependent jobs. */
  schedule?: string;
  parents?: string[];
  scheduleTimeZone: string;
  epsilon: string;
  owner: string;
  description: string;
  retries: number;
  disabled: boolean;
  concurrent: boolean;
  concurrencyPolicy: 'ALLOW' | 'FORBID' | 'REPLACE';
  missedRuns: 'RUN_ONCE' | 'SKIP';
  cpus: number;
  mem: number;
  disk: number;
  maxCompletionTime: number;
  successCount: number;
  errorCount: number;
  lastSuccess: string;
  lastError: string;
  [field: string]: unknown;
}

/** A job definition to submit: Chronos's job JSON. */
export type JobDefinition = { name: string; command: string } & Record<string, unknown>;

export interface JobRunAttempt {
  attempt: number;
  taskId: string;
  agentId: string | null;
  host: string | null;
  launchedAt: string | null;
  startedAt: string | null;
  endedAt: string | null;
  state: string | null;
  exitCode: number | null;
}

export interface JobRun {
  id: string;
  job: string;
  trigger: 'schedule' | 'dependency' | 'manual';
  status: 'queued' | 'launching' | 'running' | 'succeeded' | 'failed' | 'killed' | 'missed' | 'skipped';
  scheduledAt: string;
  createdAt: string;
  startedAt: string | null;
  endedAt: string | null;
  exitCode: number | null;
  attempt: number;
  taskId: string | null;
  message: string | null;
  arguments?: string[];
  attempts: JobRunAttempt[];
}

/** Corral's native job: Chronos's plus its next run, state words and unfinished runs. */
export interface NativeJob extends ChronosJob {
  nextRunAt: string | null;
  /** idle, queued or `<n> running`. */
  state: string;
  /** success, failure or fresh. */
  status: string;
  activeRuns: JobRun[];
}

export interface JobList {
  jobs: NativeJob[];
}

export interface JobResponse {
  job: NativeJob;
  runs?: JobRun[];
}

export interface JobRunList {
  runs: JobRun[];
}

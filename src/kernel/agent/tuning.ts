// The agent's knobs with their defaults, each with its unit. The daemon fills them from the config;
// tests shrink them.

export interface AgentTuning {
  /** Milliseconds between resends of unacknowledged status updates. */
  statusRetryMs: number;
  /** How many ended, fully acknowledged tasks are remembered for taskStatuses() and readLog. */
  completedTaskLimit: number;
  /** Whom tasks without a `user` run as when the agent is root. */
  taskUser: string;
  /** Most processes and threads per task (the container's pids limit). */
  taskPidsLimit: number;
  /** A task's stdout or stderr is rotated once larger than this many bytes. */
  logMaxBytes: number;
  /** Rotated log files kept per stream. */
  logKeepFiles: number;
  /** Milliseconds between checks of log sizes. */
  logCheckIntervalMs: number;
  /** Bytes the fetch cache (`<dataDir>/fetch-cache`) may hold. */
  fetchCacheBytes: number;
  /** Milliseconds between liveness polls of supervisors adopted after a restart. */
  supervisorPollMs: number;
  /**
   * Milliseconds between liveness polls of supervisors this agent launched. Only a fallback: they
   * say `exited` themselves; this finds one killed before it could (one /proc read per task).
   */
  launchedSupervisorPollMs: number;
  /**
   * End launches with dist/corral-exec when it was built (native/corral-exec.c); false = always the
   * shell chain (setsid, unshare, a shell init), which needs no compiler but costs more per launch.
   */
  useExecHelper: boolean;
  /** Run tasks in their own PID namespace; undefined = when the agent is root. */
  pidNamespace: boolean | undefined;
}

export const DEFAULT_AGENT_TUNING: Readonly<AgentTuning> = Object.freeze({
  statusRetryMs: 10_000,
  completedTaskLimit: 1000,
  taskUser: 'nobody',
  taskPidsLimit: 1024,
  logMaxBytes: 10 * 1024 * 1024,
  logKeepFiles: 5,
  logCheckIntervalMs: 2_000,
  fetchCacheBytes: 2 * 1024 ** 3,
  supervisorPollMs: 300,
  launchedSupervisorPollMs: 5_000,
  useExecHelper: true,
  pidNamespace: undefined,
});

/** The defaults overridden by every option that is set. */
export function tuningOf(options: Partial<AgentTuning>): AgentTuning {
  const set = Object.entries(options).filter(([key, value]) => value !== undefined && key in DEFAULT_AGENT_TUNING);
  return { ...DEFAULT_AGENT_TUNING, ...(Object.fromEntries(set) as Partial<AgentTuning>) };
}

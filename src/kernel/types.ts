// Domain types of the resource kernel, named after Mesos's so its users recognise them.
// Times are milliseconds since the Unix epoch; cpus in cores; mem and disk in MiB.

export const TASK_STATES = [
  'TASK_STAGING',
  'TASK_STARTING',
  'TASK_RUNNING',
  'TASK_KILLING',
  'TASK_FINISHED',
  'TASK_FAILED',
  'TASK_KILLED',
  'TASK_ERROR',
  'TASK_LOST',
  'TASK_DROPPED',
  'TASK_UNREACHABLE',
  'TASK_GONE',
  'TASK_GONE_BY_OPERATOR',
  'TASK_UNKNOWN',
] as const;
export type TaskState = (typeof TASK_STATES)[number];

/** States after which a task never runs again. */
export const TERMINAL_STATES: ReadonlySet<TaskState> = new Set<TaskState>([
  'TASK_FINISHED',
  'TASK_FAILED',
  'TASK_KILLED',
  'TASK_ERROR',
  'TASK_LOST',
  'TASK_DROPPED',
  'TASK_GONE',
  'TASK_GONE_BY_OPERATOR',
]);

export function isTerminal(state: TaskState): boolean {
  return TERMINAL_STATES.has(state);
}

export type TaskReason =
  | 'REASON_COMMAND_EXECUTOR_FAILED'
  | 'REASON_CONTAINER_LAUNCH_FAILED'
  | 'REASON_CONTAINER_LIMITATION_MEMORY'
  | 'REASON_CONTAINER_LIMITATION_DISK'
  | 'REASON_EXECUTOR_TERMINATED'
  | 'REASON_AGENT_DISCONNECTED'
  | 'REASON_AGENT_REMOVED'
  | 'REASON_AGENT_RESTARTED'
  | 'REASON_AGENT_DRAINING'
  | 'REASON_RECONCILIATION'
  | 'REASON_TASK_HEALTH_CHECK_STATUS_UPDATED'
  | 'REASON_TASK_INVALID'
  | 'REASON_TASK_KILLED_DURING_LAUNCH'
  | 'REASON_TASK_UNKNOWN'
  | 'REASON_FRAMEWORK_REMOVED'
  | 'REASON_MAX_COMPLETION_TIME_REACHED';

export type StatusSource = 'SOURCE_MASTER' | 'SOURCE_AGENT' | 'SOURCE_EXECUTOR';

export interface PortRange {
  /** Inclusive. */
  begin: number;
  /** Inclusive. */
  end: number;
}

export interface Resources {
  cpus: number;
  mem: number;
  disk: number;
  ports: PortRange[];
}

export interface CommandInfo {
  /** true: `value` runs under `/bin/sh -c`; false: `value` is the program and `arguments` its argv[1..]. */
  shell: boolean;
  value: string;
  arguments?: string[];
  environment: Record<string, string>;
  /** Unix user to run as; undefined means the agent's default. */
  user?: string;
}

/** An artifact the agent downloads into the sandbox before the task starts (Mesos CommandInfo.URI / Marathon fetch). */
export interface FetchUri {
  /** http://, https:// or file:// (an absolute path is taken as file://). */
  uri: string;
  /** Unpack .tar, .tar.gz/.tgz, .tar.xz/.txz and .zip into the sandbox (default true). */
  extract?: boolean;
  /** chmod +x the fetched file (default false). */
  executable?: boolean;
  /** Keep a copy in the agent's bounded fetch cache and reuse it (default false). */
  cache?: boolean;
  /** Path relative to the sandbox to save (or extract) to; default: the URI's file name (sandbox root for extraction). */
  destPath?: string;
}

/** A health check the agent runs against a task, with Marathon's fields and defaults. */
export interface HealthCheck {
  protocol: 'HTTP' | 'HTTPS' | 'TCP' | 'COMMAND';
  /** HTTP(S) path, default '/'. */
  path?: string;
  /** The host port to check (frameworks resolve Marathon's portIndex to this). */
  port?: number;
  /** COMMAND: run with /bin/sh -c in the task's sandbox and environment; exit 0 = healthy. */
  command?: string;
  /** Failures during this many seconds after the task started do not count (default 300). */
  gracePeriodSeconds: number;
  /** Seconds between checks (default 60). */
  intervalSeconds: number;
  /** A check that takes longer fails (default 20). */
  timeoutSeconds: number;
  /** Reported in status; the framework decides when to kill (default 3; 0 = never). */
  maxConsecutiveFailures: number;
  /** Seconds before the first check (default 15). */
  delaySeconds: number;
  /** HTTP 1xx responses are ignored rather than failing (default false). */
  ignoreHttp1xx?: boolean;
}

/** The state of one health check as the agent reports it with a status update. */
export interface HealthCheckResult {
  alive: boolean;
  consecutiveFailures: number;
  /** ms since epoch */
  firstSuccess?: number;
  lastSuccess?: number;
  lastFailure?: number;
  lastFailureCause?: string;
}

export interface TaskInfo {
  taskId: string;
  name: string;
  agentId: string;
  frameworkId: string;
  resources: Resources;
  command: CommandInfo;
  labels: Record<string, string>;
  /** SIGTERM-to-SIGKILL grace in seconds; undefined means the agent's default. */
  killGracePeriodSeconds?: number;
  /** Artifacts to fetch into the sandbox before the task starts. */
  fetch?: FetchUri[];
  /** Checks the agent runs once the task is RUNNING; results arrive in status updates. */
  healthChecks?: HealthCheck[];
  /**
   * Start the task's program at this wall-clock time (ms since epoch), at most MAX_START_AHEAD_MS
   * after the launch: the agent stages everything now (sandbox, container, supervisor, namespaces)
   * and the program is exec'd at that time, reported TASK_RUNNING with its real start time. Absent
   * or past: start at once. A kill before that time ends the task without starting its program.
   */
  startAt?: number;
}

/** How far ahead of its launch a task's startAt may lie (ms). */
export const MAX_START_AHEAD_MS = 60_000;

export interface TaskStatus {
  taskId: string;
  agentId: string;
  frameworkId: string;
  state: TaskState;
  source: StatusSource;
  reason?: TaskReason;
  message?: string;
  timestamp: number;
  /** Set on updates that must be acknowledged; absent on reconciliation answers. */
  uuid?: string;
  /** All health checks pass (absent while unknown or when the task has none). */
  healthy?: boolean;
  /** One result per TaskInfo.healthChecks entry, in the same order. */
  healthCheckResults?: HealthCheckResult[];
  /** Process exit code for terminal states reached by the process exiting. */
  exitCode?: number;
}

export interface AgentInfo {
  id: string;
  hostname: string;
  /** Resources the agent offers in total. */
  resources: Resources;
  attributes: Record<string, string>;
  registeredAt: number;
  version: string;
  /** Isolation backend in use: cgroup2, cgroup1 or posix. */
  isolation?: string;
  /**
   * Static reservations (Mesos's `cpus(role):8`): role → the part of `resources` set aside for
   * that role. Reserved resources are offered only to frameworks of the role; the rest to anyone.
   */
  reservations?: Record<string, Resources>;
  /** Executables on the agent's PATH (package feasibility); absent from agents that do not say. */
  commands?: string[];
}

export interface FrameworkInfo {
  name: string;
  /** Set when re-subscribing under an existing id (keeps its tasks). */
  id?: string;
  /** The allocation role (Mesos's): its weight, quota limit and reservations apply; default '*'. */
  role?: string;
  user?: string;
  /**
   * Seconds a disconnected framework keeps its tasks before they are killed and it is removed;
   * re-subscribing with its id within that time gets them back. 0 kills them at once. Default one
   * week (604800; Mesos's default is 0).
   */
  failoverTimeoutSeconds?: number;
}

export interface Offer {
  id: string;
  frameworkId: string;
  agentId: string;
  hostname: string;
  resources: Resources;
  attributes: Record<string, string>;
}

/** A task as a framework asks for it in a LAUNCH operation; the master fills agentId and frameworkId. */
export type TaskLaunch = Omit<TaskInfo, 'agentId' | 'frameworkId'>;

export type Operation = { type: 'LAUNCH'; tasks: TaskLaunch[] };

export interface Filters {
  /** Do not offer the declined (or left-over) resources of that agent again for this many seconds. Default 5. */
  refuseSeconds?: number;
}

export const emptyResources = (): Resources => ({ cpus: 0, mem: 0, disk: 0, ports: [] });

/**
 * A task's resource usage, Mesos's ResourceStatistics names (fields a backend cannot measure are
 * left out). Measured by the agent's isolation backends, read by the master's API.
 */
export interface ContainerStats {
  /** Seconds since the epoch, fractional. */
  timestamp: number;
  processes?: number;
  threads?: number;
  cpus_user_time_secs?: number;
  cpus_system_time_secs?: number;
  cpus_limit?: number;
  cpus_nr_periods?: number;
  cpus_nr_throttled?: number;
  cpus_throttled_time_secs?: number;
  mem_total_bytes?: number;
  mem_rss_bytes?: number;
  mem_cache_bytes?: number;
  mem_limit_bytes?: number;
}

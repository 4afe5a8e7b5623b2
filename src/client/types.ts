// Wire types of the public HTTP API as docs/api.md describes them. They are the client's view:
// fields the server may omit are optional, and unknown Marathon fields pass through untouched.
// Times: Marathon shapes carry ISO 8601 strings; native shapes carry milliseconds since the epoch
// (either is accepted where the docs do not pin it). cpus in cores; mem and disk in MiB.

export interface PortDefinition {
  /** 0 asks for a dynamic service port. */
  port: number;
  protocol?: string;
  name?: string;
  labels?: Record<string, string>;
}

/** An app definition as a user writes it (POST /v2/apps, PUT /v2/apps/{id}). */
export interface AppDefinition {
  id: string;
  cmd?: string;
  args?: string[];
  instances?: number;
  cpus?: number;
  mem?: number;
  disk?: number;
  portDefinitions?: PortDefinition[];
  env?: Record<string, string>;
  labels?: Record<string, string>;
  backoffSeconds?: number;
  backoffFactor?: number;
  maxLaunchDelaySeconds?: number;
  taskKillGracePeriodSeconds?: number;
  /** Unknown Marathon fields are accepted and kept. */
  [field: string]: unknown;
}

export interface DeploymentRef {
  id: string;
}

export interface HealthCheckResult {
  alive: boolean;
  consecutiveFailures?: number;
  firstSuccess?: string | null;
  lastSuccess?: string | null;
  lastFailure?: string | null;
  lastFailureCause?: string | null;
  instanceId?: string;
}

/** A task in Marathon's shape (`/v2/apps/{id}/tasks`, `/v2/tasks`, `app.tasks`). */
export interface Task {
  id: string;
  appId: string;
  host: string;
  ports: number[];
  servicePorts?: number[];
  slaveId?: string;
  state: string;
  stagedAt?: string | null;
  startedAt?: string | null;
  version?: string;
  ipAddresses?: Array<{ ipAddress: string; protocol: string }>;
  healthCheckResults?: HealthCheckResult[];
}

export interface TaskFailure {
  appId: string;
  host: string;
  message: string;
  state: string;
  taskId: string;
  timestamp: string;
  version: string;
}

/** An app as the server reports it: the definition with defaults filled, plus its status. */
export interface App extends AppDefinition {
  instances: number;
  cpus: number;
  mem: number;
  disk: number;
  version?: string;
  versionInfo?: { lastScalingAt?: string; lastConfigChangeAt?: string };
  tasksRunning?: number;
  tasksStaged?: number;
  tasksHealthy?: number;
  tasksUnhealthy?: number;
  deployments?: DeploymentRef[];
  tasks?: Task[];
  lastTaskFailure?: TaskFailure | null;
}

/** `POST /v2/apps` → 201: the app plus the deployment that starts it. */
export interface AppCreated extends App {
  deployments: DeploymentRef[];
}

/** `PUT` and `DELETE /v2/apps/{id}`. */
export interface DeploymentResult {
  deploymentId: string;
  version: string;
}

export interface AppList {
  apps: App[];
}

export interface AppResponse {
  app: App;
}

/** One action of a deployment step (Marathon's names). */
export interface DeploymentAction {
  action: 'StartApplication' | 'StopApplication' | 'ScaleApplication' | 'RestartApplication' | string;
  app: string;
}

/** `GET /v2/deployments` entry; `currentStep` counts from 1. */
export interface Deployment {
  id: string;
  version: string;
  affectedApps: string[];
  steps: Array<{ actions: DeploymentAction[] }>;
  currentActions: Array<DeploymentAction & { readinessCheckResults?: unknown[] }>;
  currentStep: number;
  totalSteps: number;
  /** Corral: when it rolls back by itself (ISO 8601), if it has a deadline. */
  deadline?: string;
}

/** `GET /api/v1/deployments/{id}`: a deployment in progress or recently finished. */
export interface DeploymentStatus extends Deployment {
  status: 'running' | 'succeeded' | 'stopped' | 'rolled-back' | 'superseded';
  startedAt: string;
  finishedAt: string | null;
  reason: string | null;
  rollbackOf: string | null;
  replacedBy: string | null;
}

/** A dry run (`?dryRun=true`): what the change would do; nothing is written. */
export interface DeploymentPlanPreview {
  dryRun: true;
  version: string;
  affectedApps: string[];
  steps: Array<{ actions: DeploymentAction[] }>;
  totalSteps: number;
  app: App;
  /** For each restarted app, the bounds its rolling upgrade keeps. */
  rolling: Array<{ app: string; instances: number; minimumHealthy: number; maximumTotal: number; deadlineSeconds: number | null }>;
}

/** `GET /v2/apps/{id}/versions`: ISO 8601 versions, newest (the current one) first. */
export interface AppVersionList {
  versions: string[];
}

export interface TaskList<T = Task> {
  tasks: T[];
}

/** A task in Corral's native shape (`/api/v1/tasks`). */
export interface NativeTask {
  id: string;
  name: string;
  appId?: string | null;
  frameworkId: string;
  agentId: string;
  host: string;
  /** Mesos state name, e.g. TASK_RUNNING. */
  state: string;
  reason?: string | null;
  message?: string | null;
  exitCode?: number | null;
  /** The latest health check result; null while unknown or without checks. */
  healthy?: boolean | null;
  /** Whether the task has health checks (healthy null + healthChecked true: the first result is pending). */
  healthChecked?: boolean;
  ports: number[];
  resources: Resources;
  stagedAt?: number | string | null;
  startedAt?: number | string | null;
  updatedAt?: number | string | null;
}

export interface NativeTaskList {
  tasks: NativeTask[];
}

export interface NativeTaskResponse {
  task: NativeTask;
}

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
  ports?: PortRange[];
}

export interface Node {
  /** The node's public key, hex. */
  id: string;
  hostname: string;
  roles: string[];
  /** What the node offers in total. */
  resources: Resources;
  /** What its tasks hold now. */
  used: Resources;
  attributes: Record<string, string>;
  registeredAt?: number | string | null;
  version?: string;
  /** Isolation backend of the node's agent: cgroup2, cgroup1 or posix. */
  isolation?: string | null;
  /** A NodeStatus; any string, so a newer server's word does not break an older client. */
  status: NodeStatus | (string & {});
  /** Live tasks on the node. */
  tasks?: number;
  /** ISO time the master lost the node (status unreachable). */
  unreachableSince?: string;
  /** ISO time an operator began draining the node; present while it drains (or is drained). */
  drainingSince?: string;
  /** ISO time the master kills what still runs there; null when the drain has no deadline. */
  drainDeadline?: string | null;
  /** ISO time of the last message the master received from the node's agent. */
  lastContact?: string | null;
}

/** suspect: gossip membership doubts the node; drained: draining with no live task left. */
export type NodeStatus = 'alive' | 'suspect' | 'unreachable' | 'draining' | 'drained';

export interface NodeList {
  nodes: Node[];
}

/** `POST /api/v1/nodes/{id}/drain` and `/undrain`; `node` is null when undraining an agent that is not registered. */
export interface NodeResponse {
  node: Node | null;
}

/** Marathon's `/v2/info`; only the common fields are typed. */
export interface Info {
  name: string;
  version: string;
  elected?: boolean;
  leader?: string | null;
  frameworkId?: string | null;
  [field: string]: unknown;
}

export type LogStreamName = 'stdout' | 'stderr';

export interface LogOptions {
  /** Which file of the task's sandbox; default stdout. */
  stream?: LogStreamName;
  /** Bytes from the start; negative = that many bytes before the end. Default 0. */
  offset?: number;
  /** Keep reading until the task has ended and its file is drained. */
  follow?: boolean;
  /** Aborting ends a followed stream early (the iterator then just finishes). */
  signal?: AbortSignal;
}

/** Bytes of a task log, chunk by chunk; `offset` is known once the iteration has finished. */
export interface LogStream extends AsyncIterable<Buffer> {
  /** The offset just past the last byte received; undefined until the stream has ended. */
  readonly offset: number | undefined;
}

/** A group definition for POST/PUT /v2/groups: app ids relative to the group or absolute. */
export interface GroupDefinition {
  id?: string;
  apps?: AppDefinition[];
  groups?: GroupDefinition[];
  /** Apps or groups every app of this group depends on. */
  dependencies?: string[];
  [field: string]: unknown;
}

/** A node of GET /v2/groups: apps and subgroups are left out when not embedded. */
export interface Group {
  id: string;
  apps?: App[];
  groups?: Group[];
  dependencies: string[];
  version: string;
}

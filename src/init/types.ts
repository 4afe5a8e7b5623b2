// Domain types of the init framework (Marathon's app model).
import type { HealthCheckResult, TaskState } from '../kernel/types';

export interface PortDefinition {
  /** Service port; 0 asks Corral to pick a unique one. */
  port: number;
  protocol?: 'tcp' | 'udp' | 'udp,tcp';
  name?: string;
  labels?: Record<string, string>;
}

/** A Marathon readiness check with its defaults filled in (times in seconds); init runs it, not the agent. */
export interface ReadinessCheck {
  name: string;
  protocol: 'HTTP' | 'HTTPS';
  path: string;
  /** The portDefinitions name of the port to check. */
  portName: string;
  intervalSeconds: number;
  timeoutSeconds: number;
  httpStatusCodesForReady: number[];
  preserveLastResponse: boolean;
  [extra: string]: unknown;
}

/** Marathon's health check protocols; the MESOS_* ones run on the agent like the plain ones. */
export type AppHealthCheckProtocol = 'HTTP' | 'HTTPS' | 'TCP' | 'COMMAND' | 'MESOS_HTTP' | 'MESOS_HTTPS' | 'MESOS_TCP';

/** A Marathon app health check with its defaults filled in (times in seconds). */
export interface AppHealthCheck {
  protocol: AppHealthCheckProtocol;
  /** HTTP(S) path; the agent requests '/' when absent. */
  path?: string;
  /** Index into the task's host ports; 0 by default for every protocol but COMMAND. */
  portIndex?: number;
  /** A fixed port to check instead of portIndex. */
  port?: number;
  command?: { value: string };
  gracePeriodSeconds: number;
  intervalSeconds: number;
  timeoutSeconds: number;
  /** Failures in a row that make Marathon kill the task; 0 = never (the kill is not init's yet). */
  maxConsecutiveFailures: number;
  delaySeconds: number;
  ignoreHttp1xx?: boolean;
  [extra: string]: unknown;
}

/** A validated app definition with Marathon's defaults filled in. */
export interface AppDefinition {
  id: string;
  cmd?: string | null;
  args?: string[] | null;
  instances: number;
  cpus: number;
  mem: number;
  disk: number;
  gpus: number;
  portDefinitions: PortDefinition[];
  requirePorts: boolean;
  env: Record<string, string>;
  labels: Record<string, string>;
  user?: string | null;
  backoffSeconds: number;
  backoffFactor: number;
  maxLaunchDelaySeconds: number;
  taskKillGracePeriodSeconds?: number | null;
  fetch?: unknown;
  /** Absent when the app has none (apps stored before health checks existed look the same). */
  healthChecks?: AppHealthCheck[];
  /** Checked by init on each new running (and healthy) task until it answers ready once. */
  readinessChecks?: ReadinessCheck[];
  /**
   * When an instance on a lost agent stops counting (and is replaced): `inactiveAfterSeconds` after
   * its agent became unreachable; 'disabled' never. Absent in apps stored before it existed: the default.
   */
  unreachableStrategy?: UnreachableStrategy;
  /** Marathon's placement constraints, as given (src/init/constraints.ts); absent: none. */
  constraints?: AppConstraint[];
  /** How a restart replaces instances; absent in apps stored before it was filled: Marathon's default. */
  upgradeStrategy?: UpgradeStrategy;
  /** Absolute ids of the apps this one depends on: deployments start and update them first, stop them last. */
  dependencies?: string[];
  [extra: string]: unknown;
}

/**
 * Marathon's upgradeStrategy: during a restart at least ⌈instances × minimumHealthCapacity⌉ instances
 * stay healthy and at most instances × (1 + maximumOverCapacity) run in total (both ratios 0..1).
 */
export interface UpgradeStrategy {
  minimumHealthCapacity: number;
  maximumOverCapacity: number;
  /**
   * Corral extension: seconds after which a deployment of this app that has not finished rolls
   * back by itself to the previous definition; absent: never (Marathon's behaviour).
   */
  deadlineSeconds?: number;
}

/** Marathon's defaults: replace one instance at a time over capacity, never below `instances` healthy. */
export const DEFAULT_UPGRADE_STRATEGY: UpgradeStrategy = Object.freeze({ minimumHealthCapacity: 1, maximumOverCapacity: 1 });

export const CONSTRAINT_OPERATORS = ['UNIQUE', 'CLUSTER', 'GROUP_BY', 'LIKE', 'UNLIKE', 'MAX_PER', 'IS'] as const;
export type ConstraintOperator = (typeof CONSTRAINT_OPERATORS)[number];

/** `[field, operator, value?]`: field `hostname`/`@hostname`, `@region`, `@zone` or an agent attribute. */
export type AppConstraint = [field: string, operator: ConstraintOperator, value?: string];

export type UnreachableStrategy = 'disabled' | { inactiveAfterSeconds: number; expungeAfterSeconds: number };

/** Marathon's default: replace an unreachable instance at once. */
export const DEFAULT_UNREACHABLE_STRATEGY: UnreachableStrategy = Object.freeze({ inactiveAfterSeconds: 0, expungeAfterSeconds: 0 });

/** An app as stored: the definition plus Marathon's version bookkeeping (ISO 8601 strings). */
export interface StoredApp {
  app: AppDefinition;
  version: string;
  /** Version of the last change that needs new tasks (cmd, resources, ports, env, ...). */
  lastConfigChangeAt: string;
  lastScalingAt: string;
}

/** Init's view of one of its tasks. */
export interface AppTask {
  taskId: string;
  appId: string;
  /** lastConfigChangeAt of the app when the task was launched. */
  configVersion: string;
  version: string;
  agentId: string;
  host: string;
  /** The agent's attributes at launch (what constraints compare); absent on tasks stored before they were kept. */
  attributes?: Record<string, string>;
  ports: number[];
  servicePorts: number[];
  state: TaskState;
  /** ms since epoch */
  stagedAt: number;
  startedAt: number | undefined;
  /** When its agent became unreachable (ms since epoch); unset while it is reachable. */
  unreachableSince?: number;
  /** Set once init itself asked for the kill (scale down, removal, upgrade): no backoff. */
  killRequested: boolean;
  /** From the latest RUNNING update that carried health: every check passes (undefined: unknown). */
  healthy?: boolean;
  /** One per app health check, in order, as the agent last reported them. */
  healthCheckResults?: HealthCheckResult[];
  /** Passed the app's readiness check (unset: not yet, or not known since init started). */
  ready?: boolean;
  /** Named by a kill-and-scale: the next scale-down of its app kills it before any other. */
  killPreferred?: boolean;
}

export interface TaskFailure {
  appId: string;
  host: string;
  message: string;
  state: TaskState;
  taskId: string;
  timestamp: string;
  version: string;
}

/** Per-app launch backoff after tasks fail. */
export interface Backoff {
  failures: number;
  /** ms since epoch; no launch for the app before this. */
  notBefore: number;
}

/** Marathon's deployment actions. KillAllOldTasksOf is not needed: a restart replaces old tasks itself. */
export type DeploymentActionType = 'StartApplication' | 'StopApplication' | 'ScaleApplication' | 'RestartApplication';

export interface DeploymentAction {
  action: DeploymentActionType;
  /** The app id. */
  app: string;
}

/** The actions of a step run at once; the next step starts when all of them are done. */
export interface DeploymentStep {
  actions: DeploymentAction[];
}

/** One app's part of a change: before (absent: created) and after (absent: removed). */
export interface AppChange {
  appId: string;
  original: StoredApp | undefined;
  target: StoredApp | undefined;
}

/** What a deployment will do, decided before anything is written (also the `--dry-run` answer). */
export interface DeploymentPlan {
  id: string;
  /** ISO 8601: the version of the change. */
  version: string;
  affectedApps: string[];
  steps: DeploymentStep[];
  changes: AppChange[];
}

/** How a deployment ended (the `status` of a finished one in the native API). */
export type DeploymentOutcome = 'succeeded' | 'stopped' | 'rolled-back' | 'superseded';

// Domain types of the init framework (Marathon's app model).
import type { TaskState } from '../kernel/types';

export interface PortDefinition {
  /** Service port; 0 asks Corral to pick a unique one. */
  port: number;
  protocol?: 'tcp' | 'udp' | 'udp,tcp';
  name?: string;
  labels?: Record<string, string>;
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
  [extra: string]: unknown;
}

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
  ports: number[];
  servicePorts: number[];
  state: TaskState;
  /** ms since epoch */
  stagedAt: number;
  startedAt: number | undefined;
  /** Set once init itself asked for the kill (scale down, removal, upgrade): no backoff. */
  killRequested: boolean;
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

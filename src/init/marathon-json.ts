// Marathon's response shapes for apps and tasks, built from init's state (pure).
import type { HealthCheckResult } from '../kernel/types';
import type { AppTask, StoredApp, TaskFailure } from './types';

const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());

/** Marathon's Health JSON for one check of a task (a task is its own instance in Corral). */
function marathonHealth(t: AppTask, r: HealthCheckResult): Record<string, unknown> {
  return {
    alive: r.alive,
    consecutiveFailures: r.consecutiveFailures,
    firstSuccess: iso(r.firstSuccess),
    lastSuccess: iso(r.lastSuccess),
    lastFailure: iso(r.lastFailure),
    lastFailureCause: r.lastFailureCause ?? null,
    instanceId: t.taskId,
    taskId: t.taskId,
  };
}

export function marathonTask(t: AppTask): Record<string, unknown> {
  return {
    id: t.taskId,
    appId: t.appId,
    host: t.host,
    ports: t.ports,
    servicePorts: t.servicePorts,
    slaveId: t.agentId,
    state: t.state,
    stagedAt: iso(t.stagedAt),
    startedAt: iso(t.startedAt),
    version: t.version,
    ipAddresses: [{ ipAddress: '127.0.0.1', protocol: 'IPv4' }],
    healthCheckResults: (t.healthCheckResults ?? []).map((r) => marathonHealth(t, r)),
    localVolumes: [],
  };
}

export interface AppInfoInput {
  stored: StoredApp;
  tasks: readonly AppTask[];
  deploymentId: string | undefined;
  lastTaskFailure: TaskFailure | undefined;
  embedTasks: boolean;
}

/** Marathon's App JSON of a definition with its version, without status (GET /v2/apps/{id}/versions/{version}). */
export function marathonAppDefinition(stored: StoredApp): Record<string, unknown> {
  return {
    ...stored.app,
    ports: stored.app.portDefinitions.map((p) => p.port),
    // Marathon always shows the field, [] when there are none; each constraint as given.
    constraints: stored.app.constraints ?? [],
    version: stored.version,
    versionInfo: { lastScalingAt: stored.lastScalingAt, lastConfigChangeAt: stored.lastConfigChangeAt },
  };
}

export function marathonApp(input: AppInfoInput): Record<string, unknown> {
  const { stored, tasks } = input;
  const live = tasks.filter((t) => !t.killRequested || t.state === 'TASK_KILLING');
  // Tasks of unknown health count neither way; an app without checks reports 0/0, as Marathon does.
  const checked = (stored.app.healthChecks?.length ?? 0) > 0 ? live : [];
  const out: Record<string, unknown> = {
    ...marathonAppDefinition(stored),
    tasksStaged: live.filter((t) => t.state === 'TASK_STAGING' || t.state === 'TASK_STARTING').length,
    tasksRunning: live.filter((t) => t.state === 'TASK_RUNNING').length,
    tasksHealthy: checked.filter((t) => t.healthy === true).length,
    tasksUnhealthy: checked.filter((t) => t.healthy === false).length,
    deployments: input.deploymentId ? [{ id: input.deploymentId }] : [],
  };
  if (input.embedTasks) out.tasks = tasks.map(marathonTask);
  if (input.lastTaskFailure) out.lastTaskFailure = input.lastTaskFailure;
  return out;
}

/** Marathon's text/plain task listing: `appId servicePort host:port host:port ...` per service port. */
export function marathonTasksText(appId: string, servicePorts: readonly number[], tasks: readonly AppTask[]): string {
  const name = appId.replace(/^\//, '').replace(/\//g, '_');
  const lines = servicePorts.map((sp, i) => [name, String(sp), ...tasks.filter((t) => t.ports[i] !== undefined).map((t) => `${t.host}:${t.ports[i]}`)].join('\t'));
  return lines.length > 0 ? lines.join('\n') + '\n' : '';
}

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
  return { ...marathonAppDefinition(input.stored), ...marathonAppStatus(input) };
}

/** What marathonApp adds to the definition: counts, deployments, and the tasks if embedded. */
function marathonAppStatus(input: AppInfoInput): Record<string, unknown> {
  const { stored, tasks } = input;
  const live = tasks.filter((t) => !t.killRequested || t.state === 'TASK_KILLING');
  // Tasks of unknown health count neither way; an app without checks reports 0/0, as Marathon does.
  const checked = (stored.app.healthChecks?.length ?? 0) > 0 ? live : [];
  const out: Record<string, unknown> = {
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

// The list routes answer 2,000 apps and 50,000 tasks (Marathon's limits) in one body of about 20 MB;
// building and stringifying every object per request costs about half a second on 2 cores. The JSON
// of what rarely changes is kept per object (WeakMaps: it goes with the task or the stored app) and
// the bodies are joined from it, byte for byte what JSON.stringify of the objects above gives.

/** A task's JSON with what it was built from that can change (tasks are updated in place). */
interface TaskJson {
  state: AppTask['state'];
  startedAt: number | undefined;
  healthCheckResults: AppTask['healthCheckResults'];
  json: string;
}
const taskJsonCache = new WeakMap<AppTask, TaskJson>();

/** JSON.stringify(marathonTask(t)), rebuilt only when the task's state, start or health results changed. */
export function marathonTaskJson(t: AppTask): string {
  const cached = taskJsonCache.get(t);
  if (cached && cached.state === t.state && cached.startedAt === t.startedAt && cached.healthCheckResults === t.healthCheckResults) return cached.json;
  const json = JSON.stringify(marathonTask(t));
  taskJsonCache.set(t, { state: t.state, startedAt: t.startedAt, healthCheckResults: t.healthCheckResults, json });
  return json;
}

/** Keys marathonAppStatus writes; a definition holding one of them is stringified whole (the status value wins). */
const STATUS_KEYS = ['tasksStaged', 'tasksRunning', 'tasksHealthy', 'tasksUnhealthy', 'deployments', 'tasks', 'lastTaskFailure'];
/** The definition's JSON without its closing brace, or null when it cannot be spliced. A change stores a new StoredApp. */
const definitionJsonCache = new WeakMap<StoredApp, string | null>();

/** JSON.stringify(marathonApp(input)), with the definition's part stringified once per version. */
export function marathonAppJson(input: AppInfoInput): string {
  let head = definitionJsonCache.get(input.stored);
  if (head === undefined) {
    const definition = marathonAppDefinition(input.stored);
    head = STATUS_KEYS.some((k) => k in definition) ? null : JSON.stringify(definition).slice(0, -1);
    definitionJsonCache.set(input.stored, head);
  }
  if (head === null) return JSON.stringify(marathonApp(input));
  // In marathonApp's key order: counts and deployments, then tasks, then lastTaskFailure.
  const counts = marathonAppStatus({ ...input, embedTasks: false, lastTaskFailure: undefined });
  const tasks = input.embedTasks ? `,"tasks":[${input.tasks.map(marathonTaskJson).join(',')}]` : '';
  const failure = input.lastTaskFailure ? `,"lastTaskFailure":${JSON.stringify(input.lastTaskFailure)}` : '';
  // The definition always has an id, so head is `{"id":...`; counts are never empty.
  return `${head},${JSON.stringify(counts).slice(1, -1)}${tasks}${failure}}`;
}

/** Marathon's text/plain task listing: `appId servicePort host:port host:port ...` per service port. */
export function marathonTasksText(appId: string, servicePorts: readonly number[], tasks: readonly AppTask[]): string {
  const name = appId.replace(/^\//, '').replace(/\//g, '_');
  const lines = servicePorts.map((sp, i) => [name, String(sp), ...tasks.filter((t) => t.ports[i] !== undefined).map((t) => `${t.host}:${t.ports[i]}`)].join('\t'));
  return lines.length > 0 ? lines.join('\n') + '\n' : '';
}

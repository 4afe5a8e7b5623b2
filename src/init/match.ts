// Pure offer matching: carve as many pending instances as fit out of one offer, with ports taken
// from the offer's ranges and the environment Marathon gives its tasks.
import { fits, portsToRanges, subtractResources, takePorts } from '../kernel/sdk/resources';
import type { HealthCheck, Offer, Resources, TaskLaunch } from '../kernel/types';
import { withHealthCheckDefaults } from './app';
import type { AppDefinition, AppHealthCheckProtocol, AppTask, StoredApp } from './types';

export interface LaunchRequest {
  stored: StoredApp;
  count: number;
}

export interface MatchedLaunch {
  launch: TaskLaunch;
  task: AppTask;
}

export function taskResources(app: AppDefinition, ports: number[]): Resources {
  return { cpus: app.cpus, mem: app.mem, disk: app.disk, ports: portsToRanges(ports) };
}

export function taskEnvironment(stored: StoredApp, host: string, ports: number[]): Record<string, string> {
  const app = stored.app;
  // Marathon's label rules: names with runs of other characters than [A-Za-z0-9_] turned into '_' and
  // upper-cased; a name of 493+ characters or a value of 512+ is left out (512-character env limit).
  const labels = Object.entries(app.labels)
    .filter(([k, v]) => k.length < 512 - 'MARATHON_APP_LABEL_'.length && v.length < 512)
    .map(([k, v]) => [k.replace(/[^a-zA-Z0-9_]+/g, '_').toUpperCase(), v] as const);
  const env: Record<string, string> = {
    HOST: host,
    PORTS: ports.join(','),
    MARATHON_APP_ID: app.id,
    MARATHON_APP_VERSION: stored.version,
    MARATHON_APP_RESOURCE_CPUS: String(app.cpus),
    MARATHON_APP_RESOURCE_MEM: String(app.mem),
    MARATHON_APP_RESOURCE_DISK: String(app.disk),
    MARATHON_APP_LABELS: labels.map(([name]) => name).join(' '),
  };
  ports.forEach((p, i) => {
    env[`PORT${i}`] = String(p);
    const name = app.portDefinitions[i]?.name;
    if (name) env[`PORT_${name.toUpperCase().replace(/-/g, '_')}`] = String(p);
  });
  if (ports.length > 0) env.PORT = String(ports[0]);
  for (const [name, v] of labels) env[`MARATHON_APP_LABEL_${name}`] = v;
  // The app's own env wins over Marathon's names, as in Marathon.
  return { ...env, ...app.env };
}

/** Corral runs every check on the agent, so Marathon's MESOS_* protocols become the plain ones. */
const AGENT_PROTOCOL: Record<AppHealthCheckProtocol, HealthCheck['protocol']> = {
  HTTP: 'HTTP',
  HTTPS: 'HTTPS',
  TCP: 'TCP',
  COMMAND: 'COMMAND',
  MESOS_HTTP: 'HTTP',
  MESOS_HTTPS: 'HTTPS',
  MESOS_TCP: 'TCP',
};

/** The app's health checks for a task on host `ports`: portIndex becomes that host port, `port` stays. */
export function taskHealthChecks(app: AppDefinition, ports: readonly number[]): HealthCheck[] {
  // Defaults again: apps stored before health checks were validated kept them as given.
  return (app.healthChecks ?? []).map(withHealthCheckDefaults).map((c) => {
    const protocol = AGENT_PROTOCOL[c.protocol];
    const check: HealthCheck = {
      protocol,
      gracePeriodSeconds: c.gracePeriodSeconds,
      intervalSeconds: c.intervalSeconds,
      timeoutSeconds: c.timeoutSeconds,
      maxConsecutiveFailures: c.maxConsecutiveFailures,
      delaySeconds: c.delaySeconds,
    };
    if (protocol === 'COMMAND') {
      if (c.command) check.command = c.command.value;
      return check;
    }
    const port = c.port ?? (c.portIndex === undefined ? undefined : ports[c.portIndex]);
    if (port !== undefined) check.port = port;
    if (protocol !== 'TCP') {
      if (c.path !== undefined) check.path = c.path;
      check.ignoreHttp1xx = c.ignoreHttp1xx ?? false;
    }
    return check;
  });
}

/** The host ports and resources one instance of `app` takes out of `left`, or undefined when it does not fit. */
export function instanceFit(app: AppDefinition, left: Resources): { ports: number[]; need: Resources } | undefined {
  // requirePorts: the host ports must be the service ports themselves.
  const ports = app.requirePorts ? app.portDefinitions.map((p) => p.port) : takePorts(left.ports, app.portDefinitions.length);
  if (!ports) return undefined;
  const need = taskResources(app, ports);
  return fits(need, left) ? { ports, need } : undefined;
}

/** One instance of `stored` carved out of `left` on `offer`'s agent, or undefined when it does not fit. */
export function matchInstance(offer: Offer, left: Resources, stored: StoredApp, newTaskId: (appId: string) => string, now: number): { matched: MatchedLaunch; left: Resources } | undefined {
  const app = stored.app;
  const fit = instanceFit(app, left);
  if (!fit) return undefined;
  const { ports, need } = fit;
  const taskId = newTaskId(app.id);
  const healthChecks = taskHealthChecks(app, ports);
  const environment = taskEnvironment(stored, offer.hostname, ports);
  const launch: TaskLaunch = {
    taskId,
    name: app.id.slice(1).replace(/\//g, '.'),
    resources: need,
    labels: app.labels,
    command: app.cmd ? { shell: true, value: app.cmd, environment } : { shell: false, value: app.args![0]!, arguments: app.args!.slice(1), environment },
    ...(app.taskKillGracePeriodSeconds ? { killGracePeriodSeconds: app.taskKillGracePeriodSeconds } : {}),
    ...(healthChecks.length > 0 ? { healthChecks } : {}),
  };
  if (app.user) launch.command.user = app.user;
  const task: AppTask = {
    taskId,
    appId: app.id,
    configVersion: stored.lastConfigChangeAt,
    version: stored.version,
    agentId: offer.agentId,
    host: offer.hostname,
    attributes: { ...offer.attributes },
    ports,
    servicePorts: app.portDefinitions.map((p) => p.port),
    state: 'TASK_STAGING',
    stagedAt: now,
    startedAt: undefined,
    killRequested: false,
  };
  return { matched: { launch, task }, left: subtractResources(left, need) };
}

/**
 * Fills `offer` with launches for `requests` in order. Returns the launches; `requests[i].count`
 * is not modified — callers subtract what was matched.
 */
export function matchOffer(offer: Offer, requests: readonly LaunchRequest[], newTaskId: (appId: string) => string, now: number): MatchedLaunch[] {
  let left = offer.resources;
  const out: MatchedLaunch[] = [];
  for (const { stored, count } of requests) {
    for (let i = 0; i < count; i++) {
      const one = matchInstance(offer, left, stored, newTaskId, now);
      if (!one) break;
      out.push(one.matched);
      left = one.left;
    }
  }
  return out;
}

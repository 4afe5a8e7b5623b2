// Marathon's readiness checks (pure part): defaults, validation against the app's ports, where a
// task is checked, and what an answer means. A task of an app with a readiness check counts as
// serving — for rolling upgrades, moves off draining agents and a deployment's end — only once the
// check has passed; until then an old instance it should replace keeps running.
import type { ErrorDetail } from '../shared/errors';
import type { AppDefinition, AppTask, PortDefinition, ReadinessCheck } from './types';

/** Marathon's defaults: HTTP GET / on the port named `http-api` every 30 s, 10 s timeout, 200 means ready. */
export function withReadinessDefaults(raw: Partial<ReadinessCheck>): ReadinessCheck {
  return {
    ...raw,
    name: raw.name ?? 'readinessCheck',
    protocol: raw.protocol ?? 'HTTP',
    path: raw.path ?? '/',
    portName: raw.portName ?? 'http-api',
    intervalSeconds: raw.intervalSeconds ?? 30,
    timeoutSeconds: raw.timeoutSeconds ?? 10,
    httpStatusCodesForReady: raw.httpStatusCodesForReady ?? [200],
    preserveLastResponse: raw.preserveLastResponse ?? false,
  };
}

/** Marathon's rules: one check at most, its port named in portDefinitions, a timeout below the interval. */
export function readinessDetails(checks: readonly ReadinessCheck[], ports: readonly PortDefinition[]): ErrorDetail[] {
  const details: ErrorDetail[] = [];
  if (checks.length > 1) details.push({ path: '/readinessChecks', errors: ['Only one readinessCheck is supported at the moment'] });
  checks.forEach((c, i) => {
    const at = `/readinessChecks/${i}`;
    if (!ports.some((p) => p.name === c.portName)) {
      details.push({ path: `${at}/portName`, errors: [`no portDefinition is named '${c.portName}' (readiness checks name the port they use)`] });
    }
    if (c.timeoutSeconds >= c.intervalSeconds) details.push({ path: `${at}/timeoutSeconds`, errors: [`must be less than intervalSeconds (${c.intervalSeconds})`] });
  });
  return details;
}

/** The URL a task's check requests, or undefined when the task has no such port (yet). */
export function readinessUrl(app: AppDefinition, task: AppTask, check: ReadinessCheck): string | undefined {
  const index = app.portDefinitions.findIndex((p) => p.name === check.portName);
  const port = index >= 0 ? task.ports[index] : undefined;
  if (port === undefined) return undefined;
  const path = check.path.startsWith('/') ? check.path : `/${check.path}`;
  return `${check.protocol.toLowerCase()}://${task.host}:${port}${path}`;
}

/**
 * Whether a task still waits for its readiness check: the app has one, the task runs (and is
 * healthy, when the app has health checks: Marathon checks readiness of healthy tasks) and has not
 * passed it yet.
 */
export function awaitsReadiness(app: AppDefinition, task: AppTask): boolean {
  if (!app.readinessChecks?.length || task.ready === true || task.killRequested || task.state !== 'TASK_RUNNING') return false;
  return !app.healthChecks?.length || task.healthy === true;
}

/** Ready as far as readiness goes: the app has no check, or the task passed it. */
export function readinessPassed(app: AppDefinition, task: AppTask): boolean {
  return !app.readinessChecks?.length || task.ready === true;
}

/** Marathon's ReadinessCheckResult of one task (`lastResponse` only with preserveLastResponse). */
export interface ReadinessResult {
  name: string;
  taskId: string;
  ready: boolean;
  lastResponse: { status: number; contentType: string; body: string } | null;
}

// The native task and agent shapes (GET /api/v1/tasks and /nodes, /api/v1/state and the operator
// event stream), built in one place so every route shows the same thing.
import type { TaskView } from '../kernel/master/task-record';
import type { AgentInfo, PortRange } from '../kernel/types';
import { appIdOfTaskId } from '../shared/ids';

export const iso = (ms: number | undefined | null) => (ms === undefined || ms === null ? null : new Date(ms).toISOString());
export const expandPorts = (ranges: readonly PortRange[]) => ranges.flatMap((r) => Array.from({ length: r.end - r.begin + 1 }, (_, i) => r.begin + i));

/** `initFrameworkId` tells which tasks are app instances (their app id is part of the task id). */
export function nativeTaskJson(t: TaskView, initFrameworkId: string | undefined) {
  return {
    id: t.id,
    name: t.name,
    appId: t.frameworkId === initFrameworkId ? appIdOfTaskId(t.id) ?? null : null,
    frameworkId: t.frameworkId,
    agentId: t.agentId,
    host: t.host,
    state: t.state,
    reason: t.reason ?? null,
    message: t.message ?? null,
    exitCode: t.exitCode ?? null,
    healthy: t.healthy ?? null,
    healthChecked: t.healthChecked,
    ports: expandPorts(t.resources.ports),
    resources: { cpus: t.resources.cpus, mem: t.resources.mem, disk: t.resources.disk },
    labels: t.labels,
    stagedAt: iso(t.stagedAt),
    startedAt: iso(t.startedAt),
    updatedAt: iso(t.updatedAt),
  };
}

/** An agent as every native route shows it; routes add what they know more (use, roles, status). */
export function nativeAgentJson(a: AgentInfo) {
  return {
    id: a.id,
    hostname: a.hostname,
    resources: a.resources,
    attributes: a.attributes,
    registeredAt: iso(a.registeredAt),
    version: a.version,
    isolation: a.isolation ?? null,
    reservations: a.reservations ?? {},
  };
}

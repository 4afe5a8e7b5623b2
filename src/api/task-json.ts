// The native task shape (GET /api/v1/tasks, /api/v1/state and the operator event stream), built
// from the master's TaskView in one place so every route shows the same thing.
import type { TaskView } from '../kernel/master/task-record';
import type { PortRange } from '../kernel/types';
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
    ports: expandPorts(t.resources.ports),
    resources: { cpus: t.resources.cpus, mem: t.resources.mem, disk: t.resources.disk },
    labels: t.labels,
    stagedAt: iso(t.stagedAt),
    startedAt: iso(t.startedAt),
    updatedAt: iso(t.updatedAt),
  };
}

// The in-process SDK transport: a framework in the same process as the master talks to it
// through the same SchedulerConnection interface a remote framework uses over HTTP.
// Events are delivered on a later microtask so a framework may call back into the master from
// inside an event handler without re-entering the master mid-change.
import type { FrameworkInfo } from '../types';
import type { SchedulerConnection, SchedulerEvents, SchedulerTransport } from './types';

/** The master operations the transport needs (implemented by kernel/master's Master). */
export interface SchedulerEndpoint {
  subscribe(info: FrameworkInfo, events: SchedulerEvents): string;
  accept: (frameworkId: string, ...rest: Parameters<SchedulerConnection['accept']>) => void;
  decline: (frameworkId: string, ...rest: Parameters<SchedulerConnection['decline']>) => void;
  kill(frameworkId: string, taskId: string, gracePeriodSeconds?: number): void;
  acknowledge: (frameworkId: string, ...rest: Parameters<SchedulerConnection['acknowledge']>) => void;
  reconcile: (frameworkId: string, ...rest: Parameters<SchedulerConnection['reconcile']>) => void;
  revive(frameworkId: string): void;
  suppress(frameworkId: string): void;
  removeFramework(frameworkId: string, killTasks: boolean): void;
}

function deferred(events: SchedulerEvents): SchedulerEvents {
  return {
    offers: (offers) => queueMicrotask(() => events.offers(offers)),
    rescind: (id) => queueMicrotask(() => events.rescind(id)),
    update: (status) => queueMicrotask(() => events.update(status)),
    error: (message) => queueMicrotask(() => events.error?.(message)),
    agentDraining: (drain) => queueMicrotask(() => events.agentDraining?.(drain)),
    agentUndrained: (agentId) => queueMicrotask(() => events.agentUndrained?.(agentId)),
  };
}

export function inProcessTransport(endpoint: SchedulerEndpoint): SchedulerTransport {
  return {
    async subscribe(info, events) {
      const id = endpoint.subscribe(info, deferred(events));
      const conn: SchedulerConnection = {
        frameworkId: id,
        accept: async (offerIds, operations, filters) => endpoint.accept(id, offerIds, operations, filters),
        decline: async (offerIds, filters) => endpoint.decline(id, offerIds, filters),
        kill: async (taskId, opts) => endpoint.kill(id, taskId, opts?.gracePeriodSeconds),
        acknowledge: async (status) => endpoint.acknowledge(id, status),
        reconcile: async (tasks) => endpoint.reconcile(id, tasks),
        revive: async () => endpoint.revive(id),
        suppress: async () => endpoint.suppress(id),
        teardown: async () => endpoint.removeFramework(id, true),
        disconnect: async () => endpoint.removeFramework(id, false),
      };
      return conn;
    },
  };
}

// Builders for discovery tests: operator-API task views and a state with agents and frameworks.
import type { TaskView } from '../../../src/kernel/sdk/operator';
import { buildCatalog } from '../../../src/discovery/catalog';
import { emptyState } from '../../../src/discovery/state';
import type { Catalog, DiscoveryState, TaskHint } from '../../../src/discovery/types';

export const INIT = 'fw-init';

export function taskView(over: Partial<TaskView> & { id: string }): TaskView {
  return {
    name: 'hello',
    frameworkId: INIT,
    agentId: 'agent-a',
    host: '10.0.0.1',
    state: 'TASK_RUNNING',
    reason: undefined,
    message: undefined,
    exitCode: undefined,
    healthy: undefined,
    healthChecked: false,
    resources: { cpus: 0.1, mem: 32, disk: 0, ports: [{ begin: 31000, end: 31000 }] },
    labels: {},
    stagedAt: 0,
    startedAt: 0,
    updatedAt: 0,
    ...over,
  };
}

/** Two reachable agents (10.0.0.1 `node-a`, 10.0.0.2 `node-b`), init and cron frameworks, leader 10.0.0.9. */
export function baseState(): DiscoveryState {
  const state = emptyState({ hostname: 'master-1', ip: '10.0.0.9', apiPort: 5050 });
  state.frameworks.set(INIT, 'corral-init');
  state.frameworks.set('fw-cron', 'corral-cron');
  state.agents.set('agent-a', { id: 'agent-a', hostname: 'node-a', reachable: true });
  state.agents.set('agent-b', { id: 'agent-b', hostname: 'node-b', reachable: true });
  state.hostAddresses.set('node-a', '10.0.0.1');
  state.hostAddresses.set('node-b', '10.0.0.2');
  return state;
}

export function withTasks(state: DiscoveryState, tasks: Array<TaskView | [TaskView, TaskHint]>): DiscoveryState {
  for (const t of tasks) {
    const [view, hint] = Array.isArray(t) ? t : [t, undefined];
    state.tasks.set(view.id, { view, hint });
  }
  return state;
}

export function catalogOf(state: DiscoveryState, ttl = 5): Catalog {
  return buildCatalog(state, { domain: 'corral', ttl }, 1000);
}

// The incremental core of the catalog: the master's snapshot and every operator event folded into
// a DiscoveryState. Deterministic and free of I/O (the shell resolves host addresses and passes
// them in as HOST_ADDRESS); each fold says whether anything the catalog reads changed.
import type { FrameworkView, OperatorEvent, TaskView } from '../kernel/sdk/operator';
import { isTerminal } from '../kernel/types';
import type { DiscoveryState, MasterEndpoint, TaskHint } from './types';

/** The master's current view, as its operator API shows it. */
export interface MasterSnapshot {
  tasks: readonly TaskView[];
  /** `status` as in the node list (alive, suspect, unreachable, draining, drained). */
  agents: ReadonlyArray<{ id: string; hostname: string; status?: string }>;
  frameworks: readonly FrameworkView[];
}

export function emptyState(leader?: MasterEndpoint): DiscoveryState {
  return { tasks: new Map(), agents: new Map(), frameworks: new Map(), hostAddresses: new Map(), leader };
}

/** State from a snapshot; `hint` tells what the launching framework knows of each task. */
export function stateFromSnapshot(snapshot: MasterSnapshot, hint: (taskId: string) => TaskHint | undefined, leader?: MasterEndpoint): DiscoveryState {
  const state = emptyState(leader);
  for (const f of snapshot.frameworks) state.frameworks.set(f.id, f.name);
  for (const a of snapshot.agents) state.agents.set(a.id, { id: a.id, hostname: a.hostname, reachable: a.status !== 'unreachable' });
  for (const t of snapshot.tasks) if (!isTerminal(t.state)) state.tasks.set(t.id, { view: t, hint: hint(t.id) });
  return state;
}

/** Folds one operator event in; `hint` is the launching framework's knowledge of the event's task. Returns whether the state changed. */
export function applyOperatorEvent(state: DiscoveryState, event: OperatorEvent, hint?: TaskHint): boolean {
  switch (event.type) {
    case 'AGENT_ADDED':
      state.agents.set(event.agent.id, { id: event.agent.id, hostname: event.agent.hostname, reachable: true });
      return true;
    case 'AGENT_REMOVED': {
      const agent = state.agents.get(event.agentId);
      if (!agent || !agent.reachable) return false;
      state.agents.set(event.agentId, { ...agent, reachable: false });
      return true;
    }
    case 'TASK_ADDED':
    case 'TASK_UPDATED': {
      const task = event.task;
      if (isTerminal(task.state)) return state.tasks.delete(task.id);
      const known = state.tasks.get(task.id);
      state.tasks.set(task.id, { view: task, hint: hint ?? known?.hint });
      return true;
    }
    case 'FRAMEWORK_ADDED':
    case 'FRAMEWORK_UPDATED':
      if (state.frameworks.get(event.framework.id) === event.framework.name) return false;
      state.frameworks.set(event.framework.id, event.framework.name);
      return true;
    case 'FRAMEWORK_REMOVED':
      return state.frameworks.delete(event.frameworkId);
    case 'AGENT_DRAINING':
    case 'AGENT_UNDRAINED':
      // A draining node's tasks still run and still answer: their names stay.
      return false;
  }
}

/** The shell resolved `host` (undefined: it could not). Returns whether the state changed. */
export function applyHostAddress(state: DiscoveryState, host: string, ip: string | undefined): boolean {
  if (state.hostAddresses.get(host) === ip) return false;
  if (ip === undefined) state.hostAddresses.delete(host);
  else state.hostAddresses.set(host, ip);
  return true;
}

/** Whether `host` still needs resolving: not an IPv4 literal and no address known for it yet. */
export function needsAddress(state: DiscoveryState, host: string, isIpv4: (s: string) => boolean): boolean {
  return !isIpv4(host) && !state.hostAddresses.has(host);
}

/** Host names of agents and tasks whose address is not known yet (IPv4 literals need none). O(live tasks): for a new snapshot only. */
export function unresolvedHosts(state: DiscoveryState, isIpv4: (s: string) => boolean): string[] {
  const hosts = new Set<string>();
  for (const a of state.agents.values()) hosts.add(a.hostname);
  for (const t of state.tasks.values()) hosts.add(t.view.host);
  return [...hosts].filter((h) => needsAddress(state, h, isIpv4));
}

/**
 * The host names an event, already folded in, brought into the state that need an address: the
 * agent's of AGENT_ADDED, the task's of TASK_ADDED (unless it ended at once and is not tracked).
 * O(1), so the shell can resolve per event without scanning every task.
 */
export function newHostsOf(state: DiscoveryState, event: OperatorEvent, isIpv4: (s: string) => boolean): string[] {
  let host: string | undefined;
  if (event.type === 'AGENT_ADDED') host = event.agent.hostname;
  else if (event.type === 'TASK_ADDED' && state.tasks.has(event.task.id)) host = event.task.host;
  return host !== undefined && needsAddress(state, host, isIpv4) ? [host] : [];
}

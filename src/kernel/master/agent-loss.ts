// How the master sees its agents: views for the API, offers made on them, and what it makes of an
// agent the cluster plane lost (it stopped answering, or its link was
// cut), as pure plans: its live tasks become TASK_UNREACHABLE — not lost: they may still run, and
// the agent's registration when it comes back says how they are — and when it does come back, the
// tasks it still runs are announced to their frameworks again.
import { addResources } from '../sdk/resources';
import { emptyResources, type AgentInfo, type Offer, type Resources, type TaskStatus } from '../types';
import { agentStatus, type AgentDrain, type AgentStatus } from './drain';
import type { TaskRecord } from './task-record';

export interface AgentView extends AgentInfo {
  status: AgentStatus;
  /** Set while the cluster plane has lost the agent (ms since the epoch). */
  unreachableSince?: number;
  /** Set while an operator drains it. */
  drain?: AgentDrain;
  /** The last message the master received from the agent (ms since the epoch). */
  lastContact: number;
  used: Resources;
  offered: Resources;
  tasks: number;
}

/** The master's record of an agent, as far as views need it. */
export interface AgentState {
  info: AgentInfo;
  /** Since when (ms) the cluster plane has lost it; nothing is offered on it meanwhile. */
  unreachableSince?: number;
  /** ms since the epoch */
  lastContact: number;
}

export function agentView(agent: AgentState, drain: AgentDrain | undefined, live: Iterable<TaskRecord>, offers: Iterable<Offer>): AgentView {
  const { info, unreachableSince, lastContact } = agent;
  const mine = [...live].filter((r) => r.info.agentId === info.id);
  const offered = [...offers].filter((o) => o.agentId === info.id).reduce((s, o) => addResources(s, o.resources), emptyResources());
  const used = mine.reduce((s, r) => addResources(s, r.info.resources), emptyResources());
  return {
    ...info,
    status: agentStatus(unreachableSince, drain, mine.length),
    ...(unreachableSince !== undefined ? { unreachableSince } : {}),
    ...(drain ? { drain } : {}),
    lastContact,
    used,
    offered,
    tasks: mine.length,
  };
}

/** The allocator's placements as offers, grouped per framework (one batch each). */
export function offersByFramework(plan: ReadonlyArray<{ frameworkId: string; agentId: string; resources: Resources }>, agentInfo: (id: string) => AgentInfo, newId: () => string): Map<string, Offer[]> {
  const out = new Map<string, Offer[]>();
  for (const p of plan) {
    const agent = agentInfo(p.agentId);
    const offer: Offer = { id: newId(), frameworkId: p.frameworkId, agentId: p.agentId, hostname: agent.hostname, resources: p.resources, attributes: agent.attributes };
    const batch = out.get(p.frameworkId);
    if (batch) batch.push(offer);
    else out.set(p.frameworkId, [offer]);
  }
  return out;
}

/** TASK_UNREACHABLE for every live task of `agentId`, from the master. */
export function planUnreachable(agentId: string, live: Iterable<TaskRecord>, now: number): TaskStatus[] {
  const out: TaskStatus[] = [];
  for (const r of live) {
    if (r.info.agentId !== agentId || r.status.state === 'TASK_UNREACHABLE') continue;
    out.push({
      taskId: r.info.taskId,
      agentId,
      frameworkId: r.info.frameworkId,
      state: 'TASK_UNREACHABLE',
      source: 'SOURCE_MASTER',
      reason: 'REASON_AGENT_DISCONNECTED',
      message: 'The agent stopped answering; the task may still be running there',
      timestamp: now,
    });
  }
  return out;
}

/**
 * The statuses to tell frameworks when an agent registers again: tasks that were unreachable and
 * that the agent reports in another state. Sent without uuid (the agent's own update was already
 * acknowledged, or will be resent by the agent), with REASON_RECONCILIATION.
 */
export function planReturn(wasUnreachable: ReadonlySet<string>, live: Iterable<TaskRecord>): TaskStatus[] {
  const out: TaskStatus[] = [];
  for (const r of live) {
    if (!wasUnreachable.has(r.info.taskId) || r.status.state === 'TASK_UNREACHABLE') continue;
    const { uuid: _uuid, ...status } = r.status;
    out.push({ ...status, reason: 'REASON_RECONCILIATION' });
  }
  return out;
}

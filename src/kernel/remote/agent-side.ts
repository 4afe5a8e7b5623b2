// The agent's end of node RPC: a MasterLink whose master is on another machine. The Agent calls it
// exactly as it calls an in-process Master; the master's calls arrive as notices and requests that
// this link hands to the Agent. Status updates sent while no master is connected are not lost: the
// agent's outbox resends every unacknowledged update until the framework acknowledges it.
import { CorralError } from '../../shared/errors';
import type { AgentLink, MasterLink } from '../agent-link';
import type { AgentInfo, TaskStatus } from '../types';
import type { NodeChannel } from './channel';
import { METHODS, NODE_RPC_VERSION, type AckBody, type KillBody, type LaunchBody, type LogBody, type LogReply, type RegisterBody, type StatsBody, type StatusBody } from './protocol';

/** How long registration may take before the agent gives up on this master, in ms. */
const REGISTER_TIMEOUT_MS = 10_000;

export class RemoteMasterLink implements MasterLink {
  private channel: NodeChannel | undefined;

  /** `onLost`: the master's channel closed (find another, or wait for it to come back). */
  constructor(private readonly onLost: () => void = () => {}) {}
  private registration: { info: AgentInfo; agent: AgentLink } | undefined;

  /**
   * Registers with the master behind `channel` (again, after a reconnect or a new leader) and, once
   * it accepted, sends updates there. Rejects when the peer is not a master (nothing serves the
   * registration there) or does not answer; the current master, if any, stays.
   */
  async connect(channel: NodeChannel): Promise<void> {
    channel.onNotify((method, body) => this.notice(method, body));
    channel.onRequest((method, body) => this.request(method, body));
    if (this.registration) await this.register(channel);
    this.channel = channel;
    channel.onClose(() => {
      if (this.channel !== channel) return;
      this.channel = undefined;
      this.onLost();
    });
  }

  get connected(): boolean {
    return this.channel !== undefined;
  }

  registerAgent(info: AgentInfo, agent: AgentLink): void {
    this.registration = { info, agent };
    if (this.channel) void this.register(this.channel).catch(() => undefined);
  }

  statusUpdate(status: TaskStatus): void {
    this.channel?.notify(METHODS.status, { status } satisfies StatusBody);
  }

  private async register(channel: NodeChannel): Promise<void> {
    const { info, agent } = this.registration!;
    const body: RegisterBody = { v: NODE_RPC_VERSION, info, tasks: agent.reportTasks?.() ?? [], statuses: agent.taskStatuses() };
    await channel.request(METHODS.register, body, REGISTER_TIMEOUT_MS);
  }

  private notice(method: string, body: unknown): void {
    const agent = this.registration?.agent;
    if (!agent) return;
    if (method === METHODS.launch) agent.launch((body as LaunchBody).task);
    else if (method === METHODS.kill) agent.kill((body as KillBody).taskId, (body as KillBody).gracePeriodSeconds);
    else if (method === METHODS.ack) agent.acknowledge((body as AckBody).taskId, (body as AckBody).uuid);
  }

  private async request(method: string, body: unknown): Promise<unknown> {
    const agent = this.registration?.agent;
    if (!agent) throw new CorralError('AGENT_NOT_FOUND', 'This agent has not registered with its master yet');
    if (method === METHODS.log) {
      const { taskId, stream, offset, maxBytes } = body as LogBody;
      const chunk = await agent.readLog(taskId, stream, offset, maxBytes);
      return { data: chunk.data.toString('base64'), offset: chunk.offset, size: chunk.size } satisfies LogReply;
    }
    if (method === METHODS.stats && agent.taskStats) return agent.taskStats((body as StatsBody).taskId);
    if (method === METHODS.statistics && agent.statistics) return agent.statistics();
    throw new CorralError('INVALID_REQUEST', `Unknown node RPC request '${method}'`);
  }
}

// The master's end of node RPC: an agent on another machine becomes an AgentLink the Master uses
// exactly like an in-process Agent. Calls that AgentLink declares synchronous (taskStatuses,
// reportTasks) answer from what the agent sent: its registration and every status since.
import { CorralError } from '../../shared/errors';
import type { AgentLink, LogChunk, LogStream, MasterLink, TaskStatistics } from '../agent-link';
import type { ContainerStats, TaskInfo, TaskStatus } from '../types';
import type { NodeChannel } from './channel';
import { METHODS, NODE_RPC_VERSION, type AckBody, type KillBody, type LaunchBody, type LogBody, type LogReply, type RegisterBody, type StatsBody, type StatusBody } from './protocol';

/** How long the master waits for an agent's answer to a read (logs, statistics), in ms. */
const READ_TIMEOUT_MS = 10_000;

export class RemoteAgentLink implements AgentLink {
  private readonly latest = new Map<string, TaskStatus>();

  constructor(
    private readonly channel: NodeChannel,
    private readonly reported: Array<{ task: TaskInfo; status: TaskStatus }>,
    statuses: TaskStatus[],
  ) {
    for (const s of statuses) this.latest.set(s.taskId, s);
  }

  /** Keeps the mirror behind taskStatuses() current. */
  observe(status: TaskStatus): void {
    this.latest.set(status.taskId, status);
  }

  launch(task: TaskInfo): void {
    this.channel.notify(METHODS.launch, { task } satisfies LaunchBody);
  }

  kill(taskId: string, gracePeriodSeconds?: number): void {
    this.channel.notify(METHODS.kill, { taskId, ...(gracePeriodSeconds !== undefined ? { gracePeriodSeconds } : {}) } satisfies KillBody);
  }

  acknowledge(taskId: string, uuid: string): void {
    this.channel.notify(METHODS.ack, { taskId, uuid } satisfies AckBody);
  }

  async readLog(taskId: string, stream: LogStream, offset: number, maxBytes: number): Promise<LogChunk> {
    const reply = (await this.channel.request(METHODS.log, { taskId, stream, offset, maxBytes } satisfies LogBody, READ_TIMEOUT_MS)) as LogReply;
    return { data: Buffer.from(reply.data, 'base64'), offset: reply.offset, size: reply.size };
  }

  taskStatuses(): TaskStatus[] {
    return [...this.latest.values()];
  }

  reportTasks(): Array<{ task: TaskInfo; status: TaskStatus }> {
    return this.reported;
  }

  async taskStats(taskId: string): Promise<ContainerStats> {
    return (await this.channel.request(METHODS.stats, { taskId } satisfies StatsBody, READ_TIMEOUT_MS)) as ContainerStats;
  }

  async statistics(): Promise<TaskStatistics[]> {
    return (await this.channel.request(METHODS.statistics, {}, READ_TIMEOUT_MS)) as TaskStatistics[];
  }
}

/**
 * Serves one agent connection for `master`: its registration, then its status updates. Resolves
 * `onRegistered` with the agent's id so the caller can tell the master when the link goes away.
 */
export function serveAgent(channel: NodeChannel, master: MasterLink, onRegistered: (agentId: string) => void = () => {}): void {
  let link: RemoteAgentLink | undefined;
  channel.onRequest((method, body) => {
    if (method !== METHODS.register) throw new CorralError('INVALID_REQUEST', `Unknown node RPC request '${method}'`);
    const reg = body as RegisterBody;
    if (reg.v !== NODE_RPC_VERSION) throw new CorralError('INVALID_REQUEST', `Agent speaks node RPC version ${reg.v}; this master speaks ${NODE_RPC_VERSION}`);
    link = new RemoteAgentLink(channel, reg.tasks, reg.statuses);
    master.registerAgent(reg.info, link);
    onRegistered(reg.info.id);
    return { v: NODE_RPC_VERSION };
  });
  channel.onNotify((method, body) => {
    if (method !== METHODS.status || !link) return;
    const { status } = body as StatusBody;
    link.observe(status);
    master.statusUpdate(status);
  });
}

// Corral's native /api/v1 routes: nodes (and draining them), tasks and task logs, read from the
// master's operator view.
import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import type { AgentLink, LogStream } from '../kernel/agent-link';
import type { AgentView, Master } from '../kernel/master/master';
import type { TaskView } from '../kernel/master/task-record';
import { isTerminal } from '../kernel/types';
import type { Clock } from '../shared/clock';
import { CorralError, errors } from '../shared/errors';
import { iso, nativeAgentJson, nativeTaskJson } from './task-json';

export interface NativeRoutesOptions {
  master: Master;
  clock: Clock;
  /** Roles this node runs (shown in node listings). */
  roles: readonly string[];
  /** The init framework's id, to tell which tasks are app instances. */
  initFrameworkId: () => string | undefined;
  /** How often a followed log is checked for new output (ms). */
  followPollMs?: number;
  /** The agent running a task, for its statistics; undefined when none is reachable. */
  agentFor?: (taskId: string) => AgentLink | undefined;
  /** This node's agent, for /monitor/statistics; undefined when the node runs none. */
  localAgent?: () => AgentLink | undefined;
  /** The id of the agent in this process, if any (its node's roles are this process's). */
  localAgentId?: string;
  /**
   * What gossip membership thinks of the agent's node: 'suspect' shows as the node's status while
   * the master otherwise sees it alive; undefined when membership does not know it.
   */
  memberStatus?: (agentId: string) => 'alive' | 'suspect' | undefined;
}

/** Largest single read of a log file (bytes); clients continue from X-Corral-Log-Offset. */
const MAX_LOG_READ = 4 * 1024 * 1024;


/** The drain body `{"deadlineSeconds"?: number}` (empty is fine): the deadline, or undefined for none. */
function drainDeadlineSeconds(body: unknown): number | undefined {
  if (body === undefined || body === null) return undefined;
  if (typeof body !== 'object' || Array.isArray(body)) throw errors.validation([{ path: '/', errors: ['must be a JSON object'] }]);
  const seconds = (body as { deadlineSeconds?: unknown }).deadlineSeconds;
  if (seconds === undefined || seconds === null) return undefined;
  if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds < 0) throw errors.validation([{ path: '/deadlineSeconds', errors: ['must be a number of seconds >= 0'] }]);
  return seconds;
}

export function registerNativeRoutes(server: FastifyInstance, opts: NativeRoutesOptions): void {
  const { master } = opts;
  const taskJson = (t: TaskView) => nativeTaskJson(t, opts.initFrameworkId());
  // The agent in this process shares its node's roles; agents of other machines run only that role.
  const nodeJson = (a: AgentView) => ({
    ...nativeAgentJson(a),
    roles: a.id === opts.localAgentId ? opts.roles : ['agent'],
    commands: a.commands ?? [],
    used: a.used,
    tasks: a.tasks,
    status: a.status === 'alive' && opts.memberStatus?.(a.id) === 'suspect' ? 'suspect' : a.status,
    ...(a.unreachableSince !== undefined ? { unreachableSince: iso(a.unreachableSince) } : {}),
    ...(a.drain ? { drainingSince: iso(a.drain.since), drainDeadline: iso(a.drain.deadline) } : {}),
    // The agent in this process is always in touch.
    lastContact: iso(a.id === opts.localAgentId ? opts.clock.now() : a.lastContact),
  });

  server.get('/api/v1/nodes', async () => ({ nodes: master.agentViews().map(nodeJson) }));

  server.post<{ Params: { id: string } }>('/api/v1/nodes/:id/drain', async (req) => {
    const deadlineSeconds = drainDeadlineSeconds(req.body);
    const node = await master.drainAgent(req.params.id, deadlineSeconds === undefined ? {} : { deadlineMs: deadlineSeconds * 1000 });
    return { node: nodeJson(node) };
  });

  server.post<{ Params: { id: string } }>('/api/v1/nodes/:id/undrain', async (req) => {
    const node = await master.undrainAgent(req.params.id);
    return { node: node ? nodeJson(node) : null };
  });

  server.get<{ Querystring: { app?: string; state?: string } }>('/api/v1/tasks', async (req) => {
    const app = req.query.app ? '/' + req.query.app.replace(/^\/+/, '') : undefined;
    const tasks = master.taskViews().map(taskJson);
    return { tasks: tasks.filter((t) => (!app || t.appId === app) && (!req.query.state || t.state === req.query.state)) };
  });

  server.get<{ Params: { id: string } }>('/api/v1/tasks/:id', async (req) => ({ task: taskJson(master.taskView(req.params.id)) }));

  server.delete<{ Params: { id: string } }>('/api/v1/tasks/:id', async (req, reply) => {
    const task = master.killTask(req.params.id);
    return reply.code(202).send({ task: taskJson(task) });
  });

  server.get<{ Params: { id: string } }>('/api/v1/tasks/:id/stats', async (req) => {
    const view = master.taskView(req.params.id);
    const agent = opts.agentFor?.(view.id);
    if (!agent?.taskStats) throw errors.agentNotFound(view.agentId);
    return { statistics: await agent.taskStats(view.id) };
  });

  // Mesos's agent endpoint: one entry per running task of this node's agent.
  server.get('/monitor/statistics', async () => {
    const agent = opts.localAgent?.();
    if (!agent?.statistics) throw new CorralError('AGENT_NOT_FOUND', 'This node runs no agent');
    return agent.statistics();
  });

  server.get<{ Params: { id: string }; Querystring: { stream?: string; offset?: string; follow?: string } }>('/api/v1/tasks/:id/logs', async (req, reply) => {
    const stream = (req.query.stream ?? 'stdout') as LogStream;
    if (stream !== 'stdout' && stream !== 'stderr') throw new CorralError('INVALID_REQUEST', `stream must be stdout or stderr, got '${String(stream)}'`);
    const offset = Number(req.query.offset ?? 0);
    if (!Number.isInteger(offset)) throw new CorralError('INVALID_REQUEST', `offset must be an integer, got '${req.query.offset}'`);
    const follow = req.query.follow === 'true' || req.query.follow === '1';
    const taskId = req.params.id;
    const first = await master.agentLinkOf(taskId).readLog(taskId, stream, offset, MAX_LOG_READ);
    const next = first.offset + first.data.length;
    // Plain reads say where to continue; a followed stream says where it starts (its end is unknown).
    void reply.type('text/plain; charset=utf-8').header('X-Corral-Log-Offset', String(follow ? first.offset : next));
    if (!follow) return reply.send(first.data);

    let closed = false;
    req.raw.on('close', () => (closed = true));
    const pollMs = opts.followPollMs ?? 250;
    async function* tail(): AsyncGenerator<Buffer> {
      if (first.data.length > 0) yield first.data;
      let at = next;
      while (!closed) {
        // Look at the state before reading, so output written just before the task ended is not missed.
        const ended = isTerminal(master.taskView(taskId).state);
        const chunk = await master.agentLinkOf(taskId).readLog(taskId, stream, at, MAX_LOG_READ);
        if (chunk.data.length > 0) {
          at = chunk.offset + chunk.data.length;
          yield chunk.data;
          continue;
        }
        if (ended) return;
        await opts.clock.sleep(pollMs);
      }
    }
    return reply.send(Readable.from(tail()));
  });
}

// The operator API: `GET /api/v1/state`, a snapshot of agents, frameworks, tasks and offers, and
// `GET /api/v1/events`, a Server-Sent Events stream of their changes fed by the master's event
// emitter. Each event is written to the socket as it happens (no buffering, Nagle off): Marathon's
// users were bitten by SSE streams that sat in buffers (marathon#2878, #1926).
import type { FastifyInstance } from 'fastify';
import type { Master } from '../kernel/master/master';
import type { TaskView } from '../kernel/master/task-record';
import { OPERATOR_EVENT_TYPES, type FrameworkView, type OperatorEvent } from '../kernel/sdk/operator';
import type { Clock } from '../shared/clock';
import { CorralError } from '../shared/errors';
import { iso, nativeAgentJson, nativeTaskJson } from './task-json';

export interface OperatorRoutesOptions {
  master: Master;
  clock: Clock;
  /** The init framework's id, to tell which tasks are app instances. */
  initFrameworkId: () => string | undefined;
  /** Seconds between heartbeat comments on the event stream (default 15). */
  heartbeatIntervalSeconds?: number;
}

/** An event-stream reader that falls this many bytes behind is cut off (it may reconnect). */
const MAX_UNREAD_BYTES = 16 * 1024 * 1024;


export function registerOperatorRoutes(server: FastifyInstance, opts: OperatorRoutesOptions): void {
  const { master } = opts;
  const heartbeatMs = (opts.heartbeatIntervalSeconds ?? 15) * 1000;

  const taskJson = (t: TaskView) => nativeTaskJson(t, opts.initFrameworkId());
  const frameworkJson = (f: FrameworkView) => ({
    id: f.id,
    name: f.name,
    role: f.role ?? '*',
    user: f.user ?? null,
    connected: f.connected,
    failoverTimeoutSeconds: f.failoverTimeoutSeconds,
    registeredAt: iso(f.registeredAt),
    disconnectedAt: iso(f.disconnectedAt),
    activeTasks: f.activeTasks,
  });
  const state = () => ({
    agents: master.agentViews().map((a) => ({ ...nativeAgentJson(a), used: a.used, offered: a.offered, tasks: a.tasks })),
    frameworks: master.frameworkViews().map(frameworkJson),
    tasks: master.taskViews().map(taskJson),
    outstandingOffers: master.outstandingOffers(),
  });
  const eventJson = (e: OperatorEvent): unknown => {
    switch (e.type) {
      case 'AGENT_ADDED':
        return { agent: nativeAgentJson(e.agent) };
      case 'AGENT_REMOVED':
      case 'AGENT_UNDRAINED':
        return { agentId: e.agentId };
      case 'AGENT_DRAINING':
        return { agentId: e.agentId, drainingSince: iso(e.since), drainDeadline: iso(e.deadline) };
      case 'TASK_ADDED':
        return { task: taskJson(e.task) };
      case 'TASK_UPDATED':
        return { task: taskJson(e.task), status: e.status };
      case 'FRAMEWORK_ADDED':
      case 'FRAMEWORK_UPDATED':
        return { framework: frameworkJson(e.framework) };
      case 'FRAMEWORK_REMOVED':
        return { frameworkId: e.frameworkId };
    }
  };

  server.get('/api/v1/state', async () => state());

  server.get<{ Querystring: { type?: string } }>('/api/v1/events', async (req, reply) => {
    const wanted = req.query.type ? new Set(req.query.type.split(',').map((s) => s.trim())) : undefined;
    const unknown = [...(wanted ?? [])].filter((w) => !(OPERATOR_EVENT_TYPES as readonly string[]).includes(w));
    if (unknown.length > 0) throw new CorralError('INVALID_REQUEST', `Unknown event type(s) ${unknown.join(', ')}; known: ${OPERATOR_EVENT_TYPES.join(', ')}`);

    void reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-cache, no-transform', Connection: 'keep-alive', 'X-Accel-Buffering': 'no' });
    req.raw.socket.setNoDelay(true);
    const send = (text: string) => {
      if (res.writableEnded || res.destroyed) return;
      res.write(text);
      if (res.writableLength > MAX_UNREAD_BYTES) res.destroy();
    };
    send(`event: SUBSCRIBED\ndata: ${JSON.stringify({ state: state() })}\n\n`);
    const unsubscribe = master.onEvent((e) => {
      if (!wanted || wanted.has(e.type)) send(`event: ${e.type}\ndata: ${JSON.stringify(eventJson(e))}\n\n`);
    });
    const heartbeat = opts.clock.setInterval(() => send(': heartbeat\n\n'), heartbeatMs);
    res.on('error', () => undefined);
    res.on('close', () => {
      unsubscribe();
      heartbeat.cancel();
    });
  });
}

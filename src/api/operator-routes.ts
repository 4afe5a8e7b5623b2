// The operator API: `GET /api/v1/state`, a snapshot of agents, frameworks, tasks and offers, and
// `GET /api/v1/events`, a Server-Sent Events stream (src/api/sse.ts) of their changes fed by the
// master's event emitter.
import type { FastifyInstance } from 'fastify';
import type { Master } from '../kernel/master/master';
import type { TaskView } from '../kernel/master/task-record';
import { OPERATOR_EVENT_TYPES, type FrameworkView, type OperatorEvent } from '../kernel/sdk/operator';
import type { Clock } from '../shared/clock';
import { CorralError } from '../shared/errors';
import { openSseStream } from '../shared/sse';
import { iso, nativeAgentJson, nativeTaskJson } from './task-json';

export interface OperatorRoutesOptions {
  master: Master;
  clock: Clock;
  /** The init framework's id, to tell which tasks are app instances. */
  initFrameworkId: () => string | undefined;
  /** Seconds between heartbeat comments on the event stream (default 15). */
  heartbeatIntervalSeconds?: number;
}

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

    let unsubscribe = () => {};
    const stream = openSseStream(req, reply, { clock: opts.clock, heartbeatMs, onClose: () => unsubscribe() });
    stream.send('SUBSCRIBED', { state: state() });
    unsubscribe = master.onEvent((e) => {
      if (!wanted || wanted.has(e.type)) stream.send(e.type, eventJson(e));
    });
  });
}

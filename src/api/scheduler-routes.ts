// `POST /api/v1/scheduler`: the framework API over HTTP, modelled on the Mesos v1 scheduler API.
// SUBSCRIBE keeps its response open as a RecordIO stream of events; every other call names the
// framework and carries the stream's Mesos-Stream-Id header, and is answered 202. A stream that
// closes disconnects the framework (its tasks keep running for its failover timeout); a newer
// SUBSCRIBE for the same framework replaces the older stream.
import type { ServerResponse } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Master } from '../kernel/master/master';
import { encodeRecord } from '../kernel/sdk/recordio';
import type { SchedulerEvents } from '../kernel/sdk/types';
import { DEFAULT_HEARTBEAT_INTERVAL_SECONDS, SCHEDULER_PATH, STREAM_ID_HEADER, type SchedulerEvent } from '../kernel/sdk/wire';
import type { TaskStatus } from '../kernel/types';
import type { Clock, TimerHandle } from '../shared/clock';
import { CorralError } from '../shared/errors';
import { uuid } from '../shared/ids';
import type { Logger } from '../shared/logger';
import { parseSchedulerCall, type ParsedCall } from './scheduler-calls';

export interface SchedulerRoutesOptions {
  master: Master;
  clock: Clock;
  logger: Logger;
  /** Seconds between HEARTBEAT events on every stream (default 15). */
  heartbeatIntervalSeconds?: number;
}

/** A subscriber that reads slower than this many bytes behind is cut off (it may re-subscribe). */
const MAX_UNREAD_BYTES = 16 * 1024 * 1024;

interface Subscription {
  frameworkId: string;
  streamId: string;
  res: ServerResponse;
  heartbeat: TimerHandle | undefined;
}

export function registerSchedulerRoutes(server: FastifyInstance, opts: SchedulerRoutesOptions): void {
  const { master, clock, logger } = opts;
  const heartbeatSeconds = opts.heartbeatIntervalSeconds ?? DEFAULT_HEARTBEAT_INTERVAL_SECONDS;
  /** The current HTTP subscription of each framework, by framework id. */
  const subscriptions = new Map<string, Subscription>();

  const write = (sub: Subscription, event: SchedulerEvent) => {
    if (sub.res.writableEnded || sub.res.destroyed) return;
    sub.res.write(encodeRecord(event));
    if (sub.res.writableLength > MAX_UNREAD_BYTES) {
      logger.warn({ event: 'scheduler_stream_overrun', frameworkId: sub.frameworkId, unreadBytes: sub.res.writableLength }, 'framework reads its event stream too slowly; disconnecting it');
      sub.res.destroy();
    }
  };

  /** Ends a stream on the server's initiative; the framework is not disconnected by it. */
  const retire = (sub: Subscription, message?: string) => {
    if (subscriptions.get(sub.frameworkId) === sub) subscriptions.delete(sub.frameworkId);
    sub.heartbeat?.cancel();
    if (message !== undefined) write(sub, { type: 'ERROR', error: { message } });
    sub.res.end();
  };

  /** The client went away (or the stream was cut): the framework is disconnected, not removed. */
  const closed = (sub: Subscription) => {
    sub.heartbeat?.cancel();
    if (subscriptions.get(sub.frameworkId) !== sub) return;
    subscriptions.delete(sub.frameworkId);
    logger.info({ event: 'scheduler_stream_closed', frameworkId: sub.frameworkId }, 'framework event stream closed');
    try {
      master.removeFramework(sub.frameworkId, false);
    } catch {
      // Already removed (torn down or timed out): nothing to disconnect.
    }
  };

  function subscribe(call: Extract<ParsedCall, { type: 'SUBSCRIBE' }>, req: FastifyRequest, reply: FastifyReply): void {
    const id = call.framework.id;
    const previous = id === undefined ? undefined : subscriptions.get(id);
    if (id !== undefined && !previous && master.frameworkViews().some((f) => f.id === id && f.connected)) {
      throw new CorralError('INVALID_REQUEST', `Framework '${id}' is connected through another transport (an in-process Corral framework); it cannot be taken over over HTTP`);
    }
    if (previous) retire(previous, 'Framework failed over: a newer subscription replaced this stream');

    // Events raised before the SUBSCRIBED record is written wait for it.
    let sub: Subscription | undefined;
    const early: SchedulerEvent[] = [];
    const send = (event: SchedulerEvent) => (sub ? write(sub, event) : early.push(event));
    const events: SchedulerEvents = {
      offers: (offers) => send({ type: 'OFFERS', offers: { offers } }),
      rescind: (offerId) => send({ type: 'RESCIND', rescind: { offer_id: offerId } }),
      update: (status) => send({ type: 'UPDATE', update: { status } }),
      failure: (f) => send({ type: 'FAILURE', failure: { agent_id: f.agentId, ...(f.status === undefined ? {} : { status: f.status }) } }),
      agentDraining: (d) => send({ type: 'AGENT_DRAINING', agent_draining: { agent_id: d.agentId, ...(d.deadline === undefined ? {} : { deadline: d.deadline }) } }),
      agentUndrained: (agentId) => send({ type: 'AGENT_UNDRAINED', agent_undrained: { agent_id: agentId } }),
      error: (message) => (sub ? retire(sub, message) : early.push({ type: 'ERROR', error: { message } })),
    };
    const frameworkId = master.subscribe(call.framework, events);
    const streamId = uuid();

    void reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'Content-Type': 'application/json', [STREAM_ID_HEADER]: streamId, 'Cache-Control': 'no-cache, no-store' });
    req.raw.socket.setNoDelay(true);
    const current: Subscription = { frameworkId, streamId, res, heartbeat: undefined };
    sub = current;
    subscriptions.set(frameworkId, current);
    res.on('error', () => undefined);
    res.on('close', () => closed(current));
    if (req.raw.socket.destroyed) return closed(current); // the client left while the call was parsed
    logger.info({ event: 'scheduler_subscribed', frameworkId, name: call.framework.name, resubscribed: call.framework.id !== undefined }, 'framework subscribed over HTTP');
    write(current, { type: 'SUBSCRIBED', subscribed: { framework_id: frameworkId, heartbeat_interval_seconds: heartbeatSeconds } });
    for (const event of early.splice(0)) event.type === 'ERROR' ? retire(current, event.error.message) : write(current, event);
    current.heartbeat = clock.setInterval(() => write(current, { type: 'HEARTBEAT' }), heartbeatSeconds * 1000);
  }

  /** The framework's live HTTP subscription, checked against the call's stream id. */
  function subscriptionOf(frameworkId: string, streamId: string | string[] | undefined): Subscription {
    const sub = subscriptions.get(frameworkId);
    if (!sub) {
      const known = master.frameworkViews().some((f) => f.id === frameworkId);
      throw new CorralError(
        'FRAMEWORK_NOT_FOUND',
        known ? `Framework '${frameworkId}' has no open HTTP subscription (it is disconnected or in-process); SUBSCRIBE first` : `Framework '${frameworkId}' is not subscribed`,
      );
    }
    if (streamId === undefined) throw new CorralError('STREAM_ID_INVALID', `Calls must carry the ${STREAM_ID_HEADER} header returned by SUBSCRIBE`);
    if (streamId !== sub.streamId) throw new CorralError('STREAM_ID_INVALID', `${STREAM_ID_HEADER} does not match framework '${frameworkId}''s current subscription`);
    return sub;
  }

  function dispatch(call: Exclude<ParsedCall, { type: 'SUBSCRIBE' }>, sub: Subscription): void {
    const id = call.frameworkId;
    switch (call.type) {
      case 'ACCEPT':
        return master.accept(id, call.offerIds, call.tasks.length > 0 ? [{ type: 'LAUNCH', tasks: call.tasks }] : [], call.filters);
      case 'DECLINE':
        return master.decline(id, call.offerIds, call.filters);
      case 'KILL':
        return master.kill(id, call.taskId, call.gracePeriodSeconds);
      case 'ACKNOWLEDGE': {
        // The master settles an update by agent, task and uuid; the rest of the status is not needed.
        const status: TaskStatus = { taskId: call.taskId, agentId: call.agentId, frameworkId: id, uuid: call.uuid, state: 'TASK_UNKNOWN', source: 'SOURCE_MASTER', timestamp: clock.now() };
        return master.acknowledge(id, status);
      }
      case 'RECONCILE':
        return master.reconcile(id, call.tasks);
      case 'REVIVE':
        return master.revive(id);
      case 'SUPPRESS':
        return master.suppress(id);
      case 'TEARDOWN':
        subscriptions.delete(id);
        master.removeFramework(id, true);
        logger.info({ event: 'scheduler_teardown', frameworkId: id }, 'framework torn down');
        return retire(sub);
    }
  }

  server.post(SCHEDULER_PATH, async (req, reply) => {
    const call = parseSchedulerCall(req.body);
    if (call.type === 'SUBSCRIBE') return subscribe(call, req, reply);
    dispatch(call, subscriptionOf(call.frameworkId, req.headers[STREAM_ID_HEADER.toLowerCase()]));
    return reply.code(202).send();
  });
}

// `GET /v2/events`: Marathon's event bus as Server-Sent Events (`event: <eventType>`, `data: <json>`).
// Marathon (Jetty's EventSourceServlet) answers a GET without `Accept: text/event-stream` with 405;
// Corral streams to any GET, so `curl .../v2/events` works as it is. Like Marathon, every client
// sees `event_stream_attached` for itself first and the others' attach and detach events.
import type { FastifyInstance } from 'fastify';
import { openSseStream } from '../shared/sse';
import type { Clock } from '../shared/clock';
import type { MarathonEventBus } from './events';

export interface EventRoutesOptions {
  bus: MarathonEventBus;
  clock: Clock;
  /** Seconds between heartbeat comments (default 15). */
  heartbeatIntervalSeconds?: number;
}

/**
 * Marathon's `event_type` filter: the parameter repeated (`?event_type=a&event_type=b`); Corral also
 * takes `a,b`. Unknown types are not an error, as in Marathon: they match nothing. Undefined: all.
 */
export function eventTypeFilter(param: string | string[] | undefined): ReadonlySet<string> | undefined {
  const wanted = ([] as string[]).concat(param ?? []).flatMap((p) => p.split(',')).map((p) => p.trim()).filter((p) => p !== '');
  return wanted.length > 0 ? new Set(wanted) : undefined;
}

export function registerEventRoutes(server: FastifyInstance, opts: EventRoutesOptions): void {
  const heartbeatMs = (opts.heartbeatIntervalSeconds ?? 15) * 1000;
  server.get<{ Querystring: { event_type?: string | string[] } }>('/v2/events', async (req, reply) => {
    const wanted = eventTypeFilter(req.query.event_type);
    const remoteAddress = req.ip;
    let unsubscribe = () => {};
    const stream = openSseStream(req, reply, {
      clock: opts.clock,
      heartbeatMs,
      onClose: () => {
        unsubscribe();
        opts.bus.publish({ eventType: 'event_stream_detached', remoteAddress });
      },
    });
    unsubscribe = opts.bus.subscribe((event) => {
      if (!wanted || wanted.has(event.eventType)) stream.send(event.eventType, event);
    });
    opts.bus.publish({ eventType: 'event_stream_attached', remoteAddress });
  });
}

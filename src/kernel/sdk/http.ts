// The HTTP SDK transport: a framework in another process talks to the master's
// `POST /api/v1/scheduler` through the same SchedulerConnection interface the in-process transport
// offers. subscribe() opens the RecordIO event stream with fetch and dispatches its events; each
// connection method posts one call carrying the stream's Mesos-Stream-Id. Reconnecting is the
// caller's business: events.disconnected() says when, and subscribing again with the returned
// frameworkId in FrameworkInfo.id gets the framework's tasks back within its failover timeout.
import { systemClock, type Clock } from '../../shared/clock';
import { CorralError, ERROR_CATALOGUE, type ErrorCode } from '../../shared/errors';
import type { FrameworkInfo, Operation } from '../types';
import { RecordIoDecoder } from './recordio';
import type { SchedulerConnection, SchedulerEvents, SchedulerTransport } from './types';
import { SCHEDULER_PATH, STREAM_ID_HEADER, type SchedulerCall, type SchedulerEvent, type WireFilters } from './wire';

export interface HttpTransportOptions {
  /** Base URL of the Corral API, e.g. `http://127.0.0.1:5050`. */
  url: string;
  /** The API's bearer token (`<data-dir>/admin.token`). */
  token: string;
  /** A fetch implementation (default: the global one, Node 18+). */
  fetch?: typeof fetch;
  /** Times the heartbeat watchdog (default: the system clock). */
  clock?: Clock;
}

/** A stream silent for this many heartbeat intervals is presumed dead (a half-open TCP connection) and closed. */
export const MISSED_HEARTBEATS = 3;

/** Turns an error response into a CorralError when it carries a known code, else a plain Error. */
async function responseError(res: Response, what: string): Promise<Error> {
  const text = await res.text().catch(() => '');
  try {
    const body = JSON.parse(text) as { code?: string; message?: string; details?: [] };
    if (body.code && body.code in ERROR_CATALOGUE) return new CorralError(body.code as ErrorCode, body.message ?? what, body.details);
  } catch {
    // not JSON: fall through
  }
  return new Error(`${what}: HTTP ${res.status} ${text.slice(0, 200)}`);
}

const wireFilters = (f: { refuseSeconds?: number } | undefined): WireFilters | undefined => (f?.refuseSeconds === undefined ? undefined : { refuse_seconds: f.refuseSeconds });

/** Delivers one event. A handler that throws is a bug in the framework: it surfaces as an uncaught exception, as from an EventEmitter listener, instead of silently ending the stream. */
function dispatch(event: SchedulerEvent, events: SchedulerEvents): void {
  try {
    deliver(event, events);
  } catch (err) {
    queueMicrotask(() => {
      throw err;
    });
  }
}

function deliver(event: SchedulerEvent, events: SchedulerEvents): void {
  switch (event.type) {
    case 'OFFERS':
      return events.offers(event.offers.offers);
    case 'RESCIND':
      return events.rescind(event.rescind.offer_id);
    case 'UPDATE':
      return events.update(event.update.status);
    case 'FAILURE':
      return events.failure?.({ agentId: event.failure.agent_id, ...(event.failure.status === undefined ? {} : { status: event.failure.status }) });
    case 'AGENT_DRAINING':
      return events.agentDraining?.({ agentId: event.agent_draining.agent_id, ...(event.agent_draining.deadline === undefined ? {} : { deadline: event.agent_draining.deadline }) });
    case 'AGENT_UNDRAINED':
      return events.agentUndrained?.(event.agent_undrained.agent_id);
    case 'ERROR':
      return events.error?.(event.error.message);
    case 'HEARTBEAT':
      return events.heartbeat?.();
    default:
      return undefined; // SUBSCRIBED again, or an event type newer than this SDK: ignored
  }
}

export function httpTransport(opts: HttpTransportOptions): SchedulerTransport {
  const doFetch = opts.fetch ?? fetch;
  const clock = opts.clock ?? systemClock;
  const endpoint = opts.url.replace(/\/+$/, '') + SCHEDULER_PATH;
  const headers = { authorization: `Bearer ${opts.token}`, 'content-type': 'application/json', accept: 'application/json' };

  return {
    async subscribe(framework: FrameworkInfo, events: SchedulerEvents): Promise<SchedulerConnection> {
      const abort = new AbortController();
      const call: SchedulerCall = {
        type: 'SUBSCRIBE',
        ...(framework.id ? { framework_id: framework.id } : {}),
        subscribe: {
          framework_info: {
            name: framework.name,
            ...(framework.id ? { id: framework.id } : {}),
            ...(framework.role ? { role: framework.role } : {}),
            ...(framework.user ? { user: framework.user } : {}),
            ...(framework.failoverTimeoutSeconds === undefined ? {} : { failover_timeout: framework.failoverTimeoutSeconds }),
          },
        },
      };
      const res = await doFetch(endpoint, { method: 'POST', headers, body: JSON.stringify(call), signal: abort.signal });
      if (res.status !== 200 || !res.body) throw await responseError(res, 'SUBSCRIBE failed');
      const streamId = res.headers.get(STREAM_ID_HEADER) ?? '';
      const reader = res.body.getReader();
      const decoder = new RecordIoDecoder();
      const queued: SchedulerEvent[] = [];

      // Read until SUBSCRIBED; events after it in the same chunk wait for the connection to exist.
      let subscribed: { framework_id: string; heartbeat_interval_seconds: number } | undefined;
      while (subscribed === undefined) {
        const { value, done } = await reader.read();
        if (done) throw new Error('SUBSCRIBE failed: the event stream ended before SUBSCRIBED');
        for (const e of decoder.push(value) as SchedulerEvent[]) {
          if (subscribed === undefined && e.type === 'SUBSCRIBED') subscribed = e.subscribed;
          else if (subscribed !== undefined) queued.push(e);
        }
      }
      const id = subscribed.framework_id;

      // The master writes at least a heartbeat every interval; silence means the connection is gone.
      const heartbeatMs = subscribed.heartbeat_interval_seconds * 1000;
      let lastHeard = clock.now();
      let silence: string | undefined;
      const watchdog = clock.setInterval(() => {
        if (clock.now() - lastHeard <= MISSED_HEARTBEATS * heartbeatMs) return;
        silence = `no event or heartbeat from the master for ${Math.round((clock.now() - lastHeard) / 1000)} s`;
        abort.abort();
      }, heartbeatMs);

      let closing = false;
      const pump = (async () => {
        // Start after the caller has its connection in hand (the next turn of the event loop, not
        // a delay), so handlers may use it at once.
        await new Promise((resolve) => setImmediate(resolve));
        for (const e of queued.splice(0)) dispatch(e, events);
        try {
          for (;;) {
            const { value, done } = await reader.read();
            if (done) break;
            lastHeard = clock.now();
            for (const e of decoder.push(value) as SchedulerEvent[]) dispatch(e, events);
          }
          if (!closing) events.disconnected?.('the master closed the event stream');
        } catch (err) {
          if (!closing) events.disconnected?.(silence ?? `the event stream failed: ${(err as Error).message}`);
        } finally {
          watchdog.cancel();
        }
      })();
      const close = async () => {
        closing = true;
        abort.abort();
        await pump;
      };

      const post = async (body: SchedulerCall) => {
        const r = await doFetch(endpoint, { method: 'POST', headers: { ...headers, [STREAM_ID_HEADER]: streamId }, body: JSON.stringify({ ...body, framework_id: id }) });
        if (r.status !== 202) throw await responseError(r, `${body.type} failed`);
        await r.arrayBuffer(); // drain so the connection can be reused
      };
      const launches = (ops: Operation[]) => ops.map((op) => ({ type: 'LAUNCH' as const, launch: { task_infos: op.tasks } }));

      return {
        frameworkId: id,
        accept: (offerIds, operations, filters) => post({ type: 'ACCEPT', accept: { offer_ids: offerIds, operations: launches(operations), ...(filters ? { filters: wireFilters(filters) } : {}) } }),
        decline: (offerIds, filters) => post({ type: 'DECLINE', decline: { offer_ids: offerIds, ...(filters ? { filters: wireFilters(filters) } : {}) } }),
        kill: (taskId, o) =>
          post({ type: 'KILL', kill: { task_id: taskId, ...(o?.agentId ? { agent_id: o.agentId } : {}), ...(o?.gracePeriodSeconds === undefined ? {} : { grace_period_seconds: o.gracePeriodSeconds }) } }),
        acknowledge: async (status) => {
          if (status.uuid) await post({ type: 'ACKNOWLEDGE', acknowledge: { agent_id: status.agentId, task_id: status.taskId, uuid: status.uuid } });
        },
        reconcile: (tasks) => post({ type: 'RECONCILE', reconcile: { tasks: tasks.map((t) => ({ task_id: t.taskId, ...(t.agentId ? { agent_id: t.agentId } : {}) })) } }),
        revive: () => post({ type: 'REVIVE' }),
        suppress: () => post({ type: 'SUPPRESS' }),
        teardown: async () => {
          closing = true; // the master ends the stream while answering TEARDOWN
          try {
            await post({ type: 'TEARDOWN' });
          } finally {
            await close();
          }
        },
        disconnect: close,
      };
    },
  };
}

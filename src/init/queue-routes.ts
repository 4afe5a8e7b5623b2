// Marathon's launch queue: `GET /v2/queue` lists the apps with instances waiting to be launched
// (queue.ts computes it), `DELETE /v2/queue/{appId}/delay` lifts the app's launch backoff.
import type { FastifyInstance } from 'fastify';
import { subtractResources } from '../kernel/sdk/resources';
import type { Resources } from '../kernel/types';
import type { Clock } from '../shared/clock';
import { errors } from '../shared/errors';
import { normalizeAppId } from './app';
import type { Placement } from './constraints';
import { marathonAppDefinition } from './marathon-json';
import { launchQueue, processedOffersSummary, type QueueAgent } from './queue';
import type { AppTask, Backoff, StoredApp, TaskFailure } from './types';

/** What the queue reads from init (its controller). */
export interface QueueSource {
  apps(): Iterable<StoredApp>;
  tasksOf(appId: string): readonly AppTask[];
  lastFailure(appId: string): TaskFailure | undefined;
  /** The app's launch backoff after failures, undefined when it has none. */
  backoffOf(appId: string): Backoff | undefined;
  /** Forgets the app's backoff: its waiting instances launch with the next offer. */
  resetBackoff(appId: string): void;
}

export interface QueueRoutesOptions {
  source: QueueSource;
  /** The agents as the master sees them (its agent views, in the shape the queue needs). */
  agents: () => QueueAgentView[];
  clock: Clock;
}

/** What the queue reads of the master's view of an agent. */
export interface QueueAgentView {
  id: string;
  hostname: string;
  attributes: Readonly<Record<string, string>>;
  resources: Resources;
  used: Resources;
  status: string;
}

const asQueueAgent = (a: QueueAgentView): QueueAgent => ({ agentId: a.id, hostname: a.hostname, attributes: a.attributes, free: subtractResources(a.resources, a.used), available: a.status === 'alive' });

/** Where the app's current instances are, for its constraints. */
const placedOf = (stored: StoredApp, tasks: readonly AppTask[]): Placement[] =>
  tasks.filter((t) => !t.killRequested && t.configVersion === stored.lastConfigChangeAt).map((t) => ({ agentId: t.agentId, hostname: t.host, ...(t.attributes ? { attributes: t.attributes } : {}) }));

export function registerQueueRoutes(server: FastifyInstance, opts: QueueRoutesOptions): void {
  const { source, clock } = opts;

  server.get('/v2/queue', async () => {
    const now = clock.now();
    const failedAt = (appId: string) => {
      const f = source.lastFailure(appId);
      return f ? Date.parse(f.timestamp) : undefined;
    };
    const queued = launchQueue(source.apps(), (id) => source.tasksOf(id), (id) => source.backoffOf(id), failedAt, now);
    const agents = queued.length > 0 ? opts.agents().map(asQueueAgent) : [];
    return {
      queue: queued.map((q) => {
        const timeLeftMs = Math.max(0, (q.backoff?.notBefore ?? now) - now);
        return {
          app: marathonAppDefinition(q.stored),
          count: q.count,
          delay: { timeLeftSeconds: Math.ceil(timeLeftMs / 1000), overdue: timeLeftMs === 0 },
          since: new Date(q.since).toISOString(),
          processedOffersSummary: processedOffersSummary(q.stored.app, agents, placedOf(q.stored, source.tasksOf(q.stored.app.id)), now),
        };
      }),
    };
  });

  // Marathon: 204, or 404 for an app it does not know (whether or not it waits).
  server.delete<{ Params: { '*': string } }>('/v2/queue/*', async (req, reply) => {
    const path = req.params['*'];
    if (!/(^|\/)delay$/.test(path)) return reply.callNotFound();
    const appId = normalizeAppId(path.replace(/\/?delay$/, ''));
    if (![...source.apps()].some((s) => s.app.id === appId)) throw errors.appNotFound(appId);
    source.resetBackoff(appId);
    return reply.code(204).send();
  });
}

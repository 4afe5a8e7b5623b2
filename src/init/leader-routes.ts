// Marathon's leader endpoints. Corral runs one init framework, beside the master that serves this
// API, so this node is always the leader. `DELETE /v2/leader` does what Marathon does when it is the
// only instance: it gives up leadership and, with no other candidate, wins it back — init
// disconnects from the master and subscribes again (same framework id, tasks keep running, then
// reconciles). Marathon's `?backup=` and `?restore=` are not supported and are ignored.
import type { FastifyInstance } from 'fastify';

export interface LeaderRoutesOptions {
  /** This API's base URL (`http://host:port`). */
  leaderUrl: string;
  /** Stops init and starts it again; resolves once it has subscribed again. */
  abdicate: () => Promise<void>;
}

export function registerLeaderRoutes(server: FastifyInstance, opts: LeaderRoutesOptions): void {
  const leader = opts.leaderUrl.replace(/^https?:\/\//, '').replace(/\/$/, '');
  server.get('/v2/leader', async () => ({ leader }));
  server.delete('/v2/leader', async () => {
    await opts.abdicate();
    return { message: 'Leadership abdicated' };
  });
}

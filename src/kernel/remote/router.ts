// Several services on one node channel: a NodeChannel has a single request handler and a single
// notice handler, while the link to the master carries both agent RPC and the operator feed. A
// router installs itself once per channel and hands out views that each serve a set of methods;
// a request for a method nobody serves is refused with INVALID_REQUEST, such a notice is dropped.
import { CorralError } from '../../shared/errors';
import type { NodeChannel } from './channel';

type RequestHandler = (method: string, body: unknown) => Promise<unknown> | unknown;
type NoticeHandler = (method: string, body: unknown) => void;

interface Router {
  requests: Map<string, RequestHandler>;
  notices: Map<string, NoticeHandler>;
}

const routers = new WeakMap<NodeChannel, Router>();

function routerOf(channel: NodeChannel): Router {
  let router = routers.get(channel);
  if (router) return router;
  const r: Router = { requests: new Map(), notices: new Map() };
  channel.onRequest((method, body) => {
    const handler = r.requests.get(method);
    if (!handler) throw new CorralError('INVALID_REQUEST', `Unknown node RPC request '${method}'`);
    return handler(method, body);
  });
  channel.onNotify((method, body) => r.notices.get(method)?.(method, body));
  routers.set(channel, r);
  router = r;
  return router;
}

/**
 * A view of `channel` whose onRequest/onNotify serve only `methods` (sending and onClose pass
 * through). Every view of one channel shares its router; a later view of the same methods takes
 * them over.
 */
export function routedChannel(channel: NodeChannel, methods: readonly string[]): NodeChannel {
  const router = routerOf(channel);
  return {
    request: (method, body, timeoutMs) => channel.request(method, body, timeoutMs),
    notify: (method, body) => channel.notify(method, body),
    onRequest: (handler) => {
      for (const m of methods) router.requests.set(m, handler);
    },
    onNotify: (handler) => {
      for (const m of methods) router.notices.set(m, handler);
    },
    onClose: (handler) => channel.onClose(handler),
  };
}

// The receivers registered on a ClusterSwarm: datagram channels, request methods and one-way
// methods. A throwing receiver is logged and never takes the connection down with it.
import type { Logger } from '../../shared/logger';
import type { LinkHandlers } from './peer-link';
import type { DatagramChannel, SwarmMessageHandler, SwarmRequestHandler } from './types';

export class HandlerRegistry {
  private readonly datagrams = new Map<DatagramChannel, Set<SwarmMessageHandler>>();
  private readonly requests = new Map<string, SwarmRequestHandler>();
  private readonly notifies = new Map<string, Set<SwarmMessageHandler>>();

  constructor(private readonly log: Logger) {}

  onDatagram(channel: DatagramChannel, handler: SwarmMessageHandler): () => void {
    return addTo(this.datagrams, channel, handler);
  }

  onNotify(method: string, handler: SwarmMessageHandler): () => void {
    return addTo(this.notifies, method, handler);
  }

  /** One responder per method: a second registration is a bug and throws. */
  onRequest(method: string, handler: SwarmRequestHandler): () => void {
    if (this.requests.has(method)) throw new Error(`a handler for request '${method}' is already registered`);
    this.requests.set(method, handler);
    return () => {
      if (this.requests.get(method) === handler) this.requests.delete(method);
    };
  }

  /** The handlers of one connection, with the sender's node id bound in. */
  forPeer(from: string): LinkHandlers {
    return {
      datagram: (channel, payload) => this.deliver(this.datagrams.get(channel), from, payload, channel),
      notify: (method, payload) => this.deliver(this.notifies.get(method), from, payload, method),
      request: (method, payload) => {
        const handler = this.requests.get(method);
        if (handler === undefined) return null;
        return Promise.resolve().then(() => handler(from, payload));
      },
    };
  }

  private deliver(handlers: Set<SwarmMessageHandler> | undefined, from: string, payload: Buffer, what: string): void {
    for (const handler of handlers ?? []) {
      try {
        handler(from, payload);
      } catch (err) {
        this.log.error({ event: 'cluster.handler.failed', what, from, err }, `handler of '${what}' threw`);
      }
    }
  }
}

function addTo<K>(map: Map<K, Set<SwarmMessageHandler>>, key: K, handler: SwarmMessageHandler): () => void {
  let set = map.get(key);
  if (set === undefined) {
    set = new Set();
    map.set(key, set);
  }
  set.add(handler);
  return () => {
    map.get(key)?.delete(handler);
  };
}

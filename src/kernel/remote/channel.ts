// What node RPC between an agent and its master needs from the cluster plane: one authenticated,
// ordered connection per peer that carries requests with replies and one-way notices, as JSON-able
// values. The hyperswarm connection (src/cluster/swarm) provides it between machines; tests and
// in-process wiring use memoryChannelPair().
export interface NodeChannel {
  /** Sends a request and resolves to the reply; rejects (CorralError) on error replies, timeout or loss. */
  request(method: string, body: unknown, timeoutMs?: number): Promise<unknown>;
  /** Sends a one-way notice; delivered in order with requests, or not at all if the link is down. */
  notify(method: string, body: unknown): void;
  /** Serves requests from the peer; a thrown CorralError travels back with its code. */
  onRequest(handler: (method: string, body: unknown) => Promise<unknown> | unknown): void;
  onNotify(handler: (method: string, body: unknown) => void): void;
  /** The link is gone (the peer died, was partitioned away or closed it); no more messages either way. */
  onClose(handler: () => void): void;
}

interface Side {
  requests?: (method: string, body: unknown) => Promise<unknown> | unknown;
  notices?: (method: string, body: unknown) => void;
  closers: Array<() => void>;
  closed: boolean;
}

/**
 * Two connected in-memory channels. Messages are JSON round-tripped (so nothing but data crosses)
 * and delivered on a later microtask, in order; close() ends both sides.
 */
export function memoryChannelPair(): { a: NodeChannel; b: NodeChannel; close(): void } {
  const sides: [Side, Side] = [{ closers: [], closed: false }, { closers: [], closed: false }];
  const copy = (v: unknown) => (v === undefined ? undefined : JSON.parse(JSON.stringify(v)));
  const channel = (self: Side, peer: Side): NodeChannel => ({
    async request(method, body) {
      if (self.closed) throw new Error('channel closed');
      await Promise.resolve();
      if (!peer.requests) throw new Error(`no handler for ${method}`);
      return copy(await peer.requests(method, copy(body)));
    },
    notify(method, body) {
      if (self.closed) return;
      const data = copy(body);
      queueMicrotask(() => !peer.closed && peer.notices?.(method, data));
    },
    onRequest: (h) => void (self.requests = h),
    onNotify: (h) => void (self.notices = h),
    onClose: (h) => void self.closers.push(h),
  });
  return {
    a: channel(sides[0], sides[1]),
    b: channel(sides[1], sides[0]),
    close() {
      for (const side of sides) {
        if (side.closed) continue;
        side.closed = true;
        for (const h of side.closers) h();
      }
    },
  };
}

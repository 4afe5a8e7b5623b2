// An in-memory network for tests and simulations, driven by an injected Clock: per-link delay
// (fixed + uniform jitter) and loss drawn from a seeded generator, partitions, killed nodes, and
// traffic counters. It ships in src/ (like hyperdht's testnet) so tests, the benchmark and later
// multi-node tests of other subsystems all use the same one.
//
// Datagrams (send) are lost with the link's probability; requests (the reliable stream) are never
// lost, only delayed: each leg of a request or reply is resent after `streamRetransmitMs` (TCP's
// minimum retransmission timeout) as many times as the link's loss draws it. They fail with a
// TransportError when a partition or a killed node cuts them off or no answer comes in time. A message is checked when sent and again when it
// arrives, so one in flight when a partition starts or a node dies is dropped.
import type { Clock } from '../shared/clock';
import { messageBytes, type WireMessage } from './membership/wire';
import { seededRandom, type Random } from './membership/rng';
import { TransportError, type MessageHandler, type Payload, type RequestHandler, type Transport } from './transport';

export interface LinkConfig {
  /** ms every message takes. */
  readonly delayMs: number;
  /** ms of extra delay, uniform in [0, jitterMs). */
  readonly jitterMs: number;
  /** Probability in [0, 1] that a datagram is dropped. */
  readonly loss: number;
  /**
   * Probability that a segment of a request or reply is lost and resent; default `loss`. 0 models a
   * path that filters datagrams but carries streams (UDP blocked, TCP allowed).
   */
  readonly streamLoss?: number;
}

export interface MockNetworkOptions {
  readonly clock: Clock;
  /** Seed of the loss and jitter draws. */
  readonly seed?: number;
  /** Every link's behaviour unless setLink() overrides it. Default: 1 ms + up to 1 ms jitter, no loss. */
  readonly link?: Partial<LinkConfig>;
  /**
   * Encode every payload to JSON bytes on send and deliver the bytes (exact byte counts, and proof
   * that the receiver copes with the wire form). Default: hand objects over as they are and count
   * their size with membership's messageBytes (or JSON length for other objects).
   */
  readonly serialize?: boolean;
  /** ms a lost request or reply segment waits before it is resent (default 200, Linux TCP's minimum RTO). */
  readonly streamRetransmitMs?: number;
}

/** Traffic counters of one address (or of the whole network). */
export interface TrafficStats {
  datagramsSent: number;
  datagramBytesSent: number;
  datagramsDelivered: number;
  datagramsDropped: number;
  requestsSent: number;
  requestBytesSent: number;
  requestsFailed: number;
}

const emptyStats = (): TrafficStats => ({ datagramsSent: 0, datagramBytesSent: 0, datagramsDelivered: 0, datagramsDropped: 0, requestsSent: 0, requestBytesSent: 0, requestsFailed: 0 });

interface Endpoint {
  readonly address: string;
  alive: boolean;
  messageHandlers: MessageHandler[];
  requestHandler: RequestHandler | undefined;
  readonly stats: TrafficStats;
}

export class MockNetwork {
  readonly totals: TrafficStats = emptyStats();
  private readonly clock: Clock;
  private readonly rng: Random;
  private readonly serialize: boolean;
  private readonly streamRetransmitMs: number;
  private defaultLink: LinkConfig;
  private readonly links = new Map<string, LinkConfig>();
  private readonly endpoints = new Map<string, Endpoint>();
  private partitions: Array<readonly [ReadonlySet<string>, ReadonlySet<string>]> = [];

  constructor(opts: MockNetworkOptions) {
    this.clock = opts.clock;
    this.rng = seededRandom(opts.seed ?? 1);
    this.serialize = opts.serialize ?? false;
    this.streamRetransmitMs = opts.streamRetransmitMs ?? 200;
    this.defaultLink = { delayMs: 1, jitterMs: 1, loss: 0, ...opts.link };
  }

  /** The transport of a node at `address` (created on first use; one per address). */
  transport(address: string): Transport {
    let ep = this.endpoints.get(address);
    if (!ep) {
      ep = { address, alive: true, messageHandlers: [], requestHandler: undefined, stats: emptyStats() };
      this.endpoints.set(address, ep);
    }
    return new MockTransport(this, ep);
  }

  /** Changes the behaviour of every link without an override. */
  setDefaultLink(link: Partial<LinkConfig>): void {
    this.defaultLink = { ...this.defaultLink, ...link };
  }

  /** Overrides the link from → to (and to → from unless `oneWay`). */
  setLink(from: string, to: string, link: Partial<LinkConfig>, oneWay = false): void {
    this.links.set(`${from}\n${to}`, { ...this.linkFor(from, to), ...link });
    if (!oneWay) this.links.set(`${to}\n${from}`, { ...this.linkFor(to, from), ...link });
  }

  /** Cuts every link between a member of `a` and a member of `b`, both ways. Partitions add up. */
  partition(a: Iterable<string>, b: Iterable<string>): void {
    this.partitions.push([new Set(a), new Set(b)]);
  }

  /** Removes every partition (link overrides and killed nodes stay). */
  heal(): void {
    this.partitions = [];
  }

  /** Stops delivering anything to or from `address`, as if the machine lost power. */
  kill(address: string): void {
    const ep = this.endpoints.get(address);
    if (ep) ep.alive = false;
  }

  revive(address: string): void {
    const ep = this.endpoints.get(address);
    if (ep) ep.alive = true;
  }

  /** Whether a message from → to would get through right now (ignoring loss). */
  connected(from: string, to: string): boolean {
    const a = this.endpoints.get(from);
    const b = this.endpoints.get(to);
    if (!a?.alive || !b?.alive) return false;
    for (const [x, y] of this.partitions) {
      if ((x.has(from) && y.has(to)) || (y.has(from) && x.has(to))) return false;
    }
    return true;
  }

  /** Counters of one address. */
  statsOf(address: string): TrafficStats {
    return { ...(this.endpoints.get(address)?.stats ?? emptyStats()) };
  }

  /** @internal used by MockTransport */
  deliverDatagram(from: Endpoint, to: string, payload: Payload): void {
    const wire = this.encode(payload);
    const bytes = this.sizeOf(wire);
    from.stats.datagramsSent++;
    from.stats.datagramBytesSent += bytes;
    this.totals.datagramsSent++;
    this.totals.datagramBytesSent += bytes;
    const link = this.linkFor(from.address, to);
    if (!this.connected(from.address, to) || (link.loss > 0 && this.rng.next() < link.loss)) {
      this.dropped(from);
      return;
    }
    this.clock.setTimeout(() => {
      const target = this.endpoints.get(to);
      if (!target || !this.connected(from.address, to)) return this.dropped(from);
      from.stats.datagramsDelivered++;
      this.totals.datagramsDelivered++;
      for (const handler of target.messageHandlers) handler(from.address, wire);
    }, this.delay(link));
  }

  /** @internal used by MockTransport */
  deliverRequest(from: Endpoint, to: string, payload: Payload, timeoutMs: number): Promise<Payload> {
    const wire = this.encode(payload);
    const bytes = this.sizeOf(wire);
    from.stats.requestsSent++;
    from.stats.requestBytesSent += bytes;
    this.totals.requestsSent++;
    this.totals.requestBytesSent += bytes;
    return new Promise<Payload>((resolve, reject) => {
      let settled = false;
      const fail = (reason: TransportError['reason'], why: string): void => {
        if (settled) return;
        settled = true;
        timer.cancel();
        from.stats.requestsFailed++;
        this.totals.requestsFailed++;
        reject(new TransportError(reason, `request ${from.address} -> ${to}: ${why}`));
      };
      const timer = this.clock.setTimeout(() => fail('timeout', `no answer within ${timeoutMs} ms`), timeoutMs);
      // A cut link or a dead peer looks like silence until the timeout, as with a real stream.
      if (!this.connected(from.address, to)) return;
      this.clock.setTimeout(() => {
        const target = this.endpoints.get(to);
        if (!target || !this.connected(from.address, to)) return;
        if (!target.requestHandler) return fail('no-responder', 'nothing answers requests there');
        let answer: Payload | Promise<Payload>;
        try {
          answer = target.requestHandler(from.address, wire);
        } catch (err) {
          return fail('remote-error', String(err));
        }
        const reply = (value: Payload): void => {
          const replyWire = this.encode(value);
          const replyBytes = this.sizeOf(replyWire);
          target.stats.requestBytesSent += replyBytes;
          this.totals.requestBytesSent += replyBytes;
          this.clock.setTimeout(() => {
            if (settled || !this.connected(to, from.address)) return;
            settled = true;
            timer.cancel();
            resolve(replyWire);
          }, this.streamDelay(this.linkFor(to, from.address)));
        };
        if (answer instanceof Promise) answer.then(reply, (err: unknown) => fail('remote-error', String(err)));
        else reply(answer);
      }, this.streamDelay(this.linkFor(from.address, to)));
    });
  }

  private dropped(from: Endpoint): void {
    from.stats.datagramsDropped++;
    this.totals.datagramsDropped++;
  }

  private linkFor(from: string, to: string): LinkConfig {
    if (this.links.size === 0) return this.defaultLink;
    return this.links.get(`${from}\n${to}`) ?? this.defaultLink;
  }

  private delay(link: LinkConfig): number {
    return link.jitterMs > 0 ? link.delayMs + this.rng.next() * link.jitterMs : link.delayMs;
  }

  /** One leg over the reliable stream: the link delay plus a retransmission timeout per loss drawn. */
  private streamDelay(link: LinkConfig): number {
    let delay = this.delay(link);
    const loss = Math.min(link.streamLoss ?? link.loss, 0.99);
    while (loss > 0 && this.rng.next() < loss) delay += this.streamRetransmitMs;
    return delay;
  }

  private encode(payload: Payload): Payload {
    if (!this.serialize || payload instanceof Uint8Array) return payload;
    return Buffer.from(JSON.stringify(payload), 'utf8');
  }

  private sizeOf(payload: Payload): number {
    if (payload instanceof Uint8Array) return payload.byteLength;
    const t = (payload as { t?: unknown }).t;
    if (typeof t === 'number' && t >= 1 && t <= 7) return messageBytes(payload as WireMessage);
    return Buffer.byteLength(JSON.stringify(payload) ?? '');
  }
}

class MockTransport implements Transport {
  readonly localAddress: string;

  constructor(
    private readonly net: MockNetwork,
    private readonly ep: Endpoint,
  ) {
    this.localAddress = ep.address;
  }

  send(to: string, payload: Payload): void {
    this.net.deliverDatagram(this.ep, to, payload);
  }

  onMessage(handler: MessageHandler): () => void {
    this.ep.messageHandlers = [...this.ep.messageHandlers, handler];
    return () => {
      this.ep.messageHandlers = this.ep.messageHandlers.filter((h) => h !== handler);
    };
  }

  request(to: string, payload: Payload, timeoutMs: number): Promise<Payload> {
    return this.net.deliverRequest(this.ep, to, payload, timeoutMs);
  }

  onRequest(handler: RequestHandler): () => void {
    this.ep.requestHandler = handler;
    return () => {
      if (this.ep.requestHandler === handler) this.ep.requestHandler = undefined;
    };
  }
}

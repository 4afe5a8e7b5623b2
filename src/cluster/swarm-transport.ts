// The membership Transport over the cluster swarm: datagrams ride the swarm's 'membership' channel,
// push-pulls and stream pings its 'membership.exchange' request. Addresses are node ids, so every
// peer is already authenticated with the cluster token before membership hears from it.
//
// The swarm only carries traffic between connected peers. Membership learns of nodes through gossip
// before this node has a connection to them, so a datagram to an unconnected peer is dropped (it is
// UDP-like; the failure detector copes with loss) and the swarm is asked to dial it. Dials are
// rate-limited per node id: membership sends to a silent member several times a second, and each
// dial is a DHT lookup.
import { systemClock, type Clock } from '../shared/clock';
import type { ClusterSwarm } from './swarm';
import { SwarmRequestError } from './swarm/types';
import { encodeMessage, type WireMessage } from './membership/wire';
import { TransportError, type MessageHandler, type Payload, type RequestHandler, type Transport } from './transport';

/** The request method membership exchanges (push-pull, stream ping) travel under. */
export const MEMBERSHIP_EXCHANGE = 'membership.exchange';

/** Default least time between two dials of one node id, in ms. */
export const DEFAULT_DIAL_INTERVAL_MS = 5000;

/** Above this many remembered dial times, those older than the dial interval are pruned. */
const DIAL_MEMORY = 1024;

/** What SwarmTransport uses of a ClusterSwarm (a test can hand it a fake). */
export type MembershipSwarm = Pick<ClusterSwarm, 'nodeId' | 'send' | 'onMessage' | 'request' | 'handle' | 'connect' | 'isConnected' | 'banned'>;

export interface SwarmTransportOptions {
  readonly swarm: MembershipSwarm;
  /** Times the dial rate limit. Default: systemClock. */
  readonly clock?: Clock;
  /** Least time between two dials of one node id, in ms. Default DEFAULT_DIAL_INTERVAL_MS. */
  readonly dialIntervalMs?: number;
}

export class SwarmTransport implements Transport {
  readonly localAddress: string;
  private readonly swarm: MembershipSwarm;
  private readonly clock: Clock;
  private readonly dialIntervalMs: number;
  /** Node id → when this transport last asked the swarm to dial it (ms). */
  private readonly lastDial = new Map<string, number>();

  constructor(opts: SwarmTransportOptions) {
    this.swarm = opts.swarm;
    this.localAddress = opts.swarm.nodeId;
    this.clock = opts.clock ?? systemClock;
    this.dialIntervalMs = opts.dialIntervalMs ?? DEFAULT_DIAL_INTERVAL_MS;
  }

  send(to: string, payload: Payload): void {
    if (!this.swarm.send(to, 'membership', toBytes(payload))) this.dial(to);
  }

  onMessage(handler: MessageHandler): () => void {
    return this.swarm.onMessage('membership', (from, buf) => handler(from, buf));
  }

  /**
   * A request to an unconnected peer fails at once as 'unreachable' and also dials it, so the
   * periodic push-pull with a dead member (membership's reconnect) can heal a partition.
   */
  async request(to: string, payload: Payload, timeoutMs: number): Promise<Payload> {
    try {
      return await this.swarm.request(to, MEMBERSHIP_EXCHANGE, toBytes(payload), timeoutMs);
    } catch (err) {
      if (!(err instanceof SwarmRequestError)) throw new TransportError('remote-error', err instanceof Error ? err.message : String(err));
      if (err.reason === 'unreachable') this.dial(to);
      throw new TransportError(err.reason, err.message);
    }
  }

  onRequest(handler: RequestHandler): () => void {
    return this.swarm.handle(MEMBERSHIP_EXCHANGE, async (from, buf) => toBytes(await handler(from, buf)));
  }

  /** Asks the swarm to dial `nodeId`, unless it is this node, connected, banned, or was dialed within the interval. */
  private dial(nodeId: string): void {
    if (nodeId === this.localAddress || this.swarm.isConnected(nodeId)) return;
    const now = this.clock.now();
    const last = this.lastDial.get(nodeId);
    if (last !== undefined && now - last < this.dialIntervalMs) return;
    if (this.lastDial.size >= DIAL_MEMORY) {
      for (const [id, at] of this.lastDial) if (now - at >= this.dialIntervalMs) this.lastDial.delete(id);
    }
    // Recorded before the ban check, so a banned id costs one look at the ban list per interval.
    this.lastDial.set(nodeId, now);
    if (this.swarm.banned().some((b) => b.nodeId === nodeId)) return;
    this.swarm.connect(nodeId);
  }
}

/** The bytes of a payload: as they are when already encoded, else the membership wire encoding. */
function toBytes(payload: Payload): Uint8Array {
  return payload instanceof Uint8Array ? payload : encodeMessage(payload as WireMessage);
}

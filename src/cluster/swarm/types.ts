// Public types of the cluster swarm: its options, events and errors.
import type { Clock } from '../../shared/clock';
import type { Logger } from '../../shared/logger';
import type { NodeIdentity } from '../identity';
import type { ClusterToken } from '../token';

export type { DatagramChannel } from './wire';

/** A UDP address of a DHT node, e.g. a --join entry. */
export interface ClusterAddress {
  readonly host: string;
  readonly port: number;
}

/** The cluster port: masters' persistent DHT nodes listen on it (UDP). */
export const DEFAULT_CLUSTER_PORT = 49737;

export interface ClusterSwarmOptions {
  readonly identity: NodeIdentity;
  readonly token: ClusterToken;
  /**
   * 'master' runs a persistent DHT node on `host:port` that stores and routes records for the
   * cluster; 'agent' runs an ephemeral one. A cluster needs at least one master (two to survive
   * the loss of one).
   */
  readonly role: 'master' | 'agent';
  /** The masters' cluster addresses (--join). A master may list itself; it is skipped. */
  readonly join: readonly ClusterAddress[];
  /**
   * The IPv4 address other nodes reach this one at. Master: required. Agent: optional; with it, the
   * agent's DHT node is not firewalled and peers connect to it directly (see dht.ts); without it,
   * other agents reach it only by holepunching through the masters.
   */
  readonly host?: string;
  /** Address the UDP sockets bind to. Default: `host`, else (an agent without one) 0.0.0.0. */
  readonly bindHost?: string;
  /** UDP port of the DHT node. Master: default 49737. Agent: default a random port in 49152..65529. */
  readonly port?: number;
  readonly clock?: Clock;
  readonly logger?: Logger;
  readonly tuning?: Partial<SwarmTuning>;
}

/** Timings in ms, and hyperswarm's peer cap. Defaults: DEFAULT_SWARM_TUNING. */
export interface SwarmTuning {
  /** Keep-alive message after this long without writes on a connection. */
  readonly keepAliveMs: number;
  /** A connection with nothing received for this long is dropped (a killed peer is noticed in at most this). */
  readonly streamTimeoutMs: number;
  /** Deadline for the peer's token proof after the Noise handshake. */
  readonly authTimeoutMs: number;
  /** How long a peer whose proof timed out (or whose version is unsupported) stays refused. A wrong proof is refused until restart. */
  readonly softBanMs: number;
  /**
   * First pause before announcing and looking up the topic again, after start and whenever the
   * node has no peer; it doubles up to 5 s (refresh-schedule.ts). Also the housekeeping tick.
   */
  readonly isolatedRefreshMs: number;
  /** Pause between refreshes once connected and warmed up (new nodes find us; this repairs missed announces). */
  readonly refreshMs: number;
  /** Keep redialing a lost peer for this long before leaving it to discovery. */
  readonly redialForMs: number;
  /** Default deadline of request(). */
  readonly requestTimeoutMs: number;
  /**
   * hyperswarm's maxPeers (a count, not ms). A full mesh needs a connection to every other node,
   * and hyperswarm stops dialing at maxPeers / 4 while it redials four or more peers by key, so
   * keep it at least 4 × the cluster size (its default of 64 would cap a cluster near 16 nodes).
   */
  readonly maxPeers: number;
}

export const DEFAULT_SWARM_TUNING: SwarmTuning = Object.freeze({
  keepAliveMs: 1000,
  streamTimeoutMs: 3000,
  authTimeoutMs: 2000,
  softBanMs: 30_000,
  isolatedRefreshMs: 500,
  refreshMs: 30_000,
  redialForMs: 60_000,
  requestTimeoutMs: 5000,
  maxPeers: 4096,
});

/** Why a connection was refused before it was surfaced. */
export type AuthFailure =
  /** The peer's proof is wrong: it does not hold the cluster token. Banned until restart. */
  | 'bad-proof'
  /** The peer broke the framing before authenticating. Banned until restart. */
  | 'protocol'
  /** No proof within authTimeoutMs. Refused for softBanMs. */
  | 'timeout'
  /** Right token, but no protocol version in common. Refused for softBanMs. */
  | 'version'
  /** The connection closed before the proof arrived (e.g. a duplicate hyperswarm dropped). No ban. */
  | 'closed';

/** The same vocabulary as transport.ts's TransportFailure, so an adapter maps it one to one. */
export type RequestFailure = 'timeout' | 'unreachable' | 'no-responder' | 'remote-error' | 'closed';

/** A failed request(). `code` is the responder's CorralError code, when it threw one. */
export class SwarmRequestError extends Error {
  constructor(
    readonly reason: RequestFailure,
    message: string,
    readonly code?: string,
  ) {
    super(message);
    this.name = 'SwarmRequestError';
  }
}

/** Answers one request; the returned bytes are the response, a throw becomes a 'remote-error'. */
export type SwarmRequestHandler = (from: string, payload: Buffer) => Uint8Array | Promise<Uint8Array>;
/** Receives a datagram or a one-way message. */
export type SwarmMessageHandler = (from: string, payload: Buffer) => void;

/** An authenticated peer as the rest of the program sees it. */
export interface PeerConnection {
  readonly nodeId: string;
  /** True when this node dialed. */
  readonly initiator: boolean;
  /** ms timestamp (the swarm's clock) when it authenticated. */
  readonly since: number;
}

export interface ClusterSwarmEvents {
  /** A peer authenticated. A peer already up fires again when its connection was replaced. */
  peer: [conn: PeerConnection];
  /** The last connection to a peer closed (killed, timed out, left). */
  'peer-down': [nodeId: string];
  /** A connection failed authentication and was dropped, the peer banned as AuthFailure says (never fired for 'closed'). */
  rejected: [nodeId: string, reason: AuthFailure, detail: string];
  /** The firewall refused a banned peer before any handshake. */
  refused: [nodeId: string];
}

/** A snapshot for status pages and tests. */
export interface ClusterSwarmStatus {
  readonly nodeId: string;
  readonly role: 'master' | 'agent';
  readonly peers: number;
  readonly dialing: number;
  readonly banned: number;
  /** True once a master's DHT node stores and routes records for others. */
  readonly persistent: boolean;
  /** The DHT nodes this node knows: only the cluster's own, never a public bootstrap node. */
  readonly dhtNodes: readonly ClusterAddress[];
}

// Domain types of cluster membership as the rest of Corral sees them. Wire shapes (compact field
// names, numeric codes) live in wire.ts with the protocol version.

/**
 * What one node believes about another.
 * - `alive`: answered probes or announced itself at its current incarnation.
 * - `suspect`: a probe failed; it has a suspicion timeout to refute (by announcing a higher incarnation).
 * - `dead`: the suspicion timed out. A dead member that comes back refutes with a higher incarnation.
 * - `left`: it announced a graceful leave. No failure report can override it; only the member itself,
 *   restarting with a higher incarnation, brings it back.
 */
export type MemberStatus = 'alive' | 'suspect' | 'dead' | 'left';

/**
 * Small opaque JSON object every member publishes about itself: roles, API URL, version, which
 * master it believes leads, a resources summary. Membership only carries it; changing it bumps the
 * member's incarnation so it spreads like any other update. Limit: `maxMetaBytes` of JSON.
 */
export type MemberMeta = Readonly<Record<string, unknown>>;

export interface Member {
  /** Node id (in production the hex ed25519 public key). */
  readonly id: string;
  /** Where the transport reaches it; the node id itself in production. */
  readonly address: string;
  /** Only the member raises its own incarnation: to refute a suspicion or publish new metadata. */
  readonly incarnation: number;
  readonly status: MemberStatus;
  readonly meta: MemberMeta;
}

/**
 * Changes this node observes about other members (never about itself):
 * - `join`: first seen alive, or alive again after dead/left (a restart or a healed partition);
 * - `update`: still alive, with new metadata or address;
 * - `suspect`: alive → suspect;
 * - `alive`: suspect → alive (the member refuted the suspicion);
 * - `dead`: alive or suspect → dead;
 * - `leave`: → left.
 */
export type MembershipEventType = 'join' | 'update' | 'suspect' | 'alive' | 'dead' | 'leave';

export interface MembershipEvent {
  readonly type: MembershipEventType;
  readonly member: Member;
  /** Status before the change; undefined for a member seen for the first time. */
  readonly previous: MemberStatus | undefined;
  /** Clock reading (ms) when this node observed the change. */
  readonly at: number;
}

export type MembershipListener = (event: MembershipEvent) => void;

/** Counters since start(), for metrics and simulations. */
export interface MembershipStats {
  /** Probe rounds started (one ping to one member each). */
  probes: number;
  /** Probe rounds that ended without any ack (direct or indirect); each raised a suspicion. */
  probeFailures: number;
  /** Ping-req messages sent because a direct ack was late. */
  indirectProbes: number;
  /** Pings sent over the reliable stream because a direct ack was late (streamProbeFallback). */
  streamProbes: number;
  /** Members this node moved to suspect (its own probes or others' reports). */
  suspicions: number;
  /** Members this node declared dead when their suspicion timed out. */
  deathsDeclared: number;
  /** Times this node raised its incarnation to refute a suspect, dead or stale report about itself. */
  refutations: number;
  /** Push-pull exchanges this node started that completed / failed. */
  pushPulls: number;
  pushPullFailures: number;
  /** Datagrams sent / received by this node (pings, acks, gossip …). */
  messagesSent: number;
  messagesReceived: number;
  /** Received payloads that failed validation or had an unknown type; they are ignored. */
  invalidMessages: number;
  /** Current local health score (0 = healthy); probe timeouts are multiplied by score + 1. */
  awareness: number;
}

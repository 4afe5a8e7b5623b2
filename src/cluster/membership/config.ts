// Membership tuning. Two presets: `defaultMembershipConfig()` mirrors memberlist's LAN defaults
// (the values Consul and Serf run with), `localClusterConfig()` trades bandwidth for a faster failure
// verdict on small clusters. `membershipConfig()` validates overrides and freezes the result.
// n below is the number of members this node believes alive or suspect, itself included.
import { errors } from '../../shared/errors';

export interface MembershipConfig {
  /** ms between probe rounds; each round pings one member. Multiplied by the awareness multiplier. */
  readonly probeInterval: number;
  /** ms to wait for a direct ack before asking `indirectChecks` members to ping (also awareness-scaled). */
  readonly probeTimeout: number;
  /** Members asked to probe on our behalf (ping-req) when a direct ack is late. */
  readonly indirectChecks: number;
  /** Suspicion floor = suspicionMult × max(1, log10(max(1, n))) × probeInterval ms. */
  readonly suspicionMult: number;
  /** Suspicion ceiling = suspicionMaxTimeoutMult × floor; a suspicion starts at the ceiling and shrinks with log(confirmations). */
  readonly suspicionMaxTimeoutMult: number;
  /** Awareness score runs 0 … this − 1; probe interval and timeout are multiplied by score + 1. */
  readonly awarenessMaxMultiplier: number;
  /** ms between gossip rounds (only while the broadcast queue holds something). */
  readonly gossipInterval: number;
  /** Random members each gossip round sends queued updates to. */
  readonly gossipNodes: number;
  /** ms after a member is declared dead that gossip still goes to it, so a wrongly declared one learns it and refutes. */
  readonly gossipToTheDeadTime: number;
  /** Each update is sent retransmitMult × ceil(log10(n + 1)) times by every node that queues it. */
  readonly retransmitMult: number;
  /**
   * ms between full-state push-pulls with one random member; above 32 members the interval is
   * multiplied by ceil(log2(n) − log2(32)) + 1, so each node's share of full-state traffic (about
   * 2 × n × 220 bytes per period) grows more slowly than the cluster.
   */
  readonly pushPullInterval: number;
  /** ms a push-pull (request and reply over the reliable stream) may take. */
  readonly pushPullTimeout: number;
  /**
   * ms between attempts to push-pull with one random dead member, taken with probability
   * dead / live; this is what re-merges the two sides of a healed partition.
   */
  readonly reconnectInterval: number;
  /** ms a dead or left member is remembered (a tombstone: stale alive messages cannot resurrect it). */
  readonly tombstoneRetention: number;
  /** Largest datagram in bytes, piggybacked updates included (memberlist: UDP buffer 1,400). */
  readonly maxPacketBytes: number;
  /** Largest metadata JSON in bytes a node may publish. */
  readonly maxMetaBytes: number;
  /** ms leave() waits for the leave announcement to be retransmitted before it returns anyway. */
  readonly leaveTimeout: number;
  /**
   * When a direct ack is late, also ping the member over the transport's reliable request stream
   * (memberlist's TCP ping fallback). Datagram loss then delays a verdict instead of causing one.
   */
  readonly streamProbeFallback: boolean;
}

/** memberlist's DefaultLANConfig values (plus Serf's reconnect and tombstone handling). */
export function defaultMembershipConfig(): MembershipConfig {
  return Object.freeze({
    probeInterval: 1000, // ms
    probeTimeout: 500, // ms; an RTT on a LAN is < 1 ms, the rest absorbs pauses
    indirectChecks: 3, // members
    suspicionMult: 4, // × max(1, log10 n) × probeInterval: n = 10 → 4 s, 1,000 → 12 s, 10,000 → 16 s
    suspicionMaxTimeoutMult: 6, // × floor: 24 s … 96 s with no confirmation
    awarenessMaxMultiplier: 8, // an unhealthy node probes at most every 8 s
    gossipInterval: 200, // ms
    gossipNodes: 3, // members per round
    gossipToTheDeadTime: 30_000, // ms
    retransmitMult: 4, // n = 10 → 8 sends, 1,000 → 16, 10,000 → 20
    pushPullInterval: 30_000, // ms; 1,000 members → 180 s, 10,000 → 300 s after scaling
    pushPullTimeout: 10_000, // ms (memberlist TCPTimeout)
    reconnectInterval: 30_000, // ms (Serf ReconnectInterval)
    tombstoneRetention: 24 * 3600_000, // ms (Serf TombstoneTimeout / ReconnectTimeout)
    maxPacketBytes: 1400, // bytes
    maxMetaBytes: 512, // bytes (memberlist MetaMaxSize)
    leaveTimeout: 5000, // ms
    streamProbeFallback: true, // memberlist: DisableTcpPings = false
  });
}

/**
 * For clusters up to a few dozen nodes on one LAN, where issue 4 asks that an agent that stops
 * answering is marked dead within 5 s. The verdict takes three stages:
 *
 *   1. until some member probes it: with round-robin over a shuffled list and n − 1 probers, one
 *      probe hits it about every 400 / (n − 1) ms; the worst case for a lone prober (n = 2) is 400 ms;
 *   2. the failed probe ends at its deadline: probeInterval = 400 ms (ack timeout 200 ms, then the
 *      indirect pings have the other 200 ms);
 *   3. the suspicion: floor = 3 × max(1, log10 n) × 400 ms = 1.2 s up to n = 10 (1.44 s at 16,
 *      2.0 s at 50); it starts at 2 × floor and drops to the floor at the first independent
 *      confirmation (k = suspicionMult − 2 = 1), which arrives within a probe interval or two once
 *      everyone is probing a silent node.
 *
 * Worst case without confirmation at n = 16: ~0.4 + 0.4 + 2.9 s ≈ 3.7 s, plus ~0.3 s of gossip for
 * everyone to hear it; test/cluster/membership/soak.test.ts checks the 5 s bound from 2 to 32 nodes.
 * The price: ~2.5 probes/s per node instead of 1, gossip every 100 ms, and less slack: a node that
 * pauses for more than ~1 s (GC, swapping) can be suspected (it refutes when it wakes up, and
 * awareness then slows its own probing, up to 4×), and the stream fallback has only 200 ms, one
 * TCP retransmission, to get through. Simulated with 20 nodes: no false death at 5% datagram loss;
 * at 10% about one per 5 minutes (defaults: none at 10%, see bench/RESULTS.md).
 */
export function localClusterConfig(): MembershipConfig {
  return membershipConfig({
    probeInterval: 400,
    probeTimeout: 200,
    suspicionMult: 3,
    suspicionMaxTimeoutMult: 2,
    awarenessMaxMultiplier: 4,
    gossipInterval: 100,
    retransmitMult: 3,
    gossipToTheDeadTime: 10_000,
    pushPullInterval: 15_000,
    reconnectInterval: 10_000,
    leaveTimeout: 2000,
  });
}

const INTEGER_FIELDS: ReadonlyArray<keyof MembershipConfig> = ['indirectChecks', 'suspicionMult', 'suspicionMaxTimeoutMult', 'awarenessMaxMultiplier', 'gossipNodes', 'retransmitMult', 'maxPacketBytes', 'maxMetaBytes'];

/** `base` with `overrides`, validated and frozen; throws CONFIG_INVALID naming the bad field. */
export function membershipConfig(overrides: Partial<MembershipConfig> = {}, base: MembershipConfig = defaultMembershipConfig()): MembershipConfig {
  const cfg: MembershipConfig = { ...base, ...overrides };
  for (const key of Object.keys(base) as Array<keyof MembershipConfig>) {
    const value = cfg[key];
    if (key === 'streamProbeFallback') {
      if (typeof value !== 'boolean') throw errors.config(`membership config ${key} must be true or false, got ${String(value)}`);
      continue;
    }
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
      throw errors.config(`membership config ${key} must be a positive number, got ${String(value)}`);
    }
    if (INTEGER_FIELDS.includes(key) && !Number.isInteger(value)) throw errors.config(`membership config ${key} must be an integer, got ${value}`);
  }
  for (const key of Object.keys(overrides)) {
    if (!(key in base)) throw errors.config(`membership config has no field ${key}`);
  }
  if (cfg.probeTimeout >= cfg.probeInterval) throw errors.config(`membership config probeTimeout (${cfg.probeTimeout} ms) must be shorter than probeInterval (${cfg.probeInterval} ms)`);
  if (cfg.maxPacketBytes < 256) throw errors.config(`membership config maxPacketBytes must be at least 256, got ${cfg.maxPacketBytes}`);
  return Object.freeze(cfg);
}

/** Push-pull period for n live members (memberlist's pushPullScale, threshold 32). */
export function scaledPushPullInterval(interval: number, n: number): number {
  if (n <= 32) return interval;
  return interval * (Math.ceil(Math.log2(n) - Math.log2(32)) + 1);
}

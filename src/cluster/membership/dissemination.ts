// How updates spread besides piggybacking: gossip rounds (queued updates to `gossipNodes` random
// members every `gossipInterval`), periodic push-pull (a full-state exchange with one random member:
// anti-entropy for anything gossip missed), and reconnects (push-pull with a random dead member,
// which is how the two sides of a healed partition find each other again).
import type { Clock, TimerHandle } from '../../shared/clock';
import type { Transport } from '../transport';
import type { BroadcastQueue } from './broadcast-queue';
import { scaledPushPullInterval, type MembershipConfig } from './config';
import { randomInt, type Random } from './rng';
import type { MembershipStats } from './types';
import { addressOf, type ClusterView } from './view';
import { MessageType, parseMessage, PROTOCOL_VERSION, StateCode, type GossipMessage, type PushPullMessage, type PushPullReplyMessage, type MemberRecord } from './wire';

export interface DisseminationDeps {
  readonly selfId: string;
  readonly config: MembershipConfig;
  readonly clock: Clock;
  readonly rng: Random;
  readonly transport: Transport;
  readonly view: ClusterView;
  readonly queue: BroadcastQueue;
  readonly stats: MembershipStats;
}

/** Bytes of `{"t":5,"v":1,"u":[]}`: a gossip datagram before its updates. */
const GOSSIP_HEADER_BYTES = 20;

export class Disseminator {
  private running = false;
  /** Gossip rounds fall on phase + k × gossipInterval, as if a ticker ran all the time. */
  private phase = 0;
  private gossipTimer: TimerHandle | undefined;
  private pushPullTimer: TimerHandle | undefined;
  private reconnectTimer: TimerHandle | undefined;

  constructor(private readonly deps: DisseminationDeps) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    const { clock, config, rng } = this.deps;
    this.phase = clock.now() + randomInt(rng, config.gossipInterval);
    // A random first push-pull within one (scaled) period, so nodes started together spread out.
    this.schedulePushPull(randomInt(rng, scaledPushPullInterval(config.pushPullInterval, this.deps.view.table.liveCount)));
    this.reconnectTimer = clock.setTimeout(() => {
      this.reconnectTimer = clock.setInterval(() => this.reconnect(), config.reconnectInterval);
      this.reconnect();
    }, randomInt(rng, config.reconnectInterval));
    this.wake();
  }

  stop(): void {
    this.running = false;
    for (const t of [this.gossipTimer, this.pushPullTimer, this.reconnectTimer]) t?.cancel();
    this.gossipTimer = this.pushPullTimer = this.reconnectTimer = undefined;
  }

  /**
   * Schedules the next gossip round if something is queued. Rounds with nothing to send are not
   * scheduled at all (memberlist's ticker skips them), which keeps an idle 10,000-node simulation
   * from firing 50,000 empty timers per simulated second; the grid keeps the timing identical.
   */
  wake(): void {
    if (!this.running || this.gossipTimer || this.deps.queue.size === 0) return;
    const { clock, config } = this.deps;
    const now = clock.now();
    let next = this.phase + (Math.floor((now - this.phase) / config.gossipInterval) + 1) * config.gossipInterval;
    if (next - now < 1e-6) next += config.gossipInterval; // floating-point rounding must not make a 0 ms loop
    this.gossipTimer = clock.setTimeout(() => this.gossipRound(), next - now);
  }

  /**
   * One full-state exchange with `address`. A join's reply is the cluster's own view, so it is
   * merged without re-gossiping it (N updates × the retransmit limit for nothing); any other
   * exchange re-gossips what it changed, which is what spreads a healed partition's news.
   * Resolves true when the exchange completed.
   */
  pushPull(address: string, join: boolean): Promise<boolean> {
    const { config, transport, view, stats } = this.deps;
    const request: PushPullMessage = { t: MessageType.PushPull, v: PROTOCOL_VERSION, join, m: view.table.snapshot() };
    return transport.request(address, request, config.pushPullTimeout).then(
      (payload) => {
        if (!this.running) return false;
        const reply = parseMessage(payload);
        if (reply?.t !== MessageType.PushPullReply) {
          stats.invalidMessages++;
          stats.pushPullFailures++;
          return false;
        }
        view.mergeState(reply.m, !join);
        stats.pushPulls++;
        return true;
      },
      () => {
        stats.pushPullFailures++;
        return false;
      },
    );
  }

  /** Answers a push-pull: merges the requester's state first, so the reply already carries any refutation it caused. */
  answerPushPull(request: PushPullMessage): PushPullReplyMessage {
    this.deps.view.mergeState(request.m, true);
    return { t: MessageType.PushPullReply, v: PROTOCOL_VERSION, m: this.deps.view.table.snapshot() };
  }

  private gossipRound(): void {
    this.gossipTimer = undefined;
    const { clock, config, view, queue, transport, stats } = this.deps;
    const now = clock.now();
    const targets = view.table.randomMembers(config.gossipNodes, (r) => isGossipTarget(r, now, config.gossipToTheDeadTime, view));
    for (const target of targets) {
      const updates = queue.take(config.maxPacketBytes - GOSSIP_HEADER_BYTES);
      if (updates.length === 0) break;
      const msg: GossipMessage = { t: MessageType.Gossip, v: PROTOCOL_VERSION, u: updates };
      stats.messagesSent++;
      transport.send(addressOf(target), msg);
    }
    this.wake(); // while anything is queued (even alone: a join may bring members any moment)
  }

  private schedulePushPull(delay: number): void {
    this.pushPullTimer = this.deps.clock.setTimeout(() => {
      const { config, view } = this.deps;
      this.schedulePushPull(scaledPushPullInterval(config.pushPullInterval, view.table.liveCount));
      const [peer] = view.table.randomMembers(1, (r) => r.st === StateCode.Alive);
      if (peer) void this.pushPull(addressOf(peer), false);
    }, delay);
  }

  /** Serf's reconnect: with probability dead / live, push-pull with one random dead member. */
  private reconnect(): void {
    const { view, rng } = this.deps;
    const dead = view.table.deadMembers();
    if (dead.length === 0 || rng.next() > dead.length / Math.max(1, view.table.liveCount)) return;
    void this.pushPull(addressOf(dead[randomInt(rng, dead.length)]!), false);
  }
}

/**
 * Live members, and members declared dead within gossipToTheDeadTime (so a wrongly declared one
 * hears it and refutes). Members that left are not gossiped to: they asked to go.
 */
function isGossipTarget(r: MemberRecord, now: number, gossipToTheDeadTime: number, view: ClusterView): boolean {
  if (r.st === StateCode.Alive || r.st === StateCode.Suspect) return true;
  return r.st === StateCode.Dead && now - (view.table.downSince(r.id) ?? -Infinity) <= gossipToTheDeadTime;
}

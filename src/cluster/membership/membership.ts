// The membership shell: one node's SWIM + Lifeguard membership over a Transport, driven by a Clock
// and a seeded Random. It wires the parts together (view.ts merges and suspects, probe.ts detects
// failures, dissemination.ts gossips and push-pulls), owns the lifecycle, routes received messages,
// and piggybacks queued updates on every datagram it sends.
import type { Clock } from '../../shared/clock';
import { CorralError, errors } from '../../shared/errors';
import type { Logger } from '../../shared/logger';
import type { Transport, Payload } from '../transport';
import { Awareness } from './awareness';
import { BroadcastQueue, retransmitLimit } from './broadcast-queue';
import { defaultMembershipConfig, type MembershipConfig } from './config';
import { Disseminator } from './dissemination';
import { MemberIndex, MemberTable } from './member-table';
import { FailureDetector } from './probe';
import { osSeed, seededRandom, type Random } from './rng';
import type { Member, MemberMeta, MembershipListener, MembershipStats } from './types';
import { ClusterView, toMember } from './view';
import { MAX_ID_LENGTH, MessageType, PROTOCOL_VERSION, messageBytes, parseMessage, PIGGYBACK_OVERHEAD, StateCode, updateBytes, type DatagramMessage, type MemberRecord, type MemberUpdate } from './wire';

export interface MembershipOptions {
  /** This node's id (its hex public key in production). */
  readonly id: string;
  readonly transport: Transport;
  readonly clock: Clock;
  /** Defaults to defaultMembershipConfig(). */
  readonly config?: MembershipConfig;
  /** This node's initial metadata (at most config.maxMetaBytes of JSON). */
  readonly meta?: MemberMeta;
  /** Source of every random choice; pass seededRandom(seed) for a replayable run. Default: seeded from the OS. */
  readonly random?: Random;
  /** Share one between instances in a single-process simulation to save memory; default: a private one. */
  readonly index?: MemberIndex;
  readonly logger?: Logger;
}

export class Membership {
  readonly id: string;
  readonly config: MembershipConfig;
  private readonly transport: Transport;
  private readonly clock: Clock;
  private readonly view: ClusterView;
  private readonly queue: BroadcastQueue;
  private readonly detector: FailureDetector;
  private readonly disseminator: Disseminator;
  private readonly statsCounters: MembershipStats;
  private readonly awareness: Awareness;
  private seq = 0;
  private state: 'new' | 'running' | 'stopped' = 'new';
  private unsubscribe: Array<() => void> = [];

  constructor(opts: MembershipOptions) {
    if (!opts.id || opts.id.length > MAX_ID_LENGTH || !/^[\x20\x21\x23-\x5b\x5d-\x7e]+$/.test(opts.id)) {
      throw errors.config(`membership id must be 1-${MAX_ID_LENGTH} printable ASCII characters without quotes or backslashes, got '${opts.id}'`);
    }
    this.id = opts.id;
    this.config = opts.config ?? defaultMembershipConfig();
    this.transport = opts.transport;
    this.clock = opts.clock;
    const rng = opts.random ?? seededRandom(osSeed());
    const config = this.config;
    this.statsCounters = { probes: 0, probeFailures: 0, indirectProbes: 0, streamProbes: 0, suspicions: 0, deathsDeclared: 0, refutations: 0, pushPulls: 0, pushPullFailures: 0, messagesSent: 0, messagesReceived: 0, invalidMessages: 0, awareness: 0 };
    this.awareness = new Awareness(config.awarenessMaxMultiplier);
    const table = new MemberTable(opts.index ?? new MemberIndex(), this.id, rng, config);
    this.queue = new BroadcastQueue(() => retransmitLimit(config.retransmitMult, table.liveCount), config.maxPacketBytes - 64);
    const selfAddr = opts.transport.localAddress === this.id ? undefined : opts.transport.localAddress;
    table.put({ id: this.id, inc: 0, st: StateCode.Alive, addr: selfAddr, meta: this.encodeMeta(opts.meta ?? {}) }, this.clock.now());
    const common = { selfId: this.id, config, clock: this.clock, rng, stats: this.statsCounters };
    this.view = new ClusterView({ ...common, table, queue: this.queue, awareness: this.awareness, logger: opts.logger, onQueued: () => this.disseminator.wake() });
    this.detector = new FailureDetector({
      ...common,
      transport: this.transport,
      view: this.view,
      awareness: this.awareness,
      sendDatagram: (to, msg, first) => this.sendDatagram(to, msg, first),
      nextSeq: () => ++this.seq,
    });
    this.disseminator = new Disseminator({ ...common, transport: this.transport, view: this.view, queue: this.queue });
  }

  /** Starts answering, probing and gossiping. Idempotent; a stopped instance cannot restart (create a new one). */
  start(): void {
    if (this.state === 'running') return;
    if (this.state === 'stopped') throw new CorralError('INTERNAL', `membership ${this.id} was stopped; create a new instance to rejoin`);
    this.state = 'running';
    this.unsubscribe = [
      this.transport.onMessage((from, payload) => this.receive(from, payload)),
      this.transport.onRequest((_from, payload) => this.answerRequest(payload)),
    ];
    this.view.announceSelf();
    this.detector.start();
    this.disseminator.start();
  }

  /** Stops every timer and handler, in reverse order of start. Idempotent. Call leave() first for a graceful exit. */
  stop(): void {
    if (this.state !== 'running') {
      this.state = 'stopped';
      return;
    }
    this.state = 'stopped';
    this.disseminator.stop();
    this.detector.stop();
    for (const off of this.unsubscribe) off();
    this.unsubscribe = [];
    this.view.stop();
    this.queue.clear();
  }

  /**
   * Push-pull with every seed address (starting the node if needed). Resolves with how many
   * answered; 0 means the node is alone, which the caller may retry or report.
   */
  async join(seeds: readonly string[]): Promise<number> {
    this.start();
    const targets = [...new Set(seeds)].filter((s) => s !== this.transport.localAddress);
    const results = await Promise.all(targets.map((s) => this.disseminator.pushPull(s, true)));
    return results.filter(Boolean).length;
  }

  /**
   * Announces a graceful leave and resolves once the announcement has been retransmitted to the
   * limit (or after config.leaveTimeout). The node stops probing but keeps answering until stop().
   */
  leave(): Promise<void> {
    if (this.state !== 'running' || this.view.leaving) return Promise.resolve();
    this.detector.stopProbing();
    return new Promise((resolve) => {
      const timer = this.clock.setTimeout(() => resolve(), this.config.leaveTimeout);
      this.view.announceLeave(() => {
        timer.cancel();
        resolve();
      });
      if (this.view.table.liveCount === 0) {
        timer.cancel();
        resolve(); // nobody to tell
      }
    });
  }

  /** Publishes new metadata under a new incarnation; it spreads like any other update. */
  setMeta(meta: MemberMeta): void {
    this.view.publishSelf(this.encodeMeta(meta));
  }

  get incarnation(): number {
    return this.view.self.inc;
  }

  /** Whether this node has announced its leave. */
  get leaving(): boolean {
    return this.view.leaving;
  }

  /** What this node believes about `id` (itself included). */
  member(id: string): Member | undefined {
    const record = this.view.table.get(id);
    return record && toMember(record);
  }

  /** Every member this node remembers, itself and tombstones (dead, left) included. */
  members(): Member[] {
    return this.view.table.snapshot().map(toMember);
  }

  /** Members alive or suspect, this node included: the n the timeouts scale with. */
  get liveCount(): number {
    return this.view.table.liveCount;
  }

  /** Registers a listener for changes to other members; returns a function that removes it. */
  onEvent(listener: MembershipListener): () => void {
    return this.view.onEvent(listener);
  }

  stats(): MembershipStats {
    return { ...this.statsCounters, awareness: this.awareness.score };
  }

  /**
   * Starts from `records` as if a push-pull with every member had just happened: no events, no
   * gossip. For simulations that need a converged 10,000-node cluster without replaying its
   * history (records may be shared between instances: they are never mutated).
   */
  seedState(records: readonly MemberRecord[]): void {
    this.view.seed(records);
  }

  private encodeMeta(meta: MemberMeta): string {
    const text = JSON.stringify(meta);
    if (typeof meta !== 'object' || meta === null || Array.isArray(meta) || text === undefined) {
      throw errors.validation([{ path: '/meta', errors: ['must be a JSON object'] }]);
    }
    if (Buffer.byteLength(text) > this.config.maxMetaBytes) {
      throw errors.validation([{ path: '/meta', errors: [`must be at most ${this.config.maxMetaBytes} bytes of JSON, is ${Buffer.byteLength(text)}`] }]);
    }
    return text;
  }

  /** The reliable stream carries push-pulls and fallback pings. */
  private answerRequest(payload: Payload): Payload {
    const msg = parseMessage(payload);
    if (msg?.t === MessageType.PushPull) return this.disseminator.answerPushPull(msg);
    if (msg?.t === MessageType.Ping && msg.to === this.id) return { t: MessageType.Ack, v: PROTOCOL_VERSION, seq: msg.seq };
    this.statsCounters.invalidMessages++;
    throw new Error('not a membership request');
  }

  private receive(from: string, payload: Payload): void {
    if (this.state !== 'running') return;
    const msg = parseMessage(payload);
    if (msg === undefined || msg.t === MessageType.PushPull || msg.t === MessageType.PushPullReply) {
      this.statsCounters.invalidMessages++;
      return;
    }
    this.statsCounters.messagesReceived++;
    if (msg.u !== undefined) for (const update of msg.u) this.view.apply(update, true);
    switch (msg.t) {
      case MessageType.Ping:
        return this.detector.handlePing(from, msg);
      case MessageType.PingReq:
        return this.detector.handlePingReq(from, msg);
      case MessageType.Ack:
        return this.detector.handleAck(msg);
      case MessageType.Nack:
        return this.detector.handleNack(msg);
      case MessageType.Gossip:
        return;
    }
  }

  /** Sends `msg` with `first` and then as many queued updates as fit in maxPacketBytes. */
  private sendDatagram(to: string, msg: DatagramMessage, first?: MemberUpdate): void {
    let budget = this.config.maxPacketBytes - messageBytes(msg) - PIGGYBACK_OVERHEAD;
    let updates: MemberUpdate[] | undefined;
    if (first !== undefined) {
      updates = [first];
      budget -= updateBytes(first) + 1;
    }
    if (this.queue.size > 0 && budget > 0) {
      const more = this.queue.take(budget);
      if (more.length > 0) updates = updates ? updates.concat(more) : more;
    }
    msg.u = updates;
    this.statsCounters.messagesSent++;
    this.transport.send(to, msg);
  }
}

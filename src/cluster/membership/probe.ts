// SWIM's failure detector with Lifeguard's local health awareness. Every probe interval (scaled by
// awareness) one member, next in a shuffled round-robin order, gets a ping. If no ack arrives within
// the probe timeout (also scaled), `indirectChecks` random alive members are asked to ping it for
// us (ping-req); they relay its ack, or answer with a nack when it stays silent to them too. With
// streamProbeFallback the same ping also goes over the transport's reliable stream (memberlist's
// TCP ping), so lost datagrams alone do not condemn a member. A round that ends without any ack
// makes the member suspect. Missing nacks count against our own health: if the helpers could not
// even tell us "no answer", our link is the likely problem.
import type { Clock, TimerHandle } from '../../shared/clock';
import type { Transport } from '../transport';
import type { Awareness } from './awareness';
import type { MembershipConfig } from './config';
import { randomInt, type Random } from './rng';
import type { MembershipStats } from './types';
import { addressOf, type ClusterView } from './view';
import { MessageType, parseMessage, PROTOCOL_VERSION, StateCode, type AckMessage, type DatagramMessage, type MemberRecord, type MemberUpdate, type NackMessage, type PingMessage, type PingReqMessage } from './wire';

export interface ProbeDeps {
  readonly selfId: string;
  readonly config: MembershipConfig;
  readonly clock: Clock;
  readonly rng: Random;
  readonly view: ClusterView;
  readonly awareness: Awareness;
  readonly stats: MembershipStats;
  readonly transport: Transport;
  /** Sends a datagram with queued updates piggybacked; `first` goes before them. */
  readonly sendDatagram: (to: string, msg: DatagramMessage, first?: MemberUpdate) => void;
  readonly nextSeq: () => number;
}

interface AckWaiter {
  onAck(): void;
  onNack(): void;
}

interface ProbeRound {
  readonly target: MemberRecord;
  readonly seq: number;
  /** Clock time the round ends (its scaled probe interval). */
  readonly deadline: number;
  acked: boolean;
  nacks: number;
  expectedNacks: number;
  indirectTimer: TimerHandle | undefined;
}

export class FailureDetector {
  private readonly waiters = new Map<number, AckWaiter>();
  private timer: TimerHandle | undefined;
  private round: ProbeRound | undefined;

  constructor(private readonly deps: ProbeDeps) {}

  /** Starts probing after a random stagger, so nodes started together do not probe in lockstep. */
  start(): void {
    if (this.timer) return;
    this.timer = this.deps.clock.setTimeout(() => this.tick(), randomInt(this.deps.rng, this.deps.config.probeInterval));
  }

  /** Stops probing. Relaying for others (ping-req) continues while the node runs. */
  stopProbing(): void {
    this.timer?.cancel();
    this.timer = undefined;
    if (this.round) {
      this.round.indirectTimer?.cancel();
      this.waiters.delete(this.round.seq);
      this.round = undefined;
    }
  }

  stop(): void {
    this.stopProbing();
    this.waiters.clear();
  }

  handlePing(from: string, msg: PingMessage): void {
    if (msg.to !== this.deps.selfId) return; // meant for whoever had this address before
    const ack: AckMessage = { t: MessageType.Ack, v: PROTOCOL_VERSION, seq: msg.seq, u: undefined };
    this.deps.sendDatagram(from, ack);
  }

  /** Pings `msg.to` for the requester and relays the outcome: its ack, or a nack after probeTimeout. */
  handlePingReq(from: string, msg: PingReqMessage): void {
    const { clock, config, nextSeq, sendDatagram } = this.deps;
    const seq = nextSeq();
    const finish = (answer: AckMessage | NackMessage): void => {
      if (!this.waiters.delete(seq)) return;
      timer.cancel();
      sendDatagram(from, answer);
    };
    const timer = clock.setTimeout(() => finish({ t: MessageType.Nack, v: PROTOCOL_VERSION, seq: msg.seq, u: undefined }), config.probeTimeout);
    this.waiters.set(seq, {
      onAck: () => finish({ t: MessageType.Ack, v: PROTOCOL_VERSION, seq: msg.seq, u: undefined }),
      onNack: () => {},
    });
    sendDatagram(msg.addr, { t: MessageType.Ping, v: PROTOCOL_VERSION, seq, to: msg.to, u: undefined });
  }

  handleAck(msg: AckMessage): void {
    this.waiters.get(msg.seq)?.onAck();
  }

  handleNack(msg: NackMessage): void {
    this.waiters.get(msg.seq)?.onNack();
  }

  private tick(): void {
    const { clock, config, awareness, view } = this.deps;
    this.concludeRound();
    const interval = awareness.scale(config.probeInterval);
    this.timer = clock.setTimeout(() => this.tick(), interval);
    const target = view.table.nextProbeTarget(clock.now());
    if (target) this.probe(target, clock.now() + interval);
  }

  private probe(target: MemberRecord, deadline: number): void {
    const { config, clock, awareness, stats, selfId, nextSeq, sendDatagram } = this.deps;
    const round: ProbeRound = { target, seq: nextSeq(), deadline, acked: false, nacks: 0, expectedNacks: 0, indirectTimer: undefined };
    this.round = round;
    stats.probes++;
    this.waiters.set(round.seq, {
      onAck: () => {
        round.acked = true;
        round.indirectTimer?.cancel();
        this.waiters.delete(round.seq);
      },
      onNack: () => {
        round.nacks++;
      },
    });
    // A suspect gets the suspicion with the ping, so it can refute even if gossip missed it.
    const suspicion: MemberUpdate | undefined = target.st === StateCode.Suspect ? { id: target.id, inc: target.inc, st: StateCode.Suspect, from: selfId } : undefined;
    sendDatagram(addressOf(target), { t: MessageType.Ping, v: PROTOCOL_VERSION, seq: round.seq, to: target.id, u: undefined }, suspicion);
    round.indirectTimer = clock.setTimeout(() => this.probeIndirectly(round), awareness.scale(config.probeTimeout));
  }

  private probeIndirectly(round: ProbeRound): void {
    round.indirectTimer = undefined;
    if (round.acked || this.round !== round) return;
    const { config, view, stats, sendDatagram, clock, transport } = this.deps;
    const { target } = round;
    const helpers = view.table.randomMembers(config.indirectChecks, (r) => r.st === StateCode.Alive && r.id !== target.id);
    round.expectedNacks = helpers.length;
    stats.indirectProbes += helpers.length;
    const addr = addressOf(target);
    for (const helper of helpers) {
      sendDatagram(addressOf(helper), { t: MessageType.PingReq, v: PROTOCOL_VERSION, seq: round.seq, to: target.id, addr, u: undefined });
    }
    const remaining = round.deadline - clock.now();
    if (!config.streamProbeFallback || remaining <= 0) return;
    stats.streamProbes++;
    const ping: PingMessage = { t: MessageType.Ping, v: PROTOCOL_VERSION, seq: round.seq, to: target.id };
    transport.request(addr, ping, remaining).then(
      (reply) => {
        const ack = parseMessage(reply);
        if (ack?.t === MessageType.Ack && ack.seq === round.seq) this.waiters.get(round.seq)?.onAck();
      },
      () => {}, // silence: the round's deadline decides
    );
  }

  /** Ends the running round at its deadline: adjusts our health and suspects a silent target. */
  private concludeRound(): void {
    const round = this.round;
    if (!round) return;
    this.round = undefined;
    this.waiters.delete(round.seq);
    round.indirectTimer?.cancel();
    const { awareness, stats, view, selfId } = this.deps;
    if (round.acked) {
      awareness.apply(-1);
      return;
    }
    stats.probeFailures++;
    awareness.apply(round.expectedNacks > 0 ? round.expectedNacks - round.nacks : 1);
    view.apply({ id: round.target.id, inc: round.target.inc, st: StateCode.Suspect, from: selfId });
  }
}

// One node's cluster membership: the SWIM core (membership/) running over this node's swarm
// (swarm-transport.ts), seeded by the swarm's authenticated connections, and the questions the
// rest of Corral asks of it: who is in the cluster, with which roles, and which master leads.
//
// Seeding: nobody configures member addresses. When the swarm authenticates a peer that membership
// does not know as alive, this node push-pulls with it (join); the two member lists merge, and
// gossip plus periodic push-pull carry every other member to everyone. A member declared dead or
// gone is no longer redialed by the swarm (its own discovery still finds it if it comes back).
//
// The swarm is not owned here: start it before start() and stop it after stop().
import { CorralError, errors } from '../shared/errors';
import { systemClock, type Clock } from '../shared/clock';
import { silentLogger, type Logger } from '../shared/logger';
import { localClusterConfig, type MembershipConfig } from './membership/config';
import { Membership } from './membership/membership';
import type { Member, MemberMeta, MemberStatus, MembershipListener } from './membership/types';
import type { ClusterSwarm, PeerConnection } from './swarm';
import { SwarmTransport } from './swarm-transport';

/**
 * What every node publishes about itself in membership (at most config.maxMetaBytes of JSON, 512
 * by default: keep strings short).
 */
export interface NodeMeta {
  /** What the node runs, e.g. ['master'], ['agent'], ['master', 'agent']. */
  readonly roles: readonly string[];
  /** Corral version the node runs, e.g. '0.1.0'. */
  readonly version: string;
  /** Base URL of the node's HTTP API (masters), e.g. 'http://10.0.0.5:5050'. */
  readonly api?: string;
  /** True on the master that currently leads; agents find the leader by it. */
  readonly leader?: boolean;
  readonly hostname?: string;
}

/** A member's metadata as NodeMeta, or undefined when it lacks the required fields (an older or foreign node). */
export function readNodeMeta(member: Member): NodeMeta | undefined {
  const m = member.meta;
  if (!Array.isArray(m.roles) || !m.roles.every((r) => typeof r === 'string') || typeof m.version !== 'string') return undefined;
  return m as unknown as NodeMeta;
}

export interface NodeMembershipOptions {
  /** This node's swarm, started (or about to be) by the caller. */
  readonly swarm: ClusterSwarm;
  /** This node's id; must be the swarm's node id, since peers reach members at their id. */
  readonly nodeId: string;
  readonly clock: Clock;
  readonly logger?: Logger;
  /** Default localClusterConfig(): a silent node is dead within about 4 s on clusters up to a few dozen nodes. */
  readonly config?: MembershipConfig;
  readonly meta: NodeMeta;
  /** Longest wait in stop() for the leave announcement to spread, in ms of real time. Default 1000. */
  readonly leaveTimeoutMs?: number;
}

/** Default of NodeMembershipOptions.leaveTimeoutMs, in ms. */
export const DEFAULT_LEAVE_TIMEOUT_MS = 1000;
/** Members a leaving node push-pulls with so its leave is known for sure (see leaveAndConfirm). */
const LEAVE_WITNESSES = 3;

export class NodeMembership {
  readonly nodeId: string;
  private readonly swarm: ClusterSwarm;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly config: MembershipConfig;
  private readonly leaveTimeoutMs: number;
  private readonly listeners = new Set<MembershipListener>();
  /** Peers a join (push-pull) is in flight with, so a flapping connection does not stack them. */
  private readonly joining = new Set<string>();
  private meta: NodeMeta;
  private membership: Membership | undefined;
  private unsubscribe: Array<() => void> = [];
  private state: 'new' | 'running' | 'stopping' | 'stopped' = 'new';
  private stopping: Promise<void> | undefined;

  constructor(opts: NodeMembershipOptions) {
    if (opts.nodeId !== opts.swarm.nodeId) throw errors.config(`membership node id ${opts.nodeId.slice(0, 12)}… differs from the swarm's ${opts.swarm.nodeId.slice(0, 12)}…`);
    this.nodeId = opts.nodeId;
    this.swarm = opts.swarm;
    this.clock = opts.clock;
    this.log = (opts.logger ?? silentLogger()).child({ component: 'node-membership' });
    this.config = opts.config ?? localClusterConfig();
    this.leaveTimeoutMs = opts.leaveTimeoutMs ?? DEFAULT_LEAVE_TIMEOUT_MS;
    this.meta = opts.meta;
  }

  /** Starts the membership and joins every peer the swarm has or will authenticate. Idempotent. */
  start(): void {
    if (this.state === 'running') return;
    if (this.state !== 'new') throw new CorralError('INTERNAL', `membership of ${this.nodeId.slice(0, 12)} was stopped; create a new one to rejoin`);
    const transport = new SwarmTransport({ swarm: this.swarm, clock: this.clock });
    const membership = new Membership({ id: this.nodeId, transport, clock: this.clock, config: this.config, meta: this.meta as unknown as MemberMeta, logger: this.log });
    this.membership = membership;
    this.state = 'running';
    const onPeer = (conn: PeerConnection): void => this.seed(conn.nodeId);
    this.swarm.on('peer', onPeer);
    this.unsubscribe = [() => this.swarm.off('peer', onPeer), membership.onEvent((event) => this.onMembershipEvent(event))];
    membership.start();
    for (const peer of this.swarm.peers()) this.seed(peer.nodeId);
    this.log.info({ event: 'cluster.membership.started', nodeId: this.nodeId, roles: this.meta.roles }, 'membership started');
  }

  /**
   * Announces a graceful leave and confirms it with up to three members (waiting at most
   * leaveTimeoutMs in all), then stops. The swarm may be stopped as soon as this resolves.
   * Pass { leave: false } to stop without a word, as a crash would. Idempotent.
   */
  stop(opts: { leave?: boolean } = {}): Promise<void> {
    this.stopping ??= this.doStop(opts.leave ?? true);
    return this.stopping;
  }

  /** Publishes new metadata (under a new incarnation, so it spreads like any update). */
  setMeta(meta: NodeMeta): void {
    this.meta = meta;
    if (this.state === 'running') this.membership?.setMeta(meta as unknown as MemberMeta);
  }

  /** Every member this node remembers, itself and tombstones (dead, left) included; [] before start(). */
  members(): Member[] {
    return this.membership?.members() ?? [];
  }

  /** What this node believes about `nodeId`'s status; undefined for a node it never heard of. */
  status(nodeId: string): MemberStatus | undefined {
    return this.membership?.member(nodeId)?.status;
  }

  /**
   * The alive member whose meta says `leader: true` (this node included). Should two claim it for
   * a moment (a failover still spreading), the one with the lowest node id wins, so every node
   * that sees the same claims picks the same leader.
   */
  leader(): Member | undefined {
    let best: Member | undefined;
    for (const m of this.members()) {
      if (m.status !== 'alive' || m.meta.leader !== true) continue;
      if (best === undefined || m.id < best.id) best = m;
    }
    return best;
  }

  /** Listens to changes of other members (join, update, suspect, alive, dead, leave); may be called before start(). */
  onEvent(listener: MembershipListener): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** Push-pulls with a connected peer unless membership already knows it as alive. */
  private seed(nodeId: string): void {
    const membership = this.membership;
    if (this.state !== 'running' || membership === undefined || nodeId === this.nodeId) return;
    if (this.joining.has(nodeId) || membership.member(nodeId)?.status === 'alive') return;
    this.joining.add(nodeId);
    membership.join([nodeId]).then(
      (answered) => {
        this.joining.delete(nodeId);
        // No answer: the peer's membership is not running yet; it joins us when it starts.
        this.log.debug({ event: 'cluster.membership.seeded', peer: nodeId, answered }, `join with ${nodeId.slice(0, 12)}: ${answered > 0 ? 'merged' : 'no answer'}`);
      },
      (err: unknown) => {
        this.joining.delete(nodeId);
        this.log.debug({ event: 'cluster.membership.seed-failed', peer: nodeId, err }, `join with ${nodeId.slice(0, 12)} failed`);
      },
    );
  }

  private onMembershipEvent(event: Parameters<MembershipListener>[0]): void {
    const { type, member } = event;
    if (type === 'dead' || type === 'leave') this.swarm.forget(member.id);
    if (type !== 'update') this.log.info({ event: `cluster.member.${type}`, nodeId: member.id, incarnation: member.incarnation }, `member ${member.id.slice(0, 12)} ${type}`);
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (err) {
        this.log.error({ event: 'cluster.membership.listener-failed', err }, 'a membership listener threw');
      }
    }
  }

  private async doStop(leave: boolean): Promise<void> {
    const membership = this.membership;
    if (this.state !== 'running' || membership === undefined) {
      this.state = 'stopped';
      return;
    }
    this.state = 'stopping';
    // Real time, like ClusterSwarm.stop(): stop() must end even when the clock is a fake nobody advances.
    if (leave) await boundedBy(leaveAndConfirm(membership, this.swarm, this.nodeId), this.leaveTimeoutMs);
    for (const off of this.unsubscribe.reverse()) off();
    this.unsubscribe = [];
    membership.stop();
    this.state = 'stopped';
    this.log.info({ event: 'cluster.membership.stopped', nodeId: this.nodeId, left: leave }, leave ? 'left the cluster' : 'membership stopped');
  }
}

/**
 * Announces the leave, then push-pulls with a few connected members. The gossiped announcement is
 * not enough on its own: ClusterSwarm.stop() destroys its streams, which drops datagrams still
 * queued on them, and leave() resolves as soon as the announcement is handed to the transport
 * (measured: with 4 nodes, in ~30 ms, and none of it arrived when the swarm stopped right after).
 * A push-pull carries this node's 'left' record over the same ordered streams and its answer
 * proves it arrived; the witnesses gossip it on.
 */
async function leaveAndConfirm(membership: Membership, swarm: ClusterSwarm, selfId: string): Promise<void> {
  await membership.leave();
  const connected = membership.members().filter((m) => m.id !== selfId && m.status === 'alive' && swarm.isConnected(m.id));
  const witnesses: string[] = [];
  while (witnesses.length < LEAVE_WITNESSES && connected.length > 0) {
    witnesses.push(connected.splice(Math.floor(Math.random() * connected.length), 1)[0]!.id);
  }
  await membership.join(witnesses);
}

/** Waits for `promise`, but at most `ms` of real time. */
function boundedBy(promise: Promise<unknown>, ms: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = systemClock.setTimeout(resolve, ms);
    const done = (): void => {
      timer.cancel();
      resolve();
    };
    promise.then(done, done);
  });
}

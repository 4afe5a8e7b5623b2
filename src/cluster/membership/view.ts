// This node's view of the cluster and everything that follows from changing it: merging reports
// (merge.ts decides), running suspicions, refuting reports about itself, queueing what changed for
// dissemination, and telling listeners. The failure detector and the dissemination loops feed it;
// it sends nothing itself.
import type { Clock } from '../../shared/clock';
import type { Logger } from '../../shared/logger';
import type { Awareness } from './awareness';
import type { BroadcastQueue } from './broadcast-queue';
import type { MembershipConfig } from './config';
import type { MemberTable } from './member-table';
import { mergeVerdict } from './merge';
import { Suspicion, suspicionBounds } from './suspicion';
import type { Member, MemberMeta, MemberStatus, MembershipEventType, MembershipListener, MembershipStats } from './types';
import { StateCode, type MemberRecord, type MemberUpdate } from './wire';

export const STATUS_NAMES: readonly MemberStatus[] = ['alive', 'suspect', 'dead', 'left'];

export function addressOf(record: MemberRecord): string {
  return record.addr ?? record.id;
}

/** The public view of a record; metadata a peer sent that does not parse as an object reads as {}. */
export function toMember(record: MemberRecord): Member {
  let meta: MemberMeta = {};
  try {
    const parsed: unknown = JSON.parse(record.meta);
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) meta = Object.freeze(parsed as MemberMeta);
  } catch {
    // keep {}
  }
  return { id: record.id, address: addressOf(record), incarnation: record.inc, status: STATUS_NAMES[record.st]!, meta };
}

export interface ViewDeps {
  readonly selfId: string;
  readonly config: MembershipConfig;
  readonly clock: Clock;
  readonly table: MemberTable;
  readonly queue: BroadcastQueue;
  readonly awareness: Awareness;
  readonly stats: MembershipStats;
  readonly logger: Logger | undefined;
  /** Runs after an update was queued, so gossip rounds resume. */
  readonly onQueued: () => void;
}

export class ClusterView {
  private readonly suspicions = new Map<string, Suspicion>();
  private listeners: MembershipListener[] = [];
  /** Set by announceLeave(): reports of our death are then true and are not refuted. */
  leaving = false;

  constructor(private readonly deps: ViewDeps) {}

  get table(): MemberTable {
    return this.deps.table;
  }

  get self(): MemberRecord {
    return this.deps.table.get(this.deps.selfId)!;
  }

  onEvent(listener: MembershipListener): () => void {
    this.listeners = [...this.listeners, listener];
    return () => {
      this.listeners = this.listeners.filter((l) => l !== listener);
    };
  }

  /**
   * Merges one report (piggybacked, gossiped, or this node's own verdict). With `rebroadcast`, an
   * accepted report is queued to spread further.
   */
  apply(update: MemberUpdate, rebroadcast = true): void {
    const { selfId, table, clock } = this.deps;
    if (update.id === selfId) return this.applyAboutSelf(update);
    const current = table.get(update.id);
    const verdict = mergeVerdict(current, update);
    if (verdict === 'ignore') return;
    if (verdict === 'confirm') {
      const confirmed = update.from !== undefined && this.suspicions.get(update.id)?.confirm(update.from);
      if (confirmed && rebroadcast) this.broadcast(update);
      return;
    }
    const next: MemberRecord =
      update.st === StateCode.Alive && update.from === undefined
        ? (update as MemberRecord) // an alive report is a whole record; share it
        : { id: update.id, inc: update.inc, st: update.st, addr: update.addr ?? current?.addr, meta: update.meta ?? current?.meta ?? '{}' };
    table.put(next, clock.now());
    const running = this.suspicions.get(update.id);
    if (running) {
      running.cancel();
      this.suspicions.delete(update.id);
    }
    if (next.st === StateCode.Suspect) this.startSuspicion(next, update.from ?? selfId);
    if (rebroadcast) this.broadcast(next.st === StateCode.Alive ? next : update);
    this.notify(current, next);
  }

  /**
   * Merges a full state from push-pull. A member the remote holds dead is only suspected here: the
   * remote may have been on the other side of a partition, and the member gets its chance to refute.
   */
  mergeState(records: readonly MemberRecord[], rebroadcast: boolean): void {
    const { table, selfId } = this.deps;
    for (const r of records) {
      if (r.id !== selfId) {
        const current = table.get(r.id);
        if (current === r || (current !== undefined && current.inc === r.inc && current.st === r.st)) continue;
      }
      if (r.st === StateCode.Dead) this.apply({ id: r.id, inc: r.inc, st: StateCode.Suspect, from: selfId }, rebroadcast);
      else this.apply(r, rebroadcast);
    }
  }

  /** Starts from a known state without events or broadcasts (simulations, snapshots). */
  seed(records: readonly MemberRecord[]): void {
    const now = this.deps.clock.now();
    for (const r of records) if (r.id !== this.deps.selfId) this.deps.table.put(r, now);
  }

  /** Queues this node's own alive record, so it spreads as soon as the node knows anyone (on start). */
  announceSelf(): void {
    this.broadcast(this.self);
  }

  /** Publishes new metadata for this node under a new incarnation. */
  publishSelf(meta: string): void {
    const self = this.self;
    this.putSelf({ id: self.id, inc: self.inc + 1, st: StateCode.Alive, addr: self.addr, meta });
  }

  /** Marks this node left and queues the announcement; onDone runs when it has been fully retransmitted (or replaced). */
  announceLeave(onDone: (sent: boolean) => void): void {
    const self = this.self;
    this.leaving = true;
    const left: MemberRecord = { id: self.id, inc: self.inc, st: StateCode.Left, addr: self.addr, meta: self.meta };
    this.deps.table.put(left, this.deps.clock.now());
    this.deps.queue.enqueue(left, onDone);
    this.deps.onQueued();
  }

  /** Cancels every running suspicion (on stop). */
  stop(): void {
    for (const s of this.suspicions.values()) s.cancel();
    this.suspicions.clear();
  }

  private applyAboutSelf(update: MemberUpdate): void {
    const self = this.self;
    if (this.leaving) return;
    if (update.inc < self.inc) {
      // A stale accusation: its sender missed our refutation. Spread our record again; when the
      // accusation came with a ping (a prober holding a stale suspicion), it rides on our ack, and
      // the prober's suspicion ends before it can time out.
      if (update.st !== StateCode.Alive && update.st !== StateCode.Left && this.deps.queue.transmitsOf(self.id) === undefined) this.broadcast(self);
      return;
    }
    if (update.st === StateCode.Alive) {
      // Our own news echoed back is fine; anything else claiming our id (our previous life before a
      // restart, typically) is overridden with a newer incarnation.
      if (update.inc === self.inc && update.meta === self.meta && (update.addr ?? update.id) === addressOf(self)) return;
    } else if (update.st !== StateCode.Left) {
      this.deps.awareness.apply(1); // being suspected hints that we are the slow one (Lifeguard)
    }
    this.deps.stats.refutations++;
    this.deps.logger?.info({ event: 'membership_refute', reported: STATUS_NAMES[update.st], incarnation: update.inc }, 'refuting a report about this node');
    this.putSelf({ id: self.id, inc: Math.max(self.inc, update.inc) + 1, st: StateCode.Alive, addr: self.addr, meta: self.meta });
  }

  private putSelf(record: MemberRecord): void {
    this.deps.table.put(record, this.deps.clock.now());
    this.broadcast(record);
  }

  private broadcast(update: MemberUpdate): void {
    this.deps.queue.enqueue(update);
    this.deps.onQueued();
  }

  private startSuspicion(record: MemberRecord, from: string): void {
    const { config, clock, table, stats } = this.deps;
    stats.suspicions++;
    const bounds = suspicionBounds(config, table.liveCount);
    this.suspicions.set(record.id, new Suspicion(clock, from, bounds, () => this.suspicionExpired(record.id, record.inc)));
  }

  private suspicionExpired(id: string, inc: number): void {
    this.suspicions.delete(id);
    const current = this.deps.table.get(id);
    if (current?.st !== StateCode.Suspect || current.inc !== inc) return;
    this.deps.stats.deathsDeclared++;
    this.apply({ id, inc, st: StateCode.Dead, from: this.deps.selfId });
  }

  private notify(previous: MemberRecord | undefined, next: MemberRecord): void {
    const type = changeType(previous, next);
    if (type === 'dead' || type === 'leave') this.deps.logger?.info({ event: `membership_${type}`, member: next.id, incarnation: next.inc }, `member ${type === 'dead' ? 'declared dead' : 'left'}`);
    if (type === undefined || this.listeners.length === 0) return;
    const event = { type, member: toMember(next), previous: previous && STATUS_NAMES[previous.st], at: this.deps.clock.now() };
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (err) {
        this.deps.logger?.error({ event: 'membership_listener_error', err }, 'a membership listener threw');
      }
    }
  }
}

/** Which event a state change is, if any (see MembershipEventType). */
export function changeType(previous: MemberRecord | undefined, next: MemberRecord): MembershipEventType | undefined {
  const p = previous?.st;
  switch (next.st) {
    case StateCode.Alive:
      if (p === undefined || p === StateCode.Dead || p === StateCode.Left) return 'join';
      if (p === StateCode.Suspect) return 'alive';
      return previous!.meta !== next.meta || addressOf(previous!) !== addressOf(next) ? 'update' : undefined;
    case StateCode.Suspect:
      return p === StateCode.Alive ? 'suspect' : undefined;
    case StateCode.Dead:
      return p === StateCode.Alive || p === StateCode.Suspect ? 'dead' : undefined;
    case StateCode.Left:
      return p === StateCode.Left ? undefined : 'leave';
  }
}

// One node's view of every member it knows: the records, counts by state, and the shuffled
// round-robin probe order. Built for 10,000-node simulations in one process: members are addressed
// by small integer slots from a MemberIndex (which simulations share between nodes, so a node's
// table is two flat arrays instead of a hash map), and records are immutable objects that may be
// shared between tables.
import { randomInt, shuffleInPlace, type Random } from './rng';
import { StateCode, type MemberRecord } from './wire';

/** Interns member ids as dense integer slots. One per node in production; one per process in a simulation. */
export class MemberIndex {
  private readonly slots = new Map<string, number>();

  /** The slot of `id`, assigned on first use. */
  slotOf(id: string): number {
    let slot = this.slots.get(id);
    if (slot === undefined) {
      slot = this.slots.size;
      this.slots.set(id, slot);
    }
    return slot;
  }

  find(id: string): number | undefined {
    return this.slots.get(id);
  }

  get size(): number {
    return this.slots.size;
  }
}

export interface MemberTableTimes {
  /** ms a dead or left member stays in the probe order (for gossip to the dead); see config. */
  readonly gossipToTheDeadTime: number;
  /** ms a dead or left member is remembered at all. */
  readonly tombstoneRetention: number;
}

const isLive = (st: StateCode): boolean => st === StateCode.Alive || st === StateCode.Suspect;

export class MemberTable {
  private readonly records: Array<MemberRecord | undefined> = [];
  private readonly counts = [0, 0, 0, 0];
  private readonly selfSlot: number;
  /** Slots in probe order; contains every known member but self, until a reset drops old dead ones. */
  private order = new Int32Array(16);
  private orderLength = 0;
  private cursor = 0;
  /** When each dead or left member became so (ms). */
  private readonly since = new Map<number, number>();
  /** Dead or left members a reset has taken out of the probe order. */
  private readonly outOfOrder = new Set<number>();

  constructor(
    private readonly index: MemberIndex,
    selfId: string,
    private readonly rng: Random,
    private readonly times: MemberTableTimes,
  ) {
    this.selfSlot = index.slotOf(selfId);
  }

  get(id: string): MemberRecord | undefined {
    const slot = this.index.find(id);
    return slot === undefined ? undefined : this.records[slot];
  }

  /** Members in state `st`, self included. */
  count(st: StateCode): number {
    return this.counts[st]!;
  }

  /** Alive and suspect members, self included: the n of every formula. */
  get liveCount(): number {
    return this.counts[StateCode.Alive]! + this.counts[StateCode.Suspect]!;
  }

  /** ms when the dead or left member `id` became so; undefined while it is live. */
  downSince(id: string): number | undefined {
    const slot = this.index.find(id);
    return slot === undefined ? undefined : this.since.get(slot);
  }

  /** Stores `record` as the member's state and returns what it replaces. */
  put(record: MemberRecord, now: number): MemberRecord | undefined {
    const slot = this.index.slotOf(record.id);
    while (this.records.length <= slot) this.records.push(undefined); // stay a dense array
    const prev = this.records[slot];
    this.records[slot] = record;
    if (prev) this.counts[prev.st]!--;
    this.counts[record.st]!++;
    const live = isLive(record.st);
    if (live) this.since.delete(slot);
    else if (prev === undefined || prev.st !== record.st) this.since.set(slot, now);
    if (slot !== this.selfSlot && (prev === undefined || (live && this.outOfOrder.delete(slot)))) this.insertIntoOrder(slot);
    return prev;
  }

  /**
   * The next member to probe: round-robin over the order, skipping dead and left members. At the
   * end of a pass the order is compacted (dead members past gossipToTheDeadTime leave it, tombstones
   * past tombstoneRetention are forgotten) and reshuffled.
   */
  nextProbeTarget(now: number): MemberRecord | undefined {
    for (let checked = 0; checked <= 2 * this.orderLength; checked++) {
      if (this.cursor >= this.orderLength) {
        this.resetOrder(now);
        if (this.orderLength === 0) return undefined;
      }
      const record = this.records[this.order[this.cursor++]!];
      if (record && isLive(record.st)) return record;
    }
    return undefined;
  }

  /** Up to k distinct random members of the probe order that `accept` takes (memberlist's kRandomNodes). */
  randomMembers(k: number, accept: (record: MemberRecord) => boolean): MemberRecord[] {
    const out: MemberRecord[] = [];
    const n = this.orderLength;
    for (let i = 0; i < 3 * n && out.length < k; i++) {
      const record = this.records[this.order[randomInt(this.rng, n)]!];
      if (record && accept(record) && !out.includes(record)) out.push(record);
    }
    return out;
  }

  /** Dead (not left) members still remembered: candidates for a reconnect attempt. */
  deadMembers(): MemberRecord[] {
    const out: MemberRecord[] = [];
    for (const slot of this.since.keys()) {
      const record = this.records[slot];
      if (record?.st === StateCode.Dead) out.push(record);
    }
    return out;
  }

  /** Every record, self included: the state push-pull sends. */
  snapshot(): MemberRecord[] {
    const out: MemberRecord[] = [];
    for (const record of this.records) if (record !== undefined) out.push(record);
    return out;
  }

  private insertIntoOrder(slot: number): void {
    if (this.orderLength === this.order.length) {
      const grown = new Int32Array(this.order.length * 2);
      grown.set(this.order);
      this.order = grown;
    }
    // Append, then swap with a random position so a newcomer is not always probed last.
    const at = randomInt(this.rng, this.orderLength + 1);
    this.order[this.orderLength++] = this.order[at]!;
    this.order[at] = slot;
  }

  private resetOrder(now: number): void {
    let kept = 0;
    for (let i = 0; i < this.orderLength; i++) {
      const slot = this.order[i]!;
      const record = this.records[slot];
      if (record === undefined) continue;
      if (!isLive(record.st) && now - this.since.get(slot)! > this.times.gossipToTheDeadTime) {
        this.outOfOrder.add(slot);
        continue;
      }
      this.order[kept++] = slot;
    }
    this.orderLength = kept;
    for (const slot of this.outOfOrder) {
      if (now - this.since.get(slot)! <= this.times.tombstoneRetention) continue;
      this.counts[this.records[slot]!.st]!--;
      this.records[slot] = undefined;
      this.since.delete(slot);
      this.outOfOrder.delete(slot);
    }
    shuffleInPlace(this.rng, this.order, this.orderLength);
    this.cursor = 0;
  }
}

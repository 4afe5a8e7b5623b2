// The updates this node still has to spread, each sent a bounded number of times (piggybacked on
// pings and acks, or in gossip rounds). The freshest go first: the fewest transmissions so far,
// then the most recently queued, because those are the ones most members have not heard yet.
import { updateBytes, type MemberUpdate } from './wire';

/** How many times one node sends one update: retransmitMult × ceil(log10(n + 1)). */
export function retransmitLimit(retransmitMult: number, n: number): number {
  return retransmitMult * Math.ceil(Math.log10(Math.max(1, n) + 1));
}

interface QueuedUpdate {
  readonly update: MemberUpdate;
  readonly bytes: number;
  readonly order: number;
  transmits: number;
  readonly onDone: ((sent: boolean) => void) | undefined;
}

/** Nothing fits in fewer bytes than this (the smallest update is 37). */
const MIN_UPDATE_BYTES = 37;

/** Index of the first entry in `bucket` (sorted by order) whose order is ≥ `order`. */
function lowerBound(bucket: readonly QueuedUpdate[], order: number): number {
  let lo = 0;
  let hi = bucket.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (bucket[mid]!.order < order) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export class BroadcastQueue {
  /**
   * Queued updates by transmissions so far; each bucket sorted by queueing order, oldest first.
   * Taking the freshest is then a walk from the end of the lowest buckets, with no sorting: a node
   * under a storm of suspicions can hold hundreds of updates and takes from them ~20 times a second.
   */
  private buckets: QueuedUpdate[][] = [];
  private readonly byMember = new Map<string, QueuedUpdate>();
  private counter = 0;

  /**
   * @param limit current retransmit limit (it follows the cluster size)
   * @param maxItemBytes updates larger than this never fit a datagram; they are dropped here and
   *   travel by push-pull instead
   */
  constructor(
    private readonly limit: () => number,
    private readonly maxItemBytes: number,
  ) {}

  get size(): number {
    return this.byMember.size;
  }

  /** Transmissions so far of the queued update about `memberId`, or undefined if none is queued. */
  transmitsOf(memberId: string): number | undefined {
    return this.byMember.get(memberId)?.transmits;
  }

  /**
   * Queues `update`, replacing any queued update about the same member (only the newest news about
   * a member is worth spreading). `onDone(true)` runs when it has been sent `limit` times,
   * `onDone(false)` when it is replaced or dropped first.
   */
  enqueue(update: MemberUpdate, onDone?: (sent: boolean) => void): void {
    const previous = this.byMember.get(update.id);
    if (previous) {
      this.remove(previous);
      previous.onDone?.(false);
    }
    const bytes = updateBytes(update);
    if (bytes > this.maxItemBytes) {
      onDone?.(false);
      return;
    }
    const entry: QueuedUpdate = { update, bytes, order: this.counter++, transmits: 0, onDone };
    (this.buckets[0] ??= []).push(entry); // the newest: it belongs at the end
    this.byMember.set(update.id, entry);
  }

  /**
   * Updates for one datagram: as many as fit in `budget` bytes of JSON list content (each after the
   * first costs one more byte for the comma), the fewest-sent first and the newest first among
   * equals. Each one taken counts as a transmission; those that reach the limit leave the queue.
   */
  take(budget: number): MemberUpdate[] {
    if (this.byMember.size === 0) return [];
    const taken: MemberUpdate[] = [];
    const picked: QueuedUpdate[] = [];
    let left = budget;
    for (let t = 0; t < this.buckets.length && left >= MIN_UPDATE_BYTES; t++) {
      const bucket = this.buckets[t];
      if (bucket === undefined) continue;
      for (let i = bucket.length - 1; i >= 0 && left >= MIN_UPDATE_BYTES; i--) {
        const e = bucket[i]!;
        const cost = e.bytes + (taken.length > 0 ? 1 : 0);
        if (cost > left) continue;
        left -= cost;
        taken.push(e.update);
        picked.push(e);
        bucket.splice(i, 1);
      }
    }
    const limit = this.limit();
    const done: QueuedUpdate[] = [];
    for (const e of picked) {
      e.transmits++;
      if (e.transmits >= limit) {
        this.byMember.delete(e.update.id);
        done.push(e);
      } else {
        const bucket = (this.buckets[e.transmits] ??= []);
        bucket.splice(lowerBound(bucket, e.order), 0, e);
      }
    }
    for (const e of done) e.onDone?.(true);
    return taken;
  }

  /** Drops everything (on stop); pending onDone callbacks get false. */
  clear(): void {
    const all = [...this.byMember.values()];
    this.buckets = [];
    this.byMember.clear();
    for (const e of all) e.onDone?.(false);
  }

  private remove(e: QueuedUpdate): void {
    const bucket = this.buckets[e.transmits]!;
    bucket.splice(lowerBound(bucket, e.order), 1);
    this.byMember.delete(e.update.id);
  }
}

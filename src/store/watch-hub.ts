// Watch delivery shared by every local Store implementation. The store publishes a commit's
// changes only after the commit is durable; the hub fans them out to subscribers in revision order.
import type { WatchEvent } from './types';

/** A committed change as the backends keep it: the value stays JSON text so each reader parses its own copy. */
export interface StoredChange {
  revision: number;
  key: string;
  type: 'put' | 'delete';
  /** JSON text of the new value; undefined for a delete. */
  json: string | undefined;
}

export type WatcherErrorReporter = (err: unknown, ev: WatchEvent) => void;

interface Subscription {
  prefix: string;
  /** Live changes at or below this revision are not delivered (history or fromRevision covers them). */
  after: number;
  onEvent: (ev: WatchEvent) => void;
  pending: StoredChange[];
  /** Index of the next undelivered change in `pending`; avoids O(n) shifts during long replays. */
  head: number;
}

export class WatchHub {
  private readonly subs = new Set<Subscription>();
  private draining = false;

  constructor(private readonly reportError: WatcherErrorReporter) {}

  /**
   * Starts delivery to `onEvent`: first `history` (already read by the caller in the same tick as
   * `after`, so nothing is missed or doubled), then live changes with revision > `after`.
   */
  subscribe(prefix: string, onEvent: (ev: WatchEvent) => void, after: number, history: StoredChange[]): () => void {
    const sub: Subscription = { prefix, after, onEvent, pending: history.filter((c) => c.key.startsWith(prefix)), head: 0 };
    this.subs.add(sub);
    this.drain();
    return () => {
      this.subs.delete(sub);
      sub.pending = [];
      sub.head = 0;
    };
  }

  publish(changes: readonly StoredChange[]): void {
    if (changes.length === 0) return;
    for (const sub of this.subs) {
      for (const change of changes) {
        if (change.revision > sub.after && change.key.startsWith(sub.prefix)) sub.pending.push(change);
      }
    }
    this.drain();
  }

  /** Stops every subscription; used when the store closes. */
  clear(): void {
    for (const sub of this.subs) sub.pending = [];
    this.subs.clear();
  }

  get size(): number {
    return this.subs.size;
  }

  // A watcher may write to the store from its callback; that commit publishes while we are still
  // delivering. Queueing instead of recursing keeps every watcher's events in revision order.
  private drain(): void {
    if (this.draining) return;
    this.draining = true;
    try {
      let delivered = true;
      while (delivered) {
        delivered = false;
        for (const sub of this.subs) {
          const change = sub.pending[sub.head];
          if (change === undefined) continue;
          sub.head++;
          if (sub.head === sub.pending.length) {
            sub.pending = [];
            sub.head = 0;
          }
          delivered = true;
          this.deliver(sub, change);
        }
      }
    } finally {
      this.draining = false;
    }
  }

  private deliver(sub: Subscription, change: StoredChange): void {
    // Parsed per delivery so one watcher mutating its event cannot change what another one sees.
    const ev: WatchEvent = {
      type: change.type,
      key: change.key,
      value: change.json === undefined ? undefined : JSON.parse(change.json),
      revision: change.revision,
    };
    try {
      sub.onEvent(ev);
    } catch (err) {
      // A broken watcher must not stop the store or starve the other watchers.
      try {
        this.reportError(err, ev);
      } catch {
        // The reporter itself failed; there is nowhere left to report to.
      }
    }
  }
}

// A binary min-heap of clients (roles or frameworks) ordered by weighted dominant share, ties by
// id in code-unit order (not locale order) so the same snapshot always yields the same plan.
// The allocator pops the best client, updates its share, and pushes it back: O(log n) per
// placement instead of re-sorting every client for every agent.

import { MinHeap } from '../../shared/min-heap';

export interface Ranked {
  readonly id: string;
  share: number;
}

function before(a: Ranked, b: Ranked): boolean {
  return a.share < b.share || (a.share === b.share && a.id < b.id);
}

export class ShareHeap<T extends Ranked> extends MinHeap<T> {
  constructor() {
    super(before);
  }

  /** Pops the best item that `eligible` accepts; the skipped ones go back. */
  popFirst(eligible: (item: T) => boolean): T | undefined {
    let skipped: T[] | undefined;
    let found: T | undefined;
    for (let item = this.pop(); item !== undefined; item = this.pop()) {
      if (eligible(item)) {
        found = item;
        break;
      }
      (skipped ??= []).push(item);
    }
    if (skipped) for (const s of skipped) this.push(s);
    return found;
  }
}

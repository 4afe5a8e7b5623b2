// A binary min-heap of clients (roles or frameworks) ordered by weighted dominant share, ties by
// id in code-unit order (not locale order) so the same snapshot always yields the same plan.
// The allocator pops the best client, updates its share, and pushes it back: O(log n) per
// placement instead of re-sorting every client for every agent.

export interface Ranked {
  readonly id: string;
  share: number;
}

function before(a: Ranked, b: Ranked): boolean {
  return a.share < b.share || (a.share === b.share && a.id < b.id);
}

export class ShareHeap<T extends Ranked> {
  private readonly items: T[] = [];

  get size(): number {
    return this.items.length;
  }

  push(item: T): void {
    const items = this.items;
    let i = items.length;
    items.push(item);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(item, items[parent]!)) break;
      items[i] = items[parent]!;
      i = parent;
    }
    items[i] = item;
  }

  pop(): T | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (top === undefined || last === undefined || items.length === 0) return top;
    const n = items.length;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      const child = right < n && before(items[right]!, items[left]!) ? right : left;
      if (!before(items[child]!, last)) break;
      items[i] = items[child]!;
      i = child;
    }
    items[i] = last;
    return top;
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

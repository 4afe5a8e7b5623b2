// Peers this node refuses, by node id. A peer that proved it lacks the token is refused until this
// process ends; one that merely stalled is refused for a while, since a pause (GC, a lost packet
// during the handshake) must not cut a real member out of the cluster for good.

export interface BanEntry {
  readonly nodeId: string;
  /** ms timestamp when the ban ends; Infinity for one that lasts until restart. */
  readonly until: number;
  readonly reason: string;
}

export class BanList {
  private readonly entries = new Map<string, BanEntry>();

  /** Bans `nodeId` until `until` (ms timestamp or Infinity); a longer ban already in place stays. */
  add(nodeId: string, until: number, reason: string): BanEntry {
    const existing = this.entries.get(nodeId);
    if (existing !== undefined && existing.until >= until) return existing;
    const entry: BanEntry = { nodeId, until, reason };
    this.entries.set(nodeId, entry);
    return entry;
  }

  has(nodeId: string, now: number): boolean {
    const entry = this.entries.get(nodeId);
    return entry !== undefined && entry.until > now;
  }

  /** Removes bans that ended at or before `now` and returns their node ids. */
  expire(now: number): string[] {
    const ended: string[] = [];
    for (const [nodeId, entry] of this.entries) {
      if (entry.until <= now) {
        this.entries.delete(nodeId);
        ended.push(nodeId);
      }
    }
    return ended;
  }

  list(now: number): BanEntry[] {
    return [...this.entries.values()].filter((e) => e.until > now);
  }
}

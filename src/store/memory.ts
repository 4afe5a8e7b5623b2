// The in-memory twin of the SQLite store, for tests and simulations. It shares every rule with
// SQLite through VersionedStore; only the storage is different.
import { CorralError } from '../shared/errors';
import { compareKeys } from './keys';
import { VersionedStore, type StoreOptions, type StoredChange, type StoredEntry } from './versioned-store';

export class MemoryStore extends VersionedStore {
  private readonly entries = new Map<string, StoredEntry>();
  private history: StoredChange[] = [];
  /** history[0 .. historyHead) is pruned and waits to be dropped. */
  private historyHead = 0;
  private rev = 0;
  private compacted = 0;
  // Set while `atomically` runs: how to put back what the transaction changed, newest first.
  private undo: (() => void)[] | undefined;

  constructor(opts: StoreOptions = {}) {
    super(opts);
  }

  protected readRevision(): number {
    return this.rev;
  }

  protected readCompactedRevision(): number {
    return this.compacted;
  }

  protected readEntry(key: string): StoredEntry | undefined {
    return this.entries.get(key);
  }

  protected readRange(prefix: string): StoredEntry[] {
    const found: StoredEntry[] = [];
    for (const entry of this.entries.values()) if (entry.key.startsWith(prefix)) found.push(entry);
    return found.sort((a, b) => compareKeys(a.key, b.key));
  }

  protected readHistory(afterRevision: number, prefix: string): StoredChange[] {
    const found: StoredChange[] = [];
    for (let i = this.historyHead; i < this.history.length; i++) {
      const c = this.history[i]!;
      if (c.revision > afterRevision && c.key.startsWith(prefix)) found.push(c);
    }
    return found;
  }

  protected writeEntry(entry: StoredEntry): void {
    this.rememberEntry(entry.key);
    this.entries.set(entry.key, entry);
  }

  protected removeEntry(key: string): void {
    this.rememberEntry(key);
    this.entries.delete(key);
  }

  protected commitRevision(revision: number, changes: StoredChange[]): void {
    const { rev, history } = this;
    const length = history.length;
    this.remember(() => {
      this.rev = rev;
      history.length = length;
    });
    this.rev = revision;
    for (const change of changes) history.push(change);
  }

  protected pruneHistory(throughRevision: number): void {
    const { compacted, history, historyHead } = this;
    this.remember(() => {
      this.compacted = compacted;
      this.history = history;
      this.historyHead = historyHead;
    });
    let head = historyHead;
    while (head < history.length && history[head]!.revision <= throughRevision) head++;
    // Pruning runs on every write once history is full; copying the array each time would make a
    // write O(historyLimit). Copy only when the dead part dominates (amortised O(1)), and always
    // into a new array so the undo above can restore the old one untouched.
    if (head > 1024 && head * 2 > history.length) {
      this.history = history.slice(head);
      head = 0;
    }
    this.historyHead = head;
    this.compacted = throughRevision;
  }

  protected atomically<T>(fn: () => T): T {
    const undo: (() => void)[] = [];
    this.undo = undo;
    try {
      return fn();
    } catch (err) {
      for (let i = undo.length - 1; i >= 0; i--) undo[i]!();
      throw err;
    } finally {
      this.undo = undefined;
    }
  }

  protected release(): void {
    this.entries.clear();
    this.history = [];
    this.historyHead = 0;
  }

  private remember(restore: () => void): void {
    if (!this.undo) throw new CorralError('INTERNAL', 'MemoryStore was written outside atomically()');
    this.undo.push(restore);
  }

  private rememberEntry(key: string): void {
    const prev = this.entries.get(key);
    this.remember(() => {
      if (prev) this.entries.set(key, prev);
      else this.entries.delete(key);
    });
  }
}

// The in-memory twin of the SQLite store, for tests and simulations. It shares every rule with
// SQLite through VersionedStore; only the storage is different.
import { CorralError } from '../shared/errors';
import { compareKeys } from './keys';
import { VersionedStore, type StoreOptions, type StoredChange, type StoredEntry } from './versioned-store';

export class MemoryStore extends VersionedStore {
  private readonly entries = new Map<string, StoredEntry>();
  private history: StoredChange[] = [];
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
    return this.history.filter((c) => c.revision > afterRevision && c.key.startsWith(prefix));
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
    const { compacted, history } = this;
    this.remember(() => {
      this.compacted = compacted;
      this.history = history;
    });
    // A new array rather than splice, so the undo above can simply restore the old one.
    const keepFrom = history.findIndex((c) => c.revision > throughRevision);
    this.history = keepFrom < 0 ? [] : history.slice(keepFrom);
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

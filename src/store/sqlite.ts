// The embedded store: one SQLite file in WAL mode through better-sqlite3. Everything a write
// touches (kv rows, revision, change log, pruning) commits in one SQLite transaction.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { CorralError } from '../shared/errors';
import { prefixUpperBound } from './keys';
import { migrate, schemaVersion } from './migrations';
import { VersionedStore, type StoreOptions, type StoredChange, type StoredEntry } from './versioned-store';

export interface SqliteStoreOptions extends StoreOptions {
  /** How long a write waits for another connection's lock before failing, in milliseconds. Default 5000. */
  busyTimeoutMs?: number;
}

export interface SqliteStoreInfo {
  path: string;
  schemaVersion: number;
  journalMode: string;
  revision: number;
  compactedRevision: number;
  historyLimit: number;
}

interface ChangeRow {
  revision: number;
  key: string;
  type: 'put' | 'delete';
  json: string | null;
}

const ENTRY_COLUMNS = 'key, value AS json, create_rev AS createRevision, mod_rev AS modRevision, version';

function prepareStatements(db: Database.Database) {
  return {
    getEntry: db.prepare<[string], StoredEntry>(`SELECT ${ENTRY_COLUMNS} FROM kv WHERE key = ?`),
    // Prefix scans are index ranges on the primary key; see prefixUpperBound.
    listBetween: db.prepare<[string, string], StoredEntry>(`SELECT ${ENTRY_COLUMNS} FROM kv WHERE key >= ? AND key < ? ORDER BY key`),
    listFrom: db.prepare<[string], StoredEntry>(`SELECT ${ENTRY_COLUMNS} FROM kv WHERE key >= ? ORDER BY key`),
    upsert: db.prepare<[StoredEntry]>(
      `INSERT INTO kv (key, value, create_rev, mod_rev, version) VALUES (@key, @json, @createRevision, @modRevision, @version)
       ON CONFLICT (key) DO UPDATE SET value = excluded.value, create_rev = excluded.create_rev,
         mod_rev = excluded.mod_rev, version = excluded.version`,
    ),
    remove: db.prepare<[string]>('DELETE FROM kv WHERE key = ?'),
    getMeta: db.prepare<[string], number>('SELECT value FROM meta WHERE name = ?').pluck(),
    setMeta: db.prepare<[number, string]>('UPDATE meta SET value = ? WHERE name = ?'),
    appendChange: db.prepare<[number, number, string, string, string | null]>(
      'INSERT INTO changes (revision, seq, key, type, value) VALUES (?, ?, ?, ?, ?)',
    ),
    history: db.prepare<[number], ChangeRow>('SELECT revision, key, type, value AS json FROM changes WHERE revision > ? ORDER BY revision, seq'),
    prune: db.prepare<[number]>('DELETE FROM changes WHERE revision <= ?'),
  };
}

export class SqliteStore extends VersionedStore {
  /** Opens (creating if needed) the store file at `path`, and its parent directory. */
  static async open(path: string, opts: SqliteStoreOptions = {}): Promise<SqliteStore> {
    try {
      mkdirSync(dirname(path), { recursive: true });
    } catch (err) {
      throw new CorralError('DATA_DIR_UNUSABLE', `Cannot create the directory for the store ${path}: ${(err as Error).message}`);
    }
    return new SqliteStore(path, opts);
  }

  readonly path: string;
  private readonly db: Database.Database;
  private readonly stmt: ReturnType<typeof prepareStatements>;
  // Writes take the write lock up front (BEGIN IMMEDIATE): they read the revision before writing,
  // and a deferred transaction upgrading to a write lock can fail with SQLITE_BUSY regardless of
  // busy_timeout.
  private readonly inTransaction: (fn: () => unknown) => unknown;

  constructor(path: string, opts: SqliteStoreOptions = {}) {
    super(opts);
    this.path = path;
    try {
      this.db = new Database(path);
    } catch (err) {
      throw new CorralError('DATA_DIR_UNUSABLE', `Cannot open the store ${path}: ${(err as Error).message}`);
    }
    try {
      this.db.pragma(`busy_timeout = ${Math.max(0, Math.floor(opts.busyTimeoutMs ?? 5000))}`);
      this.db.pragma('journal_mode = WAL');
      // In WAL mode NORMAL cannot corrupt the file; a power cut may lose the last commits only.
      this.db.pragma('synchronous = NORMAL');
      migrate(this.db);
      this.stmt = prepareStatements(this.db);
      const txn = this.db.transaction((fn: () => unknown) => fn());
      this.inTransaction = (fn) => txn.immediate(fn);
    } catch (err) {
      this.db.close();
      throw err;
    }
  }

  info(): SqliteStoreInfo {
    this.assertOpen();
    return {
      path: this.path,
      schemaVersion: schemaVersion(this.db),
      journalMode: String(this.db.pragma('journal_mode', { simple: true })),
      revision: this.readRevision(),
      compactedRevision: this.readCompactedRevision(),
      historyLimit: this.historyLimit,
    };
  }

  // The revision is read from the file rather than cached, so a rolled-back transaction can
  // never leave a stale copy behind.
  protected readRevision(): number {
    return this.stmt.getMeta.get('revision') ?? 0;
  }

  protected readCompactedRevision(): number {
    return this.stmt.getMeta.get('compacted') ?? 0;
  }

  protected readEntry(key: string): StoredEntry | undefined {
    return this.stmt.getEntry.get(key);
  }

  protected readRange(prefix: string): StoredEntry[] {
    const upper = prefixUpperBound(prefix);
    const rows = upper === undefined ? this.stmt.listFrom.all(prefix) : this.stmt.listBetween.all(prefix, upper);
    // Without an upper bound the scan runs to the end of the table; keep only the real matches.
    return upper === undefined ? rows.filter((e) => e.key.startsWith(prefix)) : rows;
  }

  protected readHistory(afterRevision: number, prefix: string): StoredChange[] {
    const changes: StoredChange[] = [];
    for (const row of this.stmt.history.iterate(afterRevision)) {
      if (row.key.startsWith(prefix)) changes.push({ revision: row.revision, key: row.key, type: row.type, json: row.json ?? undefined });
    }
    return changes;
  }

  protected writeEntry(entry: StoredEntry): void {
    this.stmt.upsert.run(entry);
  }

  protected removeEntry(key: string): void {
    this.stmt.remove.run(key);
  }

  protected commitRevision(revision: number, changes: StoredChange[]): void {
    this.stmt.setMeta.run(revision, 'revision');
    changes.forEach((c, seq) => this.stmt.appendChange.run(c.revision, seq, c.key, c.type, c.json ?? null));
  }

  protected pruneHistory(throughRevision: number): void {
    this.stmt.prune.run(throughRevision);
    this.stmt.setMeta.run(throughRevision, 'compacted');
  }

  protected atomically<T>(fn: () => T): T {
    return this.inTransaction(fn) as T;
  }

  protected release(): void {
    this.db.close();
  }
}

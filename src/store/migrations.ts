// Numbered schema migrations of the SQLite store. The applied version lives in the database header
// (PRAGMA user_version), so it travels with the file and changes atomically with the schema.
// Migrations are append-only: never edit one that has shipped; add the next number instead.
import type { Database } from 'better-sqlite3';
import { CorralError, errors } from '../shared/errors';

export interface Migration {
  /** 1, 2, 3, ... with no gaps; user_version holds the last one applied. */
  version: number;
  name: string;
  /** SQL run as one script inside the migration transaction. */
  up: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'kv, change log and meta',
    up: `
      -- value is JSON text; revisions follow etcd: create_rev/mod_rev are store revisions,
      -- version counts writes since the key was (re)created.
      CREATE TABLE kv (
        key        TEXT    NOT NULL PRIMARY KEY,
        value      TEXT    NOT NULL,
        create_rev INTEGER NOT NULL,
        mod_rev    INTEGER NOT NULL,
        version    INTEGER NOT NULL
      ) WITHOUT ROWID;

      -- Recent changes for watch replay; seq orders the ops of one transaction.
      CREATE TABLE changes (
        revision INTEGER NOT NULL,
        seq      INTEGER NOT NULL,
        key      TEXT    NOT NULL,
        type     TEXT    NOT NULL CHECK (type IN ('put', 'delete')),
        value    TEXT,
        PRIMARY KEY (revision, seq)
      ) WITHOUT ROWID;

      -- revision: the store-wide revision (deletes bump it too, so it cannot be derived from kv).
      -- compacted: the highest revision whose changes were pruned.
      CREATE TABLE meta (
        name  TEXT    NOT NULL PRIMARY KEY,
        value INTEGER NOT NULL
      ) WITHOUT ROWID;
      INSERT INTO meta (name, value) VALUES ('revision', 0), ('compacted', 0);
    `,
  },
];

export interface MigrationReport {
  /** Schema version found when opening. */
  from: number;
  /** Schema version after migrating. */
  to: number;
  /** Versions applied by this call, in order (empty if the database was current). */
  applied: number[];
}

export function schemaVersion(db: Database): number {
  return db.pragma('user_version', { simple: true }) as number;
}

function checkNumbering(migrations: readonly Migration[]): void {
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) {
      throw new CorralError('INTERNAL', `Store migration '${m.name}' has version ${m.version}; expected ${i + 1} (versions start at 1 with no gaps)`);
    }
  });
}

/**
 * Brings the database up to the newest known schema. All pending migrations run in one
 * transaction: a failure leaves the file at its old version, never in between.
 */
export function migrate(db: Database, migrations: readonly Migration[] = MIGRATIONS): MigrationReport {
  checkNumbering(migrations);
  const latest = migrations.length;
  // The version is read under the write lock, so two processes opening a new file at once cannot
  // both apply migration 1.
  return db
    .transaction((): MigrationReport => {
      const from = schemaVersion(db);
      if (from > latest) {
        throw errors.config(
          `The store database ${db.name} has schema version ${from}, but this Corral knows schema versions only up to ${latest}. ` +
            'It was written by a newer Corral: run that version, or use another data directory.',
        );
      }
      const pending = migrations.slice(from);
      for (const m of pending) {
        db.exec(m.up);
        db.pragma(`user_version = ${m.version}`);
      }
      return { from, to: Math.max(from, latest), applied: pending.map((m) => m.version) };
    })
    .immediate();
}

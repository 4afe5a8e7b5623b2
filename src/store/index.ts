// The one door to cluster state. Callers depend on the `Store` interface; which implementation
// backs it is the daemon's choice.
import { join } from 'node:path';
import { SqliteStore, type SqliteStoreOptions } from './sqlite';
import type { Store } from './types';

export * from './types';
export { MemoryStore } from './memory';
export { SqliteStore, type SqliteStoreInfo, type SqliteStoreOptions } from './sqlite';
export { DEFAULT_HISTORY_LIMIT, type StoreOptions } from './versioned-store';
export { MIGRATIONS, type Migration, type MigrationReport } from './migrations';

/** The file name of the embedded store inside a data directory. */
export const STORE_FILE = 'corral.db';

/** Opens the embedded SQLite store at `<dataDir>/corral.db`, creating the directory and file if needed. */
export async function openStore(dataDir: string, opts: SqliteStoreOptions = {}): Promise<Store> {
  return SqliteStore.open(join(dataDir, STORE_FILE), opts);
}

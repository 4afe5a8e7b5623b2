import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pino from 'pino';
import t from 'tap';
import { silentLogger } from '../../src/shared/logger';
import { MemoryStore, MIGRATIONS, openStore, SqliteStore, type Store, type StoreOptions, type WatchEvent } from '../../src/store';
import { migrate } from '../../src/store/migrations';
import { runStoreContract } from './contract';

const quiet: StoreOptions = { logger: silentLogger() };

void runStoreContract(t, 'MemoryStore', async () => {
  const store = new MemoryStore(quiet);
  return { store, cleanup: () => store.close() };
});

void runStoreContract(t, 'SqliteStore', async () => {
  // A fresh directory per store: the contract opens many stores from one tap test.
  const dir = await mkdtemp(join(tmpdir(), 'corral-store-'));
  const store = await SqliteStore.open(join(dir, 'nested', 'corral.db'), quiet);
  return {
    store,
    cleanup: async () => {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

// Checks shared by both local stores that the etcd one will not share (its pruning and error
// reporting are etcd's own).
const locals: [string, (t: tap.Test, opts: StoreOptions) => Promise<Store>][] = [
  ['MemoryStore', async (_t, opts) => new MemoryStore(opts)],
  ['SqliteStore', async (t, opts) => SqliteStore.open(join(t.testdir(), 'corral.db'), opts)],
];

for (const [name, make] of locals) {
  t.test(`${name}: history beyond historyLimit revisions is pruned`, async (t) => {
    const s = await make(t, { ...quiet, historyLimit: 3 });
    t.teardown(() => s.close());
    for (let i = 1; i <= 5; i++) await s.put(`/k/${i}`, i);
    await t.rejects(s.watch('/k/', () => {}, { fromRevision: 1 }), { code: 'STORE_COMPACTED' });
    const seen: WatchEvent[] = [];
    t.teardown(await s.watch('/k/', (ev) => seen.push(ev), { fromRevision: 2 }));
    t.same(seen.map((e) => e.revision), [3, 4, 5], 'the last 3 revisions are still replayable');
    t.equal((await s.list('/k/')).length, 5, 'pruning history never touches data');
    // Long enough for the memory store to drop its pruned prefix, which it does in batches.
    for (let i = 0; i < 2100; i++) await s.put('/k/busy', i);
    const rev = await s.revision();
    await t.rejects(s.watch('/k/', () => {}, { fromRevision: rev - 4 }), { code: 'STORE_COMPACTED' });
    const tail: number[] = [];
    t.teardown(await s.watch('/k/busy', (ev) => tail.push(ev.value as number), { fromRevision: rev - 3 }));
    t.same(tail, [2097, 2098, 2099]);
  });

  t.test(`${name}: a watcher that throws is reported to the logger`, async (t) => {
    const lines: Record<string, unknown>[] = [];
    const logger = pino({ level: 'error' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    const s = await make(t, { logger });
    t.teardown(() => s.close());
    const stop = await s.watch('/', () => { throw new Error('boom'); });
    await s.put('/a', 1);
    t.equal((s as MemoryStore | SqliteStore).watchCount(), 1);
    stop();
    t.equal((s as MemoryStore | SqliteStore).watchCount(), 0);
    t.equal(lines.length, 1);
    t.match(lines[0], { event: 'store.watcher_failed', key: '/a', revision: 1, err: { message: 'boom' } });
  });

  t.test(`${name}: a failure part-way through a write leaves no trace`, async (t) => {
    const s = await make(t, { ...quiet, historyLimit: 1 });
    t.teardown(() => s.close());
    await s.put('/a', 1);
    // The second write prunes history as its last step; make exactly that step fail.
    const proto = Object.getPrototypeOf(s) as { pruneHistory: (n: number) => void };
    const original = proto.pruneHistory;
    Object.defineProperty(s, 'pruneHistory', { value: () => { throw new Error('disk full'); }, configurable: true });
    let delivered = 0;
    t.teardown(await s.watch('/', () => void delivered++));
    await t.rejects(s.txn({ compare: [], success: [{ type: 'put', key: '/a', value: 2 }, { type: 'put', key: '/b', value: 2 }] }), { message: 'disk full' });
    t.equal(await s.revision(), 1);
    t.same(await s.get('/a'), { key: '/a', value: 1, createRevision: 1, modRevision: 1, version: 1 });
    t.equal(await s.get('/b'), undefined);
    t.equal(delivered, 0, 'nothing is published for a rolled-back write');
    Object.defineProperty(s, 'pruneHistory', { value: original, configurable: true });
    t.equal(await s.put('/b', 3), 2, 'the revision rolled back with the rest');
  });
}

t.test('SqliteStore: data, metadata, revision and history survive close and reopen', async (t) => {
  const path = join(t.testdir(), 'data', 'corral.db');
  const first = await SqliteStore.open(path, quiet);
  await first.put('/apps/a', { instances: 2 });
  await first.put('/apps/a', { instances: 3 });
  await first.put('/apps/b', 'b');
  await first.delete('/apps/b');
  await first.close();

  const again = await SqliteStore.open(path, quiet);
  t.teardown(() => again.close());
  t.equal(await again.revision(), 4);
  t.same(await again.list('/'), [{ key: '/apps/a', value: { instances: 3 }, createRevision: 1, modRevision: 2, version: 2 }]);
  const replay: WatchEvent[] = [];
  t.teardown(await again.watch('/apps/', (ev) => replay.push(ev), { fromRevision: 2 }));
  t.same(replay.map((e) => [e.type, e.key, e.revision]), [['put', '/apps/b', 3], ['delete', '/apps/b', 4]]);
  t.equal(await again.put('/apps/c', 1), 5, 'revisions continue where they left off');
});

t.test('SqliteStore: runs in WAL mode at the newest schema version', async (t) => {
  const s = await SqliteStore.open(join(t.testdir(), 'corral.db'), quiet);
  t.teardown(() => s.close());
  await s.put('/k', 1);
  t.match(s.info(), { journalMode: 'wal', schemaVersion: MIGRATIONS.length, revision: 1, compactedRevision: 0, historyLimit: 10_000 });
  t.ok(existsSync(`${s.path}-wal`), 'the write-ahead log file exists');
});

t.test('migrations are numbered 1..n and each is applied once', async (t) => {
  t.same(MIGRATIONS.map((m) => m.version), MIGRATIONS.map((_, i) => i + 1));
  t.ok(MIGRATIONS.every((m) => m.name.length > 0 && m.up.trim().length > 0));
  const db = new Database(join(t.testdir(), 'm.db'));
  t.teardown(() => db.close());
  const latest = MIGRATIONS.length;
  t.same(migrate(db), { from: 0, to: latest, applied: MIGRATIONS.map((m) => m.version) });
  t.same(migrate(db), { from: latest, to: latest, applied: [] }, 'a second run applies nothing');
  t.throws(() => migrate(db, [{ version: 2, name: 'gap', up: '' }]), { code: 'INTERNAL' }, 'a gap in the numbering is a bug');
});

t.test('SqliteStore: refuses a database written by a newer Corral', async (t) => {
  const path = join(t.testdir(), 'corral.db');
  const db = new Database(path);
  const future = MIGRATIONS.length + 1;
  migrate(db, [...MIGRATIONS, { version: future, name: 'from the future', up: '' }]);
  db.close();
  const err = await SqliteStore.open(path, quiet).then(
    () => undefined,
    (e: unknown) => e as Error & { code: string },
  );
  t.equal(err?.code, 'CONFIG_INVALID');
  t.match(err?.message, new RegExp(`schema version ${future}\\b.*up to ${MIGRATIONS.length}\\b`));
});

t.test('SqliteStore: an unusable path fails with DATA_DIR_UNUSABLE', async (t) => {
  const dir = t.testdir({ file: 'not a directory' });
  await t.rejects(SqliteStore.open(join(dir, 'file', 'corral.db'), quiet), { code: 'DATA_DIR_UNUSABLE' });
});

t.test('openStore opens <dataDir>/corral.db, creating the directory', async (t) => {
  const dataDir = join(t.testdir(), 'fresh', 'data');
  const s = await openStore(dataDir, quiet);
  t.teardown(() => s.close());
  t.ok(s instanceof SqliteStore);
  await s.put('/k', 1);
  t.ok(existsSync(join(dataDir, 'corral.db')));
});

t.test('historyLimit must be a positive integer', async (t) => {
  t.throws(() => new MemoryStore({ historyLimit: 0 }), { code: 'CONFIG_INVALID' });
});

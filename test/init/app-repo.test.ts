// AppRepo's version history against both local stores: every definition written is kept per app and
// version, bounded by maxVersions (oldest dropped), removed with the app, and written in one
// transaction with the app, so a refused write leaves no version behind.
import { join } from 'node:path';
import t from 'tap';
import { AppRepo, DEFAULT_MAX_VERSIONS } from '../../src/init/app-repo';
import { validateApp } from '../../src/init/app';
import type { StoredApp } from '../../src/init/types';
import { CorralError } from '../../src/shared/errors';
import { silentLogger } from '../../src/shared/logger';
import { MemoryStore, SqliteStore, type Store } from '../../src/store';

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const at = (minutes: number) => new Date(T0 + minutes * 60_000).toISOString();

function stored(id: string, cmd: string, minutes: number): StoredApp {
  const version = at(minutes);
  return { app: validateApp({ id, cmd }), version, lastConfigChangeAt: version, lastScalingAt: version };
}

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
    return undefined;
  } catch (err) {
    return err instanceof CorralError ? err.code : String(err);
  }
}

const stores: Array<[string, (t: tap.Test) => Promise<Store>]> = [
  ['MemoryStore', async () => new MemoryStore({ logger: silentLogger() })],
  ['SqliteStore', async (t) => SqliteStore.open(join(t.testdir(), 'corral.db'), { logger: silentLogger() })],
];

for (const [name, open] of stores) {
  t.test(name, async (t) => {
    t.test('writeMany: several apps in one transaction, all or none', async (t) => {
      const store = await open(t);
      t.teardown(() => store.close());
      const repo = new AppRepo(store);
      const webRev = await repo.create(stored('/web', 'v1', 0));
      await repo.create(stored('/db', 'v1', 0));
      const rev = await repo.writeMany([{ stored: stored('/web', 'v2', 1), revision: webRev }, { stored: stored('/cache', 'v1', 1), revision: 0 }, { remove: '/db' }]);
      t.same((await repo.list()).map((e) => [e.stored.app.id, e.stored.app.cmd, e.revision]), [['/cache', 'v1', rev], ['/web', 'v2', rev]], 'written at one revision, /db gone');
      t.same(await repo.versions('/db'), [], "the removed app's versions go with it");
      const before = await store.revision();
      await t.rejects(repo.writeMany([{ stored: stored('/web', 'v3', 2), revision: webRev }, { stored: stored('/new', 'v1', 2), revision: 0 }]), { code: 'APP_LOCKED' }, 'one stale revision');
      await t.rejects(repo.writeMany([{ stored: stored('/other', 'v1', 2), revision: 0 }, { remove: '/db' }]), { code: 'APP_LOCKED' }, 'removing an app already gone');
      t.equal(await store.revision(), before, 'nothing was written');
      t.same((await repo.list()).map((e) => e.stored.app.id), ['/cache', '/web']);
    });

    t.test('create and update keep each version, newest first, as it was', async (t) => {
      const store = await open(t);
      t.teardown(() => store.close());
      const repo = new AppRepo(store);
      const rev1 = await repo.create(stored('/web', 'v1', 0));
      const rev2 = await repo.update(stored('/web', 'v2', 1), rev1);
      await repo.update(stored('/web', 'v3', 2), rev2);
      t.same(await repo.versions('/web'), [at(2), at(1), at(0)]);
      t.equal((await repo.version('/web', at(0)))?.app.cmd, 'v1', 'the first definition as it was');
      t.match(await repo.version('/web', at(1)), { version: at(1), lastConfigChangeAt: at(1), app: { id: '/web', cmd: 'v2' } });
      t.equal(await repo.version('/web', at(9)), undefined, 'a version never written');
      t.same((await repo.list()).map((e) => e.stored.app.cmd), ['v3'], 'the app itself is the latest');
      t.equal((await store.get(`/init/app-versions/web/${at(0)}`))?.value !== undefined, true, 'key per app and version');
    });

    t.test('the history is bounded by maxVersions: the oldest go, the newest stays', async (t) => {
      const store = await open(t);
      t.teardown(() => store.close());
      const repo = new AppRepo(store, { maxVersions: 3 });
      let rev = await repo.create(stored('/web', 'c0', 0));
      for (let i = 1; i <= 5; i++) rev = await repo.update(stored('/web', `c${i}`, i), rev);
      t.same(await repo.versions('/web'), [at(5), at(4), at(3)]);
      t.equal(await repo.version('/web', at(0)), undefined, 'the oldest is deleted');
      // A clock stepping back makes the written version the oldest: it is kept all the same.
      await repo.update(stored('/web', 'back', -10), rev);
      t.same(await repo.versions('/web'), [at(5), at(4), at(-10)]);
      t.equal(DEFAULT_MAX_VERSIONS, 50, "Marathon's default");
      t.throws(() => new AppRepo(store, { maxVersions: 0 }), { code: 'CONFIG_INVALID' });
    });

    t.test('a write in the same millisecond replaces that version rather than adding one', async (t) => {
      const store = await open(t);
      t.teardown(() => store.close());
      const repo = new AppRepo(store);
      const rev = await repo.create(stored('/web', 'first', 0));
      await repo.update(stored('/web', 'second', 0), rev);
      t.same(await repo.versions('/web'), [at(0)]);
      t.equal((await repo.version('/web', at(0)))?.app.cmd, 'second', 'the version matches what the app says it is');
    });

    t.test('a refused write keeps no version', async (t) => {
      const store = await open(t);
      t.teardown(() => store.close());
      const repo = new AppRepo(store);
      const rev = await repo.create(stored('/web', 'v1', 0));
      t.equal(await codeOf(repo.create(stored('/web', 'dup', 1))), 'APP_EXISTS');
      t.equal(await codeOf(repo.update(stored('/web', 'stale', 2), rev - 1)), 'APP_LOCKED');
      t.same(await repo.versions('/web'), [at(0)]);
      const before = await store.revision();
      await repo.update(stored('/web', 'v2', 3), rev);
      t.equal(await store.revision(), before + 1, 'app and version are one transaction');
    });

    t.test('removing an app removes its versions, not those of an app below it', async (t) => {
      const store = await open(t);
      t.teardown(() => store.close());
      const repo = new AppRepo(store);
      const rev = await repo.create(stored('/shop', 'shop', 0));
      await repo.update(stored('/shop', 'shop 2', 1), rev);
      await repo.create(stored('/shop/web', 'web', 2));
      t.same(await repo.versions('/shop'), [at(1), at(0)], "the nested app's versions are not the parent's");
      t.equal(await repo.version('/shop', `web/${at(2)}`), undefined, 'a version cannot reach into a nested app');
      t.equal(await repo.remove('/shop'), true);
      t.same(await repo.versions('/shop'), []);
      t.same(await repo.versions('/shop/web'), [at(2)]);
      t.same((await store.list('/init/app-versions/')).map((e) => e.key), [`/init/app-versions/shop/web/${at(2)}`]);
      t.equal(await repo.remove('/shop'), false, 'removing again says it was gone');
      await repo.create(stored('/shop', 'new shop', 5));
      t.same(await repo.versions('/shop'), [at(5)], 'a new app of the same id starts a new history');
    });
  });
}

// Apps in the store: `/init/apps/<id without leading slash>` holds a StoredApp. Writes are
// compare-and-set so two writers cannot silently overwrite each other.
import { CorralError, errors } from '../shared/errors';
import type { JsonValue, Store } from '../store/types';
import type { StoredApp } from './types';

const APPS = '/init/apps/';
const FRAMEWORK_ID = '/init/framework-id';

export interface AppEntry {
  stored: StoredApp;
  revision: number;
}

const keyOf = (appId: string) => APPS + appId.replace(/^\//, '');
const asJson = (s: StoredApp) => s as unknown as JsonValue;

export class AppRepo {
  constructor(private readonly store: Store) {}

  async list(): Promise<AppEntry[]> {
    return (await this.store.list<StoredApp>(APPS)).map((e) => ({ stored: e.value, revision: e.modRevision }));
  }

  /** Creates the app; APP_EXISTS if its id is taken (nothing is written then). */
  async create(stored: StoredApp): Promise<number> {
    try {
      return await this.store.put(keyOf(stored.app.id), asJson(stored), { expectedRevision: 0 });
    } catch (err) {
      if (err instanceof CorralError && err.code === 'REVISION_CONFLICT') throw errors.appExists(stored.app.id);
      throw err;
    }
  }

  /** Replaces the app if it is still at `revision`; APP_LOCKED if someone changed it meanwhile. */
  async update(stored: StoredApp, revision: number): Promise<number> {
    try {
      return await this.store.put(keyOf(stored.app.id), asJson(stored), { expectedRevision: revision });
    } catch (err) {
      if (err instanceof CorralError && err.code === 'REVISION_CONFLICT') {
        throw new CorralError('APP_LOCKED', `App '${stored.app.id}' was changed by another request; retry`);
      }
      throw err;
    }
  }

  async remove(appId: string): Promise<boolean> {
    return this.store.delete(keyOf(appId));
  }

  async frameworkId(): Promise<string | undefined> {
    return (await this.store.get<string>(FRAMEWORK_ID))?.value;
  }

  async saveFrameworkId(id: string): Promise<void> {
    await this.store.put(FRAMEWORK_ID, id);
  }
}

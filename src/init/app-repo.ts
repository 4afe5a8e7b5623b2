// Apps in the store: `/init/apps/<id without leading slash>` holds a StoredApp. Writes are
// compare-and-set so two writers cannot silently overwrite each other.
import { CorralError, errors } from '../shared/errors';
import type { JsonValue, Store } from '../store/types';
import type { AppTask, StoredApp } from './types';

const APPS = '/init/apps/';
const TASKS = '/init/tasks/';
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

  /**
   * Tasks are written before they are launched (write-ahead): after a crash init reconciles every
   * task it may have started, so it neither loses nor duplicates one.
   */
  async saveTasks(tasks: readonly AppTask[]): Promise<void> {
    if (tasks.length === 0) return;
    await this.store.txn({ compare: [], success: tasks.map((t) => ({ type: 'put' as const, key: TASKS + t.taskId, value: persisted(t) })) });
  }

  async removeTask(taskId: string): Promise<void> {
    await this.store.delete(TASKS + taskId);
  }

  async listTasks(): Promise<AppTask[]> {
    return (await this.store.list<AppTask>(TASKS)).map((e) => e.value);
  }

  async frameworkId(): Promise<string | undefined> {
    return (await this.store.get<string>(FRAMEWORK_ID))?.value;
  }

  async saveFrameworkId(id: string): Promise<void> {
    await this.store.put(FRAMEWORK_ID, id);
  }
}

/** What is worth keeping of a task: where it runs and what it is; its state comes from reconciliation. */
function persisted(t: AppTask): JsonValue {
  const { state: _state, healthy: _healthy, healthCheckResults: _results, ...rest } = t as AppTask & { healthy?: unknown; healthCheckResults?: unknown };
  return JSON.parse(JSON.stringify(rest)) as JsonValue;
}

// Apps in the store: `/init/apps/<id without leading slash>` holds a StoredApp. Writes are
// compare-and-set so two writers cannot silently overwrite each other.
// Every definition written is also kept as `/init/app-versions/<id without leading slash>/<version>`
// (Marathon's version history, for GET /v2/apps/{id}/versions and rollback), in the same transaction
// as the app itself, so the history never misses or invents a version.
import { CorralError, errors } from '../shared/errors';
import type { Compare, JsonValue, Store, TxnOp } from '../store/types';
import type { AppTask, StoredApp } from './types';

const APPS = '/init/apps/';
const VERSIONS = '/init/app-versions/';
const TASKS = '/init/tasks/';
const FRAMEWORK_ID = '/init/framework-id';

/** Marathon's default `max_versions`: versions kept per app, the current one included. */
export const DEFAULT_MAX_VERSIONS = 50;

export interface AppRepoOptions {
  /** Versions kept per app, the current one included (>= 1); the oldest go first. Default 50. */
  maxVersions?: number;
}

export interface AppEntry {
  stored: StoredApp;
  revision: number;
}

const bare = (appId: string) => appId.replace(/^\//, '');
const keyOf = (appId: string) => APPS + bare(appId);
const versionsPrefix = (appId: string) => VERSIONS + bare(appId) + '/';
const versionKey = (appId: string, version: string) => versionsPrefix(appId) + version;
const asJson = (s: StoredApp) => s as unknown as JsonValue;

export class AppRepo {
  private readonly maxVersions: number;

  constructor(
    private readonly store: Store,
    opts: AppRepoOptions = {},
  ) {
    const max = opts.maxVersions ?? DEFAULT_MAX_VERSIONS;
    if (!Number.isInteger(max) || max < 1) throw errors.config(`maxVersions must be a whole number >= 1, got ${String(max)}`);
    this.maxVersions = max;
  }

  async list(): Promise<AppEntry[]> {
    return (await this.store.list<StoredApp>(APPS)).map((e) => ({ stored: e.value, revision: e.modRevision }));
  }

  /** Creates the app and its first version; APP_EXISTS if its id is taken (nothing is written then). */
  async create(stored: StoredApp): Promise<number> {
    const res = await this.writeApp(stored, 0);
    if (!res.succeeded) throw errors.appExists(stored.app.id);
    return res.revision;
  }

  /** Replaces the app if it is still at `revision`, keeping the new version; APP_LOCKED if someone changed it meanwhile. */
  async update(stored: StoredApp, revision: number): Promise<number> {
    const res = await this.writeApp(stored, revision);
    if (!res.succeeded) throw new CorralError('APP_LOCKED', `App '${stored.app.id}' was changed by another request; retry`);
    return res.revision;
  }

  /**
   * Several apps in ONE transaction (a group change): each written app still at its revision (0:
   * absent), each removed app still there. If any of them moved, nothing is written: APP_LOCKED.
   * Returns the revision every written app now has.
   */
  async writeMany(changes: ReadonlyArray<{ stored: StoredApp; revision: number } | { remove: string }>): Promise<number> {
    const compare: Compare[] = [];
    const success: TxnOp[] = [];
    for (const c of changes) {
      if ('remove' in c) {
        compare.push({ key: keyOf(c.remove), target: 'exists', value: true });
        success.push({ type: 'delete', key: keyOf(c.remove) }, ...(await this.versionKeys(c.remove)).map((k): TxnOp => ({ type: 'delete', key: k })));
      } else {
        compare.push({ key: keyOf(c.stored.app.id), target: 'modRevision', op: '=', value: c.revision });
        success.push(...(await this.appOps(c.stored)));
      }
    }
    const res = await this.store.txn({ compare, success });
    if (!res.succeeded) throw new CorralError('APP_LOCKED', 'One of the apps was changed by another request meanwhile; nothing was written; retry');
    return res.revision;
  }

  /** Removes the app and its versions, as Marathon does. True if the app existed. */
  async remove(appId: string): Promise<boolean> {
    const key = keyOf(appId);
    const versions = (await this.versionKeys(appId)).map((k): TxnOp => ({ type: 'delete', key: k }));
    // Versions left from an app already gone are cleaned up either way.
    const res = await this.store.txn({ compare: [{ key, target: 'exists', value: true }], success: [{ type: 'delete', key }, ...versions], failure: versions });
    return res.succeeded;
  }

  /** The app's kept versions, newest first. */
  async versions(appId: string): Promise<string[]> {
    return (await this.versionKeys(appId)).map((k) => k.slice(versionsPrefix(appId).length)).sort(newestFirst);
  }

  /** The app as it was at `version`, or undefined if that version is not kept. */
  async version(appId: string, version: string): Promise<StoredApp | undefined> {
    // A '/' would reach into the history of a nested app (see versionKeys).
    if (version === '' || version.includes('/')) return undefined;
    return (await this.store.get<StoredApp>(versionKey(appId, version)))?.value;
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

  /**
   * Writes the app if its key is at `revision` (0: absent) together with its version, and drops the
   * oldest versions beyond maxVersions. The history is read before the transaction; the app's own
   * compare-and-set guards it, since only this repo writes versions and always with the app.
   */
  private async writeApp(stored: StoredApp, revision: number) {
    return this.store.txn({ compare: [{ key: keyOf(stored.app.id), target: 'modRevision', op: '=', value: revision }], success: await this.appOps(stored) });
  }

  /** The app, its new version, and deletes of the versions beyond maxVersions. */
  private async appOps(stored: StoredApp): Promise<TxnOp[]> {
    const { id } = stored.app;
    const others = (await this.versions(id)).filter((v) => v !== stored.version);
    // The version being written is kept even if a clock step made it older than the others.
    const dropped = others.slice(Math.max(0, this.maxVersions - 1)).map((v): TxnOp => ({ type: 'delete', key: versionKey(id, v) }));
    return [{ type: 'put', key: keyOf(id), value: asJson(stored) }, { type: 'put', key: versionKey(id, stored.version), value: asJson(stored) }, ...dropped];
  }

  /**
   * Keys of the app's versions. The prefix of `/a` also covers the versions of an app `/a/b`; a
   * version is an ISO timestamp (no '/'), so the app's own keys are those with no '/' after it.
   */
  private async versionKeys(appId: string): Promise<string[]> {
    const prefix = versionsPrefix(appId);
    return (await this.store.list(prefix)).map((e) => e.key).filter((k) => !k.slice(prefix.length).includes('/'));
  }

  async frameworkId(): Promise<string | undefined> {
    return (await this.store.get<string>(FRAMEWORK_ID))?.value;
  }

  async saveFrameworkId(id: string): Promise<void> {
    await this.store.put(FRAMEWORK_ID, id);
  }
}

/** ISO 8601 UTC timestamps of one format sort as strings; a version Corral did not write sorts by its instant. */
function newestFirst(a: string, b: string): number {
  const diff = Date.parse(b) - Date.parse(a);
  return Number.isNaN(diff) || diff === 0 ? (a < b ? 1 : a > b ? -1 : 0) : diff;
}

/** What is worth keeping of a task: where it runs and what it is; its state comes from reconciliation. */
function persisted(t: AppTask): JsonValue {
  const { state: _state, healthy: _healthy, healthCheckResults: _results, ready: _ready, killPreferred: _preferred, ...rest } = t;
  return JSON.parse(JSON.stringify(rest)) as JsonValue;
}

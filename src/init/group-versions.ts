// Marathon's version history of a group. Every change made through `/v2/groups` (create, replace,
// scaleBy, delete, rollback) keeps a snapshot of the group as the change left it: every app below it
// as stored (definition and version) and its explicit subgroups. `PUT /v2/groups/{id}` with
// `{"version": V}` makes the group that snapshot again, in one deployment; a deleted group's history
// stays, so a delete can be rolled back too. Changes made to single apps (`/v2/apps`) are not
// group versions (they are the app's own versions). Kept as
// `/init/group-versions/<id without leading slash>@<version>`: `@` cannot occur in an id, so the
// history of `/a` never reaches into that of `/a/b`.
import { CorralError } from '../shared/errors';
import type { JsonValue, Store, TxnOp } from '../store/types';
import type { ExplicitGroup } from './groups';
import type { StoredApp } from './types';

const VERSIONS = '/init/group-versions/';
/** Marathon's default `max_versions`, as for apps. */
export const MAX_GROUP_VERSIONS = 50;

export interface GroupSnapshot {
  id: string;
  version: string;
  apps: StoredApp[];
  /** The explicit groups at or below the group. */
  groups: ExplicitGroup[];
}

const prefixOf = (groupId: string) => VERSIONS + groupId.replace(/^\//, '') + '@';
const newestFirst = (a: string, b: string) => (a < b ? 1 : a > b ? -1 : 0);

export class GroupVersions {
  constructor(
    private readonly store: Store,
    private readonly maxVersions = MAX_GROUP_VERSIONS,
  ) {}

  /** Keeps `snapshot` and drops the group's oldest versions beyond the limit, in one transaction. */
  async record(snapshot: GroupSnapshot): Promise<void> {
    const prefix = prefixOf(snapshot.id);
    const older = (await this.versions(snapshot.id)).filter((v) => v !== snapshot.version);
    const dropped = older.slice(Math.max(0, this.maxVersions - 1)).map((v): TxnOp => ({ type: 'delete', key: prefix + v }));
    const res = await this.store.txn({ compare: [], success: [{ type: 'put', key: prefix + snapshot.version, value: snapshot as unknown as JsonValue }, ...dropped] });
    if (!res.succeeded) throw new CorralError('REVISION_CONFLICT', 'Keeping the group version failed; retry');
  }

  /** The group's kept versions, newest first. */
  async versions(groupId: string): Promise<string[]> {
    const prefix = prefixOf(groupId);
    return (await this.store.list(prefix)).map((e) => e.key.slice(prefix.length)).sort(newestFirst);
  }

  /** The group as the change at `version` left it, or undefined if that version is not kept. */
  async get(groupId: string, version: string): Promise<GroupSnapshot | undefined> {
    if (version === '' || version.includes('/')) return undefined;
    return (await this.store.get<GroupSnapshot>(prefixOf(groupId) + version))?.value;
  }
}

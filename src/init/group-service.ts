// Group changes as /v2/groups asks for them: resolve the definition (groups.ts), hand every app
// change to the app service as ONE deployment, and keep explicitly created groups in the store
// (`/init/groups/<id without leading slash>` → {id, dependencies, version}; apps are not copied
// there, a group's apps are the apps whose ids lie in it). Each change also keeps a version of the
// group (group-versions.ts), which `PUT {"version"}` rolls back to.
import { CorralError, errors } from '../shared/errors';
import type { Store } from '../store/types';
import type { AppService, ChangeOptions, ManyChangeResult } from './app-service';
import type { DeploymentEvent } from './deployment-json';
import { rollbackVersion } from './app-versions';
import { GroupVersions, type GroupSnapshot } from './group-versions';
import { groupIds, parentOf, resolveGroupDefinition, resolveGroupId, ROOT, scaledInstances, within, type ExplicitGroup, type GroupAppBody, type ResolvedGroup } from './groups';

const GROUPS = '/init/groups/';
const keyOf = (id: string) => GROUPS + id.replace(/^\//, '');

/** Deployments remembered as finished, so a change whose deployment ended at once still gets its event. */
const REMEMBERED = 100;

/** Marathon's group_change_success, published once the deployment of a group change succeeded. */
export type GroupChangeEvent = {
  eventType: 'group_change_success';
  timestamp: string;
  groupId: string;
  version: string;
};

export class GroupService {
  private readonly awaiting = new Map<string, { groupId: string; version: string }>();
  private readonly ended = new Map<string, { outcome: 'deployment_success' | 'deployment_failed'; timestamp: string }>();
  private publish: ((event: GroupChangeEvent) => void) | undefined;
  readonly versions: GroupVersions;

  constructor(
    private readonly store: Store,
    private readonly apps: AppService,
  ) {
    this.versions = new GroupVersions(store);
  }

  /** Publishes group_change_success through `publish` for each group change whose deployment succeeds (`deployments`: their events). */
  announceChanges(onDeploymentEvent: (listener: (e: DeploymentEvent) => void) => unknown, publish: (event: GroupChangeEvent) => void): void {
    this.publish = publish;
    onDeploymentEvent((e) => {
      if (e.eventType !== 'deployment_success' && e.eventType !== 'deployment_failed') return;
      const id = String(e.id);
      this.ended.set(id, { outcome: e.eventType, timestamp: e.timestamp });
      if (this.ended.size > REMEMBERED) this.ended.delete(this.ended.keys().next().value!);
      this.settle(id);
    });
  }

  /**
   * Keeps the group as the change left it (a version to roll back to) and records the change's
   * deployment; its event goes out when (or if already) it succeeded.
   */
  private async changed<R extends ManyChangeResult>(groupId: string, result: R): Promise<R> {
    if (result.dryRun) return result;
    await this.versions.record(await this.snapshot(groupId, result));
    if (this.publish) {
      this.awaiting.set(result.deploymentId, { groupId, version: result.version });
      this.settle(result.deploymentId);
    }
    return result;
  }

  private async snapshot(id: string, result: ManyChangeResult): Promise<GroupSnapshot> {
    const apps = result.apps.filter((s) => within(s.app.id, id));
    const groups = (await this.explicit()).filter((g) => within(g.id, id));
    return { id, version: result.version, apps, groups };
  }

  private settle(deploymentId: string): void {
    const change = this.awaiting.get(deploymentId);
    const end = this.ended.get(deploymentId);
    if (!change || !end) return;
    this.awaiting.delete(deploymentId);
    if (end.outcome === 'deployment_success') this.publish?.({ eventType: 'group_change_success', timestamp: end.timestamp, groupId: change.groupId, version: change.version });
  }

  /** The explicitly created groups. */
  async explicit(): Promise<ExplicitGroup[]> {
    return (await this.store.list<ExplicitGroup>(GROUPS)).map((e) => e.value);
  }

  /** `raw` as an absolute group id (`/` the root); VALIDATION_FAILED for an id Marathon would reject. */
  normalize(raw: string): string {
    return resolveGroupId(raw, ROOT);
  }

  /** Whether the group exists: the root, an explicit group, or a group some app lies in. */
  async exists(id: string): Promise<boolean> {
    return groupIds(this.apps.list().map((s) => s.app.id), (await this.explicit()).map((g) => g.id)).has(id);
  }

  async assertExists(id: string): Promise<void> {
    if (!(await this.exists(id))) throw errors.groupNotFound(id);
  }

  /**
   * POST /v2/groups[/{base}]: the body's id is relative to `base` (the URL's group, or the root) and
   * defaults to it. GROUP_EXISTS when the group exists; its apps start in one deployment.
   */
  async create(body: unknown, base: string, opts: ChangeOptions = {}): Promise<ManyChangeResult & { groupId: string }> {
    const hasId = typeof body === 'object' && body !== null && typeof (body as Record<string, unknown>).id === 'string';
    const resolved = resolveGroupDefinition(body, base, hasId ? {} : { id: base });
    const groupId = resolved.groups[0]!.id;
    if (await this.exists(groupId)) throw errors.groupExists(groupId);
    await this.assertDistinctIds(resolved);
    const result = await this.apps.changeMany(resolved.apps, [], opts);
    if (!result.dryRun) await this.saveGroups(resolved.groups, result.version, []);
    return this.changed(groupId, { ...result, groupId });
  }

  /**
   * PUT /v2/groups/{id}: `{scaleBy}` scales every app below the group; otherwise the definition
   * creates or replaces the group's apps. As in Marathon, given `apps`, the group's own apps not
   * listed are removed; given `groups`, so are the apps of subgroups not listed.
   */
  async update(id: string, body: unknown, opts: ChangeOptions = {}): Promise<ManyChangeResult> {
    const input = typeof body === 'object' && body !== null && !Array.isArray(body) ? (body as Record<string, unknown>) : undefined;
    if (input && input.scaleBy !== undefined) return this.scale(id, input.scaleBy, opts);
    const rollback = rollbackVersion(body);
    if (rollback !== undefined) return this.rollback(id, rollback, opts);
    const resolved = resolveGroupDefinition(body, parentOf(id), { id });
    await this.assertDistinctIds(resolved);
    const defined = new Set(resolved.apps.map((a) => a.body.id as string));
    const removals = this.appsWithin(id).filter((appId) => {
      if (defined.has(appId)) return false;
      const direct = parentOf(appId) === id;
      return direct ? input?.apps !== undefined : input?.groups !== undefined;
    });
    const result = await this.apps.changeMany(resolved.apps, removals, opts);
    if (!result.dryRun) {
      const stale = input?.groups !== undefined ? (await this.explicit()).map((g) => g.id).filter((g) => g !== id && within(g, id)) : [];
      await this.saveGroups(resolved.groups.filter((g) => g.id !== ROOT), result.version, stale.filter((g) => !resolved.groups.some((r) => r.id === g)));
    }
    return this.changed(id, result);
  }

  /**
   * PUT /v2/groups/{id} {"version"}: the group becomes what the change at `version` left — its
   * apps' definitions then, the apps added since removed, its explicit subgroups then — in one
   * deployment, under a new version. GROUP_VERSION_NOT_FOUND when that version is not kept.
   */
  private async rollback(id: string, version: string, opts: ChangeOptions): Promise<ManyChangeResult> {
    const kept = await this.versions.get(id, version);
    if (!kept) throw errors.groupVersionNotFound(id, version);
    const bodies: GroupAppBody[] = kept.apps.map((s) => {
      const { version: _stray, ...definition } = s.app as typeof s.app & { version?: unknown };
      return { body: definition as Record<string, unknown>, path: '' };
    });
    const keptIds = new Set(kept.apps.map((s) => s.app.id));
    const result = await this.apps.changeMany(bodies, this.appsWithin(id).filter((a) => !keptIds.has(a)), opts);
    if (!result.dryRun) {
      const keptGroups = new Set(kept.groups.map((g) => g.id));
      const stale = (await this.explicit()).map((g) => g.id).filter((g) => within(g, id) && !keptGroups.has(g));
      await this.saveGroups(kept.groups, result.version, stale);
    }
    return this.changed(id, result);
  }

  /** DELETE /v2/groups/{id}: every app below the group goes in one deployment, and the explicit groups with them. */
  async remove(id: string, opts: ChangeOptions = {}): Promise<ManyChangeResult> {
    await this.assertExists(id);
    const result = await this.apps.changeMany([], this.appsWithin(id), opts);
    if (!result.dryRun) await this.saveGroups([], result.version, (await this.explicit()).map((g) => g.id).filter((g) => within(g, id)));
    return this.changed(id, result);
  }

  private async scale(id: string, factor: unknown, opts: ChangeOptions): Promise<ManyChangeResult> {
    if (typeof factor !== 'number' || !Number.isFinite(factor) || factor < 0) throw errors.validation([{ path: '/scaleBy', errors: ['must be a number >= 0'] }]);
    await this.assertExists(id);
    const bodies: GroupAppBody[] = this.apps
      .list()
      .filter((s) => within(s.app.id, id))
      .map((s) => ({ body: { ...s.app, instances: scaledInstances(s.app.instances, factor) } as Record<string, unknown>, path: '' }));
    return this.changed(id, await this.apps.changeMany(bodies, [], opts));
  }

  /** Marathon: "Groups and Applications may not have the same identifier." */
  private async assertDistinctIds(resolved: ResolvedGroup): Promise<void> {
    const appIds = new Set(this.apps.list().map((s) => s.app.id));
    const groups = groupIds([...appIds], (await this.explicit()).map((g) => g.id));
    const newApps = resolved.apps.map((a) => a.body.id as string);
    // The new groups with the groups they lie in (a group /a/b makes /a a group too).
    const newGroups = groupIds(newApps, resolved.groups.map((g) => g.id));
    const clash = [...[...newGroups].filter((g) => appIds.has(g)), ...newApps.filter((a) => groups.has(a))];
    if (clash.length > 0) throw errors.validation(clash.map((id) => ({ path: '/id', errors: [`Groups and Applications may not have the same identifier: ${id}`] })));
  }

  private appsWithin(id: string): string[] {
    return this.apps.list().map((s) => s.app.id).filter((a) => within(a, id));
  }

  /** Writes the groups (at `version`) and deletes `removed`, in one transaction. */
  private async saveGroups(groups: ReadonlyArray<Omit<ExplicitGroup, 'version'>>, version: string, removed: readonly string[]): Promise<void> {
    const puts = groups.filter((g) => g.id !== ROOT).map((g) => ({ type: 'put' as const, key: keyOf(g.id), value: { id: g.id, dependencies: g.dependencies, version } }));
    const deletes = removed.map((g) => ({ type: 'delete' as const, key: keyOf(g) }));
    if (puts.length + deletes.length === 0) return;
    const res = await this.store.txn({ compare: [], success: [...puts, ...deletes] });
    if (!res.succeeded) throw new CorralError('REVISION_CONFLICT', 'Saving the groups failed; retry');
  }
}

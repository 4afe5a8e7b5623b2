// Marathon's groups as pure functions over plain data. A group is implicit in app ids (`/shop/web`
// lies in `/shop` and `/`) or created explicitly (kept even while empty). A group definition
// (`{id, apps, groups, dependencies}`) resolves to absolute app bodies the app service validates and
// deploys in one deployment; the tree GET /v2/groups answers is built from the apps and the explicit
// groups.
import { CorralError, type ErrorDetail } from '../shared/errors';
import { normalizeAppId } from './app';

export const ROOT = '/';

/** A group created explicitly, as persisted under /init/groups/ (apps are not copied here). */
export interface ExplicitGroup {
  id: string;
  /** Absolute ids of the apps or groups every app of this group depends on. */
  dependencies: string[];
  version: string;
}

/** An app body of a group definition, its id made absolute; `path` points at it in the request. */
export interface GroupAppBody {
  body: Record<string, unknown>;
  path: string;
}

export interface ResolvedGroup {
  /** This group and every group defined below it. */
  groups: Array<Omit<ExplicitGroup, 'version'>>;
  apps: GroupAppBody[];
}

/**
 * `raw` made absolute against the group `base`, as Marathon's PathId.canonicalPath: `a` → `base/a`,
 * `../a` → a sibling of base, `/a` stays. `/` is the root group. VALIDATION_FAILED at `path`.
 */
export function resolveGroupId(raw: string, base: string, path = '/id'): string {
  const segments = raw.startsWith('/') ? [] : base.split('/').filter((s) => s !== '');
  for (const s of raw.split('/').filter((x) => x !== '' && x !== '.')) {
    if (s === '..') segments.pop();
    else segments.push(s);
  }
  return segments.length === 0 ? ROOT : normalizeAppId('/' + segments.join('/'), path);
}

/** The group an app or group lies in: `/shop/web` → `/shop`, `/shop` → `/`. */
export function parentOf(id: string): string {
  const i = id.lastIndexOf('/');
  return i <= 0 ? ROOT : id.slice(0, i);
}

/** Whether `id` is the group `group` or lies below it. */
export function within(id: string, group: string): boolean {
  return group === ROOT || id === group || id.startsWith(group + '/');
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const invalid = (details: ErrorDetail[]) => new CorralError('VALIDATION_FAILED', 'Object is not valid', details);

/**
 * Resolves a group definition whose id (relative to `parent`, or `id` from the URL) is made
 * absolute, with its apps' ids relative to their group, as Marathon does. A group's `dependencies`
 * (relative to the group it lies in) are added to each of its apps, so the planner orders them.
 * Throws VALIDATION_FAILED with every problem's path.
 */
export function resolveGroupDefinition(input: unknown, parent: string, opts: { id?: string; path?: string } = {}): ResolvedGroup {
  const path = opts.path ?? '';
  if (!isObject(input)) throw invalid([{ path: path || '/', errors: ['must be a JSON object'] }]);
  const details: ErrorDetail[] = [];
  const at = (rel: string) => `${path}${rel}`;
  const wrap = <T>(fn: () => T): T | undefined => {
    try {
      return fn();
    } catch (err) {
      if (err instanceof CorralError && err.details) details.push(...err.details);
      else throw err;
      return undefined;
    }
  };
  let id: string | undefined = opts.id;
  if (id === undefined) {
    if (typeof input.id !== 'string' || input.id === '') details.push({ path: at('/id'), errors: ['is required'] });
    else id = wrap(() => resolveGroupId(input.id as string, parent, at('/id')));
  }
  for (const field of ['apps', 'groups', 'dependencies'] as const) {
    if (input[field] !== undefined && !Array.isArray(input[field])) details.push({ path: at(`/${field}`), errors: ['must be an array'] });
  }
  if (details.length > 0 || id === undefined) throw invalid(details);
  const groupId = id;
  const dependencies = ((input.dependencies as unknown[] | undefined) ?? []).flatMap((d, i) => {
    if (typeof d !== 'string' || d === '') return details.push({ path: at(`/dependencies/${i}`), errors: ['must be a non-empty string'] }), [];
    const dep = wrap(() => resolveGroupId(d, parentOf(groupId), at(`/dependencies/${i}`)));
    return dep === undefined ? [] : [dep];
  });
  const out: ResolvedGroup = { groups: [{ id: groupId, dependencies }], apps: [] };
  ((input.apps as unknown[] | undefined) ?? []).forEach((app, i) => {
    const appPath = at(`/apps/${i}`);
    if (!isObject(app) || typeof app.id !== 'string' || app.id === '') return void details.push({ path: `${appPath}/id`, errors: ['is required'] });
    const appId = wrap(() => resolveGroupId(app.id as string, groupId, `${appPath}/id`));
    if (appId === undefined) return;
    if (appId === ROOT || parentOf(appId) !== groupId) return void details.push({ path: `${appPath}/id`, errors: [`app ${appId} is not a direct child of group ${groupId}`] });
    // The app's own dependencies are relative to its group, which validateApp resolves from its id.
    const own = Array.isArray(app.dependencies) ? (app.dependencies as unknown[]) : [];
    out.apps.push({ body: { ...app, id: appId, dependencies: [...own, ...dependencies] }, path: appPath });
  });
  ((input.groups as unknown[] | undefined) ?? []).forEach((sub, i) => {
    const resolved = wrap(() => resolveGroupDefinition(sub, groupId, { path: at(`/groups/${i}`) }));
    if (!resolved) return;
    const bad = resolved.groups[0]!;
    if (bad.id === ROOT || parentOf(bad.id) !== groupId) return void details.push({ path: at(`/groups/${i}/id`), errors: [`group ${bad.id} is not a direct child of group ${groupId}`] });
    // A subgroup's apps also depend on what its parents depend on.
    for (const a of resolved.apps) a.body.dependencies = [...(a.body.dependencies as unknown[]), ...dependencies];
    out.groups.push(...resolved.groups);
    out.apps.push(...resolved.apps);
  });
  const seen = new Set<string>();
  for (const a of out.apps) {
    const appId = a.body.id as string;
    if (seen.has(appId)) details.push({ path: `${a.path}/id`, errors: [`app ${appId} is defined twice`] });
    seen.add(appId);
  }
  if (details.length > 0) throw invalid(details);
  return out;
}

/**
 * Dependencies on a group stand for every app below it (Marathon: an app depending on a group
 * waits for all of the group's apps). `appIds` are the apps there will be; a dependency on neither
 * an app nor a group with apps is kept as given (it is met already, as for apps).
 */
export function expandGroupDependencies(deps: readonly string[], self: string, appIds: readonly string[]): string[] {
  const out: string[] = [];
  for (const d of deps) {
    const targets = appIds.includes(d) ? [d] : appIds.filter((a) => a !== self && within(a, d) && !within(self, d));
    for (const t of targets.length > 0 ? targets : [d]) if (t !== self && !out.includes(t)) out.push(t);
  }
  return out;
}

/** The groups that exist: the explicit ones, every group an app lies in, and their parents. */
export function groupIds(appIds: readonly string[], explicit: readonly string[]): Set<string> {
  const ids = new Set<string>([ROOT]);
  const addWithParents = (g: string) => {
    for (let cur = g; !ids.has(cur); cur = parentOf(cur)) ids.add(cur);
  };
  for (const a of appIds) addWithParents(parentOf(a));
  for (const g of explicit) addWithParents(g);
  return ids;
}

/** One node of GET /v2/groups: apps and subgroups as the caller renders them (omitted when not embedded). */
export interface GroupNode<A> {
  id: string;
  apps?: A[];
  groups?: Array<GroupNode<A>>;
  dependencies: string[];
  version: string;
}

export interface TreeApp {
  id: string;
  version: string;
}

/**
 * The tree below `id` (which must exist, see groupIds). A group's version is the newest of its
 * explicit version and the versions of everything below it, as a change below changes the group.
 */
export function groupTree<A extends TreeApp, R>(id: string, apps: readonly A[], explicit: readonly ExplicitGroup[], render: (app: A) => R, embed: { apps: boolean; groups: boolean }): GroupNode<R> {
  const all = groupIds(apps.map((a) => a.id), explicit.map((g) => g.id));
  const byId = new Map(explicit.map((g) => [g.id, g]));
  const build = (gid: string): GroupNode<R> => {
    const subIds = [...all].filter((g) => g !== gid && g !== ROOT && parentOf(g) === gid).sort();
    const subs = subIds.map(build);
    const own = apps.filter((a) => parentOf(a.id) === gid).sort((a, b) => a.id.localeCompare(b.id));
    const versions = [byId.get(gid)?.version, ...own.map((a) => a.version), ...subs.map((s) => s.version)].filter((v): v is string => v !== undefined && v !== '');
    const node: GroupNode<R> = {
      id: gid,
      dependencies: byId.get(gid)?.dependencies ?? [],
      version: versions.sort().at(-1) ?? new Date(0).toISOString(),
    };
    if (embed.apps) node.apps = own.map(render);
    if (embed.groups) node.groups = subs;
    return node;
  };
  return build(id);
}

/** Marathon's `scaleBy`: every app's instances times the factor, rounded up. */
export function scaledInstances(instances: number, factor: number): number {
  return Math.ceil(instances * factor);
}

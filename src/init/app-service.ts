// App changes as the /v2 API asks for them: validate, version, assign service ports, write to the
// store (compare-and-set), then tell the controller. A request that fails writes nothing.
import type { Clock } from '../shared/clock';
import { CorralError, errors, type ErrorDetail } from '../shared/errors';
import { uuid } from '../shared/ids';
import { silentLogger } from '../shared/logger';
import { needsRestart, normalizeAppId, validateApp } from './app';
import type { AppRepo } from './app-repo';
import { rollbackDefinition, rollbackVersion } from './app-versions';
import type { InitController } from './controller';
import type { DeploymentState } from './deployment-json';
import { checkDependencies, planDeployment, rollbackChanges } from './deployment-plan';
import { Deployments, type AppEntry } from './deployments';
import { expandGroupDependencies, type GroupAppBody } from './groups';
import type { AppChange, AppDefinition, DeploymentPlan, StoredApp } from './types';

export interface ServicePortRange {
  begin: number;
  end: number;
}

export interface ChangeOptions {
  /** Supersede the deployments in progress on the app instead of refusing with APP_LOCKED. */
  force?: boolean;
  /** Validate and plan only: nothing is written, the plan is the answer. */
  dryRun?: boolean;
  /** Seconds after which the deployment rolls back by itself, besides upgradeStrategy.deadlineSeconds. */
  deadlineSeconds?: number;
}

export interface ChangeResult {
  /** The app after the change (before it, for a removal). */
  stored: StoredApp;
  deploymentId: string;
  created: boolean;
  plan: DeploymentPlan;
  /** Nothing was written: the answer of a dry run. */
  dryRun: boolean;
}

/** What a change of several apps (a group) did, or would do for a dry run. */
export interface ManyChangeResult {
  deploymentId: string;
  version: string;
  plan: DeploymentPlan;
  dryRun: boolean;
  /** Every app as the change leaves them (init's own list follows as the deployment proceeds). */
  apps: StoredApp[];
}

export class AppService {
  private lastVersionMs = 0;

  constructor(
    private readonly repo: AppRepo,
    private readonly controller: InitController,
    private readonly clock: Clock,
    /** The deployment runner; left out (tests), one is started here whose logs go nowhere. */
    readonly deployments: Deployments = startedDeployments(controller, clock),
    private readonly servicePorts: ServicePortRange = { begin: 10000, end: 20000 },
  ) {
    deployments.onDeadline((d) => this.rollback(d.plan.id, {}, `deadline passed (${Math.round(((d.deadline ?? d.startedAt) - d.startedAt) / 1000)} s)`));
  }

  list(): StoredApp[] {
    return [...this.controller.apps.values()].map((e) => e.stored).sort((a, b) => a.app.id.localeCompare(b.app.id));
  }

  get(rawId: string): StoredApp {
    const id = normalizeAppId(rawId);
    const entry = this.controller.apps.get(id);
    if (!entry) throw errors.appNotFound(id);
    return entry.stored;
  }

  /** Ids of the deployments in progress that change the app. */
  deploymentsOf(appId: string): string[] {
    return this.deployments.idsFor(appId);
  }

  async create(body: unknown, opts: ChangeOptions = {}): Promise<ChangeResult> {
    const app = this.assignServicePorts(validateApp(body), undefined);
    if (this.controller.apps.has(app.id)) throw errors.appExists(app.id);
    const version = this.version();
    const stored: StoredApp = { app, version, lastConfigChangeAt: version, lastScalingAt: version };
    return this.deploy({ appId: app.id, original: undefined, target: stored }, opts, () => this.repo.create(stored), true);
  }

  /** PUT: merges into the app (partialUpdate, Marathon's default) or replaces it; creates it when missing. */
  async update(rawId: string, body: unknown, partial: boolean, opts: ChangeOptions = {}): Promise<ChangeResult> {
    const id = normalizeAppId(rawId);
    // Marathon's rollback: a body of just {version} (and id) replaces the app with that kept definition.
    const restore = rollbackVersion(body);
    if (restore !== undefined) return this.update(id, await rollbackDefinition(this.repo, id, this.controller.apps.get(id)?.stored, restore), false, opts);
    const existing = this.controller.apps.get(id);
    if (!existing) return this.create({ ...(isObject(body) ? body : {}), id }, opts);
    if (!isObject(body)) throw new CorralError('VALIDATION_FAILED', 'Object is not valid', [{ path: '/', errors: ['must be a JSON object'] }]);
    const merged = partial ? mergeUpdate(existing.stored.app, body) : body;
    const app = this.assignServicePorts(validateApp(merged, { id }), existing.stored.app);
    const version = this.version();
    const restart = needsRestart(existing.stored.app, app);
    const stored: StoredApp = {
      app,
      version,
      lastConfigChangeAt: restart ? version : existing.stored.lastConfigChangeAt,
      lastScalingAt: app.instances !== existing.stored.app.instances ? version : existing.stored.lastScalingAt,
    };
    return this.deploy({ appId: id, original: existing.stored, target: stored }, opts, () => this.repo.update(stored, existing.revision), false);
  }

  /** POST /v2/apps/{id}/restart: a new config version, so every instance is replaced (rolling). */
  async restart(rawId: string, opts: ChangeOptions = {}): Promise<ChangeResult> {
    const id = normalizeAppId(rawId);
    const existing = this.controller.apps.get(id);
    if (!existing) throw errors.appNotFound(id);
    const version = this.version();
    const stored: StoredApp = { ...existing.stored, version, lastConfigChangeAt: version };
    return this.deploy({ appId: id, original: existing.stored, target: stored }, opts, () => this.repo.update(stored, existing.revision), false);
  }

  async remove(rawId: string, opts: ChangeOptions = {}): Promise<ChangeResult> {
    const id = normalizeAppId(rawId);
    const existing = this.controller.apps.get(id);
    if (!existing) throw errors.appNotFound(id);
    return this.deploy({ appId: id, original: existing.stored, target: undefined }, opts, async () => (await this.repo.remove(id), 0), false);
  }

  /**
   * DELETE /v2/deployments/{id}: a new deployment back to the definitions before it (Marathon's
   * rollback); with `force` the deployment only stops (its apps stay as they are now).
   */
  async rollback(id: string, opts: { force?: boolean } = {}, reason = 'rolled back on request'): Promise<{ deploymentId: string; version: string } | undefined> {
    const d: DeploymentState = this.deployments.get(id);
    if (opts.force) {
      this.deployments.end(id, 'stopped', 'stopped on request');
      return undefined;
    }
    const version = this.version();
    const changes = rollbackChanges(d.plan, (appId) => this.deployments.entryOf(id, appId)?.stored, version);
    const plan = planDeployment(uuid(), version, changes);
    const entries = new Map<string, AppEntry>();
    for (const c of changes) {
      const written = this.deployments.entryOf(id, c.appId);
      if (!c.target) {
        if (written) await this.repo.remove(c.appId);
        entries.set(c.appId, undefined);
      } else {
        const revision = written ? await this.repo.update(c.target, written.revision) : await this.repo.create(c.target);
        entries.set(c.appId, { stored: c.target, revision });
      }
    }
    if (this.deployments.find(id)?.status === 'running') this.deployments.end(id, 'rolled-back', reason, plan.id);
    this.deployments.deploy(plan, entries, { force: true, rollbackOf: id });
    return { deploymentId: plan.id, version };
  }

  /**
   * Marathon's bulk `PUT /v2/apps`: an array of app definitions, each merged into its app
   * (partialUpdate, the default) or replacing it, created when missing, all in one deployment.
   * VALIDATION_FAILED paths start with the item's index (`/1/cpus`).
   */
  async updateMany(bodies: unknown, partial: boolean, opts: ChangeOptions = {}): Promise<ManyChangeResult> {
    if (!Array.isArray(bodies)) throw errors.validation([{ path: '/', errors: ['must be a JSON array of app definitions'] }]);
    const details: ErrorDetail[] = [];
    const items: GroupAppBody[] = [];
    const seen = new Set<string>();
    bodies.forEach((body: unknown, i) => {
      if (!isObject(body) || typeof body.id !== 'string') return void details.push({ path: `/${i}/id`, errors: ['every app of a bulk update needs an id'] });
      let id: string;
      try {
        id = normalizeAppId(body.id, `/${i}/id`);
      } catch (err) {
        return void details.push(...((err as CorralError).details ?? []));
      }
      if (seen.has(id)) return void details.push({ path: `/${i}/id`, errors: [`app ${id} is given more than once`] });
      seen.add(id);
      const existing = this.controller.apps.get(id)?.stored.app;
      items.push({ body: { ...(partial && existing ? mergeUpdate(existing, body) : body), id }, path: `/${i}` });
    });
    if (details.length > 0) throw errors.validation(details);
    return this.changeMany(items, [], opts);
  }

  /**
   * Several apps in ONE deployment (Marathon's group changes): each body (absolute id) creates or
   * replaces its app, each id in `removals` is removed. Dependencies on a group stand for its apps;
   * the planner orders the steps by them. An app whose definition is unchanged is left out. Bodies
   * are validated together: a 422 names every problem, its paths prefixed with the body's `path`.
   * The apps are written in one transaction before the deployment starts: all of them, or, when
   * one was changed meanwhile, none (APP_LOCKED).
   */
  async changeMany(bodies: readonly GroupAppBody[], removals: readonly string[], opts: ChangeOptions = {}): Promise<ManyChangeResult> {
    const details: ErrorDetail[] = [];
    const validated: AppDefinition[] = [];
    for (const { body, path } of bodies) {
      try {
        validated.push(validateApp(body));
      } catch (err) {
        if (!(err instanceof CorralError) || err.code !== 'VALIDATION_FAILED') throw err;
        details.push(...(err.details ?? []).map((d) => ({ path: `${path}${d.path === '/' ? '' : d.path}` || '/', errors: d.errors })));
      }
    }
    if (details.length > 0) throw errors.validation(details);
    const removed = new Set(removals.filter((id) => this.controller.apps.has(id) && !validated.some((a) => a.id === id)));
    const appIds = [...new Set([...[...this.controller.apps.keys()].filter((id) => !removed.has(id)), ...validated.map((a) => a.id)])];
    const version = this.version();
    const batchPorts = new Set<number>();
    const changes: AppChange[] = [];
    for (const raw of validated) {
      const existing = this.controller.apps.get(raw.id)?.stored;
      const app = this.assignServicePorts({ ...raw, dependencies: expandGroupDependencies(raw.dependencies ?? [], raw.id, appIds) }, existing?.app, batchPorts);
      for (const p of app.portDefinitions) batchPorts.add(p.port);
      if (existing && sameDefinition(existing.app, app)) continue;
      const restart = !existing || needsRestart(existing.app, app);
      const target: StoredApp = {
        app,
        version,
        lastConfigChangeAt: restart ? version : existing.lastConfigChangeAt,
        lastScalingAt: !existing || app.instances !== existing.app.instances ? version : existing.lastScalingAt,
      };
      changes.push({ appId: app.id, original: existing, target });
    }
    for (const id of removed) changes.push({ appId: id, original: this.controller.apps.get(id)!.stored, target: undefined });
    const after = new Map(this.list().filter((s) => !removed.has(s.app.id)).map((s) => [s.app.id, s]));
    for (const c of changes) if (c.target) after.set(c.appId, c.target);
    checkDependencies([...after.values()]);
    const plan = planDeployment(uuid(), version, changes);
    this.deployments.assertUnlocked(plan.affectedApps, opts.force);
    const apps = [...after.values()];
    if (opts.dryRun) return { deploymentId: plan.id, version, plan, dryRun: true, apps };
    // One transaction: every app or none (APP_LOCKED when one changed meanwhile).
    const revision = await this.repo.writeMany(changes.map((c) => (c.target ? { stored: c.target, revision: this.controller.apps.get(c.appId)?.revision ?? 0 } : { remove: c.appId })));
    const entries = new Map<string, AppEntry>(changes.map((c) => [c.appId, c.target ? { stored: c.target, revision } : undefined]));
    this.deployments.deploy(plan, entries, { force: true, ...(opts.deadlineSeconds !== undefined ? { deadlineSeconds: opts.deadlineSeconds } : {}) });
    return { deploymentId: plan.id, version, plan, dryRun: false, apps };
  }

  /**
   * Plans one app's change; unless it is a dry run, writes it (`write` returns the store revision)
   * and starts its deployment. Refused with APP_LOCKED while another deployment changes the app,
   * unless forced — also for a dry run, which answers what the real request would.
   */
  private async deploy(change: AppChange, opts: ChangeOptions, write: () => Promise<number>, created: boolean): Promise<ChangeResult> {
    const plan = planDeployment(uuid(), change.target?.version ?? this.version(), [change]);
    if (change.target) checkDependencies([...this.list().filter((s) => s.app.id !== change.appId), change.target]);
    this.deployments.assertUnlocked(plan.affectedApps, opts.force);
    const stored = change.target ?? change.original!;
    if (opts.dryRun) return { stored, deploymentId: plan.id, created, plan, dryRun: true };
    const revision = await write();
    const entry: AppEntry = change.target ? { stored: change.target, revision } : undefined;
    // Written, so this change is what the store holds: should another deployment have started on the
    // app during the write (a race the lock check above cannot see), this one supersedes it.
    this.deployments.deploy(plan, new Map([[change.appId, entry]]), { force: true, ...(opts.deadlineSeconds !== undefined ? { deadlineSeconds: opts.deadlineSeconds } : {}) });
    return { stored, deploymentId: plan.id, created, plan, dryRun: false };
  }

  /**
   * A new version: now, but at least 1 ms after the last one handed out, so two changes in the same
   * millisecond still get distinct versions (a restart is told from its predecessor by its version).
   */
  private version(): string {
    this.lastVersionMs = Math.max(this.clock.now(), this.lastVersionMs + 1);
    return new Date(this.lastVersionMs).toISOString();
  }

  /** Service port 0 means "pick one": unique across apps, from the service port range. */
  private assignServicePorts(app: AppDefinition, previous: AppDefinition | undefined, alsoTaken: ReadonlySet<number> = new Set()): AppDefinition {
    if (!app.portDefinitions.some((p) => p.port === 0)) return app;
    // Ports given to other apps of the same change (a group) count as taken too.
    const taken = new Set<number>(alsoTaken);
    for (const { stored } of this.controller.apps.values()) {
      if (stored.app.id !== app.id) for (const p of stored.app.portDefinitions) taken.add(p.port);
    }
    for (const p of app.portDefinitions) taken.add(p.port);
    const reusable = (previous?.portDefinitions ?? []).map((p) => p.port).filter((p) => p !== 0);
    let next = this.servicePorts.begin;
    const pick = (): number => {
      const again = reusable.shift();
      if (again !== undefined && !taken.has(again)) return again;
      while (taken.has(next) && next <= this.servicePorts.end) next++;
      if (next > this.servicePorts.end) throw new CorralError('VALIDATION_FAILED', 'Object is not valid', [{ path: '/portDefinitions', errors: ['no free service port left'] }]);
      return next;
    };
    const portDefinitions = app.portDefinitions.map((p) => {
      if (p.port !== 0) return p;
      const port = pick();
      taken.add(port);
      return { ...p, port };
    });
    return { ...app, portDefinitions };
  }
}

function startedDeployments(controller: InitController, clock: Clock): Deployments {
  const deployments = new Deployments({ controller, clock, logger: silentLogger() });
  deployments.start();
  return deployments;
}

/** Whether two definitions are the same, object keys in any order. */
function sameDefinition(a: AppDefinition, b: AppDefinition): boolean {
  const canonical = (v: unknown): unknown =>
    Array.isArray(v) ? v.map(canonical) : typeof v === 'object' && v !== null ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, canonical((v as Record<string, unknown>)[k])])) : v;
  return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A partial update (Marathon's partialUpdate): the body's fields over the app's; cmd replaces args and the other way round, ports replace portDefinitions. */
function mergeUpdate(app: AppDefinition, body: Record<string, unknown>): Record<string, unknown> {
  const merged: Record<string, unknown> = { ...app, ...body };
  if ('cmd' in body && !('args' in body)) delete merged.args;
  if ('args' in body && !('cmd' in body)) delete merged.cmd;
  if ('ports' in body && !('portDefinitions' in body)) delete merged.portDefinitions;
  return merged;
}

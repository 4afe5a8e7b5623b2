// App changes as the /v2 API asks for them: validate, version, assign service ports, write to the
// store (compare-and-set), then tell the controller. A request that fails writes nothing.
import type { Clock } from '../shared/clock';
import { CorralError, errors } from '../shared/errors';
import { uuid } from '../shared/ids';
import { needsRestart, normalizeAppId, validateApp } from './app';
import type { AppRepo } from './app-repo';
import type { InitController } from './controller';
import type { AppDefinition, StoredApp } from './types';

export interface ServicePortRange {
  begin: number;
  end: number;
}

export interface ChangeResult {
  stored: StoredApp;
  deploymentId: string;
  created: boolean;
}

export class AppService {
  private readonly deployments = new Map<string, string>();

  constructor(
    private readonly repo: AppRepo,
    private readonly controller: InitController,
    private readonly clock: Clock,
    private readonly servicePorts: ServicePortRange = { begin: 10000, end: 20000 },
  ) {}

  list(): StoredApp[] {
    return [...this.controller.apps.values()].map((e) => e.stored).sort((a, b) => a.app.id.localeCompare(b.app.id));
  }

  get(rawId: string): StoredApp {
    const id = normalizeAppId(rawId);
    const entry = this.controller.apps.get(id);
    if (!entry) throw errors.appNotFound(id);
    return entry.stored;
  }

  /** The deployment id of the app's last change while the controller is still converging it. */
  activeDeployment(appId: string): string | undefined {
    return this.controller.isConverging(appId) ? this.deployments.get(appId) : undefined;
  }

  async create(body: unknown): Promise<ChangeResult> {
    const app = this.assignServicePorts(validateApp(body), undefined);
    if (this.controller.apps.has(app.id)) throw errors.appExists(app.id);
    const version = this.version();
    const stored: StoredApp = { app, version, lastConfigChangeAt: version, lastScalingAt: version };
    const revision = await this.repo.create(stored);
    return this.changed(stored, revision, true, true);
  }

  /** PUT: merges into the app (partialUpdate, Marathon's default) or replaces it; creates it when missing. */
  async update(rawId: string, body: unknown, partial: boolean): Promise<ChangeResult> {
    const id = normalizeAppId(rawId);
    const existing = this.controller.apps.get(id);
    if (!existing) return this.create({ ...(isObject(body) ? body : {}), id });
    if (!isObject(body)) throw new CorralError('VALIDATION_FAILED', 'Object is not valid', [{ path: '/', errors: ['must be a JSON object'] }]);
    const merged = partial ? { ...existing.stored.app, ...body } : body;
    // A body with cmd replaces args and the other way round, as Marathon does.
    if (partial && 'cmd' in body && !('args' in body)) delete (merged as Record<string, unknown>).args;
    if (partial && 'args' in body && !('cmd' in body)) delete (merged as Record<string, unknown>).cmd;
    if (partial && 'ports' in body && !('portDefinitions' in body)) delete (merged as Record<string, unknown>).portDefinitions;
    const app = this.assignServicePorts(validateApp(merged, { id }), existing.stored.app);
    const version = this.version();
    const restart = needsRestart(existing.stored.app, app);
    const stored: StoredApp = {
      app,
      version,
      lastConfigChangeAt: restart ? version : existing.stored.lastConfigChangeAt,
      lastScalingAt: app.instances !== existing.stored.app.instances ? version : existing.stored.lastScalingAt,
    };
    const revision = await this.repo.update(stored, existing.revision);
    return this.changed(stored, revision, restart, false);
  }

  async remove(rawId: string): Promise<{ deploymentId: string; version: string }> {
    const id = normalizeAppId(rawId);
    if (!this.controller.apps.has(id)) throw errors.appNotFound(id);
    await this.repo.remove(id);
    this.controller.appChanged(id, undefined, true);
    this.deployments.delete(id);
    return { deploymentId: uuid(), version: this.version() };
  }

  private changed(stored: StoredApp, revision: number, configChanged: boolean, created: boolean): ChangeResult {
    const deploymentId = uuid();
    this.deployments.set(stored.app.id, deploymentId);
    this.controller.appChanged(stored.app.id, { stored, revision }, configChanged);
    return { stored, deploymentId, created };
  }

  private version(): string {
    return new Date(this.clock.now()).toISOString();
  }

  /** Service port 0 means "pick one": unique across apps, from the service port range. */
  private assignServicePorts(app: AppDefinition, previous: AppDefinition | undefined): AppDefinition {
    if (!app.portDefinitions.some((p) => p.port === 0)) return app;
    const taken = new Set<number>();
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

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

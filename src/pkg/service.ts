// Cosmos's operations over the repositories, init and (when connected) cron: search, describe,
// render, install, uninstall, list. An install checks everything before it writes anything —
// the package and version exist, the options fit the schema, the templates render to a valid app
// (and job), some agent has the commands the package needs, a job has somewhere to go — so a
// refused install leaves nothing behind. Installed packages are init apps with Universe's labels;
// jobs (which have no labels) are remembered under `/pkg/jobs/<name>`.
import { normalizeAppId } from '../init/app';
import type { AppService } from '../init/app-service';
import type { StoredApp } from '../init/types';
import { CorralError } from '../shared/errors';
import type { JsonValue, Store } from '../store/types';
import { packageVersions, resolvePackage, searchPackages, type CatalogView, type SearchResult } from './catalog';
import { checkFeasibility, type Feasibility } from './feasibility';
import { requiredCommands } from './format';
import { renderPackage, type RenderContext, type Rendered } from './render';
import { indexEntry } from './repo-layout';
import type { Repositories } from './repositories';
import { PACKAGE_LABELS, type AgentCapabilities, type InstalledJob, type JobInstaller, type PackageMetadata, type ResolvedPackage } from './types';

/** Where Corral's discovery serves Prometheus HTTP service discovery (issue 7); one place to change it. */
export const PROMETHEUS_SD_PATH = '/api/v1/discovery/prometheus';

const JOBS = '/pkg/jobs/';

export interface PackageServiceOptions {
  repositories: Repositories;
  apps: Pick<AppService, 'create' | 'remove' | 'list'>;
  store: Store;
  /** The agents and what they can run; left out, installs are not checked for feasibility. */
  agents?: () => AgentCapabilities[];
  /** The cron framework, once connected; undefined: job packages cannot be installed. */
  jobs?: () => JobInstaller | undefined;
  /** The API URL the cluster's tasks reach (for the `corral` rendering context). */
  apiUrl?: () => string;
}

export interface PackageRequest {
  packageName: string;
  packageVersion?: string;
  options?: Record<string, unknown>;
  appId?: string;
}

export interface InstallResult {
  packageName: string;
  packageVersion: string;
  appId?: string;
  postInstallNotes?: string;
  preInstallNotes?: string;
  deploymentId?: string;
  jobName?: string;
}

export interface UninstallResult {
  packageName: string;
  appId?: string;
  jobName?: string;
  packageVersion: string;
  postUninstallNotes?: string;
}

export interface InstalledPackage {
  appId: string | null;
  jobName?: string;
  packageInformation: { packageDefinition: Record<string, unknown>; resourceDefinition?: Record<string, unknown> };
}

export class PackageService {
  constructor(private readonly opts: PackageServiceOptions) {}

  async search(query?: string): Promise<SearchResult[]> {
    return searchPackages(await this.view(), query);
  }

  async describe(name: string, version?: string): Promise<Record<string, unknown>> {
    return indexEntry(resolvePackage(await this.view(), name, version).revision);
  }

  async listVersions(name: string): Promise<Record<string, string>> {
    return packageVersions(await this.view(), name);
  }

  /** Renders without installing (and without failing on feasibility: the count of capable agents is 0 then). */
  async render(req: PackageRequest): Promise<{ resolved: ResolvedPackage; rendered: Rendered }> {
    const resolved = resolvePackage(await this.view(), req.packageName, req.packageVersion);
    let feasible: Feasibility | undefined;
    try {
      feasible = this.feasibility(resolved);
    } catch {
      feasible = { capable: [], constraint: undefined };
    }
    return { resolved, rendered: this.renderResolved(resolved, req, feasible) };
  }

  async install(req: PackageRequest): Promise<InstallResult> {
    const resolved = resolvePackage(await this.view(), req.packageName, req.packageVersion);
    const feasible = this.feasibility(resolved);
    const rendered = this.renderResolved(resolved, req, feasible);
    const meta = resolved.revision.metadata;
    const jobs = rendered.job ? this.opts.jobs?.() : undefined;
    if (rendered.job && !jobs) throw new CorralError('PACKAGE_JOBS_UNAVAILABLE', `Package ${meta.name} installs a job, but no cron framework is running here (start corral with --cron)`);
    const appId = rendered.app?.id;
    if (appId !== undefined && this.opts.apps.list().some((s) => s.app.id === appId)) {
      throw new CorralError('APP_EXISTS', `An app with id [${appId}] already exists: package ${meta.name} is installed there already? Choose another with --app-id`);
    }
    if (rendered.job && jobs) {
      const record: InstalledJob = { jobName: rendered.job.name, packageName: meta.name, packageVersion: meta.version, source: resolved.repository.uri, options: req.options ?? {}, ...(appId ? { appId } : {}) };
      if (await this.opts.store.get(JOBS + record.jobName)) throw new CorralError('APP_EXISTS', `A job named ${record.jobName} is already installed from a package`);
      await jobs.add(rendered.job);
      try {
        await this.opts.store.put(JOBS + record.jobName, record as unknown as JsonValue, { expectedRevision: 0 });
      } catch (err) {
        await jobs.remove(rendered.job.name).catch(() => undefined);
        throw err;
      }
    }
    let deploymentId: string | undefined;
    if (rendered.marathonJson) {
      const body = feasible?.constraint ? { ...rendered.marathonJson, constraints: [...((rendered.marathonJson.constraints as unknown[]) ?? []), feasible.constraint] } : rendered.marathonJson;
      try {
        deploymentId = (await this.opts.apps.create(body)).deploymentId;
      } catch (err) {
        if (rendered.job && jobs) {
          await jobs.remove(rendered.job.name).catch(() => undefined);
          await this.opts.store.delete(JOBS + rendered.job.name);
        }
        throw err;
      }
    }
    return {
      packageName: meta.name,
      packageVersion: meta.version,
      ...(appId !== undefined ? { appId } : {}),
      ...(meta.preInstallNotes !== undefined ? { preInstallNotes: meta.preInstallNotes } : {}),
      ...(meta.postInstallNotes !== undefined ? { postInstallNotes: meta.postInstallNotes } : {}),
      ...(deploymentId !== undefined ? { deploymentId } : {}),
      ...(rendered.job ? { jobName: rendered.job.name } : {}),
    };
  }

  async uninstall(req: { packageName: string; appId?: string; all?: boolean }): Promise<UninstallResult[]> {
    const appId = req.appId !== undefined && req.appId !== '' ? normalizeAppId(req.appId, '/appId') : undefined;
    const apps = this.installedApps().filter((s) => s.app.labels[PACKAGE_LABELS.name] === req.packageName && (appId === undefined || s.app.id === appId));
    const jobs = (await this.installedJobs()).filter((j) => j.packageName === req.packageName && (appId === undefined || j.appId === appId || `/${j.jobName}` === appId));
    const units = [...apps.map((s) => ({ app: s, job: jobs.find((j) => j.appId === s.app.id) })), ...jobs.filter((j) => !j.appId || !apps.some((s) => s.app.id === j.appId)).map((job) => ({ app: undefined, job }))];
    if (units.length === 0) throw new CorralError('PACKAGE_NOT_INSTALLED', `Package [${req.packageName}]${appId ? ` with app id [${appId}]` : ''} is not installed`);
    if (units.length > 1 && !req.all) {
      const ids = units.map((u) => u.app?.app.id ?? u.job!.jobName).join(', ');
      throw new CorralError('PACKAGE_APP_AMBIGUOUS', `Package [${req.packageName}] is installed ${units.length} times (${ids}): name one with appId (--app-id) or uninstall all (--all)`);
    }
    if (units.some((u) => u.job) && !this.opts.jobs?.()) throw new CorralError('PACKAGE_JOBS_UNAVAILABLE', `Package ${req.packageName} has a job, but no cron framework is running here to remove it`);
    const results: UninstallResult[] = [];
    for (const { app, job } of units) {
      const meta = app ? definitionOf(app) : undefined;
      if (job) {
        await this.opts.jobs!()!.remove(job.jobName);
        await this.opts.store.delete(JOBS + job.jobName);
      }
      if (app) await this.opts.apps.remove(app.app.id, { force: true });
      const notes = meta?.postUninstallNotes;
      results.push({
        packageName: req.packageName,
        ...(app ? { appId: app.app.id } : {}),
        ...(job ? { jobName: job.jobName } : {}),
        packageVersion: app?.app.labels[PACKAGE_LABELS.version] ?? job!.packageVersion,
        ...(notes !== undefined ? { postUninstallNotes: notes } : {}),
      });
    }
    return results;
  }

  async list(filter: { packageName?: string; appId?: string } = {}): Promise<InstalledPackage[]> {
    const appId = filter.appId ? normalizeAppId(filter.appId, '/appId') : undefined;
    const out: InstalledPackage[] = [];
    for (const s of this.installedApps()) {
      if (filter.packageName && s.app.labels[PACKAGE_LABELS.name] !== filter.packageName) continue;
      if (appId && s.app.id !== appId) continue;
      const def = definitionOf(s) ?? { name: s.app.labels[PACKAGE_LABELS.name], version: s.app.labels[PACKAGE_LABELS.version] };
      out.push({ appId: s.app.id, packageInformation: packageInformation(def) });
    }
    for (const j of await this.installedJobs()) {
      if (filter.packageName && j.packageName !== filter.packageName) continue;
      if (appId && j.appId !== appId) continue;
      if (j.appId && out.some((p) => p.appId === j.appId)) {
        out.find((p) => p.appId === j.appId)!.jobName = j.jobName;
        continue;
      }
      out.push({ appId: null, jobName: j.jobName, packageInformation: { packageDefinition: { name: j.packageName, version: j.packageVersion } } });
    }
    return out;
  }

  private installedApps(): StoredApp[] {
    return this.opts.apps.list().filter((s) => s.app.labels?.[PACKAGE_LABELS.name] !== undefined);
  }

  private async installedJobs(): Promise<InstalledJob[]> {
    return (await this.opts.store.list<InstalledJob>(JOBS)).map((e) => e.value);
  }

  private feasibility(resolved: ResolvedPackage): Feasibility | undefined {
    if (!this.opts.agents) return undefined;
    return checkFeasibility(resolved.revision.metadata.name, requiredCommands(resolved.revision.metadata), this.opts.agents());
  }

  private renderResolved(resolved: ResolvedPackage, req: PackageRequest, feasible: Feasibility | undefined): Rendered {
    const context: RenderContext = {
      ...(this.opts.apiUrl ? { apiUrl: this.opts.apiUrl(), prometheusSdUrl: this.opts.apiUrl() + PROMETHEUS_SD_PATH } : {}),
      agentCount: feasible ? feasible.capable.length : this.opts.agents?.().filter((a) => a.available).length ?? 1,
    };
    const appId = req.appId !== undefined && req.appId !== '' ? normalizeAppId(req.appId, '/appId') : undefined;
    return renderPackage({ revision: resolved.revision, source: resolved.repository.uri, options: req.options, ...(appId ? { appId } : {}), context });
  }

  private async view(): Promise<CatalogView> {
    const view: CatalogView = { repositories: [], failures: [] };
    for (const repository of await this.opts.repositories.list()) {
      try {
        view.repositories.push({ repository, revisions: await this.opts.repositories.revisions(repository) });
      } catch (err) {
        if (!(err instanceof CorralError)) throw err;
        view.failures.push(err);
      }
    }
    return view;
  }
}

/** The package definition an app was installed from (its DCOS_PACKAGE_DEFINITION label). */
function definitionOf(s: StoredApp): (PackageMetadata & Record<string, unknown>) | undefined {
  const raw = s.app.labels[PACKAGE_LABELS.definition];
  if (raw === undefined) return undefined;
  try {
    return JSON.parse(Buffer.from(raw, 'base64').toString('utf8')) as PackageMetadata & Record<string, unknown>;
  } catch {
    return undefined;
  }
}

/** Cosmos's packageInformation: the definition without its templates and schema, and the resources. */
function packageInformation(def: Record<string, unknown>): InstalledPackage['packageInformation'] {
  const { marathon: _m, chronos: _c, config: _config, resource, ...packageDefinition } = def;
  return { packageDefinition, ...(resource !== undefined ? { resourceDefinition: resource as Record<string, unknown> } : {}) };
}

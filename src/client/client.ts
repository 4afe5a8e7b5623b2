// Typed HTTP client of Corral's public API (docs/api.md): one method per endpoint, over the request
// core in ./http (every failure a CorralError).
import type {
  Group,
  GroupDefinition,
  App,
  AppCreated,
  AppDefinition,
  AppList,
  AppResponse,
  AppVersionList,
  Deployment,
  DeploymentPlanPreview,
  DeploymentResult,
  DeploymentStatus,
  Info,
  LogOptions,
  LogStream,
  NativeTaskList,
  NativeTaskResponse,
  NodeList,
  NodeResponse,
  TaskList,
} from './types';
import { ApiRequester, type Query, type RequestSpec } from './http';
import { HttpLogStream } from './log-stream';

export type { CorralClientOptions } from './http';

export class CorralClient extends ApiRequester {
  /** `GET /ping`: "pong" when the API answers; needs no token. */
  async ping(): Promise<string> {
    return (await this.send({ method: 'GET', path: '/ping', accept: 'text/plain' })).text();
  }

  listApps(opts: { id?: string; embedTasks?: boolean } = {}): Promise<AppList> {
    const query: Query = { id: opts.id, embed: opts.embedTasks ? 'apps.tasks' : undefined };
    return this.json({ method: 'GET', path: '/v2/apps', query });
  }

  getApp(id: string): Promise<AppResponse> {
    return this.json({ method: 'GET', path: appPath(id) });
  }

  createApp(def: AppDefinition): Promise<AppCreated> {
    return this.json({ method: 'POST', path: '/v2/apps', body: def });
  }

  /** Merges `patch` into the app (or replaces it with `partialUpdate: false`); creates it when missing. */
  updateApp(id: string, patch: Partial<AppDefinition>, opts: { partialUpdate?: boolean; force?: boolean } = {}): Promise<DeploymentResult> {
    const query: Query = { partialUpdate: opts.partialUpdate, force: opts.force || undefined };
    return this.json({ method: 'PUT', path: appPath(id), query, body: patch });
  }

  deleteApp(id: string, opts: { force?: boolean } = {}): Promise<DeploymentResult> {
    return this.json({ method: 'DELETE', path: appPath(id), query: { force: opts.force || undefined } });
  }

  /** Marathon's version history of the app: `{versions: [...]}`, newest (the current one) first. */
  appVersions(id: string): Promise<AppVersionList> {
    return this.json({ method: 'GET', path: `${appPath(id)}/versions` });
  }

  /** The app's definition as it was at `version` (an ISO 8601 timestamp from appVersions). */
  appVersion(id: string, version: string): Promise<App> {
    return this.json({ method: 'GET', path: `${appPath(id)}/versions/${encodeURIComponent(version)}` });
  }

  /** Deploys the definition the app had at `version` again, under a new version (Marathon's `PUT {version}`). */
  rollbackApp(id: string, version: string, opts: { force?: boolean } = {}): Promise<DeploymentResult> {
    return this.json({ method: 'PUT', path: appPath(id), query: { force: opts.force || undefined }, body: { version } });
  }

  /** Validates the app and answers the plan of its deployment (`POST /v2/apps?dryRun=true`); writes nothing. */
  planApp(def: AppDefinition): Promise<DeploymentPlanPreview> {
    return this.json({ method: 'POST', path: '/v2/apps', query: { dryRun: true }, body: def });
  }

  /** The plan `updateApp` would start (`PUT ?dryRun=true`); writes nothing. */
  planAppUpdate(id: string, patch: Partial<AppDefinition>, opts: { partialUpdate?: boolean; force?: boolean } = {}): Promise<DeploymentPlanPreview> {
    const query: Query = { partialUpdate: opts.partialUpdate, force: opts.force || undefined, dryRun: true };
    return this.json({ method: 'PUT', path: appPath(id), query, body: patch });
  }

  /** Replaces every instance of the app, by its upgradeStrategy (`POST /v2/apps/{id}/restart`). */
  restartApp(id: string, opts: { force?: boolean } = {}): Promise<DeploymentResult> {
    return this.json({ method: 'POST', path: `${appPath(id)}/restart`, query: { force: opts.force || undefined } });
  }

  /** Deployments in progress (`GET /v2/deployments`). */
  listDeployments(): Promise<Deployment[]> {
    return this.json({ method: 'GET', path: '/v2/deployments' });
  }

  /** A deployment in progress or recently finished, with how it ended (`GET /api/v1/deployments/{id}`). */
  getDeployment(id: string): Promise<{ deployment: DeploymentStatus }> {
    return this.json({ method: 'GET', path: `/api/v1/deployments/${encodeURIComponent(id)}` });
  }

  /**
   * Rolls a deployment back (a new deployment to the definitions before it), or with `force` only
   * stops it; resolves to the rollback's id and version, or undefined when forced.
   */
  async rollbackDeployment(id: string, opts: { force?: boolean } = {}): Promise<DeploymentResult | undefined> {
    const spec: RequestSpec = { method: 'DELETE', path: `/v2/deployments/${encodeURIComponent(id)}`, query: { force: opts.force || undefined } };
    if (!opts.force) return this.json(spec);
    await (await this.send(spec)).text();
    return undefined;
  }

  /** The group tree below `id` (default: the root `/`), apps and subgroups embedded (`GET /v2/groups[/{id}]`). */
  getGroup(id = '/', opts: { embed?: string[] } = {}): Promise<Group> {
    return this.json({ method: 'GET', path: groupPath(id), query: { embed: opts.embed } });
  }

  /** Creates a group and every app of its subtree in one deployment (`POST /v2/groups`). */
  createGroup(def: GroupDefinition, opts: { force?: boolean } = {}): Promise<DeploymentResult> {
    return this.json({ method: 'POST', path: '/v2/groups', query: { force: opts.force || undefined }, body: def });
  }

  /** Replaces the group's apps (those left out are removed) or, with `{scaleBy}`, scales them (`PUT /v2/groups/{id}`). */
  updateGroup(id: string, def: GroupDefinition | { scaleBy: number }, opts: { force?: boolean } = {}): Promise<DeploymentResult> {
    return this.json({ method: 'PUT', path: groupPath(id), query: { force: opts.force || undefined }, body: def });
  }

  /** Removes every app below the group, in one deployment (`DELETE /v2/groups/{id}`). */
  /** The group's kept versions, newest first: one per change made through /v2/groups (`GET /v2/groups/{id}/versions`). */
  groupVersions(id: string): Promise<string[]> {
    return this.json({ method: 'GET', path: `${groupPath(id)}/versions` });
  }

  /** Makes the group what the change at `version` left, under a new version (`PUT /v2/groups/{id}` `{version}`). */
  rollbackGroup(id: string, version: string, opts: { force?: boolean } = {}): Promise<DeploymentResult> {
    return this.json({ method: 'PUT', path: groupPath(id), query: { force: opts.force || undefined }, body: { version } });
  }

  deleteGroup(id: string, opts: { force?: boolean } = {}): Promise<DeploymentResult> {
    return this.json({ method: 'DELETE', path: groupPath(id), query: { force: opts.force || undefined } });
  }

  appTasks(id: string): Promise<TaskList> {
    return this.json({ method: 'GET', path: `${appPath(id)}/tasks` });
  }

  /** Native task list; `app` filters by app id (e.g. `/shop/web`). */
  listTasks(opts: { app?: string } = {}): Promise<NativeTaskList> {
    return this.json({ method: 'GET', path: '/api/v1/tasks', query: { app: opts.app } });
  }

  getTask(id: string): Promise<NativeTaskResponse> {
    return this.json({ method: 'GET', path: taskPath(id) });
  }

  /** Asks the kernel to kill the task; its framework decides whether to replace it. */
  killTask(id: string): Promise<NativeTaskResponse> {
    return this.json({ method: 'DELETE', path: taskPath(id) });
  }

  /**
   * Opens a task's log. Resolves once the response headers arrived (so an unknown task fails here,
   * before any byte); then iterate the result for the bytes. With `follow` the iteration lasts until
   * the server ends the response (task ended and file drained) or `signal` aborts.
   */
  async taskLogs(id: string, opts: LogOptions = {}): Promise<LogStream> {
    const res = await this.send({
      method: 'GET',
      path: `${taskPath(id)}/logs`,
      query: { stream: opts.stream, offset: opts.offset, follow: opts.follow || undefined },
      accept: 'text/plain',
      signal: opts.signal,
    });
    return new HttpLogStream(res, opts, this.url);
  }

  listNodes(): Promise<NodeList> {
    return this.json({ method: 'GET', path: '/api/v1/nodes' });
  }

  /**
   * Drains a node (by its full id): nothing more is offered there, frameworks move or finish their
   * tasks, and after `deadlineSeconds` (none by default) what still runs there is killed.
   */
  drainNode(id: string, opts: { deadlineSeconds?: number } = {}): Promise<NodeResponse> {
    return this.json({ method: 'POST', path: `${nodePath(id)}/drain`, body: opts.deadlineSeconds === undefined ? {} : { deadlineSeconds: opts.deadlineSeconds } });
  }

  /** Ends a drain: the node is offered again. */
  undrainNode(id: string): Promise<NodeResponse> {
    return this.json({ method: 'POST', path: `${nodePath(id)}/undrain`, body: {} });
  }

  info(): Promise<Info> {
    return this.json({ method: 'GET', path: '/v2/info' });
  }

  /** Prometheus text format. */
  async metrics(): Promise<string> {
    return (await this.send({ method: 'GET', path: '/metrics', accept: 'text/plain' })).text();
  }

  // cron (issue 6): /v1/scheduler and /api/v1/jobs methods go below this line.
  // Their response types live in ./cron-types (named inline, so the imports above stay as they are).
  /** Creates or replaces a job from Chronos's job JSON (`POST /api/v1/jobs`). */
  putJob(def: import('./cron-types').JobDefinition): Promise<import('./cron-types').JobResponse> {
    return this.json({ method: 'POST', path: '/api/v1/jobs', body: def });
  }

  listJobs(): Promise<import('./cron-types').JobList> {
    return this.json({ method: 'GET', path: '/api/v1/jobs' });
  }

  /** The job with its newest runs (`limit`, default 20). */
  getJob(name: string, opts: { limit?: number } = {}): Promise<import('./cron-types').JobResponse> {
    return this.json({ method: 'GET', path: `/api/v1/jobs/${encodeURIComponent(name)}`, query: { limit: opts.limit } });
  }

  /** Starts a run now, whatever the schedule and concurrency policy. */
  runJob(name: string, args?: string[]): Promise<{ run: import('./cron-types').JobRun }> {
    return this.json({ method: 'POST', path: `/api/v1/jobs/${encodeURIComponent(name)}/runs`, body: args ? { arguments: args } : {} });
  }

  /** The job's kept runs, newest first. */
  jobRuns(name: string, opts: { limit?: number } = {}): Promise<import('./cron-types').JobRunList> {
    return this.json({ method: 'GET', path: `/api/v1/jobs/${encodeURIComponent(name)}/runs`, query: { limit: opts.limit } });
  }

  /** Kills the job's unfinished runs; resolves to how many. */
  killJob(name: string): Promise<{ killed: number }> {
    return this.json({ method: 'DELETE', path: `/api/v1/jobs/${encodeURIComponent(name)}/runs` });
  }

  deleteJob(name: string): Promise<{ name: string; deleted: boolean }> {
    return this.json({ method: 'DELETE', path: `/api/v1/jobs/${encodeURIComponent(name)}` });
  }

  /** Chronos's dependency graph: Graphviz dot or CSV text. */
  async jobGraph(format: 'dot' | 'csv' = 'dot'): Promise<string> {
    return (await this.send({ method: 'GET', path: `/v1/scheduler/graph/${format}`, accept: 'text/plain' })).text();
  }

  /** Chronos's job list (`GET /v1/scheduler/jobs`). */
  chronosJobs(): Promise<import('./cron-types').ChronosJob[]> {
    return this.json({ method: 'GET', path: '/v1/scheduler/jobs' });
  }

  // discovery (issue 7): /v1 lookup and /api/v1/services methods go below this line.
  /** `GET /api/v1/dns/lookup`: what Corral's DNS answers for `name` (type A, SRV, NS, SOA, AAAA or ANY), as JSON. */
  dnsLookup(name: string, type = 'A'): Promise<{
    name: string;
    type: string;
    rcode: string;
    inZone: boolean;
    answers: Array<{ name: string; type: string; ttl?: number; data: unknown }>;
    authorities: Array<{ name: string; type: string; ttl?: number; data: unknown }>;
    additionals: Array<{ name: string; type: string; ttl?: number; data: unknown }>;
  }> {
    return this.json({ method: 'GET', path: '/api/v1/dns/lookup', query: { name, type } });
  }

  /** `GET /api/v1/services`: every service with running tasks, their DNS names, health, ports and whether DNS publishes them. */
  listServices(): Promise<{
    domain: string;
    services: Array<{
      name: string;
      srv: string;
      appId: string | null;
      framework: string;
      instances: number;
      published: number;
      tasks: Array<{ id: string; host: string; node: string; ip: string | null; ports: number[]; healthy: boolean | null; published: boolean; reason?: string }>;
    }>;
  }> {
    return this.json({ method: 'GET', path: '/api/v1/services' });
  }

  // packages (issue 8): Cosmos /package methods go below this line.

  /** Packages whose name, description or a tag matches `query` (`*` wildcards; empty: all). */
  searchPackages(query?: string): Promise<{ packages: import('./package-types').PackageSummary[] }> {
    return this.json({ method: 'POST', path: '/package/search', body: query === undefined ? {} : { query } });
  }

  /** A package revision (the newest unless `version` is given), as its repo index holds it. */
  describePackage(name: string, version?: string): Promise<{ package: import('./package-types').PackageDescription }> {
    return this.json({ method: 'POST', path: '/package/describe', body: { packageName: name, ...(version !== undefined ? { packageVersion: version } : {}) } });
  }

  /** version → releaseVersion of every revision of a package. */
  packageVersions(name: string): Promise<{ results: Record<string, string> }> {
    return this.json({ method: 'POST', path: '/package/list-versions', body: { packageName: name, includePackageVersions: true } });
  }

  /** The app (and job) a package would install with these options; installs nothing. */
  renderPackage(req: import('./package-types').PackageRequest): Promise<import('./package-types').PackageRenderResponse> {
    return this.json({ method: 'POST', path: '/package/render', body: req });
  }

  installPackage(req: import('./package-types').PackageRequest): Promise<import('./package-types').PackageInstallResponse> {
    return this.json({ method: 'POST', path: '/package/install', body: req });
  }

  uninstallPackage(req: { packageName: string; appId?: string; all?: boolean }): Promise<import('./package-types').PackageUninstallResponse> {
    return this.json({ method: 'POST', path: '/package/uninstall', body: req });
  }

  listPackages(filter: { packageName?: string; appId?: string } = {}): Promise<import('./package-types').InstalledPackageList> {
    return this.json({ method: 'POST', path: '/package/list', body: filter });
  }

  listRepositories(): Promise<import('./package-types').RepositoryList> {
    return this.json({ method: 'POST', path: '/package/repository/list', body: {} });
  }

  /** Adds a repository (URL, file:// URL or absolute path) at `index` in the priority order (default: last). */
  addRepository(name: string, uri: string, index?: number): Promise<import('./package-types').RepositoryList> {
    return this.json({ method: 'POST', path: '/package/repository/add', body: { name, uri, ...(index !== undefined ? { index } : {}) } });
  }

  removeRepository(name: string): Promise<import('./package-types').RepositoryList> {
    return this.json({ method: 'POST', path: '/package/repository/delete', body: { name } });
  }
}

/** `/v2/apps/` + the id without its leading slash; '/' inside the id stays a path separator. */
export function appPath(id: string): string {
  return '/v2/apps/' + id.replace(/^\/+/, '').split('/').map(encodeURIComponent).join('/');
}

/** `/v2/groups/` + the id without its leading slash; the root `/` is `/v2/groups`. */
export function groupPath(id: string): string {
  const bare = id.replace(/^\/+/, '').replace(/\/+$/, '');
  return bare === '' ? '/v2/groups' : '/v2/groups/' + bare.split('/').map(encodeURIComponent).join('/');
}

function nodePath(id: string): string {
  return '/api/v1/nodes/' + encodeURIComponent(id);
}

function taskPath(id: string): string {
  return '/api/v1/tasks/' + encodeURIComponent(id);
}

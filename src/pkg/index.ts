// The package manager (DC/OS Universe + Cosmos): composed by the daemon beside init.
import type { FastifyInstance } from 'fastify';
import type { AppService } from '../init/app-service';
import type { Clock } from '../shared/clock';
import type { Store } from '../store/types';
import { Repositories } from './repositories';
import { registerPackageRoutes } from './routes';
import { PackageService } from './service';
import type { AgentCapabilities, JobInstaller } from './types';

export { PackageService, PROMETHEUS_SD_PATH } from './service';
export { Repositories } from './repositories';
export type { AgentCapabilities, JobInstaller, ChronosJob } from './types';

export interface PackagesOptions {
  store: Store;
  clock: Clock;
  apps: AppService;
  agents: () => AgentCapabilities[];
  /** The cron framework once it is connected (issue 6); until then job packages are refused. */
  jobs?: () => JobInstaller | undefined;
  /** The API's base URL as tasks reach it (read at each render: the port is known once the API listens). */
  apiUrl: () => string;
}

/** The package manager's service and its /package routes. */
export function composePackages(opts: PackagesOptions): { service: PackageService; repositories: Repositories; routes: (s: FastifyInstance) => void } {
  const repositories = new Repositories({ store: opts.store, clock: opts.clock });
  const service = new PackageService({ repositories, apps: opts.apps, store: opts.store, agents: opts.agents, ...(opts.jobs ? { jobs: opts.jobs } : {}), apiUrl: opts.apiUrl });
  return { service, repositories, routes: (s) => registerPackageRoutes(s, service, repositories) };
}

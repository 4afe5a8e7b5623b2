// The cron role composed: repository, framework and job service over a store and a kernel
// transport, plus its routes. `corral up` calls startCron; tests may compose the parts themselves.
import type { FastifyInstance } from 'fastify';
import type { SchedulerTransport } from '../kernel/sdk/types';
import type { Clock } from '../shared/clock';
import type { Logger } from '../shared/logger';
import type { Store } from '../store/types';
import { CronFramework } from './framework';
import { JobRepo } from './job-repo';
import { JobService } from './job-service';
import { registerCronRoutes } from './routes';

export interface CronOptions {
  store: Store;
  transport: SchedulerTransport;
  clock: Clock;
  logger: Logger;
  leaderUrl: string;
  historyLimit?: number;
  /** See CronFrameworkOptions. */
  launchAheadMs?: number;
  launchSpreadMs?: number;
}

export interface CronRole {
  framework: CronFramework;
  jobs: JobService;
  routes: (server: FastifyInstance) => void;
  stop(): Promise<void>;
}

export async function startCron(opts: CronOptions): Promise<CronRole> {
  const repo = new JobRepo(opts.store);
  const { historyLimit, launchAheadMs, launchSpreadMs } = opts;
  const framework = new CronFramework({
    repo,
    transport: opts.transport,
    clock: opts.clock,
    logger: opts.logger,
    ...(historyLimit ? { historyLimit } : {}),
    ...(launchAheadMs !== undefined ? { launchAheadMs } : {}),
    ...(launchSpreadMs !== undefined ? { launchSpreadMs } : {}),
  });
  await framework.start();
  const jobs = new JobService(repo, framework, opts.clock);
  return { framework, jobs, routes: (s) => registerCronRoutes(s, { jobs, framework, leaderUrl: opts.leaderUrl }), stop: () => framework.stop() };
}

export { CronFramework, JobRepo, JobService };

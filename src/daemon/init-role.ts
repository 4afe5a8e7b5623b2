// The init role composed: Marathon's app service over the controller (a framework of the master's
// in-process transport), its deployments (kept in the store), readiness checks, events, versions and
// groups, with their /v2 routes. composeNode starts it; what other roles need of it is returned.
import type { FastifyInstance } from 'fastify';
import type { TaskHint } from '../discovery';
import { AppRepo } from '../init/app-repo';
import { AppService } from '../init/app-service';
import { AppVersions } from '../init/app-versions';
import { InitController } from '../init/controller';
import { registerDeploymentRoutes } from '../init/deployment-routes';
import { DeploymentStore } from '../init/deployment-store';
import { Deployments } from '../init/deployments';
import { MarathonEventBus } from '../init/events';
import { registerGroupRoutes } from '../init/group-routes';
import { GroupService } from '../init/group-service';
import { ReadinessRunner } from '../init/readiness-runner';
import { registerMarathonRoutes } from '../init/routes';
import { initTaskSource, registerRuntimeRoutes } from '../init/runtime-routes';
import type { Master } from '../kernel/master/master';
import { inProcessTransport } from '../kernel/sdk/in-process';
import type { Clock } from '../shared/clock';
import type { Logger } from '../shared/logger';
import type { Store } from '../store/types';

export interface InitRoleOptions {
  store: Store;
  master: Master;
  clock: Clock;
  logger: Logger;
  version: string;
  /** The API's URL, Marathon's `leader`. */
  leaderUrl: string;
  /** Where each started part's stop goes (composeNode stops them in reverse). */
  stops: Array<() => Promise<void> | void>;
}

export interface InitRole {
  apps: AppService;
  frameworkId(): string | undefined;
  /** What discovery needs of an init task: its app, whether it is health-checked, its ports. */
  taskHint(taskId: string): TaskHint | undefined;
  routes: Array<(server: FastifyInstance) => void>;
}

export async function startInitRole(opts: InitRoleOptions): Promise<InitRole> {
  const { store, master, clock, logger, stops } = opts;
  const repo = new AppRepo(store);
  const controller = new InitController({ repo, transport: inProcessTransport(master), clock, logger: logger.child({ role: 'init' }) });
  await controller.start();
  stops.push(() => controller.stop());
  const deploymentLogger = logger.child({ role: 'deployments' });
  const deployments = new Deployments({ controller, clock, logger: deploymentLogger, persist: new DeploymentStore(store, deploymentLogger) });
  deployments.start();
  stops.push(() => deployments.stop());
  const readiness = new ReadinessRunner({ controller, clock, logger: logger.child({ role: 'readiness' }) });
  readiness.start();
  stops.push(() => readiness.stop());
  const apps = new AppService(repo, controller, clock, deployments);
  await deployments.restore((appId) => controller.apps.get(appId));
  const events = new MarathonEventBus({ master, init: initTaskSource(controller), clock, logger: logger.child({ role: 'init-events' }) });
  stops.push(() => events.stop());
  deployments.onEvent((e) => events.publish(e));
  const versions = new AppVersions(repo, (id) => controller.apps.get(id)?.stored);
  const groups = new GroupService(store, apps);
  groups.announceChanges((listener) => deployments.onEvent(listener), (event) => events.publish(event));
  const frameworkId = () => controller.frameworkId();
  return {
    apps,
    frameworkId,
    taskHint: (taskId) => {
      const task = controller.task(taskId);
      if (!task) return undefined;
      return { appId: task.appId, healthChecked: (controller.apps.get(task.appId)?.stored.app.healthChecks?.length ?? 0) > 0, ports: task.ports };
    },
    routes: [
      (s) => registerDeploymentRoutes(s, apps, deployments, (appId) => readiness.results(appId)),
      (s) => registerRuntimeRoutes(s, { master, controller, apps, events, clock, leaderUrl: opts.leaderUrl }),
      (s) => registerMarathonRoutes(s, apps, controller, { version: opts.version, leaderUrl: opts.leaderUrl, frameworkId }, versions),
      (s) => registerGroupRoutes(s, groups, apps, controller),
    ],
  };
}

// Marathon's runtime endpoints over init — `/v2/events`, `/v2/queue`, `/v2/leader` and
// `/v2/tasks/delete` — wired to the master, the controller and the app service. Each route knows
// only a narrow interface (its own file); the adapters from init's classes to those live here.
import type { FastifyInstance } from 'fastify';
import type { Clock } from '../shared/clock';
import type { AppService } from './app-service';
import type { InitController } from './controller';
import { registerEventRoutes } from './event-routes';
import type { InitTaskSource, MarathonEventBus } from './events';
import { initInstanceKiller, type InstanceKillerDeps } from './instance-killer';
import { registerLeaderRoutes } from './leader-routes';
import { registerQueueRoutes, type QueueAgentView, type QueueSource } from './queue-routes';
import { registerTaskKillRoutes } from './task-kill-routes';

export interface RuntimeRoutesOptions {
  /** The master's public side: operator events, operator kills and agent views. */
  master: InstanceKillerDeps['master'] & { agentViews(): QueueAgentView[] };
  controller: InitController;
  apps: AppService;
  events: MarathonEventBus;
  clock: Clock;
  /** This API's base URL, the leader's address. */
  leaderUrl: string;
  /** Seconds between heartbeat comments on `/v2/events` (default 15). */
  heartbeatIntervalSeconds?: number;
}

/** Init's tasks as the event bus needs them. */
export function initTaskSource(controller: InitController): InitTaskSource {
  return {
    frameworkId: () => controller.frameworkId(),
    task: (taskId) => controller.task(taskId),
  };
}

export function initQueueSource(controller: InitController): QueueSource {
  return {
    apps: () => [...controller.apps.values()].map((e) => e.stored),
    tasksOf: (appId) => controller.tasksOf(appId),
    lastFailure: (appId) => controller.lastFailure(appId),
    backoffOf: (appId) => controller.backoffOf(appId),
    resetBackoff: (appId) => controller.resetBackoff(appId),
  };
}

export function registerRuntimeRoutes(server: FastifyInstance, opts: RuntimeRoutesOptions): void {
  const { master, controller, apps, clock } = opts;
  registerEventRoutes(server, { bus: opts.events, clock, ...(opts.heartbeatIntervalSeconds !== undefined ? { heartbeatIntervalSeconds: opts.heartbeatIntervalSeconds } : {}) });
  registerQueueRoutes(server, { source: initQueueSource(controller), agents: () => master.agentViews(), clock });
  registerLeaderRoutes(server, {
    leaderUrl: opts.leaderUrl,
    abdicate: async () => {
      await controller.stop();
      await controller.start();
    },
  });
  registerTaskKillRoutes(server, initInstanceKiller({ master, tasks: controller, apps, clock }));
}

// Init's whole stack over a real master with one fake agent and a fake clock, served by the real
// API server through inject(): the controller, deployments, app service and versions, with the
// /v2 apps and deployments routes (plus any `routes` a test adds). `round` plays the agent: offers
// go out, init launches, and every launch is answered RUNNING and every kill KILLED.
import type { Test } from 'tap';
import type { FastifyInstance } from 'fastify';
import { createApiServer } from '../../../src/api/server';
import { AppRepo } from '../../../src/init/app-repo';
import { AppService } from '../../../src/init/app-service';
import { AppVersions } from '../../../src/init/app-versions';
import { InitController } from '../../../src/init/controller';
import type { DeploymentEvent } from '../../../src/init/deployment-json';
import { registerDeploymentRoutes } from '../../../src/init/deployment-routes';
import { Deployments } from '../../../src/init/deployments';
import { ReadinessRunner, type HttpGet } from '../../../src/init/readiness-runner';
import { registerMarathonRoutes } from '../../../src/init/routes';
import { inProcessTransport } from '../../../src/kernel/sdk/in-process';
import type { TaskInfo } from '../../../src/kernel/types';
import { silentLogger } from '../../../src/shared/logger';
import { createMetrics } from '../../../src/shared/metrics';
import { MemoryStore } from '../../../src/store/memory';
import { drainHarness, FakeAgent, res } from '../../kernel/master/helpers/drain-harness';

export const TOKEN = 'test-token';

interface Parts {
  store: MemoryStore;
  controller: InitController;
  apps: AppService;
}

/** Options of the stack: `readinessGet` runs readiness checks (readiness-runner.ts) through this fake HTTP client. */
export interface StackOptions {
  readinessGet?: HttpGet;
}

export async function initStack(t: Test, routes: (parts: Parts) => Array<(s: FastifyInstance) => void> = () => [], opts: StackOptions = {}) {
  const h = drainHarness(t, { allocationIntervalMs: 1000 });
  // Room for tasks with ports (readiness checks name one).
  const agent = h.addAgent('a1', new FakeAgent({ id: 'a1', hostname: 'a1.test', resources: { ...res(4, 4096), ports: [{ begin: 31000, end: 31099 }] }, attributes: {}, registeredAt: h.clock.now(), version: 'test' }));
  const store = new MemoryStore();
  const repo = new AppRepo(store);
  const controller = new InitController({ repo, transport: inProcessTransport(h.master), clock: h.clock, logger: silentLogger(), tickMs: 1000 });
  await controller.start();
  const deployments = new Deployments({ controller, clock: h.clock, logger: silentLogger() });
  deployments.start();
  const apps = new AppService(repo, controller, h.clock, deployments);
  const events: DeploymentEvent[] = [];
  deployments.onEvent((e) => events.push(e));
  const versions = new AppVersions(repo, (id) => controller.apps.get(id)?.stored);
  const readiness = opts.readinessGet ? new ReadinessRunner({ controller, clock: h.clock, logger: silentLogger(), get: opts.readinessGet }) : undefined;
  readiness?.start();
  const server = createApiServer({
    token: TOKEN,
    logger: silentLogger(),
    metrics: createMetrics({ processMetrics: false }),
    routes: [
      (s) => registerMarathonRoutes(s, apps, controller, { version: 'test', leaderUrl: 'http://127.0.0.1:8080', frameworkId: () => controller.frameworkId() }, versions),
      (s) => registerDeploymentRoutes(s, apps, deployments, readiness && ((appId) => readiness.results(appId))),
      ...routes({ store, controller, apps }),
    ],
  });
  t.teardown(async () => {
    readiness?.stop();
    deployments.stop();
    await controller.stop();
    await server.close();
  });
  const call = (method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', url: string, body?: unknown) =>
    server.inject({ method, url, headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, ...(body === undefined ? {} : { payload: JSON.stringify(body) }) });

  const answered = new Set<string>();
  let updates = 0;
  /**
   * One round: offers go out, init launches; the agent answers every launch RUNNING with the health
   * `healthOf` gives it (by the task's V env var; undefined: no health) and every kill KILLED.
   */
  const round = async (healthOf: (v: string | undefined) => boolean | undefined = () => undefined) => {
    for (let i = 0; i < 4; i++) await h.settle(i === 0 ? 1000 : 0);
    for (const k of agent.killed) {
      if (answered.has(`${k.taskId}:killed`)) continue;
      answered.add(`${k.taskId}:killed`);
      h.agentUpdate(agent.launched.find((l) => l.taskId === k.taskId)!, 'TASK_KILLED');
    }
    for (const task of agent.launched) {
      if (answered.has(task.taskId) || answered.has(`${task.taskId}:killed`)) continue;
      answered.add(task.taskId);
      const healthy = healthOf((task as TaskInfo).command.environment?.V);
      h.agentUpdate(task, 'TASK_RUNNING', { uuid: `u${updates++}`, ...(healthy === undefined ? {} : { healthy }) });
    }
    for (let i = 0; i < 4; i++) await h.settle(0);
  };
  const listed = async () => (await call('GET', '/v2/deployments')).json() as Array<Record<string, unknown>>;
  return { ...h, agent, store, controller, deployments, apps, events, call, round, listed };
}

// Init on a master with fake agents and a fake clock, and Marathon's runtime routes (events, queue,
// leader, task kills) served on 127.0.0.1:0: real HTTP streams, real controller and app service,
// but agents answer only when a test says so and time moves only when a test advances it.
import type { Test } from 'tap';
import type { FastifyInstance } from 'fastify';
import { createApiServer } from '../../../src/api/server';
import { AppRepo } from '../../../src/init/app-repo';
import { AppService } from '../../../src/init/app-service';
import { InitController } from '../../../src/init/controller';
import { MarathonEventBus } from '../../../src/init/events';
import { initTaskSource, registerRuntimeRoutes } from '../../../src/init/runtime-routes';
import { inProcessTransport } from '../../../src/kernel/sdk/in-process';
import type { TaskInfo } from '../../../src/kernel/types';
import { silentLogger } from '../../../src/shared/logger';
import { createMetrics } from '../../../src/shared/metrics';
import { MemoryStore } from '../../../src/store/memory';
import { drainHarness, FakeAgent } from '../../kernel/master/helpers/drain-harness';

export const TOKEN = 'test-token';
export const HEARTBEAT_S = 5;

export async function initHarness(t: Test) {
  const h = drainHarness(t, { allocationIntervalMs: 1000 });
  const agent = h.addAgent('a1', new FakeAgent({ id: 'a1', hostname: 'a1.test', resources: { cpus: 4, mem: 4096, disk: 1000, ports: [{ begin: 31000, end: 31099 }] }, attributes: { zone: 'a' }, registeredAt: h.clock.now(), version: 'test' }));
  const repo = new AppRepo(new MemoryStore());
  const controller = new InitController({ repo, transport: inProcessTransport(h.master), clock: h.clock, logger: silentLogger(), tickMs: 1000 });
  await controller.start();
  const apps = new AppService(repo, controller, h.clock);
  const events = new MarathonEventBus({ master: h.master, init: initTaskSource(controller), clock: h.clock, logger: silentLogger() });
  const server: FastifyInstance = createApiServer({
    token: TOKEN,
    logger: silentLogger(),
    metrics: createMetrics({ processMetrics: false }),
    routes: [(s) => registerRuntimeRoutes(s, { master: h.master, controller, apps, events, clock: h.clock, leaderUrl: 'http://127.0.0.1:8080', heartbeatIntervalSeconds: HEARTBEAT_S })],
  });
  await server.listen({ host: '127.0.0.1', port: 0 });
  const address = server.server.address();
  const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  t.teardown(async () => {
    events.stop();
    await controller.stop();
    await server.close();
  });

  /** Lets allocation, offers and init's accepts run (a few turns of the loop at the same time). */
  const settle = async () => {
    for (let i = 0; i < 6; i++) await h.settle(0);
  };
  /** The fake agent's launches not yet answered, in launch order. */
  const answered = new Set<string>();
  const unanswered = (): TaskInfo[] => agent.launched.filter((l) => !answered.has(l.taskId));
  /** The agent reports each new launch running. */
  const runAll = async () => {
    for (const task of unanswered()) {
      answered.add(task.taskId);
      h.agentUpdate(task, 'TASK_RUNNING');
    }
    await settle();
  };
  const call = (method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown) =>
    server.inject({ method, url: path, headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, ...(body === undefined ? {} : { payload: JSON.stringify(body) }) });
  const running = (appId: string) => controller.tasksOf(appId).filter((x) => x.state === 'TASK_RUNNING');
  return { ...h, agent, controller, apps, events, server, url, settle, runAll, call, running };
}

// A master on a fake clock with one fake agent, and the scheduler and operator routes served on
// 127.0.0.1:0: real HTTP streams, but time moves only when a test advances the clock.
import type { Test } from 'tap';
import type { FastifyInstance } from 'fastify';
import type { AgentLink, LogChunk } from '../../../src/kernel/agent-link';
import { Master } from '../../../src/kernel/master/master';
import type { AgentInfo, TaskInfo, TaskStatus } from '../../../src/kernel/types';
import { createApiServer } from '../../../src/api/server';
import { registerOperatorRoutes } from '../../../src/api/operator-routes';
import { registerSchedulerRoutes } from '../../../src/api/scheduler-routes';
import { FakeClock } from '../../../src/shared/clock';
import { silentLogger } from '../../../src/shared/logger';
import { createMetrics } from '../../../src/shared/metrics';
import { openScheduler, type OpenStream } from './streams';

export const TOKEN = 'test-token';
export const HEARTBEAT_S = 5;

export class FakeAgent implements AgentLink {
  readonly launched: TaskInfo[] = [];
  readonly killed: string[] = [];
  readonly acks: string[] = [];
  constructor(readonly info: AgentInfo) {}
  launch(task: TaskInfo): void {
    this.launched.push(task);
  }
  kill(taskId: string): void {
    this.killed.push(taskId);
  }
  acknowledge(_taskId: string, uuid: string): void {
    this.acks.push(uuid);
  }
  readLog(): Promise<LogChunk> {
    return Promise.reject(new Error('not used'));
  }
  taskStatuses(): TaskStatus[] {
    return [];
  }
}

/** A master, one fake agent and the API on 127.0.0.1:0, torn down with the test. */
export async function harness(t: Test) {
  const clock = new FakeClock();
  // A long allocation cycle: changes allocate at once anyway, and advancing days stays cheap.
  const master = new Master({ clock, logger: silentLogger(), allocationIntervalMs: 3_600_000 });
  master.start();
  const agent = new FakeAgent({ id: 'a1', hostname: 'a1.test', resources: { cpus: 4, mem: 4096, disk: 1000, ports: [] }, attributes: {}, registeredAt: clock.now(), version: 'test' });
  master.registerAgent(agent.info, agent);
  const server: FastifyInstance = createApiServer({
    token: TOKEN,
    logger: silentLogger(),
    metrics: createMetrics({ processMetrics: false }),
    routes: [
      (s) => registerSchedulerRoutes(s, { master, clock, logger: silentLogger(), heartbeatIntervalSeconds: HEARTBEAT_S }),
      (s) => registerOperatorRoutes(s, { master, clock, initFrameworkId: () => undefined, heartbeatIntervalSeconds: HEARTBEAT_S }),
    ],
  });
  await server.listen({ host: '127.0.0.1', port: 0 });
  const address = server.server.address();
  const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  const streams: Array<OpenStream<unknown>> = [];
  t.teardown(async () => {
    for (const s of streams) s.close();
    master.stop();
    await server.close();
  });

  /** Lets the master's zero-delay allocation run. */
  const allocate = () => clock.advance(0);
  const subscribe = async (info: Record<string, unknown> = { name: 'fw' }, frameworkId?: string) => {
    const s = await openScheduler(url, TOKEN, { type: 'SUBSCRIBE', ...(frameworkId ? { framework_id: frameworkId } : {}), subscribe: { framework_info: info } });
    streams.push(s);
    const first = await s.feed.next('SUBSCRIBED');
    const id: string = first.subscribed.framework_id;
    const streamId = s.res.headers.get('mesos-stream-id')!;
    const call = (body: Record<string, unknown>, headers: Record<string, string> = { 'Mesos-Stream-Id': streamId }) =>
      fetch(url + '/api/v1/scheduler', { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json', ...headers }, body: JSON.stringify({ framework_id: id, ...body }) });
    return { ...s, first, id, streamId, call };
  };
  const offers = async (s: { feed: OpenStream<any>['feed'] }) => (await s.feed.next('OFFERS', (e) => e.type === 'OFFERS')).offers.offers as Array<{ id: string; agentId: string }>;
  const launch = (taskId: string) => ({ taskId, resources: { cpus: 1, mem: 128 }, command: { value: 'sleep 100' } });
  const agentUpdate = (task: TaskInfo, state: TaskStatus['state'], uuid: string) =>
    master.statusUpdate({ taskId: task.taskId, agentId: task.agentId, frameworkId: task.frameworkId, state, source: 'SOURCE_EXECUTOR', timestamp: clock.now(), uuid });
  const state = async () => (await server.inject({ method: 'GET', url: '/api/v1/state', headers: { authorization: `Bearer ${TOKEN}` } })).json();
  /** Closes a framework's stream from the client side; resolves once the master has disconnected (or removed) it. */
  const drop = (fw: { id: string; close(): void }) =>
    new Promise<void>((resolve) => {
      const off = master.onEvent((e) => {
        const gone = (e.type === 'FRAMEWORK_UPDATED' && e.framework.id === fw.id && !e.framework.connected) || (e.type === 'FRAMEWORK_REMOVED' && e.frameworkId === fw.id);
        if (!gone) return;
        off();
        resolve();
      });
      fw.close();
    });
  return { clock, master, agent, server, url, allocate, subscribe, offers, launch, agentUpdate, state, drop };
}

export const post = (server: FastifyInstance, body: unknown, headers: Record<string, string> = {}) =>
  server.inject({ method: 'POST', url: '/api/v1/scheduler', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json', ...headers }, payload: JSON.stringify(body) });

/** A fetch response's JSON body, untyped for matching. */
export const json = async (res: Response): Promise<any> => res.json();

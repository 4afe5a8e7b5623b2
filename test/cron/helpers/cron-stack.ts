// The cron role over a real master with one fake agent and a fake clock, served by the real API
// server through inject(). The agent answers only when a test says so; time moves only when a
// test advances it. `restart()` builds a new master and cron over the same store, as `corral up`
// does after a crash (the fake agent reports its tasks again when it re-registers).
import type { Test } from 'tap';
import type { FastifyInstance } from 'fastify';
import { createApiServer } from '../../../src/api/server';
import { startCron, type CronRole } from '../../../src/cron';
import { Master } from '../../../src/kernel/master/master';
import { inProcessTransport } from '../../../src/kernel/sdk/in-process';
import type { TaskInfo, TaskState, TaskStatus } from '../../../src/kernel/types';
import { FakeClock } from '../../../src/shared/clock';
import { silentLogger } from '../../../src/shared/logger';
import { createMetrics } from '../../../src/shared/metrics';
import { MemoryStore } from '../../../src/store/memory';
import { FakeAgent } from '../../kernel/master/helpers/drain-harness';

export const TOKEN = 'test-token';
export const START = Date.UTC(2026, 0, 1);

/** `launchAheadMs` defaults to 0 here (runs launch at their time); the staging-ahead tests set it. */
export async function cronStack(t: Test, opts: { historyLimit?: number; store?: MemoryStore; clock?: FakeClock; launchAheadMs?: number; launchSpreadMs?: number } = {}) {
  const clock = opts.clock ?? new FakeClock(START);
  const store = opts.store ?? new MemoryStore();
  let master!: Master;
  let cron!: CronRole;
  let server!: FastifyInstance;
  const agent = new FakeAgent({ id: 'a1', hostname: 'a1.test', resources: { cpus: 8, mem: 16384, disk: 100_000, ports: [] }, attributes: { rack: 'r1' }, registeredAt: clock.now(), version: 'test' });

  const boot = async () => {
    master = new Master({ clock, logger: silentLogger(), allocationIntervalMs: 1000, agentReregisterMs: 60_000 });
    master.start();
    master.registerAgent(agent.info, agent);
    cron = await startCron({ store, transport: inProcessTransport(master), clock, logger: silentLogger(), leaderUrl: 'http://127.0.0.1:5050', launchAheadMs: opts.launchAheadMs ?? 0, launchSpreadMs: opts.launchSpreadMs ?? 0, ...(opts.historyLimit ? { historyLimit: opts.historyLimit } : {}) });
    server = createApiServer({ token: TOKEN, logger: silentLogger(), metrics: createMetrics({ processMetrics: false }), routes: [cron.routes] });
  };
  const shutdown = async () => {
    await cron.stop();
    master.stop();
    await server.close();
  };
  await boot();
  t.teardown(shutdown);

  /** Turns of the loop with time moving `ms` first: timers, allocation, offers, store writes settle. */
  const settle = async (ms = 0, turns = 12) => {
    clock.advance(ms);
    for (let i = 0; i < turns; i++) {
      clock.advance(0);
      await new Promise((r) => setImmediate(r));
    }
  };
  const answered = new Set<string>();
  const statusOf = (task: TaskInfo, state: TaskState, more: Partial<TaskStatus> = {}): TaskStatus => ({
    taskId: task.taskId,
    agentId: task.agentId,
    frameworkId: task.frameworkId,
    state,
    source: 'SOURCE_EXECUTOR',
    timestamp: clock.now(),
    uuid: `${task.taskId}-${state}`,
    ...more,
  });
  /** The agent reports `state` for a task (and remembers it for a re-registration). */
  const report = async (taskId: string, state: TaskState, more: Partial<TaskStatus> = {}) => {
    const task = agent.launched.find((l) => l.taskId === taskId)!;
    const status = statusOf(task, state, more);
    agent.reported = [...agent.reported.filter((r) => r.task.taskId !== taskId), { task, status }];
    master.statusUpdate(status);
    await settle();
  };
  /** Every launch not yet answered is reported RUNNING. */
  const runAll = async () => {
    for (const task of agent.launched) {
      if (answered.has(task.taskId)) continue;
      answered.add(task.taskId);
      await report(task.taskId, 'TASK_RUNNING');
    }
  };
  const finish = (taskId: string, exitCode = 0) => report(taskId, exitCode === 0 ? 'TASK_FINISHED' : 'TASK_FAILED', { exitCode });
  const call = (method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, body?: unknown) =>
    server.inject({ method, url, headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, ...(body === undefined ? {} : { payload: JSON.stringify(body) }) });
  /** A crash and restart of the whole node: new master and cron over the same store and agent. */
  const restart = async (downMs: number) => {
    await shutdown();
    clock.advance(downMs);
    await boot();
    await settle();
  };
  return {
    clock,
    store,
    agent,
    get master() {
      return master;
    },
    get cron() {
      return cron;
    },
    call,
    settle,
    report,
    runAll,
    finish,
    restart,
  };
}

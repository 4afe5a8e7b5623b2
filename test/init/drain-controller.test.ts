// The init controller against the real master (in-process SDK, fake agents, fake clock): when an
// agent drains, every instance there is started elsewhere first and stopped only once its
// replacement runs, so the running count never drops below the instance count; undraining
// stops the move and the surplus replacements go.
import t, { type Test } from 'tap';
import { AppRepo } from '../../src/init/app-repo';
import { validateApp } from '../../src/init/app';
import { InitController } from '../../src/init/controller';
import type { StoredApp } from '../../src/init/types';
import { inProcessTransport } from '../../src/kernel/sdk/in-process';
import type { TaskInfo } from '../../src/kernel/types';
import { silentLogger } from '../../src/shared/logger';
import { MemoryStore } from '../../src/store/memory';
import { drainHarness, type FakeAgent } from '../kernel/master/helpers/drain-harness';

const INSTANCES = 3;
const V1 = '2026-01-01T00:00:00.000Z';

async function initOnOneAgent(t: Test) {
  const h = drainHarness(t, { allocationIntervalMs: 1000 });
  const a1 = h.addAgent('a1');
  const controller = new InitController({ repo: new AppRepo(new MemoryStore()), transport: inProcessTransport(h.master), clock: h.clock, logger: silentLogger(), tickMs: 1000 });
  await controller.start();
  t.teardown(() => controller.stop());
  const stored: StoredApp = { app: validateApp({ id: '/web', cmd: 'serve', cpus: 1, mem: 64, instances: INSTANCES }), version: V1, lastConfigChangeAt: V1, lastScalingAt: V1 };
  controller.appChanged('/web', { stored, revision: 1 }, true);

  const answered = new Set<string>();
  /** The fake agents answer: launches run (at most `starts` of them this round), kills end the task. */
  const agentsAnswer = (starts = Infinity) => {
    for (const agent of h.agents.values()) {
      for (const k of agent.killed) {
        const task = agent.launched.find((l) => l.taskId === k.taskId)!;
        if (!answered.has(`${k.taskId}:killed`)) h.agentUpdate(task, 'TASK_KILLED');
        answered.add(`${k.taskId}:killed`);
      }
      for (const task of agent.launched) {
        if (answered.has(task.taskId) || starts <= 0) continue;
        answered.add(task.taskId);
        starts--;
        h.agentUpdate(task, 'TASK_RUNNING');
      }
    }
  };
  const running = () => h.master.taskViews().filter((v) => v.state === 'TASK_RUNNING');
  const step = async (starts = Infinity) => {
    for (let i = 0; i < 5; i++) await h.settle(i === 0 ? 1000 : 0);
    agentsAnswer(starts);
    await h.settle();
  };
  for (let i = 0; i < 5 && running().length < INSTANCES; i++) await step();
  t.equal(running().length, INSTANCES, 'all instances run on a1');
  return { ...h, a1, controller, running, step };
}

const on = (views: Array<{ agentId: string }>, agentId: string) => views.filter((v) => v.agentId === agentId).length;

t.test('draining an agent moves every instance replace-first, never below the instance count', async (t) => {
  const h = await initOnOneAgent(t);
  const a2: FakeAgent = h.addAgent('a2');
  await h.master.drainAgent('a1', { deadlineMs: 600_000 });
  let lowest = Infinity;
  // Replacements start one per second: slow starters.
  for (let i = 0; i < 20 && on(h.running(), 'a2') < INSTANCES; i++) {
    await h.step(1);
    lowest = Math.min(lowest, h.running().length);
  }
  await h.step();
  t.equal(on(h.running(), 'a2'), INSTANCES, 'every instance runs on a2');
  t.equal(on(h.running(), 'a1'), 0, 'none is left on a1');
  t.ok(lowest >= INSTANCES, `never fewer than ${INSTANCES} running (lowest ${lowest})`);
  t.equal(a2.launched.length, INSTANCES, 'one replacement per instance');
  t.same(h.a1.killed.map((k) => k.taskId).sort(), h.a1.launched.map((l: TaskInfo) => l.taskId).sort(), 'init itself killed every old instance, before the deadline');
  t.equal(h.view('a1').status, 'drained');
  t.notOk(h.controller.isConverging('/web'), 'converged');
});

t.test('undrain before the replacements run: the move stops and the surplus replacements go', async (t) => {
  const h = await initOnOneAgent(t);
  const a2: FakeAgent = h.addAgent('a2');
  await h.master.drainAgent('a1');
  await h.step(0);
  t.equal(a2.launched.length, INSTANCES, 'replacements launched on a2');
  t.ok(h.controller.isConverging('/web'), 'moving counts as converging');
  await h.master.undrainAgent('a1');
  await h.step(0);
  await h.step();
  t.equal(on(h.running(), 'a1'), INSTANCES, 'the instances on a1 stay');
  t.equal(h.a1.killed.length, 0);
  t.same(a2.killed.map((k) => k.taskId).sort(), a2.launched.map((l) => l.taskId).sort(), 'the not yet running replacements are killed');
});

// After a master restart, reconciliation of tasks on agents that have not registered again is held
// (reconcile-hold.ts): answered when the agent registers, or as lost when the window closes.
import t from 'tap';
import { Master } from '../../../src/kernel/master/master';
import { ReconcileHold } from '../../../src/kernel/master/reconcile-hold';
import { inProcessTransport } from '../../../src/kernel/sdk/in-process';
import type { AgentInfo, TaskInfo, TaskStatus } from '../../../src/kernel/types';
import { FakeAgent, START } from './helpers/drain-harness';
import { FakeClock } from '../../../src/shared/clock';
import { silentLogger } from '../../../src/shared/logger';

const WINDOW = 60_000;
/** The in-process transport delivers events on microtasks. */
const settle = () => new Promise((r) => setImmediate(r));

t.test('ReconcileHold: holds questions about unknown agents while open, answers them on registration or close', async (t) => {
  const clock = new FakeClock(START);
  const answered: Array<[string, string[]]> = [];
  const hold = new ReconcileHold(clock, WINDOW, (fid, tasks) => answered.push([fid, tasks.map((x) => x.taskId)]));
  const known = (x: { taskId: string }) => x.taskId === 'k';
  t.same(hold.take('f', [{ taskId: 'k', agentId: 'a1' }, { taskId: 'x', agentId: 'a1' }, { taskId: 'y', agentId: 'a2' }, { taskId: 'z' }], known).map((x) => x.taskId), ['k', 'z'], 'known tasks and questions without an agent are answered now');
  hold.agentRegistered('a1');
  t.same(answered, [['f', ['x']]], 'a1 registered: its held task is answered');
  hold.agentRegistered('a1');
  t.equal(answered.length, 1, 'and only once');
  clock.advance(WINDOW);
  t.same(answered, [['f', ['x']], ['f', ['y']]], 'the window closes: the rest is answered');
  t.same(hold.take('f', [{ taskId: 'w', agentId: 'a9' }], known).map((x) => x.taskId), ['w'], 'after the window nothing is held');
  const stopped = new ReconcileHold(clock, WINDOW, () => t.fail('a cancelled hold answers nothing'));
  stopped.take('f', [{ taskId: 'q', agentId: 'a3' }], known);
  stopped.cancel();
  clock.advance(WINDOW);
});

t.test('a restarted master answers for a returning agent’s tasks once it registers, and lost only after the window', async (t) => {
  const clock = new FakeClock(START);
  const master = new Master({ clock, logger: silentLogger(), agentReregisterMs: WINDOW });
  master.start();
  t.teardown(() => master.stop());
  const updates: TaskStatus[] = [];
  const conn = await inProcessTransport(master).subscribe({ name: 'f', role: '*' }, { offers: () => undefined, rescind: () => undefined, update: (s) => updates.push(s) });
  const info: AgentInfo = { id: 'a1', hostname: 'h1', resources: { cpus: 1, mem: 128, disk: 0, ports: [] }, attributes: {}, registeredAt: START, version: 'test' };
  const task: TaskInfo = { taskId: 't1', name: 't1', agentId: 'a1', frameworkId: conn.frameworkId, resources: { cpus: 0.1, mem: 16, disk: 0, ports: [] }, command: { shell: true, value: 'sleep 600', environment: {} }, labels: {} } as TaskInfo;

  await conn.reconcile([{ taskId: 't1', agentId: 'a1' }, { taskId: 't2', agentId: 'a2' }]);
  clock.advance(1000);
  await settle();
  t.same(updates, [], 'nothing is answered while the agents may still come back');
  const agent = new FakeAgent(info);
  agent.reported = [{ task, status: { taskId: task.taskId, agentId: task.agentId, frameworkId: task.frameworkId, state: 'TASK_RUNNING', source: 'SOURCE_EXECUTOR', timestamp: START } }];
  master.registerAgent(info, agent);
  await settle();
  t.match(updates, [{ taskId: 't1', state: 'TASK_RUNNING', reason: 'REASON_RECONCILIATION' }], 'a1 registered with t1 running: answered RUNNING');
  clock.advance(WINDOW);
  await settle();
  t.match(updates.slice(1), [{ taskId: 't2', state: 'TASK_LOST' }], 'a2 never came back: t2 is lost once the window closes');
});

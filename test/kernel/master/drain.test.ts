// Draining agents in the master: offers stop and are rescinded, frameworks are told (and told
// again when they subscribe later), tasks keep running until the deadline, when the master kills
// them with REASON_AGENT_DRAINING; undrain resumes offers; the drain set survives a restart.
import t, { type Test } from 'tap';
import { agentStatus, storedDrains } from '../../../src/kernel/master/drain';
import type { OperatorEvent } from '../../../src/kernel/sdk/operator';
import { FakeClock } from '../../../src/shared/clock';
import { CorralError } from '../../../src/shared/errors';
import { MemoryStore } from '../../../src/store';
import { drainHarness, FakeAgent, res, START, taskLaunch } from './helpers/drain-harness';

const rejectsWith = async (t: Test, p: Promise<unknown>, code: string, name: string) => {
  try {
    await p;
    t.fail(`${name}: did not throw`);
  } catch (err) {
    t.ok(err instanceof CorralError && err.code === code, `${name}: ${code} (${(err as Error).message})`);
  }
};

t.test('agentStatus: unreachable over draining; a drain with nothing live left is drained', async (t) => {
  const drain = { since: 1 };
  const cases: Array<[number | undefined, typeof drain | undefined, number, string]> = [
    [undefined, undefined, 3, 'alive'],
    [undefined, drain, 3, 'draining'],
    [undefined, drain, 0, 'drained'],
    [5, drain, 3, 'unreachable'],
    [5, undefined, 0, 'unreachable'],
  ];
  for (const [unreachable, d, live, want] of cases) t.equal(agentStatus(unreachable, d, live), want, `${String(unreachable)} ${JSON.stringify(d)} ${live} → ${want}`);
});

t.test('drain rescinds the agent’s offers, offers nothing more there, and tells every framework; undrain resumes', async (t) => {
  const h = drainHarness(t);
  h.addAgent('a1');
  h.addAgent('a2');
  const f = await h.subscribe();
  const g = await h.subscribe('other');
  await h.settle();
  // DRF hands each framework one agent.
  const offered = () => [...f.offers, ...g.offers];
  const onA1 = offered().filter((o) => o.agentId === 'a1').map((o) => o.id);
  t.equal(onA1.length, 1, 'a1 was offered');
  const events: OperatorEvent[] = [];
  h.master.onEvent((e) => events.push(e));

  const view = await h.master.drainAgent('a1', { deadlineMs: 60_000 });
  await h.settle();
  t.match(view, { id: 'a1', status: 'drained', drain: { since: START, deadline: START + 60_000 } }, 'nothing runs there: drained at once');
  t.same([...f.rescinded, ...g.rescinded], onA1, 'its outstanding offer is rescinded');
  t.same(f.draining, [{ agentId: 'a1', deadline: START + 60_000 }]);
  t.same(g.draining, [{ agentId: 'a1', deadline: START + 60_000 }], 'every framework is told');
  t.same(events, [{ type: 'AGENT_DRAINING', agentId: 'a1', since: START, deadline: START + 60_000 }]);

  await f.conn.revive();
  await g.conn.revive();
  await h.settle(10_000);
  t.same(offered().filter((o) => o.agentId === 'a1').map((o) => o.id), onA1, 'a1 is offered to nobody');

  const again = await h.master.drainAgent('a1');
  t.same(again.drain, { since: START }, 'draining again keeps since and replaces the deadline (none now)');

  await h.master.undrainAgent('a1');
  await h.settle();
  t.same(f.undrained, ['a1']);
  t.match(h.view('a1'), { status: 'alive', drain: undefined });
  t.equal(offered().filter((o) => o.agentId === 'a1').length, 2, 'a1 is offered again');
  t.match(events.at(-1), { type: 'AGENT_UNDRAINED', agentId: 'a1' });
  await h.master.undrainAgent('a1');
  t.same(f.undrained, ['a1'], 'undraining an agent that is not draining changes nothing');
});

t.test('unknown agents and bad deadlines are refused with codes', async (t) => {
  const h = drainHarness(t);
  h.addAgent('a1');
  await rejectsWith(t, h.master.drainAgent('nope'), 'AGENT_NOT_FOUND', 'drain');
  await rejectsWith(t, h.master.undrainAgent('nope'), 'AGENT_NOT_FOUND', 'undrain');
  await rejectsWith(t, h.master.drainAgent('a1', { deadlineMs: -1 }), 'INVALID_REQUEST', 'negative deadline');
  t.equal(h.view('a1').status, 'alive', 'a refused drain changes nothing');
});

t.test('tasks run on until the deadline; then the master kills what is left, reason REASON_AGENT_DRAINING', async (t) => {
  const h = drainHarness(t);
  const a1 = h.addAgent('a1');
  const f = await h.subscribe();
  await h.settle();
  const [batch, service, quick] = await h.launchOn(f, 'a1', [taskLaunch('batch', res(1, 64), { killGracePeriodSeconds: 7 }), taskLaunch('service', res(1, 64)), taskLaunch('quick', res(1, 64))]);
  for (const task of [batch!, service!, quick!]) h.agentUpdate(task, 'TASK_RUNNING');

  await h.master.drainAgent('a1', { deadlineMs: 300_000 });
  await h.settle(1000);
  t.equal(h.view('a1').status, 'draining');
  t.same(a1.killed, [], 'nothing is killed before the deadline');
  h.agentUpdate(quick!, 'TASK_FINISHED');
  await f.conn.kill('service');
  h.agentUpdate(service!, 'TASK_KILLED');
  await h.settle(298_999);
  t.same(a1.killed, [{ taskId: 'service', grace: undefined }], 'only the framework’s own kill so far');

  await h.settle(1);
  t.same(a1.killed.slice(1), [{ taskId: 'batch', grace: 7 }], 'at the deadline the rest is killed, with its own grace period');
  h.agentUpdate(batch!, 'TASK_KILLED', { reason: 'REASON_EXECUTOR_TERMINATED', message: 'Killed' });
  await h.settle();
  t.match(f.updates.at(-1), { taskId: 'batch', state: 'TASK_KILLED', reason: 'REASON_AGENT_DRAINING', message: /drain deadline of agent a1/, uuid: 'batch-TASK_KILLED' });
  t.match(f.updates.find((u) => u.taskId === 'service' && u.state === 'TASK_KILLED'), { reason: undefined }, 'a framework’s own kill keeps its reason');
  t.match(h.master.taskView('batch'), { state: 'TASK_KILLED', reason: 'REASON_AGENT_DRAINING' });
  t.match(h.view('a1'), { status: 'drained', tasks: 0 });
});

t.test('without a deadline nothing is ever killed; a deadline of 0 kills at once', async (t) => {
  const h = drainHarness(t);
  const a1 = h.addAgent('a1');
  const a2 = h.addAgent('a2');
  const f = await h.subscribe();
  await h.settle();
  await h.launchOn(f, 'a1', [taskLaunch('t1', res(1, 64))]);
  await h.launchOn(f, 'a2', [taskLaunch('t2', res(1, 64))]);
  await h.master.drainAgent('a1');
  await h.settle(30 * 86_400_000);
  t.same(a1.killed, [], 'a month later t1 still runs');
  t.equal(h.view('a1').status, 'draining');
  await h.master.drainAgent('a2', { deadlineMs: 0 });
  await h.settle();
  t.same(a2.killed, [{ taskId: 't2', grace: undefined }]);
});

t.test('a framework that subscribes or re-subscribes later hears of agents already draining', async (t) => {
  const h = drainHarness(t);
  h.addAgent('a1');
  h.addAgent('a2');
  const f = await h.subscribe();
  await h.master.drainAgent('a2', { deadlineMs: 5000 });
  await f.conn.disconnect();
  const late = await h.subscribe('late');
  const back = await h.subscribe('fw', f.conn.frameworkId);
  await h.settle();
  t.same(late.draining, [{ agentId: 'a2', deadline: START + 5000 }]);
  t.same(back.draining, [{ agentId: 'a2', deadline: START + 5000 }], 'also on re-subscribing');
});

t.test('last contact: registration and the agent’s status updates, not the master’s own', async (t) => {
  const h = drainHarness(t);
  const a1 = h.addAgent('a1');
  const f = await h.subscribe();
  await h.settle();
  const [task] = await h.launchOn(f, 'a1', [taskLaunch('t1', res(1, 64))]);
  t.equal(h.view('a1').lastContact, START);
  await h.settle(5000);
  h.agentUpdate(task!, 'TASK_RUNNING');
  t.equal(h.view('a1').lastContact, START + 5000, 'an update from the agent');
  await h.settle(5000);
  h.master.agentUnreachable('a1');
  t.equal(h.view('a1').lastContact, START + 5000, 'TASK_UNREACHABLE from the master is no contact');
  t.equal(h.view('a1').status, 'unreachable');
  h.master.agentContact('a1');
  t.equal(h.view('a1').lastContact, START + 10_000, 'a heartbeat of the cluster plane');
  h.master.registerAgent(a1.info, a1);
  t.equal(h.view('a1').status, 'alive');
});

t.test('the drain set survives a master restart; a deadline that passed meanwhile kills on registration', async (t) => {
  const store = new MemoryStore();
  const drains = storedDrains(store);
  const clock = new FakeClock(START);
  const first = drainHarness(t, { drains: { store: drains } }, clock);
  first.addAgent('a1');
  first.addAgent('a2');
  const f = await first.subscribe();
  await first.settle();
  const [task] = await first.launchOn(f, 'a1', [taskLaunch('t1', res(1, 64))]);
  first.agentUpdate(task!, 'TASK_RUNNING');
  await first.master.drainAgent('a1', { deadlineMs: 60_000 });
  await first.master.drainAgent('a2');
  await first.master.undrainAgent('a2');
  t.same([...(await drains.load())], [['a1', { since: START, deadline: START + 60_000 }]], 'only the draining agent is stored');
  first.master.stop();

  await first.settle(120_000);
  const second = drainHarness(t, { drains: { store: drains, restored: await drains.load() } }, clock);
  const g = await second.subscribe('fw', f.conn.frameworkId);
  const a1 = new FakeAgent(first.agents.get('a1')!.info);
  a1.reported = [{ task: task!, status: { taskId: 't1', agentId: 'a1', frameworkId: task!.frameworkId, state: 'TASK_RUNNING', source: 'SOURCE_EXECUTOR', timestamp: clock.now() } }];
  second.addAgent('a1', a1);
  second.addAgent('a2');
  await second.settle();
  t.same(g.draining, [{ agentId: 'a1', deadline: START + 60_000 }], 'the re-subscribed framework hears a1 still drains');
  t.same(a1.killed, [{ taskId: 't1', grace: undefined }], 'the deadline passed while the master was down: t1 is killed when a1 registers');
  t.equal(second.view('a1').status, 'draining');
  t.equal(second.view('a2').status, 'alive');
  t.notOk(g.offers.some((o) => o.agentId === 'a1'), 'a1 is not offered after the restart');
  t.ok(g.offers.some((o) => o.agentId === 'a2'));
});

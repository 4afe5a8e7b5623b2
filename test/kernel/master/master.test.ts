// The master shell driven through the in-process SDK transport, with a fake clock and fake agents
// that record what the master asks of them. Time only moves when a test says so.
import t from 'tap';
import { Master } from '../../../src/kernel/master/master';
import { inProcessTransport } from '../../../src/kernel/sdk/in-process';
import type { SchedulerConnection } from '../../../src/kernel/sdk/types';
import type { AgentLink, LogChunk } from '../../../src/kernel/agent-link';
import type { AgentInfo, Offer, PortRange, Resources, TaskInfo, TaskLaunch, TaskState, TaskStatus } from '../../../src/kernel/types';
import { FakeClock } from '../../../src/shared/clock';
import { silentLogger } from '../../../src/shared/logger';
import { createMetrics } from '../../../src/shared/metrics';

type Test = tap.Test;

const START = Date.UTC(2026, 0, 1);
const res = (cpus: number, mem: number, disk = 0, ports: PortRange[] = []): Resources => ({ cpus, mem, disk, ports });
const AGENT_RESOURCES = res(4, 4096, 1000, [{ begin: 31000, end: 31009 }]);

class FakeAgent implements AgentLink {
  readonly launched: TaskInfo[] = [];
  readonly killed: Array<{ taskId: string; grace: number | undefined }> = [];
  readonly acks: Array<{ taskId: string; uuid: string }> = [];
  constructor(readonly info: AgentInfo) {}
  launch(task: TaskInfo): void {
    this.launched.push(task);
  }
  kill(taskId: string, gracePeriodSeconds?: number): void {
    this.killed.push({ taskId, grace: gracePeriodSeconds });
  }
  acknowledge(taskId: string, uuid: string): void {
    this.acks.push({ taskId, uuid });
  }
  readLog(): Promise<LogChunk> {
    return Promise.reject(new Error('not used'));
  }
  taskStatuses(): TaskStatus[] {
    return [];
  }
}

/** A framework that records every event it receives. */
class RecordingFramework {
  readonly batches: Offer[][] = [];
  readonly rescinded: string[] = [];
  readonly updates: TaskStatus[] = [];
  conn!: SchedulerConnection;
  get offers(): Offer[] {
    return this.batches.flat();
  }
  /** Offers received since `from` batches ago. */
  offersSince(from: number): Offer[] {
    return this.batches.slice(from).flat();
  }
  lastOffer(): Offer {
    const o = this.offers.at(-1);
    if (!o) throw new Error('no offer received');
    return o;
  }
}

function harness(t: Test, allocationIntervalMs?: number) {
  const clock = new FakeClock(START);
  const metrics = createMetrics({ processMetrics: false });
  const master = new Master({ clock, logger: silentLogger(), metrics, allocationIntervalMs });
  master.start();
  t.teardown(() => master.stop());
  const transport = inProcessTransport(master);
  const agents = new Map<string, FakeAgent>();

  /** Lets queued allocations run and microtask-delivered events arrive, moving time by `ms`. */
  const settle = async (ms = 0) => {
    clock.advance(ms);
    await new Promise((resolve) => setImmediate(resolve));
  };
  const addAgent = (id: string, resources: Resources = AGENT_RESOURCES) => {
    const a = new FakeAgent({ id, hostname: `${id}.test`, resources, attributes: { rack: 'r1' }, registeredAt: clock.now(), version: 'test' });
    agents.set(id, a);
    master.registerAgent(a.info, a);
    return a;
  };
  const subscribe = async (name = 'fw') => {
    const f = new RecordingFramework();
    f.conn = await transport.subscribe(
      { name },
      { offers: (o) => f.batches.push(o), rescind: (id) => f.rescinded.push(id), update: (s) => f.updates.push(s) },
    );
    return f;
  };
  /** An update as the agent would send it. */
  const agentUpdate = (task: TaskInfo, state: TaskState, more: Partial<TaskStatus> = {}): TaskStatus => {
    const status: TaskStatus = { taskId: task.taskId, agentId: task.agentId, frameworkId: task.frameworkId, state, source: 'SOURCE_EXECUTOR', timestamp: clock.now(), uuid: `${task.taskId}-${state}`, ...more };
    master.statusUpdate(status);
    return status;
  };
  return { clock, metrics, master, agents, settle, addAgent, subscribe, agentUpdate };
}

const taskLaunch = (taskId: string, resources: Resources, more: Partial<TaskLaunch> = {}): TaskLaunch => ({
  taskId,
  name: taskId,
  resources,
  command: { shell: true, value: 'sleep 1000', environment: {} },
  labels: { app: 'test' },
  ...more,
});

/** Subscribes one framework to one agent and launches `tasks` from its first offer. */
async function launched(t: Test, tasks: TaskLaunch[], refuseSeconds?: number) {
  const h = harness(t);
  const agent = h.addAgent('a1');
  const f = await h.subscribe();
  await h.settle();
  await f.conn.accept([f.lastOffer().id], [{ type: 'LAUNCH', tasks }], refuseSeconds === undefined ? undefined : { refuseSeconds });
  await h.settle();
  return { ...h, agent, f };
}

t.test('a subscribing framework gets one offer with the whole agent', async (t) => {
  const h = harness(t);
  const f = await h.subscribe();
  await h.settle();
  t.same(f.offers, [], 'no agent, no offer');
  h.addAgent('a1');
  await h.settle();
  t.equal(f.batches.length, 1);
  t.equal(f.offers.length, 1);
  t.match(f.lastOffer(), { frameworkId: f.conn.frameworkId, agentId: 'a1', hostname: 'a1.test', attributes: { rack: 'r1' } });
  t.same(f.lastOffer().resources, AGENT_RESOURCES);
  t.type(f.lastOffer().id, 'string');
  t.same(h.master.agentViews()[0]?.offered, AGENT_RESOURCES, 'the agent shows the resources as offered');

  await h.settle(10_000);
  t.equal(f.offers.length, 1, 'an outstanding offer is not offered again');
});

t.test('accept with LAUNCH: the agent launches the task and its resources leave the pool', async (t) => {
  const { agent, f, master, settle } = await launched(t, [taskLaunch('t1', res(1, 1024, 100, [{ begin: 31000, end: 31000 }]), { killGracePeriodSeconds: 3 })]);
  t.equal(agent.launched.length, 1);
  t.match(agent.launched[0], { taskId: 't1', agentId: 'a1', frameworkId: f.conn.frameworkId, name: 't1', labels: { app: 'test' }, killGracePeriodSeconds: 3 });
  t.match(master.taskView('t1'), { id: 't1', state: 'TASK_STAGING', agentId: 'a1', host: 'a1.test', frameworkId: f.conn.frameworkId, stagedAt: START, startedAt: undefined });
  const view = master.agentViews()[0]!;
  t.same(view.used, res(1, 1024, 100, [{ begin: 31000, end: 31000 }]));
  t.same(view.offered, res(0, 0, 0, []), 'the accepted offer is gone');
  t.equal(view.tasks, 1);

  const before = f.batches.length;
  await settle(4999);
  t.same(f.offersSince(before), [], 'the leftover is not re-offered within the default 5 s refusal');
  await settle(1);
  t.equal(f.offersSince(before).length, 1, 'the leftover comes back once the refusal ends');
  t.same(f.lastOffer().resources, res(3, 3072, 900, [{ begin: 31001, end: 31009 }]));
});

t.test('accept with refuseSeconds 0 re-offers the leftover at once', async (t) => {
  const { f } = await launched(t, [taskLaunch('t1', res(1, 1024))], 0);
  t.equal(f.offers.length, 2);
  t.same(f.lastOffer().resources, res(3, 3072, 1000, [{ begin: 31000, end: 31009 }]));
});

t.test('decline refuses the agent for refuseSeconds (5 s by default)', async (t) => {
  const cases: Array<[string, { refuseSeconds: number } | undefined, number]> = [
    ['default filter', undefined, 5000],
    ['refuseSeconds 10', { refuseSeconds: 10 }, 10_000],
    ['refuseSeconds 0.5', { refuseSeconds: 0.5 }, 500],
    ['refuseSeconds 0', { refuseSeconds: 0 }, 0],
  ];
  for (const [name, filters, ms] of cases) {
    await t.test(name, async (t) => {
      // A 100 ms allocation cycle, so each refusal's end falls on a cycle.
      const h = harness(t, 100);
      h.addAgent('a1');
      const f = await h.subscribe();
      await h.settle();
      await f.conn.decline([f.lastOffer().id], filters);
      if (ms > 0) {
        await h.settle(ms - 1);
        t.equal(f.offers.length, 1, 'no offer before the refusal ends');
        await h.settle(1);
      } else {
        await h.settle();
      }
      t.equal(f.offers.length, 2, 'offered again once the refusal ends');
      t.same(f.lastOffer().resources, AGENT_RESOURCES);
    });
  }
});

t.test('revive clears refusals', async (t) => {
  const h = harness(t);
  h.addAgent('a1');
  const f = await h.subscribe();
  await h.settle();
  await f.conn.decline([f.lastOffer().id], { refuseSeconds: 3600 });
  await h.settle(60_000);
  t.equal(f.offers.length, 1, 'refused for an hour');
  await f.conn.revive();
  await h.settle();
  t.equal(f.offers.length, 2, 'revive brings the offer back at once');
});

t.test('suppress rescinds outstanding offers and stops new ones until revive', async (t) => {
  const h = harness(t);
  h.addAgent('a1');
  h.addAgent('a2');
  const f = await h.subscribe();
  await h.settle();
  const ids = f.offers.map((o) => o.id).sort();
  t.equal(ids.length, 2);
  await f.conn.suppress();
  await h.settle();
  t.same([...f.rescinded].sort(), ids, 'both offers rescinded');
  t.same(h.master.agentViews().map((a) => a.offered), [res(0, 0, 0), res(0, 0, 0)]);
  await h.settle(60_000);
  t.equal(f.offers.length, 2, 'no offers while suppressed');
  await t.rejects(f.conn.accept([ids[0]!], []), { code: 'OFFER_NOT_FOUND' }, 'a rescinded offer cannot be accepted');
  await f.conn.revive();
  await h.settle();
  t.equal(f.offers.length, 4, 'revive resumes offers');
});

t.test('status updates reach the framework; its acknowledgement reaches the agent', async (t) => {
  const { agent, f, master, settle, agentUpdate, clock } = await launched(t, [taskLaunch('t1', res(1, 512))]);
  const task = agent.launched[0]!;
  clock.advance(2000);
  const running = agentUpdate(task, 'TASK_RUNNING', { uuid: 'u-running' });
  t.same(f.updates, [], 'delivery is deferred to a microtask');
  await settle();
  t.same(f.updates, [running]);
  t.match(master.taskView('t1'), { state: 'TASK_RUNNING', startedAt: START + 2000, updatedAt: START + 2000 });
  t.same(agent.acks, [], 'the master does not acknowledge on the framework’s behalf');
  await f.conn.acknowledge(f.updates[0]!);
  t.same(agent.acks, [{ taskId: 't1', uuid: 'u-running' }]);
  await f.conn.acknowledge({ ...running, uuid: undefined });
  t.equal(agent.acks.length, 1, 'an update without uuid needs no acknowledgement');
});

t.test('a terminal update frees the resources and moves the task to the completed views', async (t) => {
  const { agent, f, master, settle, agentUpdate } = await launched(t, [taskLaunch('t1', res(1, 512)), taskLaunch('t2', res(1, 512))], 0);
  const [t1, t2] = agent.launched;
  agentUpdate(t1!, 'TASK_RUNNING');
  agentUpdate(t1!, 'TASK_FINISHED', { exitCode: 0 });
  await settle();
  t.same(f.updates.map((s) => s.state), ['TASK_RUNNING', 'TASK_FINISHED']);
  t.match(master.taskView('t1'), { state: 'TASK_FINISHED', exitCode: 0 });
  t.same(master.taskViews().map((v) => [v.id, v.state]), [['t2', 'TASK_STAGING'], ['t1', 'TASK_FINISHED']], 'live tasks first, then completed ones');
  t.same(master.agentViews()[0]!.used, res(1, 512, 0, []), 'only t2 still holds resources');
  t.equal(master.agentViews()[0]!.tasks, 1);
  t.same(f.lastOffer().resources, res(1, 512, 0, []), 't1’s resources are offered again (the rest is still in the outstanding leftover offer)');

  agentUpdate(t1!, 'TASK_RUNNING', { uuid: 'late' });
  await settle();
  t.equal(f.updates.length, 3, 'a late update still reaches the framework, which must acknowledge it');
  t.same(agent.acks, [], 'the master does not acknowledge for a connected framework');
  t.equal(master.taskView('t1').state, 'TASK_FINISHED', 'but it does not change the ended task');

  agentUpdate(t2!, 'TASK_KILLED');
  await settle();
  t.same(master.taskViews().map((v) => v.id), ['t2', 't1'], 'most recently ended first');
});

t.test('kill: a known task is killed on its agent; an unknown one is reported lost', async (t) => {
  const { agent, f, master, settle } = await launched(t, [taskLaunch('t1', res(1, 512), { killGracePeriodSeconds: 3 }), taskLaunch('t2', res(1, 512))]);
  await f.conn.kill('t1', { gracePeriodSeconds: 7 });
  await f.conn.kill('t1');
  await f.conn.kill('t2');
  t.same(agent.killed, [
    { taskId: 't1', grace: 7 },
    { taskId: 't1', grace: 3 },
    { taskId: 't2', grace: undefined },
  ], 'the grace asked for, else the task’s own, else the agent default');
  t.equal(master.taskView('t1').state, 'TASK_STAGING', 'the state changes only when the agent reports it');

  await f.conn.kill('nope');
  await settle();
  t.equal(agent.killed.length, 3, 'nothing sent to the agent');
  t.equal(f.updates.length, 1);
  t.match(f.updates[0], { taskId: 'nope', frameworkId: f.conn.frameworkId, state: 'TASK_LOST', source: 'SOURCE_MASTER', reason: 'REASON_RECONCILIATION' });
  t.equal(f.updates[0]!.uuid, undefined, 'a master-made update needs no acknowledgement');
});

t.test('a framework cannot kill, reconcile or accept what belongs to another one', async (t) => {
  const { agent, f, settle, subscribe } = await launched(t, [taskLaunch('t1', res(1, 512))]);
  const other = await subscribe('other');
  await settle();
  t.equal(other.offers.length, 1, 'the leftover goes to the other framework while the first refuses the agent');
  await other.conn.kill('t1');
  await other.conn.reconcile([{ taskId: 't1' }]);
  await settle();
  t.same(agent.killed, []);
  t.same(other.updates.map((s) => [s.taskId, s.state]), [['t1', 'TASK_LOST'], ['t1', 'TASK_LOST']]);
  await t.rejects(f.conn.accept([other.lastOffer().id], []), { code: 'OFFER_NOT_FOUND' });
  await t.resolves(other.conn.accept([other.lastOffer().id], []), 'the owner still can');
});

t.test('reconcile: implicit answers every task of the framework, explicit answers each one asked', async (t) => {
  const { agent, f, settle, agentUpdate } = await launched(t, [taskLaunch('t1', res(1, 512)), taskLaunch('t2', res(1, 512)), taskLaunch('t3', res(1, 512))]);
  agentUpdate(agent.launched[0]!, 'TASK_RUNNING', { healthy: true });
  agentUpdate(agent.launched[2]!, 'TASK_FAILED');
  await settle();
  f.updates.length = 0;

  await f.conn.reconcile([]);
  await settle();
  t.same(f.updates.map((s) => [s.taskId, s.state]).sort(), [['t1', 'TASK_RUNNING'], ['t2', 'TASK_STAGING']], 'all live tasks, not the ended one');
  for (const s of f.updates) {
    t.equal(s.reason, 'REASON_RECONCILIATION', `${s.taskId} reason`);
    t.equal(s.uuid, undefined, `${s.taskId} has no uuid`);
    t.equal(s.agentId, 'a1');
  }
  t.equal(f.updates.find((s) => s.taskId === 't1')?.healthy, true, 'the latest status is repeated');

  f.updates.length = 0;
  await f.conn.reconcile([{ taskId: 't2', agentId: 'a1' }, { taskId: 'nope' }, { taskId: 't3' }]);
  await settle();
  t.same(f.updates.map((s) => [s.taskId, s.state, s.source]), [
    ['t2', 'TASK_STAGING', 'SOURCE_MASTER'],
    ['nope', 'TASK_LOST', 'SOURCE_MASTER'],
    ['t3', 'TASK_FAILED', 'SOURCE_MASTER'],
  ], 'in the order asked; unknown tasks are lost, ended ones answer with how they ended');
  t.ok(f.updates.every((s) => s.uuid === undefined && s.reason === 'REASON_RECONCILIATION'));
});

t.test('accept of an unknown, used or foreign offer fails with OFFER_NOT_FOUND', async (t) => {
  const h = harness(t);
  const agent = h.addAgent('a1');
  const f = await h.subscribe();
  await h.settle();
  const id = f.lastOffer().id;
  await t.rejects(f.conn.accept(['no-such-offer'], []), { name: 'CorralError', code: 'OFFER_NOT_FOUND' });
  await t.rejects(f.conn.accept([id, 'no-such-offer'], [{ type: 'LAUNCH', tasks: [taskLaunch('t1', res(1, 1))] }]), { code: 'OFFER_NOT_FOUND' }, 'one bad id fails the whole accept');
  t.same(agent.launched, [], 'nothing launched');
  await h.settle();
  t.equal(f.offers.length, 2, 'the valid offer named in the failed accept is given back');
  const again = f.lastOffer().id;
  await f.conn.accept([again], [{ type: 'LAUNCH', tasks: [taskLaunch('t1', res(1, 1))] }]);
  await t.rejects(f.conn.accept([again], [{ type: 'LAUNCH', tasks: [taskLaunch('t2', res(1, 1))] }]), { code: 'OFFER_NOT_FOUND' }, 'an offer is used once');
  t.same(agent.launched.map((x) => x.taskId), ['t1']);
  await t.resolves(f.conn.decline(['no-such-offer']), 'declining an unknown offer is harmless');
  t.throws(() => h.master.accept('no-such-framework', [again], []), { code: 'FRAMEWORK_NOT_FOUND' });
});

t.test('an invalid launch fails with LAUNCH_INVALID and returns the offer to the pool', async (t) => {
  const h = harness(t);
  const agent = h.addAgent('a1');
  const f = await h.subscribe();
  await h.settle();
  const cases: Array<[string, TaskLaunch[]]> = [
    ['too big', [taskLaunch('t1', res(5, 1))]],
    ['port not offered', [taskLaunch('t1', res(1, 1, 0, [{ begin: 80, end: 80 }]))]],
    ['bad task id', [taskLaunch('has space', res(1, 1))]],
  ];
  for (const [name, tasks] of cases) {
    await t.rejects(f.conn.accept([f.lastOffer().id], [{ type: 'LAUNCH', tasks }]), { code: 'LAUNCH_INVALID' }, name);
    await h.settle();
  }
  t.same(agent.launched, []);
  t.equal(f.offers.length, 1 + cases.length, 'each time the offer comes straight back (no refusal)');
  t.same(f.lastOffer().resources, AGENT_RESOURCES);
  await t.rejects(f.conn.accept([f.lastOffer().id, f.lastOffer().id], [{ type: 'LAUNCH', tasks: [taskLaunch('t1', res(6, 1))] }]), { code: 'LAUNCH_INVALID' }, 'naming an offer twice does not double it');
  t.same(agent.launched, []);
});

t.test('DRF across frameworks: the one holding less gets the next offer', async (t) => {
  const h = harness(t);
  h.addAgent('a1');
  const a = await h.subscribe('a');
  await h.settle();
  const b = await h.subscribe('b');
  await h.settle();
  t.equal(a.offers.length, 1);
  t.equal(b.offers.length, 0, 'the agent is already offered to a');
  await a.conn.accept([a.lastOffer().id], [{ type: 'LAUNCH', tasks: [taskLaunch('a1', res(2, 1024))] }], { refuseSeconds: 0 });
  await h.settle();
  t.equal(a.offers.length, 1, 'a is not refusing, but holds more');
  t.equal(b.offers.length, 1, 'b holds nothing, so it gets the leftover');
  t.same(b.lastOffer().resources, res(2, 3072, 1000, [{ begin: 31000, end: 31009 }]));
  await b.conn.accept([b.lastOffer().id], [{ type: 'LAUNCH', tasks: [taskLaunch('b1', res(1, 3000))] }], { refuseSeconds: 0 });
  await h.settle();
  t.equal(a.offers.length, 2, 'b now holds the larger dominant share (memory), so a gets the rest');
  t.equal(b.offers.length, 1);

  // Within one cycle: two fresh agents are split between two frameworks holding nothing.
  const h2 = harness(t);
  const x = await h2.subscribe('x');
  const y = await h2.subscribe('y');
  h2.addAgent('n1');
  h2.addAgent('n2');
  await h2.settle();
  t.same([x.offers.length, y.offers.length], [1, 1], 'one agent each');
  t.not(x.lastOffer().agentId, y.lastOffer().agentId);
});

t.test('metrics: launches, failures and tasks by state', async (t) => {
  const { agent, metrics, settle, agentUpdate } = await launched(t, [taskLaunch('t1', res(1, 1)), taskLaunch('t2', res(1, 1)), taskLaunch('t3', res(1, 1)), taskLaunch('t4', res(1, 1))]);
  const [t1, t2, t3] = agent.launched;
  agentUpdate(t1!, 'TASK_RUNNING');
  agentUpdate(t2!, 'TASK_FAILED', { reason: 'REASON_COMMAND_EXECUTOR_FAILED' });
  agentUpdate(t3!, 'TASK_KILLED');
  await settle();
  const text = await metrics.registry.metrics();
  t.match(text, /^corral_task_launches_total 4$/m);
  t.match(text, /^corral_task_failures_total\{state="TASK_FAILED",reason="REASON_COMMAND_EXECUTOR_FAILED"\} 1$/m);
  t.notMatch(text, /corral_task_failures_total\{state="TASK_KILLED"/, 'a kill is not a failure');
  t.match(text, /^corral_tasks\{state="TASK_RUNNING"\} 1$/m);
  t.match(text, /^corral_tasks\{state="TASK_STAGING"\} 1$/m);
  t.match(text, /^corral_tasks\{state="TASK_FAILED"\} 1$/m);
  t.match(text, /^corral_tasks\{state="TASK_KILLED"\} 1$/m);

  agentUpdate(t1!, 'TASK_LOST', { reason: 'REASON_AGENT_DISCONNECTED' });
  const after = await metrics.registry.metrics();
  t.match(after, /^corral_task_failures_total\{state="TASK_LOST",reason="REASON_AGENT_DISCONNECTED"\} 1$/m);
  t.notMatch(after, /^corral_tasks\{state="TASK_RUNNING"\}/m, 'a state nobody is in is not reported');
});

t.test('operator views and kills', async (t) => {
  const { agent, master, agentUpdate } = await launched(t, [taskLaunch('t1', res(1, 1), { killGracePeriodSeconds: 9 })]);
  t.throws(() => master.killTask('nope'), { code: 'TASK_NOT_FOUND' });
  t.throws(() => master.taskView('nope'), { code: 'TASK_NOT_FOUND' });
  t.throws(() => master.agentLinkOf('nope'), { code: 'TASK_NOT_FOUND' });
  t.match(master.killTask('t1'), { id: 't1', state: 'TASK_STAGING' });
  t.same(agent.killed, [{ taskId: 't1', grace: 9 }]);
  agentUpdate(agent.launched[0]!, 'TASK_KILLED');
  t.throws(() => master.killTask('t1'), { code: 'TASK_NOT_FOUND' }, 'an ended task cannot be killed');
  t.equal(master.taskView('t1').state, 'TASK_KILLED', 'but it can still be viewed');
});

t.test('teardown kills the framework’s tasks; disconnect keeps them and its id', async (t) => {
  const { agent, f, master, settle, subscribe } = await launched(t, [taskLaunch('t1', res(1, 1))], 0);
  const outstanding = f.lastOffer().id;
  await f.conn.disconnect();
  await settle(60_000);
  t.same(agent.killed, [], 'disconnect kills nothing');
  t.equal(f.offers.length, 2, 'no offers while disconnected');
  t.same(f.rescinded, [outstanding], 'its outstanding offer was rescinded');

  const back = new RecordingFramework();
  back.conn = await inProcessTransport(master).subscribe(
    { name: 'fw', id: f.conn.frameworkId },
    { offers: (o) => back.batches.push(o), rescind: (id) => back.rescinded.push(id), update: (s) => back.updates.push(s) },
  );
  t.equal(back.conn.frameworkId, f.conn.frameworkId, 're-subscribing keeps the id');
  await back.conn.reconcile([]);
  await settle();
  t.same(back.updates.map((s) => s.taskId), ['t1'], 'and the tasks');
  t.equal(back.offers.length, 1, 'offers resume');

  await back.conn.teardown();
  t.same(agent.killed, [{ taskId: 't1', grace: undefined }]);
  await t.rejects(back.conn.revive(), { code: 'FRAMEWORK_NOT_FOUND' }, 'a torn-down framework is gone');
  const other = await subscribe('other');
  await settle();
  t.equal(other.offers.length, 1, 'its resources go to others');
});

t.test('start and stop are idempotent; a stopped master makes no offers', async (t) => {
  const h = harness(t);
  h.master.start();
  h.addAgent('a1');
  h.master.stop();
  h.master.stop();
  const f = await h.subscribe();
  await h.settle(10_000);
  t.same(f.offers, []);
  h.master.start();
  await h.settle(1000);
  t.equal(f.offers.length, 1, 'the periodic cycle offers after a restart');
});

t.test('a (re)registering agent brings back its tasks; tasks it does not know are lost', async (t) => {
  const h = harness(t);
  const f = await h.subscribe();
  const spec = (taskId: string): TaskInfo => ({ ...taskLaunch(taskId, res(1, 512)), agentId: 'a1', frameworkId: f.conn.frameworkId });
  const at = (task: TaskInfo, state: TaskState, more: Partial<TaskStatus> = {}): TaskStatus => ({ taskId: task.taskId, agentId: 'a1', frameworkId: task.frameworkId, state, source: 'SOURCE_EXECUTOR', timestamp: START, ...more });
  const running = spec('running');
  const ended = spec('ended');
  const agent = new FakeAgent({ id: 'a1', hostname: 'a1.test', resources: AGENT_RESOURCES, attributes: {}, registeredAt: START, version: 'test' });
  Object.assign(agent, { reportTasks: () => [{ task: running, status: at(running, 'TASK_RUNNING') }, { task: ended, status: at(ended, 'TASK_FAILED', { exitCode: 3 }) }] });
  h.master.registerAgent(agent.info, agent);
  await h.settle();
  t.match(h.master.taskView('running'), { state: 'TASK_RUNNING', startedAt: START });
  t.match(h.master.taskView('ended'), { state: 'TASK_FAILED', exitCode: 3 });
  t.same(h.master.agentViews()[0]!.used, res(1, 512, 0, []), 'the running task holds its resources again');
  t.same(f.lastOffer().resources.cpus, 3, 'only the rest is offered');

  await f.conn.reconcile([{ taskId: 'running' }, { taskId: 'ended' }]);
  await h.settle();
  t.same(f.updates.map((s) => [s.taskId, s.state]), [['running', 'TASK_RUNNING'], ['ended', 'TASK_FAILED']], 'reconciliation answers truthfully');

  // The agent restarts again and this time knows nothing of `running`.
  f.updates.length = 0;
  Object.assign(agent, { reportTasks: () => [] });
  h.master.registerAgent(agent.info, agent);
  await h.settle();
  t.match(f.updates, [{ taskId: 'running', state: 'TASK_LOST', reason: 'REASON_AGENT_RESTARTED' }], 'the framework hears it is lost');
  t.equal(h.master.taskView('running').state, 'TASK_LOST');
});

t.test('updates for a disconnected framework wait for the agent to resend; for a removed one the master settles them', async (t) => {
  const { agent, f, master, settle, agentUpdate } = await launched(t, [taskLaunch('t1', res(1, 512)), taskLaunch('t2', res(1, 512))]);
  await f.conn.disconnect();
  agentUpdate(agent.launched[0]!, 'TASK_RUNNING', { uuid: 'u1' });
  await settle();
  t.same(agent.acks, [], 'nobody acknowledges while the framework is away');
  const g = await (async () => {
    const again = new RecordingFramework();
    again.conn = await inProcessTransport(master).subscribe({ name: 'fw', id: f.conn.frameworkId }, { offers: (o) => again.batches.push(o), rescind: () => undefined, update: (s) => again.updates.push(s) });
    return again;
  })();
  agentUpdate(agent.launched[0]!, 'TASK_RUNNING', { uuid: 'u1' });
  await settle();
  t.match(g.updates, [{ taskId: 't1', uuid: 'u1' }], 'the resend reaches the re-subscribed framework');
  await g.conn.teardown();
  agentUpdate(agent.launched[1]!, 'TASK_KILLED', { uuid: 'u2' });
  await settle();
  t.same(agent.acks, [{ taskId: 't2', uuid: 'u2' }], 'after teardown the master acknowledges on its behalf');
});

t.test('an agent the cluster plane loses: offers rescinded, tasks TASK_UNREACHABLE, nothing offered; on return its tasks are announced again', async (t) => {
  const h = harness(t);
  const a1 = h.addAgent('a1');
  h.addAgent('a2');
  const f = await h.subscribe();
  await h.settle();
  const onA1 = f.offers.find((o) => o.agentId === 'a1')!;
  await f.conn.accept([onA1.id], [{ type: 'LAUNCH', tasks: [taskLaunch('t1', res(1, 512))] }], { refuseSeconds: 0 });
  await h.settle();
  const task = a1.launched[0]!;
  h.agentUpdate(task, 'TASK_RUNNING');
  await h.settle();
  const outstanding = f.offers.filter((o) => o.agentId === 'a1' && o.id !== onA1.id).map((o) => o.id);
  t.ok(outstanding.length > 0, 'a1 had an outstanding offer');

  h.master.agentUnreachable('a1');
  h.master.agentUnreachable('a1');
  await h.settle();
  t.match(f.rescinded, outstanding, "a1's offers are rescinded");
  t.match(f.updates.filter((u) => u.state === 'TASK_UNREACHABLE'), [{ taskId: 't1', source: 'SOURCE_MASTER', reason: 'REASON_AGENT_DISCONNECTED' }], 'one TASK_UNREACHABLE, even when told twice');
  t.equal(h.master.taskView('t1').state, 'TASK_UNREACHABLE');
  t.ok(h.master.agentViews().find((v) => v.id === 'a1')?.unreachableSince, 'the agent view says since when');
  const before = f.batches.length;
  await f.conn.revive();
  await h.settle(10_000);
  t.notOk(f.offersSince(before).some((o) => o.agentId === 'a1'), 'nothing is offered on a lost agent');

  // It comes back with the task still running.
  const back = { ...a1, reportTasks: () => [{ task, status: { taskId: 't1', agentId: 'a1', frameworkId: task.frameworkId, state: 'TASK_RUNNING' as const, source: 'SOURCE_EXECUTOR' as const, timestamp: h.clock.now() } }] };
  h.master.registerAgent(a1.info, Object.assign(Object.create(Object.getPrototypeOf(a1)), back));
  await h.settle();
  t.match(f.updates.at(-1), { taskId: 't1', state: 'TASK_RUNNING', reason: 'REASON_RECONCILIATION', uuid: undefined }, 'the framework hears it runs again');
  t.equal(h.master.taskView('t1').state, 'TASK_RUNNING');
  t.notOk(h.master.agentViews().find((v) => v.id === 'a1')?.unreachableSince);
});

// At-least-once status delivery (driven by a fake clock), what the agent remembers of ended
// tasks, and reading their logs.
import t from 'tap';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { FakeClock } from '../../../src/shared/clock';
import { WAIT_MS, newTaskId, shellTask, startAgent, waitUntil } from './helpers/harness';

t.test('unacknowledged updates are resent in order every statusRetryMs until acknowledged', async (t) => {
  const clock = new FakeClock();
  const { agent, master } = await startAgent(t, { clock, statusRetryMs: 1000 });
  const id = newTaskId('retry');
  agent.launch(shellTask(id, 'exit 0'));
  await master.waitFor(id, 'TASK_FINISHED');
  const first = master.of(id);
  t.same(first.map((s) => s.state), ['TASK_STARTING', 'TASK_RUNNING', 'TASK_FINISHED']);
  t.ok(first.every((s) => s.timestamp === clock.now()), 'timestamps come from the injected clock');

  clock.advance(999);
  t.equal(master.of(id).length, 3, 'nothing resent before statusRetryMs');
  clock.advance(1);
  t.same(master.of(id).slice(3), first, 'all three resent, same uuids, same order');

  agent.acknowledge(id, first[0]!.uuid!);
  agent.acknowledge(id, first[1]!.uuid!);
  agent.acknowledge(id, first[1]!.uuid!); // a duplicate acknowledgement is harmless
  clock.advance(1000);
  t.same(master.of(id).slice(6), [first[2]], 'only the unacknowledged update is resent');
  t.match(agent.taskStatuses(), [{ taskId: id, state: 'TASK_FINISHED' }]);

  agent.acknowledge(id, first[2]!.uuid!);
  clock.advance(10_000);
  t.equal(master.of(id).length, 7, 'nothing more once the terminal update is acknowledged');
  t.equal(clock.pending(), 0, 'no timer left behind');
  const [remembered] = agent.taskStatuses();
  t.match(remembered, { taskId: id, state: 'TASK_FINISHED', exitCode: 0 });
  t.notOk(remembered && 'uuid' in remembered, 'reconciliation answers carry no uuid');
});

t.test('a failing master link does not lose updates', async (t) => {
  const clock = new FakeClock();
  const { agent, master } = await startAgent(t, { clock, statusRetryMs: 500 });
  const record = master.statusUpdate.bind(master);
  let down = true;
  master.statusUpdate = (s) => {
    if (down) throw new Error('link down');
    record(s);
  };
  const id = newTaskId('down');
  agent.launch(shellTask(id, 'exit 0'));
  await waitUntil('the task to finish', () => agent.taskStatuses()[0]?.state === 'TASK_FINISHED');
  t.equal(master.statuses.length, 0);
  down = false;
  clock.advance(500);
  t.same(master.statesOf(id), ['TASK_STARTING', 'TASK_RUNNING', 'TASK_FINISHED']);
});

t.test('the kill grace period runs on the injected clock', async (t) => {
  const clock = new FakeClock();
  const { agent, master, dataDir } = await startAgent(t, { clock });
  const id = newTaskId('fakegrace');
  agent.launch(shellTask(id, "trap '' TERM; echo > ready; sleep 100"));
  await master.waitFor(id, 'TASK_RUNNING');
  await waitUntil('trap installed', () => existsSync(join(dataDir, 'sandboxes', id, 'ready')));
  agent.kill(id, 30);
  clock.advance(10_000);
  agent.kill(id, 60); // a later, longer grace does not postpone the SIGKILL…
  agent.kill(id, 5); // …a shorter one brings it forward: due 15 s after the first kill
  clock.advance(4_999);
  t.notOk(master.statesOf(id).includes('TASK_KILLED'), 'still alive before the grace ends');
  clock.advance(1);
  t.match(await master.waitFor(id, 'TASK_KILLED'), { message: 'Command terminated with signal SIGKILL' });
  const distinct = [...new Map(master.of(id).map((s) => [s.uuid, s.state])).values()];
  t.same(distinct, ['TASK_STARTING', 'TASK_RUNNING', 'TASK_KILLING', 'TASK_KILLED'], 'one TASK_KILLING however many kills (resends aside)');
});

t.test('ended tasks are remembered up to completedTaskLimit; a kill for one answers its end', async (t) => {
  const { agent, master } = await startAgent(t, { completedTaskLimit: 1 });
  const [a, b] = [newTaskId('old'), newTaskId('new')];
  for (const id of [a, b]) {
    agent.launch(shellTask(id, 'echo $CORRAL_TASK_ID'));
    const end = await master.waitFor(id, 'TASK_FINISHED');
    agent.acknowledge(id, end.uuid!);
  }
  t.same(agent.taskStatuses().map((s) => s.taskId), [b]);
  await t.rejects(agent.readLog(a, 'stdout', 0, 100), { code: 'TASK_NOT_FOUND' });
  t.equal((await agent.readLog(b, 'stdout', 0, 100)).data.toString(), `${b}\n`);

  const before = master.of(b).length;
  agent.kill(b);
  const answer = master.of(b)[before];
  t.match(answer, { state: 'TASK_FINISHED', exitCode: 0 });
  t.notOk(answer && 'uuid' in answer);

  const seen = master.statuses.length;
  agent.launch(shellTask(b, 'echo again'));
  await master.waitFor(b, 'TASK_FINISHED', WAIT_MS, seen);
  t.equal((await agent.readLog(b, 'stdout', 0, 100)).data.toString(), `${b}\nagain\n`, 'an ended id may run again; its log is appended');
});

t.test('readLog reads from positive and negative offsets', async (t) => {
  const { agent, master, dataDir } = await startAgent(t);
  const id = newTaskId('log');
  agent.launch(shellTask(id, 'printf 0123456789; printf oops >&2'));
  await master.waitFor(id, 'TASK_FINISHED');
  const read = async (offset: number, max: number, stream: 'stdout' | 'stderr' = 'stdout') => {
    const c = await agent.readLog(id, stream, offset, max);
    return { data: c.data.toString(), offset: c.offset, size: c.size };
  };
  t.same(await read(0, 100), { data: '0123456789', offset: 0, size: 10 });
  t.same(await read(2, 3), { data: '234', offset: 2, size: 10 });
  t.same(await read(-4, 100), { data: '6789', offset: 6, size: 10 });
  t.same(await read(-4, 2), { data: '67', offset: 6, size: 10 });
  t.same(await read(-100, 3), { data: '012', offset: 0, size: 10 });
  t.same(await read(10, 5), { data: '', offset: 10, size: 10 });
  t.same(await read(99, 5), { data: '01234', offset: 0, size: 10 }, 'past the end (the log was rotated): from 0, and the offset says so');
  t.same(await read(0, 0), { data: '', offset: 0, size: 10 });
  t.same(await read(0, 100, 'stderr'), { data: 'oops', offset: 0, size: 4 });
  await t.rejects(agent.readLog(id, 'stdout', 0.5, 10), { code: 'INVALID_REQUEST' });
  await t.rejects(agent.readLog(id, 'stdout', 0, -1), { code: 'INVALID_REQUEST' });
  await t.rejects(agent.readLog(id, 'stdin' as 'stdout', 0, 1), { code: 'INVALID_REQUEST' });
  await t.rejects(agent.readLog('nope', 'stdout', 0, 10), { code: 'TASK_NOT_FOUND' });

  rmSync(join(dataDir, 'sandboxes', id), { recursive: true });
  await t.rejects(agent.readLog(id, 'stdout', 0, 10), { code: 'SANDBOX_GONE' });
});

// The agent against real processes: what a task sees, how its end is reported, and that killing
// a task leaves nothing of it behind.
import t from 'tap';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { isTerminal } from '../../../src/kernel/types';
import { isAlive, newTaskId, shellTask, startAgent, taskHostPid, waitUntil } from './helpers/harness';

t.test('start registers the agent once; stop is idempotent', async (t) => {
  const { agent, master } = await startAgent(t);
  await agent.start();
  await agent.start();
  t.equal(master.registrations.length, 1);
  t.match(master.registrations[0], { id: 'agent-1', hostname: 'node-a.test', attributes: { rack: 'r1' }, version: '0.1.0-test' });
  t.equal(master.registrations[0]?.resources.cpus, 2);
  const a = agent.stop();
  t.equal(agent.stop(), a, 'a second stop returns the same promise');
  await a;
});

t.test('a task writes its sandbox files and sees the agent environment', async (t) => {
  const { agent, master, dataDir } = await startAgent(t);
  const id = newTaskId('env');
  agent.launch(shellTask(id, 'echo "$CORRAL_TASK_ID $MESOS_TASK_ID $MESOS_SANDBOX $CORRAL_SANDBOX $HOST $FOO $PWD"; echo err >&2', { environment: { FOO: 'bar' } }));
  const finished = await master.waitFor(id, 'TASK_FINISHED');
  const sandbox = join(dataDir, 'sandboxes', id);
  t.equal(readFileSync(join(sandbox, 'stdout'), 'utf8'), `${id} ${id} ${sandbox} ${sandbox} node-a.test bar ${sandbox}\n`);
  t.equal(readFileSync(join(sandbox, 'stderr'), 'utf8'), 'err\n');
  t.same(master.statesOf(id), ['TASK_STARTING', 'TASK_RUNNING', 'TASK_FINISHED']);
  t.match(finished, { agentId: 'agent-1', frameworkId: 'fw-1', source: 'SOURCE_EXECUTOR', exitCode: 0 });
  const uuids = new Set(master.of(id).map((s) => s.uuid));
  t.equal(uuids.size, 3, 'every update has its own uuid');
  t.ok(master.of(id).every((s) => typeof s.uuid === 'string' && typeof s.timestamp === 'number'));
});

t.test('HOST set by the framework is kept; agent names cannot be overridden', async (t) => {
  const { agent, master, dataDir } = await startAgent(t);
  const id = newTaskId('host');
  agent.launch(shellTask(id, 'echo "$HOST $CORRAL_TASK_ID"', { environment: { HOST: '10.0.0.9', CORRAL_TASK_ID: 'forged' } }));
  await master.waitFor(id, 'TASK_FINISHED');
  t.equal(readFileSync(join(dataDir, 'sandboxes', id, 'stdout'), 'utf8'), `10.0.0.9 ${id}\n`);
});

t.test('a non-zero exit is TASK_FAILED with the exit code', async (t) => {
  const { agent, master } = await startAgent(t);
  const id = newTaskId('exit3');
  agent.launch(shellTask(id, 'exit 3'));
  const failed = await master.waitFor(id, 'TASK_FAILED');
  t.match(failed, { reason: 'REASON_COMMAND_EXECUTOR_FAILED', message: 'Command exited with status 3', exitCode: 3, source: 'SOURCE_EXECUTOR' });
});

t.test('a non-shell command gets its arguments verbatim; a missing program fails the launch', async (t) => {
  const { agent, master, dataDir } = await startAgent(t);
  const ok = newTaskId('argv');
  agent.launch({ ...shellTask(ok, ''), command: { shell: false, value: '/bin/echo', arguments: ['a  b', '$HOME'], environment: {} } });
  await master.waitFor(ok, 'TASK_FINISHED');
  t.equal(readFileSync(join(dataDir, 'sandboxes', ok, 'stdout'), 'utf8'), 'a  b $HOME\n');

  const missing = newTaskId('enoent');
  agent.launch({ ...shellTask(missing, ''), command: { shell: false, value: 'corral-no-such-program', environment: {} } });
  const failed = await master.waitFor(missing, 'TASK_FAILED');
  t.match(failed, { reason: 'REASON_CONTAINER_LAUNCH_FAILED', source: 'SOURCE_AGENT', message: /ENOENT/ });
  t.notOk(master.statesOf(missing).includes('TASK_RUNNING'));
});

t.test('launches that cannot start fail with a reason and no process', async (t) => {
  const { agent, master } = await startAgent(t);
  const nul = newTaskId('nul');
  agent.launch({ ...shellTask(nul, ''), command: { shell: false, value: '/bin/echo', arguments: ['a\0b'], environment: {} } });
  t.match(await master.waitFor(nul, 'TASK_FAILED'), { reason: 'REASON_CONTAINER_LAUNCH_FAILED', source: 'SOURCE_AGENT' });
  t.same(master.statesOf(nul), ['TASK_FAILED'], 'no TASK_STARTING for a spawn that threw');

  const empty = newTaskId('empty');
  agent.launch(shellTask(empty, ''));
  t.match(await master.waitFor(empty, 'TASK_FAILED'), { reason: 'REASON_TASK_INVALID', message: 'Task has no command' });

  const other = newTaskId('user');
  agent.launch({ ...shellTask(other, 'exit 0'), command: { shell: true, value: 'exit 0', environment: {}, user: 'corral-no-such-user' } });
  t.match(await master.waitFor(other, 'TASK_FAILED'), { reason: 'REASON_TASK_INVALID', message: /user 'corral-no-such-user'/ });
  const same = newTaskId('me');
  agent.launch({ ...shellTask(same, 'exit 0'), command: { shell: true, value: 'exit 0', environment: {}, user: userInfo().username } });
  await master.waitFor(same, 'TASK_FINISHED');

  const broken = await startAgent(t);
  writeFileSync(join(broken.dataDir, 'sandboxes'), 'not a directory');
  const id = newTaskId('nosandbox');
  broken.agent.launch(shellTask(id, 'exit 0'));
  t.match(await broken.master.waitFor(id, 'TASK_FAILED'), { reason: 'REASON_CONTAINER_LAUNCH_FAILED', message: /ENOTDIR|EEXIST/ });
});

t.test('kill: TASK_KILLING then TASK_KILLED; SIGTERM is enough for a well-behaved task', async (t) => {
  const { agent, master } = await startAgent(t);
  const id = newTaskId('kill');
  agent.launch(shellTask(id, 'sleep 100'));
  await master.waitFor(id, 'TASK_RUNNING');
  agent.kill(id);
  const killed = await master.waitFor(id, 'TASK_KILLED');
  t.same(master.statesOf(id), ['TASK_STARTING', 'TASK_RUNNING', 'TASK_KILLING', 'TASK_KILLED']);
  t.match(killed, { message: 'Command terminated with signal SIGTERM', source: 'SOURCE_EXECUTOR' });
  agent.kill(id);
  t.equal(master.of(id).length, 4, 'a kill after the end sends nothing new while the end is unacknowledged');
});

t.test('a task that ignores SIGTERM is SIGKILLed after the grace period', async (t) => {
  const { agent, master, dataDir } = await startAgent(t);
  const id = newTaskId('stubborn');
  agent.launch(shellTask(id, "trap '' TERM; echo ready > ready; sleep 100"));
  await waitUntil('trap installed', () => existsSync(join(dataDir, 'sandboxes', id, 'ready')));
  agent.kill(id, 0.3);
  const killed = await master.waitFor(id, 'TASK_KILLED');
  t.equal(killed.message, 'Command terminated with signal SIGKILL');
  const killing = master.of(id).find((s) => s.state === 'TASK_KILLING');
  t.ok(killing && killed.timestamp - killing.timestamp >= 250, 'SIGKILL waited for (about) the grace period');
});

t.test('a signal from outside is TASK_FAILED naming the signal, and the group goes with the leader', async (t) => {
  const { agent, master, dataDir } = await startAgent(t);
  const id = newTaskId('shot');
  const sandbox = join(dataDir, 'sandboxes', id);
  agent.launch(shellTask(id, 'echo $$ > leader.pid; sleep 300 & echo $! > bg.pid; wait'));
  const leader = await taskHostPid(id, join(sandbox, 'leader.pid'));
  const background = await taskHostPid(id, join(sandbox, 'bg.pid'));
  t.ok(isAlive(background));
  process.kill(leader, 'SIGKILL');
  const failed = await master.waitFor(id, 'TASK_FAILED');
  t.match(failed, { reason: 'REASON_COMMAND_EXECUTOR_FAILED', message: 'Command terminated with signal SIGKILL' });
  t.notOk('exitCode' in failed, 'no exit code when a signal ended the task');
  await waitUntil('background child to die', () => !isAlive(background));
});

t.test('kill leaves no background grandchild alive', async (t) => {
  const { agent, master, dataDir } = await startAgent(t);
  const id = newTaskId('bg');
  agent.launch(shellTask(id, 'sleep 300 & echo $! > bg.pid; wait'));
  const background = await taskHostPid(id, join(dataDir, 'sandboxes', id, 'bg.pid'));
  agent.kill(id, 0.3);
  await master.waitFor(id, 'TASK_KILLED');
  await waitUntil('background child to die', () => !isAlive(background));
  t.pass('grandchild is gone');
});

t.test('a task that exits leaves no background child behind', async (t) => {
  const { agent, master, dataDir } = await startAgent(t);
  const id = newTaskId('orphan');
  // The task waits for `go` so the test can find its child before it exits.
  agent.launch(shellTask(id, 'sleep 300 & echo $! > bg.pid; while [ ! -e go ]; do sleep 0.02; done'));
  const background = await taskHostPid(id, join(dataDir, 'sandboxes', id, 'bg.pid'));
  writeFileSync(join(dataDir, 'sandboxes', id, 'go'), '');
  await master.waitFor(id, 'TASK_FINISHED');
  await waitUntil('background child to die', () => !isAlive(background));
  t.pass('child left running by the exited leader is gone');
});

t.test('unsafe task ids are refused without touching the file system', async (t) => {
  const { agent, master, dataDir } = await startAgent(t);
  for (const id of ['', '../escape', 'a/b', '..', '.', 'nul\0byte', 'x'.repeat(256)]) {
    agent.launch(shellTask(id, 'echo hi > ../../pwned'));
    const failed = await master.waitFor(id, 'TASK_FAILED');
    t.match(failed, { reason: 'REASON_TASK_INVALID', source: 'SOURCE_AGENT' }, JSON.stringify(id.slice(0, 20)));
  }
  t.same(readdirSync(dataDir), [], 'nothing was created in the data dir');
  t.notOk(existsSync(join(dataDir, '..', 'escape')));
  t.same(agent.taskStatuses(), []);
});

t.test('a duplicate launch fails without disturbing the running task', async (t) => {
  const { agent, master } = await startAgent(t);
  const id = newTaskId('dup');
  agent.launch(shellTask(id, 'sleep 100'));
  await master.waitFor(id, 'TASK_RUNNING');
  agent.launch(shellTask(id, 'exit 0'));
  const refused = await master.waitFor(id, 'TASK_FAILED');
  t.match(refused, { reason: 'REASON_TASK_INVALID', message: /already running/ });
  t.match(agent.taskStatuses(), [{ taskId: id, state: 'TASK_RUNNING' }]);
  agent.kill(id);
  await master.waitFor(id, 'TASK_KILLED');
});

t.test('kill of an unknown task answers TASK_LOST without a uuid', async (t) => {
  const { agent, master } = await startAgent(t);
  agent.kill('never-launched');
  const lost = await master.waitFor('never-launched', 'TASK_LOST');
  t.match(lost, { source: 'SOURCE_AGENT', reason: 'REASON_RECONCILIATION', agentId: 'agent-1' });
  t.notOk('uuid' in lost);
});

t.test('stop kills every live task, stubborn ones after their grace, and refuses new launches', async (t) => {
  const { agent, master, dataDir } = await startAgent(t, { killGraceSeconds: 0.3 });
  await agent.start();
  const ids = [newTaskId('s'), newTaskId('s'), newTaskId('s')];
  agent.launch(shellTask(ids[0]!, 'sleep 100'));
  agent.launch(shellTask(ids[1]!, "trap '' TERM; echo > ready; sleep 100"));
  agent.launch(shellTask(ids[2]!, 'sleep 100 & wait'));
  await waitUntil('trap installed', () => existsSync(join(dataDir, 'sandboxes', ids[1]!, 'ready')));
  await agent.stop();
  for (const id of ids) t.match(master.of(id).at(-1), { state: 'TASK_KILLED' }, id);
  t.ok(agent.taskStatuses().every((s) => isTerminal(s.state)));
  const late = newTaskId('late');
  agent.launch(shellTask(late, 'exit 0'));
  t.match(await master.waitFor(late, 'TASK_FAILED'), { reason: 'REASON_TASK_INVALID', message: /stopping/ });
});

t.test('a big launch is spawned in batches; a task killed before its turn never runs', async (t) => {
  const { agent, master, dataDir } = await startAgent(t);
  const ids = Array.from({ length: 70 }, (_, i) => newTaskId(`batch${i}`));
  for (const id of ids) agent.launch(shellTask(id, 'sleep 30'));
  const last = ids[ids.length - 1]!;
  t.same(master.statesOf(last), [], 'nothing is spawned inside the launch call itself');
  agent.kill(last, 0);
  const killed = await master.waitFor(last, 'TASK_KILLED');
  t.match(killed, { reason: 'REASON_TASK_KILLED_DURING_LAUNCH', source: 'SOURCE_AGENT' });
  t.notOk(master.statesOf(last).includes('TASK_RUNNING'), 'the killed task was never started');
  t.notOk(existsSync(join(dataDir, 'sandboxes', last, 'stdout')), 'and got no sandbox files');
  for (const id of ids.slice(0, -1)) await master.waitFor(id, 'TASK_RUNNING');
  await agent.stop();
  for (const id of ids.slice(0, -1)) t.ok(isTerminal(master.of(id).at(-1)!.state), `${id} ended with stop()`);
});

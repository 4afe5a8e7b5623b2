// Node RPC end to end over an in-memory channel: a real Agent (real processes) behind a
// RemoteMasterLink, served by serveAgent for a master that sees an ordinary AgentLink.
import t from 'tap';
import type { AgentLink } from '../../../src/kernel/agent-link';
import { memoryChannelPair } from '../../../src/kernel/remote/channel';
import { RemoteMasterLink } from '../../../src/kernel/remote/agent-side';
import { RemoteAgentLink, serveAgent } from '../../../src/kernel/remote/master-side';
import type { AgentInfo } from '../../../src/kernel/types';
import { newTaskId, RecordingMaster, shellTask, startAgent, waitUntil } from '../agent/helpers/harness';

class LinkedMaster extends RecordingMaster {
  links: AgentLink[] = [];
  override registerAgent(info: AgentInfo, link: AgentLink): void {
    super.registerAgent(info, link);
    this.links.push(link);
  }
}

t.test('a remote agent registers, runs tasks, streams statuses, serves logs and statistics, and re-registers after a reconnect', async (t) => {
  const master = new LinkedMaster();
  const remote = new RemoteMasterLink();
  let pair = memoryChannelPair();
  serveAgent(pair.b, master);
  await remote.connect(pair.a);
  const { agent } = await startAgent(t, { master: remote });
  await agent.start();
  t.equal(master.registrations.length, 1);
  t.equal(master.registrations[0]?.id, 'agent-1');
  const link = master.links[0]!;
  t.ok(link instanceof RemoteAgentLink);

  const done = newTaskId('done');
  link.launch(shellTask(done, 'echo hello from afar'));
  const finished = await master.waitFor(done, 'TASK_FINISHED');
  link.acknowledge(done, finished.uuid!);
  const log = await link.readLog(done, 'stdout', 0, 1024);
  t.equal(log.data.toString(), 'hello from afar\n', 'logs are read through the master');
  t.match(link.taskStatuses().find((s) => s.taskId === done), { state: 'TASK_FINISHED' }, 'the mirror follows status updates');
  await t.rejects(link.readLog('nope', 'stdout', 0, 10), { code: 'TASK_NOT_FOUND' }, 'errors keep their code');

  const running = newTaskId('running');
  link.launch(shellTask(running, 'sleep 60'));
  await master.waitFor(running, 'TASK_RUNNING');
  t.match(await link.taskStats!(running), { mem_limit_bytes: Number }, 'per-task statistics');
  t.match(await link.statistics!(), [{ executor_id: running }]);

  // The connection drops and comes back (a new leader, or the same one after a partition).
  pair.close();
  t.notOk(remote.connected);
  pair = memoryChannelPair();
  serveAgent(pair.b, master);
  await remote.connect(pair.a);
  t.equal(master.registrations.length, 2, 'registers again on the new connection');
  const again = master.links[1]!;
  t.match(again.reportTasks!().map((r) => r.task.taskId), [running], 'with the tasks it still runs');
  again.kill(running, 0);
  await master.waitFor(running, 'TASK_KILLED');
  await waitUntil('the kill to be mirrored', () => again.taskStatuses().some((s) => s.taskId === running && s.state === 'TASK_KILLED'));
  pair.close();
});

t.test('an agent of another protocol version is refused', async (t) => {
  const pair = memoryChannelPair();
  serveAgent(pair.b, new LinkedMaster());
  await t.rejects(pair.a.request('agent.register', { v: 99, info: {}, tasks: [], statuses: [] }), { code: 'INVALID_REQUEST', message: /version 99/ });
  await t.rejects(pair.a.request('agent.nonsense', {}), { code: 'INVALID_REQUEST' });
  pair.close();
});

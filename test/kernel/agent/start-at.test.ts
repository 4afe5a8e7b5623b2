// TaskInfo.startAt against real processes: the agent stages the task at once and its program starts
// at that wall-clock time, no earlier, reported TASK_RUNNING with the time it really started; a
// kill before then ends the task without its program ever running. Both ways a launch ends: the
// exec helper (which holds the exec itself) and the shell chain (which the agent hands over late).
import t from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import { getPriority } from 'node:os';
import { join } from 'node:path';
import { locateExecHelper } from '../../../src/kernel/agent/exec-helper';
import { newTaskId, shellTask, startAgent } from './helpers/harness';

const chains = [...(locateExecHelper() ? [{ name: 'exec helper', useExecHelper: true }] : []), { name: 'shell chain', useExecHelper: false }];

for (const chain of chains) {
  t.test(`${chain.name}: the program starts at startAt and TASK_RUNNING carries that time`, async (t) => {
    const { agent, master, dataDir } = await startAgent(t, { useExecHelper: chain.useExecHelper });
    const id = newTaskId('later');
    const startAt = Date.now() + 1500;
    agent.launch(shellTask(id, 'date +%s%3N > started; nice > nice', { startAt }));
    const starting = await master.waitFor(id, 'TASK_STARTING');
    t.ok(starting.timestamp < startAt, 'staged before its time');
    const running = await master.waitFor(id, 'TASK_RUNNING', 10_000);
    // Node's timers and the wall clock may differ by a millisecond.
    t.ok(running.timestamp >= startAt - 2, `TASK_RUNNING at ${running.timestamp - startAt} ms after startAt`);
    t.ok(running.timestamp < startAt + 1000, 'and not long after');
    await master.waitFor(id, 'TASK_FINISHED', 10_000);
    const ran = Number(readFileSync(join(dataDir, 'sandboxes', id, 'started'), 'utf8'));
    t.ok(ran >= startAt - 2, `the program ran ${ran - startAt} ms after startAt, not before`);
    t.equal(Number(readFileSync(join(dataDir, 'sandboxes', id, 'nice'), 'utf8')), getPriority(), "at the agent's own priority (held at a raised one)");
  });

  t.test(`${chain.name}: a kill before startAt ends the task at once, its program never run`, async (t) => {
    const { agent, master, dataDir } = await startAgent(t, { useExecHelper: chain.useExecHelper });
    const id = newTaskId('never');
    const startAt = Date.now() + 4000;
    agent.launch(shellTask(id, 'touch ran', { startAt, killGracePeriodSeconds: 30 }));
    await master.waitFor(id, 'TASK_STARTING');
    // Let the supervisor (with the exec helper: the namespace and the held child) get in place.
    await new Promise((r) => setTimeout(r, 500));
    agent.kill(id);
    const killed = await master.waitFor(id, 'TASK_KILLED', 3000);
    t.ok(killed.timestamp < startAt, 'killed without waiting for startAt or the grace period');
    t.notOk(master.statesOf(id).includes('TASK_RUNNING'), 'never reported running');
    t.notOk(existsSync(join(dataDir, 'sandboxes', id, 'ran')), 'the program never ran');
  });
}

t.test('a startAt in the past starts the task at once', async (t) => {
  const { agent, master } = await startAgent(t);
  const id = newTaskId('past');
  const before = Date.now();
  agent.launch(shellTask(id, 'true', { startAt: before - 10_000 }));
  const running = await master.waitFor(id, 'TASK_RUNNING');
  t.ok(running.timestamp >= before, 'running now, not at the old time');
  await master.waitFor(id, 'TASK_FINISHED');
});

// kill -9 of the agent: an Agent in a child process launches 20 tasks and is SIGKILLed; some tasks
// end while no agent runs; a new Agent over the same data dir re-adopts the survivors (same pids,
// logs still growing), reports every task that ended meanwhile once with its real exit code,
// re-sends unacknowledged updates with their original uuids, removes containers no checkpoint
// knows, launches nothing twice and refuses a second launch of a live task.
import t from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildSync } from 'esbuild';
import { isTerminal, type TaskInfo, type TaskStatus } from '../../../src/kernel/types';
import { enterScript } from '../../../src/kernel/agent/isolation/formats';
import { CheckpointStore } from '../../../src/kernel/agent/checkpoint';
import { isAlive, newCgroupParent, shellTask, startAgent, taskPids, testIsolator, waitUntil, WAIT_MS } from './helpers/harness';

const root = process.getuid?.() === 0;

/** Every live process (supervisors included) carrying one of these task ids; SIGKILLed at teardown. */
async function killTaskProcesses(ids: readonly string[]): Promise<void> {
  const kill = () => {
    let found = false;
    for (const name of readdirSync('/proc')) {
      const pid = Number(name);
      if (!Number.isInteger(pid) || pid === process.pid) continue;
      try {
        const env = readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0');
        if (isAlive(pid) && ids.some((id) => env.includes(`CORRAL_TASK_ID=${id}`))) {
          found = true;
          process.kill(pid, 'SIGKILL');
        }
      } catch {
        // gone, or not ours to read
      }
    }
    return !found;
  };
  await waitUntil('every task process to be gone', kill).catch(() => undefined);
}

/**
 * The task's processes that live as long as it does: its session leader (the PID namespace's
 * parent), the namespace's init and the task's shell — not the shell's short-lived children.
 */
function lastingPids(taskPid: number): number[] {
  const chain = [taskPid];
  for (let depth = 0; depth < 2; depth++) {
    const last = chain[chain.length - 1]!;
    let children: number[] = [];
    try {
      children = readFileSync(`/proc/${last}/task/${last}/children`, 'utf8').trim().split(' ').filter(Boolean).map(Number);
    } catch {
      // gone
    }
    if (children.length !== 1) break;
    chain.push(children[0]!);
  }
  return chain;
}

/**
 * Live supervisors of a task: sh processes working in its sandbox outside the task's own session
 * (the task's side, its namespace init and its shells all live in the session the task leads).
 */
function supervisorsOf(dataDir: string, id: string): number[] {
  const sandbox = join(dataDir, 'sandboxes', id);
  return readdirSync('/proc')
    .map(Number)
    .filter((pid) => {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        const [, , , session] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        return stat.includes(' (sh) ') && readlinkSync(`/proc/${pid}/cwd`) === sandbox && Number(session) !== pid && !sessionLedByTask(Number(session), sandbox) && isAlive(pid);
      } catch {
        return false;
      }
    });
}

/** Whether `session`'s leader is a task of this sandbox (its side: setsid, then unshare or env). */
function sessionLedByTask(session: number, sandbox: string): boolean {
  try {
    return readlinkSync(`/proc/${session}/cwd`) === sandbox;
  } catch {
    // The leader is gone: sessions of tasks are led by the task until it ends.
    return false;
  }
}

t.test('agent killed with SIGKILL while 20 tasks run: no task lost, none duplicated, every exit code reported once', { skip: !root && 'needs root (cgroups)' }, async (t) => {
  const work = mkdtempSync(join(tmpdir(), 'corral-recovery-'));
  t.teardown(() => rmSync(work, { recursive: true, force: true }));
  const dataDir = join(work, 'data');
  mkdirSync(dataDir);
  const parent = newCgroupParent();
  const isolator = await testIsolator(t, 'auto', parent);

  const tick = 'echo started; while :; do echo tick; sleep 0.05; done';
  const long = Array.from({ length: 6 }, (_, i) => shellTask(`long${i}`, tick));
  const earlyCodes = [0, 1, 2, 3, 4, 5];
  const early = earlyCodes.map((code, i) => shellTask(`early${i}`, `sleep 0.3; exit ${code}`));
  // These wait for a file the test writes once the agent is dead, then end as listed.
  const downEnds = ['exit 0', 'exit 3', 'exit 42', 'exit 1', 'kill -TERM $$', 'kill -KILL $$', 'exit 0', 'exit 7'];
  const down = downEnds.map((end, i) => shellTask(`down${i}`, `while [ ! -e release ]; do sleep 0.02; done; ${end}`));
  const tasks: TaskInfo[] = [...long, ...early, ...down];
  const ids = tasks.map((task) => task.taskId);
  t.teardown(() => killTaskProcesses(ids));

  // --- the first agent, in a child process ---
  const bundle = join(work, 'agent-child.js');
  buildSync({ entryPoints: [join(__dirname, 'helpers', 'agent-child.ts')], bundle: true, platform: 'node', format: 'cjs', target: 'node20', outfile: bundle, logLevel: 'error' });
  writeFileSync(join(work, 'request.json'), JSON.stringify({ dataDir, cgroupParent: parent, tasks }));
  const child: ChildProcess = spawn(process.execPath, [bundle, join(work, 'request.json')], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => child.kill('SIGKILL'));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const before: TaskStatus[] = [];
  let ready = false;
  let out = '';
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
    for (let nl = out.indexOf('\n'); nl >= 0; nl = out.indexOf('\n')) {
      const line = JSON.parse(out.slice(0, nl)) as { status?: TaskStatus; ready?: boolean };
      out = out.slice(nl + 1);
      if (line.status) before.push(line.status);
      if (line.ready) ready = true;
    }
  });
  const endedBefore = (id: string) => before.find((s) => s.taskId === id && isTerminal(s.state));
  await waitUntil(`the child agent to run every task (stderr: ${err})`, () => ready && early.every((task) => endedBefore(task.taskId)), 30_000);
  for (const [i, task] of early.entries()) t.match(endedBefore(task.taskId), { exitCode: earlyCodes[i] }, `${task.taskId} ended before the kill`);

  const checkpoint = (id: string) => new CheckpointStore(dataDir).load(id).saved;
  const sandbox = (id: string) => join(dataDir, 'sandboxes', id);
  const survivors = new Map(
    [...long, ...down].map((task) => {
      const saved = checkpoint(task.taskId);
      return [task.taskId, { supervisor: saved.supervisor!.pid, taskPid: saved.taskPid!, pids: lastingPids(saved.taskPid!) }];
    }),
  );

  child.kill('SIGKILL');
  await exited;
  for (const [id, s] of survivors) t.ok(isAlive(s.supervisor) && isAlive(s.taskPid), `${id}: supervisor and task outlive the agent`);

  // --- while no agent runs: the `down` tasks end; a container nobody knows holds a process ---
  for (const task of down) writeFileSync(join(sandbox(task.taskId), 'release'), '');
  await waitUntil('the down tasks to record their exit', () => down.every((task) => existsSync(join(dataDir, 'meta', 'tasks', task.taskId, 'exit_status'))));
  const stray = await isolator.create('stray-leftover', { cpus: 0.1, memMb: 32, pids: 16 });
  const strayProc = spawn('/bin/sh', ['-c', `self=$$\n${enterScript(stray.enterSteps())}\nexec sleep 60`], { stdio: 'ignore', detached: true });
  t.teardown(() => strayProc.kill('SIGKILL'));
  // Its cgroups are made by the shell's enter steps (the isolator sets up new ones in the task).
  const strayProcs = join('/sys/fs/cgroup/pids', parent, 'stray-leftover', 'cgroup.procs');
  await waitUntil('the stray container to be populated', () => existsSync(strayProcs) && readFileSync(strayProcs, 'utf8').trim() !== '');
  const longLogSizes = new Map(long.map((task) => [task.taskId, statSync(join(sandbox(task.taskId), 'stdout')).size]));

  // --- the second agent, in this process ---
  const { agent, master } = await startAgent(t, { dataDir, isolator, statusRetryMs: 600_000 });
  let atRegistration: { sent: number; reported: Array<{ task: TaskInfo; status: TaskStatus }> } | undefined;
  const register = master.registerAgent.bind(master);
  master.registerAgent = (info, link) => {
    atRegistration = { sent: master.statuses.length, reported: link.reportTasks?.() ?? [] };
    register(info, link);
  };
  await agent.start();
  t.equal(master.registrations.length, 1);
  t.equal(master.registrations[0]?.isolation, isolator.name, 'the isolation backend is part of the agent info');
  const reported = new Map(atRegistration!.reported.map((r) => [r.task.taskId, r.status]));
  t.same([...reported.keys()].sort(), [...ids].sort(), 'at registration the agent reports all 20 tasks (none acknowledged its end yet)');
  t.ok(down.every((task) => isTerminal(reported.get(task.taskId)!.state)), 'with the ends found during recovery');
  t.ok(long.every((task) => reported.get(task.taskId)!.state === 'TASK_RUNNING'), 'and the adopted tasks running');
  t.equal(atRegistration!.sent, 0, 'updates were held until the master knew the agent');

  for (const task of long) {
    const id = task.taskId;
    const s = survivors.get(id)!;
    t.same(supervisorsOf(dataDir, id), [s.supervisor], `${id}: one supervisor, the same one`);
    t.equal(s.pids.length, 3, `${id}: namespace parent, init and task shell`);
    t.same(lastingPids(s.taskPid), s.pids, `${id}: the same processes, none started again`);
    const running = before.find((x) => x.taskId === id && x.state === 'TASK_RUNNING')!;
    t.same(master.of(id).map((x) => [x.state, x.uuid]), [['TASK_RUNNING', running.uuid]], `${id}: the unacknowledged RUNNING is re-sent with its uuid; the acknowledged STARTING is not`);
  }
  await waitUntil('the adopted tasks to keep logging', () => long.every((task) => statSync(join(sandbox(task.taskId), 'stdout')).size > longLogSizes.get(task.taskId)! + 100));
  t.same(
    agent.reportTasks().filter((r) => r.task.taskId.startsWith('long')).map((r) => [r.task.taskId, r.status.state, 'uuid' in r.status]),
    long.map((task) => [task.taskId, 'TASK_RUNNING', false]),
    'reportTasks lists the adopted tasks, without uuids',
  );

  for (const [i, task] of early.entries()) {
    const end = endedBefore(task.taskId)!;
    t.same(master.of(task.taskId).filter((x) => isTerminal(x.state)).map((x) => x.uuid), [end.uuid], `${task.taskId}: its unacknowledged end is re-sent with its original uuid`);
    t.equal(master.of(task.taskId).find((x) => isTerminal(x.state))?.exitCode, earlyCodes[i]);
  }

  const expected: Array<[string, object]> = [
    ['TASK_FINISHED', { exitCode: 0 }],
    ['TASK_FAILED', { exitCode: 3, reason: 'REASON_COMMAND_EXECUTOR_FAILED', message: 'Command exited with status 3' }],
    ['TASK_FAILED', { exitCode: 42 }],
    ['TASK_FAILED', { exitCode: 1 }],
    ['TASK_FAILED', { message: 'Command terminated with signal SIGTERM' }],
    ['TASK_FAILED', { message: 'Command terminated with signal SIGKILL' }],
    ['TASK_FINISHED', { exitCode: 0 }],
    ['TASK_FAILED', { exitCode: 7 }],
  ];
  for (const [i, task] of down.entries()) {
    const ends = master.of(task.taskId).filter((x) => isTerminal(x.state));
    t.equal(ends.length, 1, `${task.taskId}: its end is reported once`);
    t.match(ends[0], { state: expected[i]![0], ...expected[i]![1] }, `${task.taskId}: with its real exit status`);
    t.same(supervisorsOf(dataDir, task.taskId), [], `${task.taskId}: nothing of it runs`);
  }
  t.notOk(master.statuses.some((x) => x.state === 'TASK_LOST'), 'no task was lost');

  t.notOk(isAlive(strayProc.pid!), 'the process in the unknown container was killed');
  t.notOk((await isolator.leftovers()).includes('stray-leftover'), 'and its container removed');

  const seen = master.statuses.length;
  agent.launch(shellTask('long0', 'echo twice'));
  t.match(await master.waitFor('long0', 'TASK_FAILED', WAIT_MS, seen), { reason: 'REASON_TASK_INVALID', message: /already running/ }, 'a second launch of a live task is refused');
  t.same(supervisorsOf(dataDir, 'long0'), [survivors.get('long0')!.supervisor]);

  // An adopted task can be killed like any other; its acknowledged end retires its checkpoint.
  agent.kill('long1', 5);
  const killed = await master.waitFor('long1', 'TASK_KILLED');
  t.match(killed, { message: 'Command terminated with signal SIGTERM' });
  agent.acknowledge('long1', killed.uuid!);
  t.notOk(existsSync(join(dataDir, 'meta', 'tasks', 'long1')), 'the checkpoint goes once the end is acknowledged');
  t.same(taskPids('long1'), []);
});

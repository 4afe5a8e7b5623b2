// The per-task supervisor against real processes: how it records exit statuses, that the task has
// a session of its own, that killing the task never takes the supervisor with it, what the
// supervisor costs in memory, and — through the agent — that tasks run as an unprivileged user in a
// private sandbox and, with root, in a PID namespace where they see only themselves.
import t, { type Test } from 'tap';
import { chmodSync, closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { locateExecHelper } from '../../../src/kernel/agent/exec-helper';
import { argvSaysRunning, launchArgv, taskSideScript } from '../../../src/kernel/agent/launch-scripts';
import { SupervisorLauncher } from '../../../src/kernel/agent/launcher';
import { silentLogger } from '../../../src/shared/logger';
import { isAlive, newTaskId, pidFromFile, shellTask, startAgent, waitUntil } from './helpers/harness';

const root = process.getuid?.() === 0;

interface Started {
  supervisor: Promise<number>;
  taskPid: Promise<number>;
  running: Promise<void>;
  exited: Promise<void>;
  meta: string;
}

/**
 * Starts a supervisor for `/bin/sh -c script` (or an argv) in a fresh directory (removed at
 * teardown); with the exec helper the launcher is the native one unless `native` is false (as the
 * agent does), the shell one otherwise.
 */
function supervise(t: { teardown(fn: () => unknown): void }, script: string | string[], pidNamespace = false, execHelper = locateExecHelper(), native = true): Started {
  const meta = mkdtempSync(join(tmpdir(), 'corral-supervisor-'));
  t.teardown(() => rmSync(meta, { recursive: true, force: true }));
  closeSync(openSync(join(meta, 'stdout'), 'a'));
  closeSync(openSync(join(meta, 'stderr'), 'a'));
  let onStarted: (pids: [number, number]) => void = () => {};
  let onRunning: () => void = () => {};
  let onExit: () => void = () => {};
  const started = new Promise<[number, number]>((resolve) => (onStarted = resolve));
  const running = new Promise<void>((resolve) => (onRunning = resolve));
  const exited = new Promise<void>((resolve) => (onExit = resolve));
  const launcher = new SupervisorLauncher(silentLogger(), native ? execHelper : undefined);
  const key = launcher.reserveKey();
  const env = { PATH: '/usr/bin:/bin', CORRAL_TASK_ID: `sup-${process.pid}` };
  launcher.start(
    { key, metaDir: meta, cwd: meta, stdoutPath: join(meta, 'stdout'), stderrPath: join(meta, 'stderr'), logOwner: undefined, enter: { makeDirs: [], writes: [], cgroupProcs: [], noCoreDumps: false }, argv: launchArgv({ argv: typeof script === 'string' ? ['/bin/sh', '-c', script] : script, env, pidNamespace, key, execHelper }), argvSaysRunning: argvSaysRunning({ pidNamespace, execHelper }) },
    { onStarted: (s, task) => onStarted([s.pid, task]), onRunning: () => onRunning(), onExit: () => onExit(), onFailed: (m) => t.teardown(() => Promise.reject(new Error(m))) },
  );
  const supervisor = started.then(([s]) => s);
  const taskPid = started.then(([, task]) => task);
  t.teardown(async () => {
    launcher.stop();
    // Nothing of it may outlive the test, whatever happened.
    const [s, task] = await Promise.race([started, Promise.resolve([0, 0] as [number, number])]);
    if (s && isAlive(s)) process.kill(s, 'SIGKILL');
    try {
      if (task) process.kill(-task, 'SIGKILL');
    } catch {
      // already gone
    }
  });
  return { supervisor, taskPid, running, exited, meta };
}

/** Every way a launch goes: the native launcher and the exec helper from sh (when built), the shell chain. */
const built = locateExecHelper();
const chains = [
  ...(built ? [{ name: 'native launcher', helper: built, native: true }, { name: 'exec helper from sh', helper: built, native: false }] : []),
  { name: 'shell chain', helper: undefined, native: false },
];

const exitStatus = (meta: string) => readFileSync(join(meta, 'exit_status'), 'utf8');

/** Fields of /proc/<pid>/stat after the command name: [state, ppid, pgrp, session, …]. */
function stat(pid: number): string[] {
  const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return text.slice(text.lastIndexOf(')') + 2).split(' ');
}

t.test('exit codes 0 and 3 and a signal are recorded in exit_status', async (t) => {
  for (const [script, want] of [
    ['exit 0', '0\n'],
    ['exit 3', '3\n'],
    ['kill -KILL $$', '137\n'],
  ] as const) {
    for (const ns of root ? [false, true] : [false]) {
      for (const chain of chains) {
        const s = supervise(t, script, ns, chain.helper, chain.native);
        await s.exited;
        t.equal(exitStatus(s.meta), want, `${script}${ns ? ' (PID namespace)' : ''}, ${chain.name}`);
        t.equal(readFileSync(join(s.meta, 'task.pid'), 'utf8'), `${await s.taskPid}\n`, 'task.pid holds the pid the agent was told');
      }
    }
  }
});

t.test('the task leads a session of its own; killing it leaves the supervisor to record how it ended', async (t) => {
  for (const chain of chains) await t.test(chain.name, (t) => sessionCheck(t, chain.helper, chain.native));
});

t.test('the task gets exactly its environment, and a program that is not there ends with 127', async (t) => {
  for (const ns of root ? [false, true] : [false]) {
    for (const chain of chains) {
      const s = supervise(t, ['/usr/bin/env'], ns, chain.helper, chain.native);
      await s.exited;
      t.equal(readFileSync(join(s.meta, 'stdout'), 'utf8').split('\n').sort().join('\n').trimStart() + '\n', `CORRAL_TASK_ID=sup-${process.pid}\nPATH=/usr/bin:/bin\n`, `${chain.name}${ns ? ' (PID namespace)' : ''}`);
    }
  }
  const missing = supervise(t, 'exec /nonexistent/program', root);
  await missing.exited;
  t.equal(exitStatus(missing.meta), '127\n');
});

async function sessionCheck(t: Test, helper: string | undefined, native: boolean): Promise<void> {
  const s = supervise(t, 'sleep 60', root, helper, native);
  const taskPid = await s.taskPid;
  await s.running;
  const [, , pgrp, session] = stat(taskPid);
  t.equal(Number(session), taskPid, 'the task is a session leader');
  t.equal(Number(pgrp), taskPid, 'and leads its process group');
  t.not(stat(await s.supervisor)[3], session, 'the supervisor is in another session');
  process.kill(-taskPid, 'SIGKILL');
  await s.exited;
  t.equal(exitStatus(s.meta), '137\n', 'SIGKILL recorded as 128 + 9');
  const supervisor = await s.supervisor;
  await waitUntil('the supervisor to end', () => !isAlive(supervisor));
}

t.test('the supervisor costs one small process (RSS and PSS)', async (t) => {
  for (const chain of chains) await t.test(chain.name, (t) => supervisorCost(t, chain.helper, chain.native));
});

async function supervisorCost(t: Test, helper: string | undefined, native: boolean): Promise<void> {
  const s = supervise(t, 'sleep 60', root, helper, native);
  await s.running;
  const supervisor = await s.supervisor;
  const status = readFileSync(`/proc/${supervisor}/status`, 'utf8');
  const kb = (text: string, key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text)?.[1]);
  const rollup = readFileSync(`/proc/${supervisor}/smaps_rollup`, 'utf8');
  const rss = kb(status, 'VmRSS');
  const pss = kb(rollup, 'Pss');
  const priv = kb(rollup, 'Private_Clean') + kb(rollup, 'Private_Dirty');
  t.comment(`supervisor per task: RSS ${rss} kB, PSS ${pss} kB, private ${priv} kB`);
  t.ok(rss < 2048, `RSS under 2 MB (${rss} kB)`);
  t.ok(pss < rss, `PSS below RSS (${pss} kB): most of it is shared with the launcher and the other supervisors`);
  process.kill(-(await s.taskPid), 'SIGKILL');
  await s.exited;
}

t.test('a task runs as nobody in a private sandbox and, with root, sees only its own processes', { skip: !root && 'needs root' }, async (t) => {
  const { agent, master, dataDir } = await startAgent(t);
  // Reachable by any user, so what keeps others out is the sandbox's own mode.
  chmodSync(dataDir, 0o711);
  const neighbour = newTaskId('neighbour');
  // command.user picks the user: the neighbour runs as `daemon`.
  agent.launch({ ...shellTask(neighbour, ''), command: { shell: true, value: 'id -un > who; echo secret > secret; sleep 60', environment: {}, user: 'daemon' } });
  const other = join(dataDir, 'sandboxes', neighbour);
  await waitUntil("the neighbour's secret", () => existsSync(join(other, 'secret')));
  const id = newTaskId('whoami');
  agent.launch(
    shellTask(id, `id -un; echo $USER; ls /proc | grep -E '^[0-9]+$' | sort -n | tr '\\n' ' '; echo; tr '\\0' ' ' < /proc/1/cmdline; tr '\\n' ' ' < /proc/1/comm; echo; cat ${other}/secret 2>&1 || echo denied`),
  );
  await master.waitFor(id, 'TASK_FINISHED');
  const sandbox = join(dataDir, 'sandboxes', id);
  const [who, user, procs, init, secret] = readFileSync(join(sandbox, 'stdout'), 'utf8').split('\n');
  t.equal(who, 'nobody');
  t.equal(user, 'nobody', 'USER names the task user');
  const pids = procs!.trim().split(' ').map(Number);
  t.ok(pids.length <= 6 && pids[0] === 1, `only its own processes are visible: ${procs}`);
  // The shell chain's init is `sh -c SCRIPT corral-init KEY`; the exec helper names its pid 1 (comm).
  t.match(init, /^(\/bin\/sh -c .* corral-init \d+ |.* corral-init $)/s, `pid 1 is the namespace init: ${init}`);
  t.match(secret, /Permission denied/, 'another task\'s sandbox is closed to it');
  t.equal(readFileSync(join(other, 'who'), 'utf8'), 'daemon\n');
  t.equal(statSync(other).uid, 1, "the neighbour's sandbox belongs to daemon");
  for (const path of [sandbox, join(sandbox, 'stdout')]) {
    const st = statSync(path);
    t.equal(st.uid, 65534, `${path} belongs to nobody`);
  }
  t.equal(statSync(sandbox).mode & 0o777, 0o750, 'sandbox is 0750');
  t.equal(statSync(join(sandbox, 'stdout')).mode & 0o777, 0o640, 'logs are 0640');
});

t.test('nothing a framework chooses is run as shell code: task ids, arguments and environment stay data', async (t) => {
  const { agent, master, dataDir } = await startAgent(t);
  const id = `q'"$(touch PWNED)\`touch PWNED2\`;x`;
  const args = ["it's", '$(touch PWNED3)', '`touch PWNED4`', '"; touch PWNED5; "', 'a  b'];
  agent.launch({ ...shellTask(id, ''), command: { shell: false, value: '/bin/echo', arguments: args, environment: { X: '$(touch PWNED6)' } } });
  await master.waitFor(id, 'TASK_FINISHED');
  t.equal(readFileSync(join(dataDir, 'sandboxes', id, 'stdout'), 'utf8'), `${args.join(' ')}\n`, 'the arguments arrive verbatim');
  const everywhere = [join(dataDir, 'sandboxes', id), dataDir, process.cwd(), join(dataDir, 'meta', 'tasks', id)];
  for (const dir of everywhere) for (let n = 1; n <= 6; n++) t.notOk(existsSync(join(dir, `PWNED${n === 1 ? '' : n}`)), `no PWNED${n} in ${dir}`);
});

t.test('without a PID namespace (an agent without root) tasks are still killed whole and report how they ended', async (t) => {
  const { agent, master, dataDir } = await startAgent(t, { pidNamespace: false });
  const id = newTaskId('plain');
  agent.launch(shellTask(id, 'echo $$ > leader.pid; sleep 300 & echo $! > bg.pid; wait'));
  await master.waitFor(id, 'TASK_RUNNING');
  const sandbox = join(dataDir, 'sandboxes', id);
  const leader = await pidFromFile(join(sandbox, 'leader.pid'));
  const background = await pidFromFile(join(sandbox, 'bg.pid'));
  t.ok(isAlive(leader) && isAlive(background), 'pids are the host pids');
  agent.kill(id, 5);
  t.match(await master.waitFor(id, 'TASK_KILLED'), { message: 'Command terminated with signal SIGTERM' });
  await waitUntil('the background child to die', () => !isAlive(background));
  const exit = newTaskId('plain-exit');
  agent.launch(shellTask(exit, 'exit 5'));
  t.match(await master.waitFor(exit, 'TASK_FAILED'), { exitCode: 5, reason: 'REASON_COMMAND_EXECUTOR_FAILED' });
});


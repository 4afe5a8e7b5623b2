// kill -9 of the agent while a task is held until its startAt by the exec helper: the task's
// program runs at its time and ends while no agent runs, in cgroups its own side made. A new agent
// over the same data dir reports TASK_RUNNING with the time the program really started (the task
// side recorded it in the checkpoint's `running`), then the task's end, each once.
import t from 'tap';
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildSync } from 'esbuild';
import type { TaskStatus } from '../../../src/kernel/types';
import { locateExecHelper } from '../../../src/kernel/agent/exec-helper';
import { newCgroupParent, shellTask, startAgent, testIsolator, waitUntil } from './helpers/harness';

const helper = locateExecHelper();
const skip = !helper ? 'dist/corral-exec is not built' : process.getuid?.() !== 0 ? 'needs root (cgroups)' : false;

t.test('a held task that starts and ends while the agent is down is reported running at its real start', { skip }, async (t) => {
  const work = mkdtempSync(join(tmpdir(), 'corral-recovery-held-'));
  t.teardown(() => rmSync(work, { recursive: true, force: true }));
  const dataDir = join(work, 'data');
  mkdirSync(dataDir);
  const parent = newCgroupParent();
  const isolator = await testIsolator(t, 'auto', parent);
  const id = 'held';
  const meta = join(dataDir, 'meta', 'tasks', id);

  // The first agent in a child process, with the exec helper beside its bundle (where it looks).
  const bundle = join(work, 'agent-child.js');
  buildSync({ entryPoints: [join(__dirname, 'helpers', 'agent-child.ts')], bundle: true, platform: 'node', format: 'cjs', target: 'node20', outfile: bundle, logLevel: 'error' });
  copyFileSync(helper!, join(work, 'corral-exec'));
  const startAt = Date.now() + 4000;
  const task = shellTask(id, 'date +%s%3N > ran', { startAt });
  writeFileSync(join(work, 'request.json'), JSON.stringify({ dataDir, cgroupParent: parent, tasks: [task], setupInTask: true }));
  const child = spawn(process.execPath, [bundle, join(work, 'request.json')], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => child.kill('SIGKILL'));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const before = (): TaskStatus[] => out.split('\n').filter((l) => l.startsWith('{"status"')).map((l) => (JSON.parse(l) as { status: TaskStatus }).status);
  await waitUntil('the child agent to stage the task and start its supervisor', () => before().some((s) => s.state === 'TASK_STARTING') && existsSync(join(meta, 'supervisor')), 20_000);
  child.kill('SIGKILL');
  await exited;
  if (Date.now() >= startAt - 200) {
    t.comment('the child agent took until the task was due; the held case was not reached');
    return;
  }
  t.notOk(existsSync(join(meta, 'running')), 'still held when the agent died');

  await waitUntil('the task to run and end with no agent', () => existsSync(join(meta, 'exit_status')), 20_000);
  const recorded = Number(readFileSync(join(meta, 'running'), 'utf8'));
  const ran = Number(readFileSync(join(dataDir, 'sandboxes', id, 'ran'), 'utf8'));
  t.ok(recorded >= startAt - 2 && recorded <= ran, `the task side recorded its exec ${recorded - startAt} ms after startAt, before the program ran`);

  const { agent, master } = await startAgent(t, { dataDir, isolator, statusRetryMs: 600_000 });
  await agent.start();
  const finished = await master.waitFor(id, 'TASK_FINISHED');
  t.equal(finished.exitCode, 0);
  t.same(master.statesOf(id), ['TASK_RUNNING', 'TASK_FINISHED'], 'running, then its end, each once (STARTING was acknowledged before)');
  t.equal(master.of(id)[0]!.timestamp, recorded, 'TASK_RUNNING carries the time the program started, not the recovery');
  const dirs = (isolator as unknown as { parentDirs(): string[] }).parentDirs();
  await waitUntil('its cgroups to be removed', () => dirs.every((dir) => !existsSync(join(dir, id))));
});

// The pieces that keep a launch's file-system work off the event loop: retired checkpoints renamed
// into the trash and removed in the background (and a relaunch of the same id never racing with
// that), and the PATH lookup remembered per program.
import t from 'tap';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeClock } from '../../../src/shared/clock';
import { CheckpointStore, type TaskCheckpoint } from '../../../src/kernel/agent/checkpoint';
import { CheckpointTrash } from '../../../src/kernel/agent/checkpoint-trash';
import { PROGRAM_CACHE_MS, ProgramLookup } from '../../../src/kernel/agent/program-lookup';
import type { TaskStatus } from '../../../src/kernel/types';
import { shellTask } from './helpers/harness';

function tempDir(t: { teardown(fn: () => unknown): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'corral-launch-path-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const saved = (): TaskCheckpoint => ({
  task: shellTask('job.1', 'true'),
  user: { name: 'nobody', uid: 65534, gid: 65534 },
  switchUser: false,
  limits: { cpus: 0.1, memMb: 32, pids: 64 },
  sandbox: '/d/sandboxes/job.1',
});
const status = (state: TaskStatus['state'], uuid = `u-${state}`): TaskStatus => ({ taskId: 'job.1', agentId: 'a', frameworkId: 'f', state, source: 'SOURCE_EXECUTOR', timestamp: 1, uuid });

t.test('a retired checkpoint leaves meta/tasks at once and is removed in the background', async (t) => {
  const dataDir = tempDir(t);
  const store = new CheckpointStore(dataDir);
  store.create('job.1', saved());
  store.posted(status('TASK_RUNNING'), {});
  writeFileSync(join(store.dir('job.1'), 'exit_status'), '0\n');
  store.remove('job.1');
  t.notOk(existsSync(store.dir('job.1')), 'gone from meta/tasks when remove returns');
  t.notOk(store.has('job.1'));
  t.same(store.list(), []);

  // A relaunch of the same id right away: its new checkpoint is never swept away.
  store.create('job.1', saved());
  store.posted(status('TASK_STARTING', 'second'), {});
  await store.settled();
  t.same(readdirSync(join(dataDir, 'meta', 'trash')), [], 'the trash is empty once settled');
  t.same(store.load('job.1').statuses?.pending.map((s) => s.uuid), ['second'], 'the relaunch keeps its own checkpoint');
  t.equal(store.exitStatus('job.1'), undefined, 'and nothing of the old run');
});

t.test('a relaunch over a checkpoint left behind moves the old one out of the way', async (t) => {
  const dataDir = tempDir(t);
  const store = new CheckpointStore(dataDir);
  store.create('job.1', saved());
  writeFileSync(join(store.dir('job.1'), 'exit_status'), '3\n');
  store.create('job.1', saved());
  t.equal(store.exitStatus('job.1'), undefined);
  await store.settled();
  t.same(readdirSync(join(dataDir, 'meta', 'trash')), []);
});

t.test('the trash sweeps what an earlier run left, and a missing directory is no error', async (t) => {
  const dir = tempDir(t);
  const trashDir = join(dir, 'trash');
  mkdirSync(join(trashDir, 'left-1', 'nested'), { recursive: true });
  writeFileSync(join(trashDir, 'left-1', 'task.json'), '{}');
  writeFileSync(join(trashDir, 'left-1', 'nested', 'x'), '');
  const trash = new CheckpointTrash(trashDir);
  trash.discard(join(dir, 'never-existed'));
  trash.sweepLeftovers();
  await trash.settled();
  t.same(readdirSync(trashDir), [], 'leftovers, even unexpected subdirectories, are removed');
  t.equal(trash.backlog, 0);
});

t.test('the PATH lookup is remembered per PATH and program, for a while, and only when found', async (t) => {
  const dir = tempDir(t);
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  const tool = join(bin, 'tool');
  writeFileSync(tool, '#!/bin/sh\n');
  chmodSync(tool, 0o755);
  const clock = new FakeClock();
  const programs = new ProgramLookup(clock);
  t.equal(programs.missing('tool', dir, bin), undefined, 'found');
  rmSync(tool);
  t.equal(programs.missing('tool', dir, bin), undefined, 'remembered while fresh');
  t.match(programs.missing('tool', dir, `${bin}:/nonexistent`), /Cannot start 'tool'/, 'another PATH is looked up afresh');
  clock.advance(PROGRAM_CACHE_MS);
  t.match(programs.missing('tool', dir, bin), /Cannot start 'tool': ENOENT/, 'looked up again once stale');
  writeFileSync(tool, '#!/bin/sh\n');
  chmodSync(tool, 0o755);
  t.equal(programs.missing('tool', dir, bin), undefined, 'a missing program is never remembered');

  // Relative names and relative PATH entries depend on the sandbox: never remembered.
  const sandbox = join(dir, 'sandbox');
  mkdirSync(join(sandbox, 'rel'), { recursive: true });
  writeFileSync(join(sandbox, 'rel', 'here'), '');
  chmodSync(join(sandbox, 'rel', 'here'), 0o755);
  t.equal(programs.missing('here', sandbox, 'rel'), undefined);
  t.match(programs.missing('here', join(dir, 'other'), 'rel'), /Cannot start 'here'/, 'a relative PATH entry is resolved in each sandbox');
  t.equal(programs.missing('./rel/here', sandbox, ''), undefined);
  t.match(programs.missing('./rel/here', join(dir, 'other'), ''), /Cannot start '\.\/rel\/here'/, 'so is a relative program');
});

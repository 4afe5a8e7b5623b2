// The pieces of checkpoint and recovery on their own: the recovery decision (table-driven), exit
// status decoding, the launcher's argv, the durable outbox, the checkpoint files, user resolution
// and log rotation on plain files.
import t from 'tap';
import { appendFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeClock } from '../../../src/shared/clock';
import { StatusOutbox } from '../../../src/kernel/agent';
import { CheckpointStore, type TaskCheckpoint } from '../../../src/kernel/agent/checkpoint';
import { rotateIfOver } from '../../../src/kernel/agent/log-rotation';
import { planRecovery } from '../../../src/kernel/agent/recovery';
import { decodeExitStatus } from '../../../src/kernel/agent/supervisor';
import { UserResolver } from '../../../src/kernel/agent/users';
import type { TaskStatus } from '../../../src/kernel/types';
import { shellTask } from './helpers/harness';

function tempDir(t: { teardown(fn: () => unknown): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'corral-ckpt-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const saved = (over: Partial<TaskCheckpoint> = {}): TaskCheckpoint => ({
  task: shellTask('web.1', 'sleep 1'),
  user: { name: 'nobody', uid: 65534, gid: 65534 },
  switchUser: true,
  limits: { cpus: 0.1, memMb: 32, pids: 1024 },
  sandbox: '/d/sandboxes/web.1',
  ...over,
});
const status = (state: TaskStatus['state'], uuid = `u-${state}`): TaskStatus => ({ taskId: 'web.1', agentId: 'a', frameworkId: 'f', state, source: 'SOURCE_EXECUTOR', timestamp: 1, uuid });

t.test('planRecovery: what a restarted agent does with each checkpointed task', async (t) => {
  const sup = { supervisor: { pid: 10, startTime: 99 } };
  const table: Array<[string, Parameters<typeof planRecovery>[0], boolean, string]> = [
    ['running, supervisor alive', { saved: saved(sup), statuses: { latest: status('TASK_RUNNING'), pending: [] }, exitStatus: undefined }, true, 'adopt'],
    ['alive, exit already written', { saved: saved(sup), statuses: { latest: status('TASK_RUNNING'), pending: [] }, exitStatus: 0 }, true, 'adopt'],
    ['ended while the agent was down', { saved: saved(sup), statuses: { latest: status('TASK_RUNNING'), pending: [] }, exitStatus: 3 }, false, 'report-exit'],
    ['supervisor gone, nothing recorded', { saved: saved(sup), statuses: { latest: status('TASK_KILLING'), pending: [] }, exitStatus: undefined }, false, 'lost'],
    ['never spawned', { saved: saved(), statuses: { latest: status('TASK_STARTING'), pending: [status('TASK_STARTING')] }, exitStatus: undefined }, false, 'lost'],
    ['never spawned, no status yet', { saved: saved(), statuses: undefined, exitStatus: undefined }, false, 'lost'],
    ['terminal, unacknowledged', { saved: saved(sup), statuses: { latest: status('TASK_FAILED'), pending: [status('TASK_FAILED')] }, exitStatus: 3 }, false, 'resend'],
    ['terminal, acknowledged', { saved: saved(sup), statuses: { latest: status('TASK_FINISHED'), pending: [] }, exitStatus: 0 }, false, 'forget'],
  ];
  for (const [what, rc, alive, action] of table) t.equal(planRecovery(rc, alive).action, action, what);
  t.match(planRecovery({ saved: saved(sup), statuses: undefined, exitStatus: undefined }, false), { message: /supervisor gone/ });
});

t.test('decodeExitStatus: sh $? to an exit code or a signal', async (t) => {
  const table: Array<[number, number | null, string | null]> = [
    [0, 0, null],
    [3, 3, null],
    [127, 127, null],
    [128, 128, null],
    [137, null, 'SIGKILL'],
    [143, null, 'SIGTERM'],
    [139, null, 'SIGSEGV'],
    [255, 255, null],
  ];
  for (const [status, code, signal] of table) t.same(decodeExitStatus(status), { code, signal }, String(status));
});

t.test('the outbox journals durable updates before sending and their acknowledgements; restore re-sends with the original uuids', async (t) => {
  const clock = new FakeClock();
  const sent: TaskStatus[] = [];
  const journal: string[] = [];
  const outbox = new StatusOutbox(clock, 1000, (s) => sent.push(s), {
    posted: (s) => journal.push(`post ${s.uuid} (${sent.length} sent)`),
    acknowledged: (taskId, uuid) => journal.push(`ack ${taskId} ${uuid}`),
  });
  outbox.post(status('TASK_STARTING', 'a'));
  t.same(journal, ['post a (0 sent)'], 'journaled before it was sent');
  outbox.post(status('TASK_FAILED', 'refused'), false);
  t.same(journal.length, 1, 'a non-durable update is not journaled');
  outbox.post(status('TASK_RUNNING', 'b'));
  outbox.acknowledge('web.1', 'a');
  outbox.acknowledge('web.1', 'refused');
  outbox.acknowledge('web.1', 'nope');
  t.same(journal, ['post a (0 sent)', 'post b (2 sent)', 'ack web.1 a'], 'only durable acknowledgements of pending updates are journaled');
  clock.advance(1000);
  t.same(sent.slice(3).map((s) => s.uuid), ['b'], 'resent until acknowledged');
  outbox.close();

  const after = new StatusOutbox(clock, 1000, (s) => sent.push(s));
  sent.length = 0;
  after.hold();
  after.restore([status('TASK_RUNNING', 'b')]);
  after.post(status('TASK_FINISHED', 'c'));
  clock.advance(5000);
  t.same(sent, [], 'nothing leaves while held (the master does not know the agent yet)');
  after.release();
  t.same(sent.map((s) => s.uuid), ['b', 'c'], 'release sends restored and new updates, in order');
  clock.advance(1000);
  t.same(sent.slice(2).map((s) => s.uuid), ['b', 'c'], 'and keep being retried');
  after.close();
});

t.test('checkpoint files: task.json once, a journal of updates, the supervisor\'s files beside them', async (t) => {
  const dataDir = tempDir(t);
  const store = new CheckpointStore(dataDir);
  t.same(store.list(), [], 'nothing before the first task');
  t.notOk(existsSync(join(dataDir, 'meta')), 'and nothing created');
  store.create('web.1', saved());
  t.ok(store.has('web.1'));
  store.posted(status('TASK_STARTING'), {});
  store.posted(status('TASK_RUNNING'), { supervisor: { pid: 5, startTime: 6 }, taskPid: 7, runningAt: 8 });
  store.acknowledged('web.1', 'u-TASK_STARTING');
  store.posted(status('TASK_KILLING'), { supervisor: { pid: 5, startTime: 6 }, taskPid: 7, runningAt: 8, killRequested: true });
  writeFileSync(join(store.dir('web.1'), 'task.pid'), '7\n');
  writeFileSync(join(store.dir('web.1'), 'exit_status'), '13'); // no newline yet: still being written
  appendFileSync(join(store.dir('web.1'), 'journal'), '{"a":"u-TASK_RUN'); // torn: the agent died mid-write
  t.same(store.list(), ['web.1']);
  const rc = new CheckpointStore(dataDir).load('web.1');
  t.match(rc, { taskId: 'web.1', saved: { taskPid: 7, runningAt: 8, killRequested: true }, taskPid: 7, exitStatus: undefined });
  t.same(rc.statuses?.latest.state, 'TASK_KILLING');
  t.same(rc.statuses?.pending.map((s) => s.uuid), ['u-TASK_RUNNING', 'u-TASK_KILLING'], 'acknowledged updates are not pending; a torn line is ignored');
  t.same(rc.saved.supervisor, { pid: 5, startTime: 6 }, 'the supervisor as the agent journaled it');
  writeFileSync(join(store.dir('web.1'), 'supervisor'), '5 6\n');
  writeFileSync(join(store.dir('web.1'), 'exit_status'), '137\n');
  t.match(store.load('web.1'), { saved: { supervisor: { pid: 5, startTime: 6 } }, exitStatus: 137 });

  const fresh = new CheckpointStore(dataDir);
  t.ok(fresh.has('web.1'), 'a checkpoint of an earlier run counts before recovery');
  fresh.posted(status('TASK_FAILED'), {});
  t.equal(fresh.load('web.1').statuses?.latest.state, 'TASK_KILLING', 'nothing is journaled for a task not adopted');
  fresh.adopt('web.1');
  t.ok(fresh.wantsCompaction('web.1'), 'an adopted journal is folded at the next write');
  fresh.compact('web.1', rc.saved, { latest: status('TASK_KILLING'), pending: [status('TASK_RUNNING'), status('TASK_KILLING')] });
  t.notOk(existsSync(join(fresh.dir('web.1'), 'journal')), 'the journal starts over');
  fresh.posted(status('TASK_KILLED'), { killRequested: true });
  const folded = fresh.load('web.1');
  t.same([folded.statuses?.latest.state, folded.statuses?.pending.map((s) => s.uuid)], ['TASK_KILLED', ['u-TASK_RUNNING', 'u-TASK_KILLING', 'u-TASK_KILLED']], 'state = task.json + journal');
  appendFileSync(join(fresh.dir('web.1'), 'journal'), JSON.stringify({ p: status('TASK_RUNNING'), s: {} }) + '\n');
  t.equal(fresh.load('web.1').statuses?.pending.length, 3, 'a replayed post already folded in is not pending twice');
  t.same(readdirSync(store.dir('web.1')).filter((f) => f.endsWith('.tmp')), [], 'no temp files left');

  store.create('web.1', saved());
  t.equal(store.exitStatus('web.1'), undefined, 'a relaunch starts from a clean checkpoint');
  t.equal(store.load('web.1').statuses, undefined);
  store.remove('web.1');
  t.notOk(store.has('web.1'));
  store.create('x', saved());
  writeFileSync(join(store.dir('x'), 'task.json'), JSON.stringify(saved()));
  t.throws(() => store.load('x'), /not about task 'x'/, 'a checkpoint must name its own task');
});

t.test('users: a root agent runs tasks as the default or the named user; others cannot switch', async (t) => {
  const dir = tempDir(t);
  const passwd = join(dir, 'passwd');
  writeFileSync(passwd, 'root:x:0:0::/root:/bin/sh\nnobody:x:65534:65534::/:/bin/false\nweb:x:1001:1002::/:/bin/false\n');
  const users = new UserResolver('nobody', passwd);
  t.same(users.lookup('web'), { name: 'web', uid: 1001, gid: 1002 });
  t.equal(users.lookup('corral-no-such-user'), undefined);
  t.equal(users.lookup('-u'), undefined, 'an option-looking name is never handed to id');
  if (users.agentIsRoot) {
    t.same(users.choose(undefined), { user: { name: 'nobody', uid: 65534, gid: 65534 }, switchUser: true });
    t.same(users.choose('web'), { user: { name: 'web', uid: 1001, gid: 1002 }, switchUser: true });
    t.match(users.choose('ghost'), { refusal: "Task user 'ghost' does not exist on this agent" });
  } else {
    t.match(users.choose('web'), { refusal: /cannot switch users/ });
  }
});

t.test('rotateIfOver: copytruncate with a bounded number of kept files', async (t) => {
  const dir = tempDir(t);
  const log = join(dir, 'stdout');
  const limits = { maxBytes: 10, keep: 2 };
  writeFileSync(log, 'small');
  t.equal(await rotateIfOver(dir, 'stdout', limits, undefined), false, 'under the limit: untouched');
  for (const text of ['first-rotation', 'second-rotation', 'third-rotation']) {
    writeFileSync(log, text);
    t.equal(await rotateIfOver(dir, 'stdout', limits, undefined), true);
  }
  t.same(readdirSync(dir).sort(), ['stdout', 'stdout.1', 'stdout.2']);
  t.equal(readFileSync(log, 'utf8'), '', 'the live file is truncated, not replaced');
  t.equal(readFileSync(`${log}.1`, 'utf8'), 'third-rotation');
  t.equal(readFileSync(`${log}.2`, 'utf8'), 'second-rotation', 'the oldest fell off');
  writeFileSync(log, 'more than ten bytes');
  t.equal(await rotateIfOver(dir, 'stdout', { maxBytes: 10, keep: 0 }, undefined), true);
  t.equal(readFileSync(log, 'utf8'), '', 'keep 0 only truncates');
  t.equal(await rotateIfOver(dir, 'stderr', limits, undefined), false, 'a missing file is no error');
});

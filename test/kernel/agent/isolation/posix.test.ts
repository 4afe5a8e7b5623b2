// The posix backend with real processes: a task is its process group, killed whole (a background
// grandchild included), measured from /proc, and reported over its memory limit once its sampled
// RSS passes it.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { FakeClock } from '../../../../src/shared/clock';
import { silentLogger } from '../../../../src/shared/logger';
import { PosixIsolator } from '../../../../src/kernel/agent/isolation';
import { launch, waitFor, withTimeout } from './helpers/launch';

const logger = silentLogger();
const MIB = 1024 * 1024;

/** Live members of process group `pgid` as ps sees them (zombies wait for init and do not count). */
function liveInGroup(pgid: number): number {
  const rows = execFileSync('ps', ['-e', '-o', 'pgid=,stat='], { encoding: 'utf8' }).split('\n');
  return rows.map((r) => r.trim().split(/\s+/)).filter(([g, stat]) => Number(g) === pgid && !stat?.startsWith('Z')).length;
}

t.test('signalAll kills the whole process group, background grandchild included', async (t) => {
  const iso = new PosixIsolator({ logger });
  t.equal(iso.name, 'posix');
  const c = await iso.create('group', { cpus: 1, memMb: 256, pids: 10 });
  t.same(c.enterSteps(), { makeDirs: [], writes: [], cgroupProcs: [], noCoreDumps: true });
  const task = launch(t, c, `sh -c 'sh -c "sleep 100; :" & sleep 100 & wait'`);
  await waitFor('four processes', async () => (await c.processCount()) === 4);
  t.equal(liveInGroup(task.pid), 4);
  const s = await c.stats();
  t.equal(s.processes, 4);
  t.ok((s.threads ?? 0) >= 4);
  t.ok((s.mem_rss_bytes ?? 0) > 0);
  t.equal(s.mem_limit_bytes, 256 * MIB);
  t.equal(s.cpus_limit, 1);
  t.type(s.cpus_user_time_secs, 'number');
  t.type(s.cpus_system_time_secs, 'number');
  t.equal(await c.memoryLimitHit(), false);

  t.equal(await c.signalAll('SIGKILL'), 4);
  t.equal((await withTimeout('sh to die', task.exited)).signal, 'SIGKILL');
  t.equal(liveInGroup(task.pid), 0, 'ps finds nobody left');
  t.equal(await c.processCount(), 0);
  t.equal(await c.signalAll('SIGKILL'), 0);
  await c.destroy();
  t.same(await iso.leftovers(), []);
});

t.test('SIGTERM reaches every member; the enter script disables core dumps', async (t) => {
  const iso = new PosixIsolator({ logger });
  const c = await iso.create('term', { cpus: 1, memMb: 64, pids: 10 });
  const task = launch(t, c, `sh -c 'test "$(ulimit -c)" = 0 || exit 3; sleep 100 & wait'`);
  await waitFor('two processes', async () => (await c.processCount()) === 2);
  t.equal(await c.signalAll('SIGTERM'), 2);
  t.equal((await withTimeout('sh to end', task.exited)).signal, 'SIGTERM', 'not exit 3: ulimit -c was 0');
  await waitFor('an empty group', async () => liveInGroup(task.pid) === 0);
});

t.test('memoryLimitHit once the sampled RSS passes the limit, and it stays true', async (t) => {
  const iso = new PosixIsolator({ logger });
  const c = await iso.create('hog', { cpus: 1, memMb: 50, pids: 10 });
  // tail holds everything up to EOF, which the sleep postpones.
  launch(t, c, `sh -c '(head -c 150M /dev/zero; sleep 100) | tail'`);
  await waitFor('RSS over 50 MiB', () => c.memoryLimitHit());
  t.ok(((await c.stats()).mem_rss_bytes ?? 0) > 50 * MIB);
  t.ok((await c.signalAll('SIGKILL')) >= 3);
  t.equal(await c.memoryLimitHit(), true, 'the peak is remembered after the processes are gone');

  const calm = await iso.create('calm', { cpus: 1, memMb: 50, pids: 10 });
  launch(t, calm, 'sleep 100');
  await waitFor('the sleeper', async () => (await calm.processCount()) === 1);
  t.equal(await calm.memoryLimitHit(), false);
  t.equal(await calm.signalAll('SIGKILL'), 1);
});

t.test('recover re-attaches by pid; attach refuses pids that are not a task', async (t) => {
  const first = new PosixIsolator({ logger });
  const limits = { cpus: 1, memMb: 64, pids: 10 };
  const c = await first.create('adopted', limits);
  const task = launch(t, c, 'sleep 100');
  await waitFor('the task', async () => (await c.processCount()) === 1);

  const second = new PosixIsolator({ logger, clock: new FakeClock(1_700_000_000_250) });
  const again = await second.recover('adopted', limits, task.pid);
  t.equal((await again.stats()).processes, 1);
  t.equal(await again.signalAll('SIGKILL'), 1);
  t.equal((await withTimeout('the task to die', task.exited)).signal, 'SIGKILL');
  t.equal(await c.processCount(), 0);

  const none = await second.recover('gone', limits, undefined);
  t.equal(await none.processCount(), 0);
  t.equal(await none.signalAll('SIGKILL'), 0);
  t.same(await none.stats(), { timestamp: 1_700_000_000.25, processes: 0, threads: 0, cpus_user_time_secs: 0, cpus_system_time_secs: 0, cpus_limit: 1, mem_rss_bytes: 0, mem_limit_bytes: 64 * MIB });

  t.throws(() => none.attach(1), { code: 'INTERNAL' });
  t.throws(() => none.attach(process.pid), { code: 'INTERNAL' }, 'the agent’s own group');
  await t.rejects(second.create('..', limits), { code: 'INVALID_REQUEST' });
});

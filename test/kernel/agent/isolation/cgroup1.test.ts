// cgroup v1 against the real kernel (this machine: root, v1 hierarchies at /sys/fs/cgroup): the
// memory limit OOM-kills and is reported, CPU is throttled to the quota, a fork bomb stops at the
// pids limit and dies whole, statistics are sane, and a new isolator re-adopts a running task.
import t from 'tap';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../../../src/shared/logger';
import { Cgroup1Isolator } from '../../../../src/kernel/agent/isolation';
import { dirExists, launch, removeCgroupTree, uniqueParent, waitFor, withTimeout } from './helpers/launch';

const parent = uniqueParent();
const logger = silentLogger();
let opened: Cgroup1Isolator | undefined;

async function isolator(): Promise<Cgroup1Isolator> {
  const iso = await Cgroup1Isolator.open({ parent, logger });
  opened ??= iso;
  return iso;
}

t.teardown(async () => {
  if (opened) for (const dir of opened.parentDirs()) await removeCgroupTree(dir);
});

t.test('open creates the parent in memory, cpu, cpuacct, pids and freezer', async (t) => {
  const iso = await isolator();
  t.equal(iso.name, 'cgroup1');
  t.same(Object.keys(iso.parents).sort(), ['cpu', 'cpuacct', 'freezer', 'memory', 'pids']);
  for (const dir of iso.parentDirs()) t.ok(await dirExists(dir), dir);
  t.same(await iso.leftovers(), [], 'the probe directory is gone');
});

t.test('open fails with CONFIG_INVALID where no hierarchy is mounted', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'corral-nocg-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  await t.rejects(Cgroup1Isolator.open({ root, parent, logger }), { code: 'CONFIG_INVALID', message: /no memory hierarchy/ });
  await t.rejects(Cgroup1Isolator.open({ parent: '../escape', logger }), { code: 'CONFIG_INVALID' });
});

t.test('create writes the limits, refuses bad ids and limits, and destroy removes every dir', async (t) => {
  const iso = await isolator();
  const c = await iso.create('limits', { cpus: 0.5, memMb: 48, pids: 33 });
  const read = (ctl: 'cpu' | 'memory' | 'pids', file: string): string => readFileSync(join(iso.parents[ctl], 'limits', file), 'utf8').trim();
  t.equal(read('cpu', 'cpu.shares'), '512');
  t.equal(read('cpu', 'cpu.cfs_period_us'), '100000');
  t.equal(read('cpu', 'cpu.cfs_quota_us'), '50000');
  t.equal(read('memory', 'memory.limit_in_bytes'), String(48 * 1024 * 1024));
  t.equal(read('memory', 'memory.memsw.limit_in_bytes'), String(48 * 1024 * 1024));
  t.equal(read('pids', 'pids.max'), '33');
  const steps = c.enterSteps();
  t.equal(steps.cgroupProcs.length, 5, 'one cgroup.procs per hierarchy');
  t.match(steps.cgroupProcs[0], /^\/sys\/fs\/cgroup\/.*\/limits\/cgroup\.procs$/);
  t.equal(steps.noCoreDumps, false);
  t.same(await iso.leftovers(), ['limits']);
  await c.destroy();
  await c.destroy();
  for (const dir of iso.parentDirs()) t.notOk(await dirExists(join(dir, 'limits')));
  await t.rejects(iso.create('..', { cpus: 1, memMb: 1, pids: 1 }), { code: 'INVALID_REQUEST' });
  await t.rejects(iso.create('x', { cpus: 0, memMb: 1, pids: 1 }), { code: 'INVALID_REQUEST' });
});

t.test('a cgroup left from before (not made now) gets every value written, whatever it held', async (t) => {
  const iso = await isolator();
  for (const dir of iso.parentDirs()) mkdirSync(join(dir, 'left'));
  const file = (ctl: 'cpu' | 'memory', name: string) => join(iso.parents[ctl], 'left', name);
  writeFileSync(file('cpu', 'cpu.cfs_period_us'), '50000');
  writeFileSync(file('memory', 'memory.limit_in_bytes'), String(16 * 1024 * 1024));
  const swap = existsSync(file('memory', 'memory.memsw.limit_in_bytes'));
  if (swap) writeFileSync(file('memory', 'memory.memsw.limit_in_bytes'), String(16 * 1024 * 1024));
  const c = await iso.create('left', { cpus: 0.5, memMb: 48, pids: 33 });
  t.equal(readFileSync(file('cpu', 'cpu.cfs_period_us'), 'utf8').trim(), '100000');
  t.equal(readFileSync(file('cpu', 'cpu.cfs_quota_us'), 'utf8').trim(), '50000');
  t.equal(readFileSync(file('memory', 'memory.limit_in_bytes'), 'utf8').trim(), String(48 * 1024 * 1024), 'raised past the old memsw');
  if (swap) t.equal(readFileSync(file('memory', 'memory.memsw.limit_in_bytes'), 'utf8').trim(), String(48 * 1024 * 1024));
  await c.destroy();
});

t.test('a parent cgroup removed under the isolator (an empty one, by someone’s clean-up) is made again', async (t) => {
  const iso = await isolator();
  for (const dir of iso.parentDirs()) await removeCgroupTree(dir);
  const c = await iso.create('after-cleanup', { cpus: 0.5, memMb: 32, pids: 10 });
  for (const dir of iso.parentDirs()) t.ok(await dirExists(join(dir, 'after-cleanup')), `${dir}/after-cleanup exists`);
  t.equal(readFileSync(join(iso.parents.memory, 'after-cleanup', 'memory.limit_in_bytes'), 'utf8').trim(), String(32 * 1024 * 1024), 'with its limits');
  await c.destroy();
});

t.test('setupInTask: create() makes nothing; the task side makes its cgroups with their limits and joins them', async (t) => {
  const iso = await Cgroup1Isolator.open({ parent, logger, setupInTask: true });
  opened ??= iso;
  const c = await iso.create('in-task', { cpus: 0.5, memMb: 48, pids: 33 });
  t.teardown(() => c.destroy());
  for (const dir of iso.parentDirs()) t.notOk(await dirExists(join(dir, 'in-task')), `${dir}/in-task not made by create()`);
  const steps = c.enterSteps();
  t.same(steps.makeDirs, iso.parentDirs().map((dir) => join(dir, 'in-task')), 'one directory per hierarchy, made first');
  t.same(steps.writes.map(([file]) => file.split('/').pop()), ['cpu.shares', 'cpu.cfs_quota_us', 'memory.limit_in_bytes', 'memory.memsw.limit_in_bytes', 'pids.max'].filter((f) => f !== 'memory.memsw.limit_in_bytes' || existsSync(join(iso.parents.memory, f))));
  t.equal(await c.processCount(), 0, 'a container not yet made reads as empty');
  t.equal(await c.memoryLimitHit(), false);
  const task = launch(t, c, 'sleep 30');
  await waitFor('the task side to join its cgroups', async () => (await c.processCount()) === 1);
  const read = (ctl: 'cpu' | 'memory' | 'pids', file: string): string => readFileSync(join(iso.parents[ctl], 'in-task', file), 'utf8').trim();
  t.equal(read('cpu', 'cpu.shares'), '512');
  t.equal(read('cpu', 'cpu.cfs_quota_us'), '50000');
  t.equal(read('memory', 'memory.limit_in_bytes'), String(48 * 1024 * 1024));
  t.equal(read('pids', 'pids.max'), '33');
  const member = readFileSync(`/proc/${task.pid}/cgroup`, 'utf8');
  for (const ctl of ['memory', 'pids', 'freezer']) t.match(member, new RegExp(`:${ctl}:/.*/in-task\n`), `in the ${ctl} cgroup`);
  await c.signalAll('SIGKILL');
  await withTimeout('the task to end', task.exited);
  await c.destroy();
  for (const dir of iso.parentDirs()) t.notOk(await dirExists(join(dir, 'in-task')), 'destroy removes what the task side made');
});

t.test('setupInTask: a cgroup left from before is set up by create() (its old values read first), a failed make stops the task', async (t) => {
  const iso = await Cgroup1Isolator.open({ parent, logger, setupInTask: true });
  for (const dir of iso.parentDirs()) mkdirSync(join(dir, 'left-in-task'));
  const left = await iso.create('left-in-task', { cpus: 0.5, memMb: 48, pids: 33 });
  t.same([left.enterSteps().makeDirs, left.enterSteps().writes], [[], []], 'nothing left for the task side to make');
  t.equal(readFileSync(join(iso.parents.pids, 'left-in-task', 'pids.max'), 'utf8').trim(), '33');
  await left.destroy();

  const c = await iso.create('cannot-make', { cpus: 0.5, memMb: 48, pids: 33 });
  const steps = c.enterSteps();
  // The same container, with a write the kernel refuses after its directories were made.
  const broken: typeof c = Object.assign(Object.create(c) as typeof c, { enterSteps: () => ({ ...steps, writes: [...steps.writes, [join(iso.parents.pids, 'cannot-make', 'no-such-file'), '1']] as Array<[string, string]> }) });
  const task = launch(t, broken, 'echo started');
  const end = await withTimeout('the task side to stop', task.exited);
  t.equal(end.code, 125, 'the task never starts outside its limits');
  t.match(task.stderr(), /no-such-file/);
  await c.destroy();
  for (const dir of iso.parentDirs()) t.notOk(await dirExists(join(dir, 'cannot-make')));
});

t.test('a task over its memory limit is OOM-killed and reported; one under it is not', async (t) => {
  const iso = await isolator();
  const over = await iso.create('mem-over', { cpus: 1, memMb: 32, pids: 20 });
  t.teardown(() => over.destroy());
  const hog = launch(t, over, `sh -c 'head -c 200M /dev/zero | tail'`);
  const end = await withTimeout('the memory hog to end', hog.exited);
  t.equal(end.code, 128 + 9, 'tail was SIGKILLed, sh reports 137');
  t.equal(await over.memoryLimitHit(), true);
  t.equal(await over.processCount(), 0);

  const under = await iso.create('mem-under', { cpus: 1, memMb: 64, pids: 20 });
  t.teardown(() => under.destroy());
  const fine = launch(t, under, `sh -c 'head -c 8M /dev/zero | tail >/dev/null'`);
  t.same(await withTimeout('the small task to end', fine.exited), { code: 0, signal: null });
  t.equal(await under.memoryLimitHit(), false);
});

t.test('a busy loop with cpus 0.2 is throttled to about 0.2 of wall time', async (t) => {
  const iso = await isolator();
  const c = await iso.create('cpu', { cpus: 0.2, memMb: 32, pids: 5 });
  t.teardown(() => c.destroy());
  launch(t, c, `sh -c 'while :; do :; done'`);
  await waitFor('the loop to run', async () => ((await c.stats()).cpus_nr_periods ?? 0) > 0);
  const s0 = await c.stats();
  // On a busy node the loop may get less than its quota for a while; wait for a throttled period.
  const s1 = await waitFor('15 CFS periods, some throttled', async () => {
    const s = await c.stats();
    return (s.cpus_nr_periods ?? 0) - (s0.cpus_nr_periods ?? 0) >= 15 && (s.cpus_nr_throttled ?? 0) > 0 ? s : undefined;
  });
  const cpu = (s: typeof s0): number => (s.cpus_user_time_secs ?? 0) + (s.cpus_system_time_secs ?? 0);
  const wall = s1.timestamp - s0.timestamp;
  t.ok((s1.cpus_nr_throttled ?? 0) > 0, `throttled ${s1.cpus_nr_throttled} times`);
  t.ok((s1.cpus_throttled_time_secs ?? 0) > 0);
  t.ok(cpu(s1) - cpu(s0) <= 0.2 * wall * 1.5 + 0.05, `cpu ${(cpu(s1) - cpu(s0)).toFixed(2)} s in ${wall.toFixed(2)} s wall`);
  t.equal(await c.signalAll('SIGKILL'), 1);
});

t.test('a fork bomb stops at the pids limit and SIGKILL leaves nothing', async (t) => {
  const iso = await isolator();
  const c = await iso.create('bomb', { cpus: 0.5, memMb: 64, pids: 20 });
  t.teardown(() => c.destroy());
  // dash gives up at the first refused fork, leaving the sleeps it managed to start.
  launch(t, c, `sh -c 'i=0; while [ $i -lt 200 ]; do sleep 100 & i=$((i+1)); done; wait'`);
  const pidsFile = (f: string): string => readFileSync(join(iso.parents.pids, 'bomb', f), 'utf8');
  await waitFor('forks refused at the limit', () => /max [1-9]/.test(pidsFile('pids.events')));
  const n = await c.processCount();
  t.ok(n >= 15 && n <= 20, `processCount ${n} is at the limit of 20`);
  t.ok(Number(pidsFile('pids.current')) <= 20);
  t.ok((await c.signalAll('SIGKILL')) >= 15);
  t.equal(await c.processCount(), 0);
  await c.destroy();
  for (const dir of iso.parentDirs()) t.notOk(await dirExists(join(dir, 'bomb')));
});

t.test('a self-replicating fork bomb never passes the limit and dies whole', async (t) => {
  const iso = await isolator();
  const c = await iso.create('bomb2', { cpus: 0.5, memMb: 64, pids: 20 });
  t.teardown(() => c.destroy());
  // Every member keeps spawning; each refused fork ends one shell, and the survivors refill its slot.
  launch(t, c, `sh -c 'b() { while :; do sh -c "b() { while :; do sleep 1 & b & done; }; b" & sleep 0.01; done; }; b'`);
  await waitFor('forks refused at the limit', () => /max [1-9]/.test(readFileSync(join(iso.parents.pids, 'bomb2', 'pids.events'), 'utf8')));
  for (let i = 0; i < 20; i++) {
    const n = await c.processCount();
    t.ok(n <= 20, `processCount ${n} ≤ 20`);
  }
  t.ok((await c.signalAll('SIGKILL')) >= 1);
  t.equal(await c.processCount(), 0);
});

t.test('stats are sane and SIGTERM reaches every process', async (t) => {
  const iso = await isolator();
  const c = await iso.create('stats', { cpus: 1.5, memMb: 100, pids: 10 });
  t.teardown(() => c.destroy());
  const task = launch(t, c, `sh -c 'sleep 100 & sleep 100 & wait'`);
  const s = await waitFor('three processes', async () => {
    const s = await c.stats();
    return s.processes === 3 ? s : undefined;
  });
  t.ok((s.threads ?? 0) >= 3);
  t.equal(s.cpus_limit, 1.5);
  t.equal(s.mem_limit_bytes, 100 * 1024 * 1024);
  t.ok((s.mem_total_bytes ?? 0) > 0);
  t.type(s.mem_rss_bytes, 'number');
  t.type(s.mem_cache_bytes, 'number');
  t.type(s.cpus_user_time_secs, 'number');
  t.type(s.cpus_system_time_secs, 'number');
  t.ok(Math.abs(s.timestamp - Date.now() / 1000) < 5);
  t.equal(await c.signalAll('SIGTERM'), 3);
  await withTimeout('sh to end', task.exited);
  await waitFor('no processes', async () => (await c.processCount()) === 0);
  t.equal(await c.signalAll('SIGKILL'), 0, 'nothing left to kill');
});

t.test('a new isolator recovers a running task by id, lists it and kills it', async (t) => {
  const first = await isolator();
  const limits = { cpus: 1, memMb: 32, pids: 10 };
  const c = await first.create('adopted', limits);
  const task = launch(t, c, 'sleep 100');
  await waitFor('the task', async () => (await c.processCount()) === 1);

  const second = await Cgroup1Isolator.open({ parent, logger });
  t.ok((await second.leftovers()).includes('adopted'));
  const again = await second.recover('adopted', limits, task.pid);
  t.equal((await again.stats()).processes, 1);
  t.equal(await again.memoryLimitHit(), false);
  t.equal(await again.signalAll('SIGKILL'), 1);
  t.equal((await withTimeout('the task to die', task.exited)).signal, 'SIGKILL');
  await again.destroy();
  t.notOk((await second.leftovers()).includes('adopted'));

  const gone = await second.recover('never-ran', limits, undefined);
  t.equal(await gone.processCount(), 0);
  t.equal(await gone.memoryLimitHit(), false);
  await gone.destroy();
});

// cgroup v2: against a fake unified hierarchy in a temp dir (which files it writes with which values,
// how it reads stats and OOM events, how it refuses a hierarchy without the controllers), and for
// real on this machine's controller-less v2 mount (membership, cgroup.kill, cpu.stat, rmdir).
import t, { type Test } from 'tap';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeClock } from '../../../../src/shared/clock';
import { silentLogger } from '../../../../src/shared/logger';
import { Cgroup2Isolator } from '../../../../src/kernel/agent/isolation';
import { dirExists, launch, removeCgroupTree, uniqueParent, waitFor, withTimeout } from './helpers/launch';

const logger = silentLogger();

function fakeRoot(t: Test, controllers = 'cpuset cpu io memory hugetlb pids rdma'): string {
  const root = mkdtempSync(join(tmpdir(), 'corral-cg2-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  writeFileSync(join(root, 'cgroup.controllers'), `${controllers}\n`);
  return root;
}

const read = (...p: string[]): string => readFileSync(join(...p), 'utf8');

t.test('open delegates cpu, memory and pids at every level down to a nested parent', async (t) => {
  const root = fakeRoot(t);
  const iso = await Cgroup2Isolator.open({ root, parent: 'corral/agent', logger });
  t.equal(iso.name, 'cgroup2');
  t.equal(iso.parentDir, join(root, 'corral', 'agent'));
  for (const dir of [root, join(root, 'corral'), join(root, 'corral', 'agent')]) t.equal(read(dir, 'cgroup.subtree_control'), '+cpu +memory +pids', dir);
  t.same([...iso.features.controllers], ['cpu', 'memory', 'pids']);
  t.same(await iso.leftovers(), [], 'the probe is gone');
});

t.test('create writes weight, cpu.max, memory.max, swap 0, oom.group and pids.max', async (t) => {
  const root = fakeRoot(t);
  mkdirSync(join(root, 'corral'));
  writeFileSync(join(root, 'corral', 'cgroup.subtree_control'), 'cpu memory pids\n');
  writeFileSync(join(root, 'corral', 'memory.swap.max'), 'max\n');
  writeFileSync(join(root, 'corral', 'memory.oom.group'), '0\n');
  const iso = await Cgroup2Isolator.open({ root, logger });
  t.notOk(read(root, 'cgroup.subtree_control').includes('cpuset'), 'only the three controllers are delegated');
  t.equal(read(root, 'corral', 'cgroup.subtree_control'), 'cpu memory pids\n', 'already delegated: left alone');
  const c = await iso.create('web.1', { cpus: 1, memMb: 64, pids: 50 });
  const dir = join(root, 'corral', 'web.1');
  t.equal(read(dir, 'cpu.weight'), '39', '1024 shares');
  t.equal(read(dir, 'cpu.max'), '100000 100000');
  t.equal(read(dir, 'memory.max'), String(64 * 1024 * 1024));
  t.equal(read(dir, 'memory.swap.max'), '0');
  t.equal(read(dir, 'memory.oom.group'), '1');
  t.equal(read(dir, 'pids.max'), '50');
  t.same(c.enterSteps(), { makeDirs: [], writes: [], cgroupProcs: [`${dir}/cgroup.procs`], noCoreDumps: false });
  t.same(await iso.leftovers(), ['web.1']);
  await t.rejects(iso.create('a/b', { cpus: 1, memMb: 1, pids: 1 }), { code: 'INVALID_REQUEST' });

  const small = await iso.create('small', { cpus: 0.001, memMb: 1, pids: 1 });
  t.equal(read(root, 'corral', 'small', 'cpu.weight'), '1', 'shares floor 2 → weight 1');
  t.equal(read(root, 'corral', 'small', 'cpu.max'), '1000 100000', 'quota floor 1 ms');
  t.ok(small);
});

t.test('without swap accounting or oom.group those files are not written', async (t) => {
  const root = fakeRoot(t);
  const iso = await Cgroup2Isolator.open({ root, logger });
  await iso.create('t', { cpus: 2, memMb: 10, pids: 5 });
  t.notOk(await dirExists(join(root, 'corral', 't', 'memory.swap.max')));
  t.notOk(await dirExists(join(root, 'corral', 't', 'memory.oom.group')));
  t.equal(read(root, 'corral', 't', 'cpu.max'), '200000 100000');
});

t.test('stats and memoryLimitHit read cpu.stat, memory.* and memory.events', async (t) => {
  const root = fakeRoot(t);
  const clock = new FakeClock(1_700_000_000_500);
  const iso = await Cgroup2Isolator.open({ root, logger, clock });
  const dir = join(root, 'corral', 'busy');
  mkdirSync(dir);
  writeFileSync(join(dir, 'memory.events'), 'low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n');
  const c = await iso.create('busy', { cpus: 0.5, memMb: 32, pids: 10 });
  t.equal(await c.memoryLimitHit(), false, 'kills before create() are not this task’s');
  writeFileSync(join(dir, 'memory.events'), 'low 0\nhigh 0\nmax 9\noom 2\noom_kill 2\noom_group_kill 0\n');
  t.equal(await c.memoryLimitHit(), true);

  writeFileSync(join(dir, 'cpu.stat'), 'usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\nnr_periods 40\nnr_throttled 12\nthrottled_usec 900000\n');
  writeFileSync(join(dir, 'memory.current'), '10485760\n');
  writeFileSync(join(dir, 'memory.stat'), 'anon 8388608\nfile 2097152\nkernel 4096\n');
  writeFileSync(join(dir, 'cgroup.procs'), '100\n101\n');
  writeFileSync(join(dir, 'cgroup.threads'), '100\n101\n102\n');
  t.same(await c.stats(), {
    timestamp: 1_700_000_000.5,
    processes: 2,
    threads: 3,
    cpus_user_time_secs: 2,
    cpus_system_time_secs: 0.5,
    cpus_limit: 0.5,
    mem_limit_bytes: 32 * 1024 * 1024,
    cpus_nr_periods: 40,
    cpus_nr_throttled: 12,
    cpus_throttled_time_secs: 0.9,
    mem_total_bytes: 10485760,
    mem_rss_bytes: 8388608,
    mem_cache_bytes: 2097152,
  });
  t.equal(await c.processCount(), 2);

  const again = await iso.recover('busy', c.limits, 100);
  t.equal(await again.memoryLimitHit(), true, 'a recovered container counts every OOM kill of its cgroup');
  const gone = await iso.recover('gone', c.limits, undefined);
  t.equal(await gone.memoryLimitHit(), false);
  t.same(await gone.stats(), { timestamp: 1_700_000_000.5, cpus_limit: 0.5, mem_limit_bytes: 32 * 1024 * 1024 });
  t.equal(await gone.signalAll('SIGKILL'), 0);
  await gone.destroy();
});

t.test('open refuses a hierarchy that is not v2 or lacks a controller', async (t) => {
  const root = fakeRoot(t, 'cpu pids');
  await t.rejects(Cgroup2Isolator.open({ root, logger }), { code: 'CONFIG_INVALID', message: /lacks the memory controller/ });
  const plain = mkdtempSync(join(tmpdir(), 'corral-nocg2-'));
  t.teardown(() => rmSync(plain, { recursive: true, force: true }));
  await t.rejects(Cgroup2Isolator.open({ root: plain, logger }), { code: 'CONFIG_INVALID', message: /not a unified cgroup hierarchy/ });
  await t.rejects(Cgroup2Isolator.open({ root: '/sys/fs/cgroup', logger }), { code: 'CONFIG_INVALID', message: /use cgroup1/ });
  await t.rejects(Cgroup2Isolator.open({ root: fakeRoot(t), parent: '/abs', logger }), { code: 'CONFIG_INVALID' });
});

const unified = '/sys/fs/cgroup/unified';
t.test('on the real (controller-less) unified mount: membership, stats, cgroup.kill, destroy', { skip: !readable(join(unified, 'cgroup.controllers')) }, async (t) => {
  const parent = uniqueParent();
  t.teardown(() => removeCgroupTree(join(unified, parent)));
  await t.rejects(Cgroup2Isolator.open({ root: unified, parent, logger }), { code: 'CONFIG_INVALID' }, 'no controllers: refused by default');
  const iso = await Cgroup2Isolator.open({ root: unified, parent, logger, requiredControllers: [] });
  t.same([...iso.features.controllers], []);
  const c = await iso.create('real', { cpus: 1, memMb: 32, pids: 10 });
  const task = launch(t, c, `sh -c 'sleep 100 & while :; do :; done'`);
  await waitFor('two processes', async () => (await c.processCount()) === 2);
  const s = await waitFor('cpu time', async () => {
    const s = await c.stats();
    return (s.cpus_user_time_secs ?? 0) > 0 ? s : undefined;
  });
  t.equal(s.processes, 2);
  t.ok((s.threads ?? 0) >= 2);
  t.notOk('mem_total_bytes' in s, 'no memory controller, no memory numbers');
  t.equal(await c.signalAll('SIGKILL'), 2);
  t.equal((await withTimeout('sh to die', task.exited)).signal, 'SIGKILL');
  t.equal(await c.processCount(), 0);
  t.equal(await c.memoryLimitHit(), false);
  await c.destroy();
  t.notOk(await dirExists(join(unified, parent, 'real')));
});

function readable(path: string): boolean {
  try {
    readFileSync(path);
    return true;
  } catch {
    return false;
  }
}

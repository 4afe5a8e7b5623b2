// The isolation backends' pure helpers, table-driven: limit conversions, stat-file parsers, the
// mapping of kernel files to Mesos statistics, and the OOM decisions.
import t from 'tap';
import {
  cfsQuotaUs, cpuShares, cpuWeight, invalidLimitsReason, joinCgroupLine, memLimitBytes, oomKilledV1, oomKilledV2, parseControllers,
  parseFlatKeyed, parseNumber, parsePidList, parseProcStat, parseVmRssBytes, shellQuote, statsFromV1, statsFromV2,
} from '../../../../src/kernel/agent/isolation/formats';

t.test('cpus become shares, CFS quota and v2 weight', async (t) => {
  const table: Array<[number, number, number, number]> = [
    // cpus, shares, quota µs, weight
    [1, 1024, 100_000, 39],
    [0.5, 512, 50_000, 20],
    [0.2, 205, 20_000, 8],
    [2.5, 2560, 250_000, 98],
    [0.001, 2, 1_000, 1],
    [0.0001, 2, 1_000, 1],
    [256, 262144, 25_600_000, 10000],
  ];
  for (const [cpus, shares, quota, weight] of table) {
    t.equal(cpuShares(cpus), shares, `shares ${cpus}`);
    t.equal(cfsQuotaUs(cpus), quota, `quota ${cpus}`);
    t.equal(cpuWeight(shares), weight, `weight ${shares}`);
  }
  t.equal(cpuWeight(1_000_000), 10000, 'clamped');
  t.equal(memLimitBytes(32), 33554432);
  t.equal(memLimitBytes(0.5), 524288);
});

t.test('limits are checked before they reach the kernel', async (t) => {
  const table: Array<[object, RegExp | undefined]> = [
    [{ cpus: 1, memMb: 32, pids: 10 }, undefined],
    [{ cpus: 0, memMb: 32, pids: 10 }, /cpus/],
    [{ cpus: Number.NaN, memMb: 32, pids: 10 }, /cpus/],
    [{ cpus: 1, memMb: -1, pids: 10 }, /memMb/],
    [{ cpus: 1, memMb: Infinity, pids: 10 }, /memMb/],
    [{ cpus: 1, memMb: 32, pids: 0 }, /pids/],
    [{ cpus: 1, memMb: 32, pids: 1.5 }, /pids/],
  ];
  for (const [limits, want] of table) {
    const reason = invalidLimitsReason(limits as never);
    if (want) t.match(reason, want, JSON.stringify(limits));
    else t.equal(reason, undefined);
  }
});

t.test('shell lines quote paths', async (t) => {
  t.equal(shellQuote(`it's`), `'it'\\''s'`);
  t.equal(joinCgroupLine('/cg/a b/cgroup.procs'), `echo "$self" > '/cg/a b/cgroup.procs' || exit 125`);
});

t.test('flat keyed files, pid lists, controller lists, single numbers', async (t) => {
  t.same(parseFlatKeyed('user 12\nsystem 3\n'), { user: 12, system: 3 });
  t.same(parseFlatKeyed('oom_kill_disable 0\nunder_oom 0\noom_kill 2\n'), { oom_kill_disable: 0, under_oom: 0, oom_kill: 2 });
  t.same(parseFlatKeyed('a 1\nbad\nb x\nc 1 2\n\n  d   4  \n'), { a: 1, d: 4 });
  t.same(parsePidList('12\n13\n\n'), [12, 13]);
  t.same(parsePidList(''), []);
  t.same(parseControllers('cpuset cpu io memory pids\n'), ['cpuset', 'cpu', 'io', 'memory', 'pids']);
  t.same(parseControllers('+cpu +memory\n'), ['cpu', 'memory']);
  t.same(parseControllers(''), []);
  const numbers: Array<[string | undefined, number | undefined]> = [['1048576\n', 1048576], ['max\n', undefined], ['', undefined], [undefined, undefined]];
  for (const [text, want] of numbers) t.equal(parseNumber(text), want, String(text));
});

t.test('/proc/<pid>/stat and status', async (t) => {
  const stat = '4242 (my (odd) cmd) S 1 4242 4242 0 -1 4194560 100 0 0 0 150 25 7 3 20 0 3 0 1000 1000000 250 18446744073709551615';
  t.same(parseProcStat(stat), { pid: 4242, state: 'S', ppid: 1, pgrp: 4242, utime: 150, stime: 25, cutime: 7, cstime: 3, threads: 3 });
  t.equal(parseProcStat('garbage'), undefined);
  t.equal(parseProcStat('1 (x) S 1'), undefined, 'too short');
  t.equal(parseVmRssBytes('Name:\tsleep\nVmRSS:\t    1024 kB\n'), 1048576);
  t.equal(parseVmRssBytes('Name:\tkthreadd\n'), undefined);
});

t.test('cgroup v1 files become Mesos statistics', async (t) => {
  const limits = { cpus: 0.5, memMb: 64, pids: 10 };
  t.same(
    statsFromV1(1000.5, limits, {
      cpuacctStat: { user: 250, system: 50 },
      cpuStat: { nr_periods: 10, nr_throttled: 4, throttled_time: 1_500_000_000 },
      memoryUsage: 9000,
      memoryStat: { rss: 1, cache: 2, total_rss: 4096, total_cache: 8192 },
      procs: 2,
      tasks: 5,
    }),
    {
      timestamp: 1000.5, processes: 2, threads: 5, cpus_user_time_secs: 2.5, cpus_system_time_secs: 0.5, cpus_limit: 0.5,
      mem_limit_bytes: 64 * 1024 * 1024, cpus_nr_periods: 10, cpus_nr_throttled: 4, cpus_throttled_time_secs: 1.5,
      mem_total_bytes: 9000, mem_rss_bytes: 4096, mem_cache_bytes: 8192,
    },
  );
  t.same(statsFromV1(1, limits, { memoryStat: { rss: 1, cache: 2 } }), { timestamp: 1, cpus_limit: 0.5, mem_limit_bytes: 64 * 1024 * 1024, mem_rss_bytes: 1, mem_cache_bytes: 2 }, 'non-hierarchical fallback, unmeasured left out');
});

t.test('cgroup v2 files become Mesos statistics', async (t) => {
  t.same(
    statsFromV2(2, { cpus: 1, memMb: 1, pids: 1 }, { cpuStat: { user_usec: 1_500_000, system_usec: 250_000, throttled_usec: 10 }, memoryCurrent: 5, memoryStat: { anon: 3, file: 2 }, procs: 1, threads: 2 }),
    { timestamp: 2, processes: 1, threads: 2, cpus_user_time_secs: 1.5, cpus_system_time_secs: 0.25, cpus_limit: 1, mem_limit_bytes: 1048576, cpus_throttled_time_secs: 0.00001, mem_total_bytes: 5, mem_rss_bytes: 3, mem_cache_bytes: 2 },
  );
});

t.test('OOM decisions', async (t) => {
  const v1: Array<[Record<string, number>, number, { failcnt?: number; maxUsage?: number; limit: number }, boolean, string]> = [
    [{ oom_kill: 1 }, 0, { limit: 10 }, true, 'oom_kill rose'],
    [{ oom_kill: 1 }, 1, { failcnt: 99, maxUsage: 10, limit: 10 }, false, 'not since create, failcnt ignored'],
    [{ oom_kill: 0, under_oom: 0 }, 0, { failcnt: 5, limit: 10 }, false, 'limit reached but reclaimed'],
    [{ under_oom: 0 }, 0, { failcnt: 0, maxUsage: 10, limit: 10 }, false, 'old kernel, never at limit'],
    [{ under_oom: 0 }, 0, { failcnt: 3, maxUsage: 10, limit: 10 }, true, 'old kernel, failcnt plus usage at limit'],
    [{ under_oom: 1 }, 0, { failcnt: 3, maxUsage: 5, limit: 10 }, true, 'old kernel, under oom'],
    [{ under_oom: 0 }, 0, { failcnt: 3, maxUsage: 5, limit: 10 }, false, 'old kernel, failcnt alone'],
  ];
  for (const [control, baseline, hint, want, why] of v1) t.equal(oomKilledV1(control, baseline, hint), want, why);
  t.equal(oomKilledV2({ oom: 1, oom_kill: 1 }, 0), true);
  t.equal(oomKilledV2({ oom: 1, oom_kill: 1 }, 1), false);
  t.equal(oomKilledV2({ oom: 2 }, 1), true, 'kernels without oom_kill');
  t.equal(oomKilledV2({ max: 5 }, 0), false, 'reaching memory.max is not a kill');
});

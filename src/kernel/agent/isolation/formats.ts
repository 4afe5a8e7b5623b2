// Pure helpers of the isolation backends: how a task's limits become cgroup values, and how the
// kernel's stat files read back as Mesos statistics. No I/O here; the backends own the files.
import type { ContainerLimits, ContainerStats, EnterSteps } from './types';

/** CFS period, in microseconds: quotas are expressed per 100 ms, like Mesos and runc. */
export const CFS_PERIOD_US = 100_000;
/** Smallest CFS quota the kernel accepts, in microseconds. */
export const MIN_CFS_QUOTA_US = 1_000;
/** cgroup v1 `cpu.shares` per cpu, and its floor (the kernel's MIN_SHARES). */
export const SHARES_PER_CPU = 1024;
export const MIN_SHARES = 2;
/** Linux reports process and cpuacct times in USER_HZ ticks; USER_HZ is 100 on every architecture Linux ships today. */
export const USER_HZ = 100;
const MIB = 1024 * 1024;

/** `cpu.shares` for `cpus` (1 cpu = 1024), at least 2. */
export function cpuShares(cpus: number): number {
  return Math.max(MIN_SHARES, Math.round(cpus * SHARES_PER_CPU));
}

/** CFS quota in microseconds per CFS_PERIOD_US for `cpus`, at least 1 ms. */
export function cfsQuotaUs(cpus: number): number {
  return Math.max(MIN_CFS_QUOTA_US, Math.round(cpus * CFS_PERIOD_US));
}

/**
 * cgroup v2 `cpu.weight` (1..10000) for v1 `shares` (2..262144), the conversion runc, crun and
 * Kubernetes use: 1 + ((shares - 2) * 9999) / 262142, integer division.
 */
export function cpuWeight(shares: number): number {
  const weight = 1 + Math.floor(((shares - 2) * 9999) / 262142);
  return Math.min(10_000, Math.max(1, weight));
}

/** The memory limit in bytes (Marathon's `mem` is fractional MiB). */
export function memLimitBytes(memMb: number): number {
  return Math.round(memMb * MIB);
}

/** Why `limits` cannot be applied, or undefined when they can. */
export function invalidLimitsReason(limits: ContainerLimits): string | undefined {
  if (!Number.isFinite(limits.cpus) || limits.cpus <= 0) return `cpus must be a positive number, got ${limits.cpus}`;
  if (!Number.isFinite(limits.memMb) || limits.memMb <= 0) return `memMb must be a positive number, got ${limits.memMb}`;
  if (!Number.isInteger(limits.pids) || limits.pids < 1) return `pids must be a positive integer, got ${limits.pids}`;
  return undefined;
}

/** `word` quoted for POSIX sh. */
export function shellQuote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/**
 * The sh line that moves the task's side (pid `$self`, see launch-scripts.ts) into a cgroup. A
 * failed write stops it (exit 125, sh has already printed why to stderr): an unconfined task must
 * never start.
 */
export function joinCgroupLine(procsFile: string): string {
  return `echo "$self" > ${shellQuote(procsFile)} || exit 125`;
}

/** A container's enter steps as POSIX sh lines (pid `$self`); empty when there is nothing to do. */
export function enterScript(steps: EnterSteps): string {
  const lines = [
    ...steps.makeDirs.map((dir) => `mkdir -p -- ${shellQuote(dir)} || exit 125`),
    ...steps.writes.map(([file, value]) => `printf %s ${shellQuote(value)} > ${shellQuote(file)} || exit 125`),
    ...steps.cgroupProcs.map(joinCgroupLine),
  ];
  if (steps.noCoreDumps) lines.push('ulimit -c 0');
  return lines.join('\n');
}

/** Flat keyed files (`cpu.stat`, `memory.stat`, `memory.events`, `memory.oom_control`, `cpuacct.stat`). */
export function parseFlatKeyed(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const [key, value, extra] = line.trim().split(/\s+/);
    if (key === undefined || value === undefined || extra !== undefined) continue;
    const n = Number(value);
    if (value !== '' && Number.isFinite(n)) out[key] = n;
  }
  return out;
}

/** `cgroup.procs`, `tasks`, `cgroup.threads`: one pid per line. */
export function parsePidList(text: string): number[] {
  return text.split('\n').map((l) => l.trim()).filter((l) => /^\d+$/.test(l)).map(Number);
}

/** `cgroup.controllers` / `cgroup.subtree_control` names (a leading `+` is tolerated). */
export function parseControllers(text: string): string[] {
  return text.split(/\s+/).map((w) => w.replace(/^\+/, '')).filter((w) => w !== '');
}

/** A single number file (`memory.usage_in_bytes`, `memory.current`); undefined for `max` or junk. */
export function parseNumber(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text.trim());
  return text.trim() !== '' && Number.isFinite(n) ? n : undefined;
}

export interface ProcStat {
  pid: number;
  /** R, S, D, Z, T, … (field 3). */
  state: string;
  ppid: number;
  pgrp: number;
  /** Clock ticks (USER_HZ): own user/system time, and that of waited-for children. */
  utime: number;
  stime: number;
  cutime: number;
  cstime: number;
  threads: number;
}

/** `/proc/<pid>/stat`; the command name may hold spaces and parentheses, so fields count from its last `)`. */
export function parseProcStat(text: string): ProcStat | undefined {
  const open = text.indexOf(' (');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return undefined;
  const f = text.slice(close + 2).trim().split(' ');
  // f[0] is field 3 (state); field n is f[n - 3].
  const num = (field: number): number => Number(f[field - 3]);
  const stat: ProcStat = {
    pid: Number(text.slice(0, open)),
    state: f[0] ?? '',
    ppid: num(4),
    pgrp: num(5),
    utime: num(14),
    stime: num(15),
    cutime: num(16),
    cstime: num(17),
    threads: num(20),
  };
  return Object.values(stat).every((v) => typeof v === 'string' || Number.isFinite(v)) ? stat : undefined;
}

/** Resident set size in bytes from `/proc/<pid>/status` (VmRSS, in kB); undefined for kernel threads and zombies. */
export function parseVmRssBytes(status: string): number | undefined {
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  return m ? Number(m[1]) * 1024 : undefined;
}

function limitStats(limits: ContainerLimits): Pick<ContainerStats, 'cpus_limit' | 'mem_limit_bytes'> {
  return { cpus_limit: limits.cpus, mem_limit_bytes: memLimitBytes(limits.memMb) };
}

/** Drops undefined fields, so a backend that cannot measure something leaves it out. */
function defined(stats: ContainerStats): ContainerStats {
  return Object.fromEntries(Object.entries(stats).filter(([, v]) => v !== undefined)) as ContainerStats;
}

export interface V1StatFiles {
  cpuacctStat?: Record<string, number>;
  cpuStat?: Record<string, number>;
  memoryUsage?: number;
  memoryStat?: Record<string, number>;
  procs?: number;
  tasks?: number;
}

/** Statistics from cgroup v1 files: cpuacct ticks, CFS throttling in ns, memory.stat's hierarchical totals. */
export function statsFromV1(timestamp: number, limits: ContainerLimits, files: V1StatFiles): ContainerStats {
  const ticks = (n: number | undefined): number | undefined => (n === undefined ? undefined : n / USER_HZ);
  const ns = (n: number | undefined): number | undefined => (n === undefined ? undefined : n / 1e9);
  const mem = files.memoryStat;
  return defined({
    timestamp,
    processes: files.procs,
    threads: files.tasks,
    cpus_user_time_secs: ticks(files.cpuacctStat?.user),
    cpus_system_time_secs: ticks(files.cpuacctStat?.system),
    ...limitStats(limits),
    cpus_nr_periods: files.cpuStat?.nr_periods,
    cpus_nr_throttled: files.cpuStat?.nr_throttled,
    cpus_throttled_time_secs: ns(files.cpuStat?.throttled_time),
    mem_total_bytes: files.memoryUsage,
    mem_rss_bytes: mem?.total_rss ?? mem?.rss,
    mem_cache_bytes: mem?.total_cache ?? mem?.cache,
  });
}

export interface V2StatFiles {
  cpuStat?: Record<string, number>;
  memoryCurrent?: number;
  memoryStat?: Record<string, number>;
  procs?: number;
  threads?: number;
}

/** Statistics from cgroup v2 files: cpu.stat in µs, memory.stat's anon (≈ RSS) and file (page cache). */
export function statsFromV2(timestamp: number, limits: ContainerLimits, files: V2StatFiles): ContainerStats {
  const us = (n: number | undefined): number | undefined => (n === undefined ? undefined : n / 1e6);
  return defined({
    timestamp,
    processes: files.procs,
    threads: files.threads,
    cpus_user_time_secs: us(files.cpuStat?.user_usec),
    cpus_system_time_secs: us(files.cpuStat?.system_usec),
    ...limitStats(limits),
    cpus_nr_periods: files.cpuStat?.nr_periods,
    cpus_nr_throttled: files.cpuStat?.nr_throttled,
    cpus_throttled_time_secs: us(files.cpuStat?.throttled_usec),
    mem_total_bytes: files.memoryCurrent,
    mem_rss_bytes: files.memoryStat?.anon,
    mem_cache_bytes: files.memoryStat?.file,
  });
}

/**
 * Whether a cgroup v1 memory cgroup OOM-killed a process since `baselineOomKills`. `oom_kill` in
 * memory.oom_control (Linux ≥ 4.13) is the evidence. Older kernels lack it; there a non-zero failcnt
 * (the limit was reached) together with `under_oom` or usage at the limit is the best hint there is.
 */
export function oomKilledV1(oomControl: Record<string, number>, baselineOomKills: number, hint: { failcnt?: number; maxUsage?: number; limit: number }): boolean {
  const kills = oomControl.oom_kill;
  if (kills !== undefined) return kills > baselineOomKills;
  if (!hint.failcnt) return false;
  return oomControl.under_oom === 1 || (hint.maxUsage !== undefined && hint.maxUsage >= hint.limit);
}

/** Whether a cgroup v2 memory cgroup OOM-killed a process since `baseline` (memory.events `oom_kill`, else `oom`). */
export function oomKilledV2(memoryEvents: Record<string, number>, baseline: number): boolean {
  return (memoryEvents.oom_kill ?? memoryEvents.oom ?? 0) > baseline;
}

/** The count oomKilledV2 compares against. */
export function oomCountV2(memoryEvents: Record<string, number>): number {
  return memoryEvents.oom_kill ?? memoryEvents.oom ?? 0;
}

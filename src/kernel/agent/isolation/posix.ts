// posix isolation, for nodes without a writable cgroup hierarchy: a task is its process group. The
// launcher starts each task as the leader of its own session (setsid), so the group id is the
// task's pid; signals go to the whole group and accounting sums /proc over its members.
//
// What posix enforces: no core dumps (`ulimit -c 0`) and killing the whole group.
// What it cannot enforce, and why:
// - memory: no per-task limit exists without cgroups (RLIMIT_AS/RLIMIT_DATA are per process and
//   break runtimes that reserve address space). memoryLimitHit() reports the largest group RSS seen
//   by stats()/memoryLimitHit(); the agent samples it every second and kills a task over its limit,
//   so a task can overshoot between samples.
// - cpu: nothing limits a process group's CPU rate; `cpus` is reported but not applied.
// - pids: RLIMIT_NPROC counts every process of the user, not of the task (tasks sharing a user would
//   share one budget, and root ignores it), so no pids limit is set; a fork bomb is not contained.
// - escape: a process that calls setsid()/setpgid() leaves the group and is neither signalled nor
//   counted; orphans reaped by init take their CPU time with them, so CPU time may step down.
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { systemClock, type Clock } from '../../../shared/clock';
import { CorralError } from '../../../shared/errors';
import type { Logger } from '../../../shared/logger';
import { KILL_TIMEOUT_MS, POLL_MS } from './cgroup-io';
import { checkTask } from './checks';
import { memLimitBytes, parseProcStat, USER_HZ } from './formats';
import { ProcessTable } from './proc-table';
import type { Container, ContainerLimits, ContainerStats, EnterSteps, Isolator } from './types';

export interface PosixOptions {
  logger: Logger;
  clock?: Clock;
  /** Where procfs is mounted; default /proc. */
  procRoot?: string;
}

export class PosixIsolator implements Isolator {
  readonly name = 'posix' as const;
  private readonly table: ProcessTable;
  private readonly clock: Clock;
  /** The agent's own process group, which no container may ever signal. */
  private readonly ownGroup: number;

  constructor(opts: PosixOptions) {
    this.table = new ProcessTable(opts.procRoot);
    this.clock = opts.clock ?? systemClock;
    this.ownGroup = parseProcStat(readFileSync('/proc/self/stat', 'utf8'))?.pgrp ?? process.pid;
  }

  async create(taskId: string, limits: ContainerLimits): Promise<Container> {
    checkTask(taskId, limits);
    return new PosixContainer(taskId, limits, this.table, this.clock, this.ownGroup);
  }

  async recover(taskId: string, limits: ContainerLimits, pid: number | undefined): Promise<Container> {
    const container = await this.create(taskId, limits);
    if (pid !== undefined) container.attach(pid);
    return container;
  }

  /** Nothing outlives a posix container but its processes, which the agent finds by checkpointed pid. */
  async leftovers(): Promise<string[]> {
    return [];
  }
}

class PosixContainer implements Container {
  private pgid: number | undefined;
  /** Date.now() at attach: scans older than this may predate the task. */
  private attachedAt = 0;
  /**
   * Set once a scan finds the group empty. An empty group never regains members (setpgid joins
   * existing groups only), so a later group with this id would be another task's, after pid reuse.
   */
  private ended = false;
  private maxRssBytes = 0;

  constructor(
    readonly taskId: string,
    readonly limits: ContainerLimits,
    private readonly table: ProcessTable,
    private readonly clock: Clock,
    private readonly ownGroup: number,
  ) {}

  enterSteps(): EnterSteps {
    return { makeDirs: [], writes: [], cgroupProcs: [], noCoreDumps: true };
  }

  attach(pid: number): void {
    if (!Number.isInteger(pid) || pid <= 1 || pid === process.pid || pid === this.ownGroup) throw new CorralError('INTERNAL', `Refusing to treat process group ${pid} as task ${this.taskId}`);
    this.pgid = pid;
    this.attachedAt = Date.now();
    this.ended = false;
  }

  async signalAll(signal: NodeJS.Signals): Promise<number> {
    const seen = new Set<number>();
    const round = async (): Promise<boolean> => {
      const members = await this.members(true);
      if (members.length === 0 || this.pgid === undefined) return true;
      for (const p of members) seen.add(p.pid);
      try {
        process.kill(-this.pgid, signal);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
      }
      return false;
    };
    if (signal !== 'SIGKILL') {
      await round();
      return seen.size;
    }
    const deadline = Date.now() + KILL_TIMEOUT_MS;
    while (!(await round()) && Date.now() < deadline) await sleep(POLL_MS);
    return seen.size;
  }

  /** From a fresh scan: callers decide on kills by it. stats() and memoryLimitHit() may use one ≤ 250 ms old. */
  async processCount(): Promise<number> {
    return (await this.members(true)).length;
  }

  async stats(): Promise<ContainerStats> {
    const members = await this.members(false);
    let user = 0;
    let system = 0;
    let threads = 0;
    // A member's c*time holds the children it has waited for, which are no longer members.
    for (const p of members) {
      user += p.utime + p.cutime;
      system += p.stime + p.cstime;
      threads += p.threads;
    }
    const rss = await this.sampleRss(members.map((p) => p.pid));
    return {
      timestamp: this.clock.now() / 1000,
      processes: members.length,
      threads,
      cpus_user_time_secs: user / USER_HZ,
      cpus_system_time_secs: system / USER_HZ,
      cpus_limit: this.limits.cpus,
      mem_rss_bytes: rss,
      mem_limit_bytes: memLimitBytes(this.limits.memMb),
    };
  }

  /** Whether the group's summed RSS (shared pages counted per process) ever exceeded the limit when sampled. */
  async memoryLimitHit(): Promise<boolean> {
    const members = await this.members(false);
    await this.sampleRss(members.map((p) => p.pid));
    return this.maxRssBytes > memLimitBytes(this.limits.memMb);
  }

  /** Nothing to remove: the group vanishes with its last process. */
  async destroy(): Promise<void> {
    this.ended = true;
  }

  private async members(fresh: boolean) {
    if (this.pgid === undefined || this.ended) return [];
    const members = await this.table.group(this.pgid, fresh ? Date.now() : this.attachedAt);
    if (members.length === 0) this.ended = true;
    return members;
  }

  private async sampleRss(pids: number[]): Promise<number> {
    const rss = (await Promise.all(pids.map((pid) => this.table.rssBytes(pid)))).reduce((a, b) => a + b, 0);
    this.maxRssBytes = Math.max(this.maxRssBytes, rss);
    return rss;
  }

  toJSON(): object {
    return { backend: 'posix', taskId: this.taskId, pgid: this.pgid };
  }
}

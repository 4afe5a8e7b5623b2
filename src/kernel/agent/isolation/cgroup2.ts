// cgroup v2 isolation: each task gets `<root>/<parent>/<taskId>` on the unified hierarchy, with the
// cpu, memory and pids controllers delegated down from the root.
//
// - cpus → cpu.weight (v1 shares converted as runc does) plus cpu.max "<quota> 100000".
// - memMb → memory.max, and memory.swap.max 0 where swap accounting exists: with no swap allowed,
//   memory.max is the whole budget, which is what "swap included" means on v2. memory.oom.group 1
//   (where the kernel has it) makes an OOM kill take the whole task, as a task is one unit.
// - pids → pids.max.
// - signalAll('SIGKILL') writes cgroup.kill (Linux ≥ 5.14), which kills every process atomically;
//   older kernels get the kill-until-empty loop.
// - memoryLimitHit: `oom_kill` in memory.events rose above its value at create() (a recovered
//   container compares against 0, as its cgroup was made for this task alone).
// All file access goes through `root`, so tests run it against a fake directory tree.
import { join } from 'node:path';
import { systemClock, type Clock } from '../../../shared/clock';
import { CorralError } from '../../../shared/errors';
import type { Logger } from '../../../shared/logger';
import {
  childCgroups, countLines, exists, KILL_TIMEOUT_MS, killUntilEmpty, makeDir, makeParentDirs, pollUntil, probeWritable,
  readKeyed, readNumber, readOptional, readPids, removeCgroupDir, removeDirs, signalPids, writeValue,
} from './cgroup-io';
import { checkTask, validParent } from './checks';
import { CFS_PERIOD_US, cfsQuotaUs, cpuShares, cpuWeight, memLimitBytes, oomCountV2, oomKilledV2, parseControllers, statsFromV2 } from './formats';
import type { Container, ContainerLimits, ContainerStats, EnterSteps, Isolator } from './types';

export type Cgroup2Controller = 'cpu' | 'memory' | 'pids';
const CONTROLLERS: readonly Cgroup2Controller[] = ['cpu', 'memory', 'pids'];

export interface Cgroup2Options {
  /** Mount point of the unified hierarchy; default /sys/fs/cgroup. */
  root?: string;
  /** Relative path of the cgroup that holds the task cgroups; default `corral`. */
  parent?: string;
  logger: Logger;
  clock?: Clock;
  /**
   * Controllers open() insists on; default all three. Limits of controllers that are not enabled
   * are not applied and their statistics are left out (tests use [] on a controller-less mount).
   */
  requiredControllers?: readonly Cgroup2Controller[];
}

interface Features {
  controllers: ReadonlySet<Cgroup2Controller>;
  /** memory.swap.max exists (swap accounting is on). */
  swapMax: boolean;
  /** memory.oom.group exists (Linux ≥ 4.19). */
  oomGroup: boolean;
}

/** Enables `wanted` for the children of `dir`, writing only the ones not yet enabled. */
async function delegate(dir: string, wanted: readonly Cgroup2Controller[]): Promise<void> {
  const file = join(dir, 'cgroup.subtree_control');
  const enabled = new Set(parseControllers((await readOptional(file)) ?? ''));
  const missing = wanted.filter((c) => !enabled.has(c));
  if (missing.length > 0) await writeValue(file, missing.map((c) => `+${c}`).join(' '));
}

export class Cgroup2Isolator implements Isolator {
  readonly name = 'cgroup2' as const;

  /**
   * Checks the unified hierarchy at `root`, creates the parent cgroup, delegates cpu, memory and pids
   * to it at every level and proves it accepts children. Throws CONFIG_INVALID saying why not.
   */
  static async open(opts: Cgroup2Options): Promise<Cgroup2Isolator> {
    const root = opts.root ?? '/sys/fs/cgroup';
    const parent = validParent(opts.parent ?? 'corral');
    const required = opts.requiredControllers ?? CONTROLLERS;
    const controllersText = await readOptional(join(root, 'cgroup.controllers'));
    if (controllersText === undefined) {
      const v1 = (await exists(join(root, 'memory', 'cgroup.procs'))) ? '; cgroup v1 hierarchies are mounted there, use cgroup1' : '';
      throw new CorralError('CONFIG_INVALID', `cgroup v2: ${root} is not a unified cgroup hierarchy (no cgroup.controllers)${v1}`);
    }
    const available = new Set(parseControllers(controllersText));
    const unavailable = required.filter((c) => !available.has(c));
    if (unavailable.length > 0) {
      throw new CorralError('CONFIG_INVALID', `cgroup v2 at ${root} lacks the ${unavailable.join(', ')} controller (available: ${[...available].join(' ') || 'none'}); they may be bound to cgroup v1 hierarchies`);
    }
    const wanted = CONTROLLERS.filter((c) => available.has(c));
    const parentDir = join(root, parent);
    const created: string[] = [];
    try {
      created.push(...(await makeParentDirs(root, parent)));
      const parts = parent.split('/');
      for (let depth = 0; depth <= parts.length; depth++) await delegate(join(root, ...parts.slice(0, depth)), wanted);
      const enabled = new Set(parseControllers((await readOptional(join(parentDir, 'cgroup.subtree_control'))) ?? ''));
      const notEnabled = required.filter((c) => !enabled.has(c));
      if (notEnabled.length > 0) throw new CorralError('CONFIG_INVALID', `cgroup v2: ${parentDir} does not delegate ${notEnabled.join(', ')} to its children`);
      await probeWritable(parentDir);
      const features: Features = {
        controllers: new Set(CONTROLLERS.filter((c) => enabled.has(c))),
        swapMax: await exists(join(parentDir, 'memory.swap.max')),
        oomGroup: await exists(join(parentDir, 'memory.oom.group')),
      };
      return new Cgroup2Isolator(parentDir, features, opts.logger, opts.clock ?? systemClock);
    } catch (err) {
      await removeDirs(created);
      if (err instanceof CorralError) throw err;
      throw new CorralError('CONFIG_INVALID', `cgroup v2: cannot set up ${parentDir}: ${(err as Error).message}`);
    }
  }

  private constructor(
    /** The parent cgroup's directory. */
    readonly parentDir: string,
    readonly features: Features,
    private readonly logger: Logger,
    private readonly clock: Clock,
  ) {}

  async create(taskId: string, limits: ContainerLimits): Promise<Container> {
    checkTask(taskId, limits);
    const dir = join(this.parentDir, taskId);
    const made = await makeDir(dir);
    try {
      await this.applyLimits(dir, limits);
      const events = await readKeyed(join(dir, 'memory.events'));
      return new Cgroup2Container(taskId, limits, dir, events ? oomCountV2(events) : 0, this.clock);
    } catch (err) {
      if (made) await removeDirs([dir]);
      throw err;
    }
  }

  async recover(taskId: string, limits: ContainerLimits, pid: number | undefined): Promise<Container> {
    checkTask(taskId, limits);
    const dir = join(this.parentDir, taskId);
    if (!(await exists(dir))) this.logger.warn({ event: 'isolation.recover.missing', taskId, pid, dir }, 'task cgroup is gone; the task has no processes left');
    const container = new Cgroup2Container(taskId, limits, dir, 0, this.clock);
    if (pid !== undefined) container.attach(pid);
    return container;
  }

  async leftovers(): Promise<string[]> {
    return (await childCgroups(this.parentDir)).sort();
  }

  private async applyLimits(dir: string, limits: ContainerLimits): Promise<void> {
    const { controllers, swapMax, oomGroup } = this.features;
    if (controllers.has('cpu')) {
      await writeValue(join(dir, 'cpu.weight'), cpuWeight(cpuShares(limits.cpus)));
      await writeValue(join(dir, 'cpu.max'), `${cfsQuotaUs(limits.cpus)} ${CFS_PERIOD_US}`);
    }
    if (controllers.has('memory')) {
      await writeValue(join(dir, 'memory.max'), memLimitBytes(limits.memMb));
      if (swapMax) await writeValue(join(dir, 'memory.swap.max'), 0);
      if (oomGroup) await writeValue(join(dir, 'memory.oom.group'), 1);
    }
    if (controllers.has('pids')) await writeValue(join(dir, 'pids.max'), limits.pids);
  }
}

class Cgroup2Container implements Container {
  private pid: number | undefined;

  constructor(
    readonly taskId: string,
    readonly limits: ContainerLimits,
    private readonly dir: string,
    /** memory.events `oom_kill` when the container was created. */
    private readonly baselineOomKills: number,
    private readonly clock: Clock,
  ) {}

  enterSteps(): EnterSteps {
    return { makeDirs: [], writes: [], cgroupProcs: [join(this.dir, 'cgroup.procs')], noCoreDumps: false };
  }

  /** Membership comes from enterSteps; the pid is only kept for logs. */
  attach(pid: number): void {
    this.pid = pid;
  }

  async signalAll(signal: NodeJS.Signals): Promise<number> {
    const procs = join(this.dir, 'cgroup.procs');
    const pids = await readPids(procs);
    if (signal !== 'SIGKILL') return signalPids(pids, signal);
    if (pids.length === 0) return 0;
    const killFile = join(this.dir, 'cgroup.kill');
    if (await exists(killFile)) {
      await writeValue(killFile, 1);
      await pollUntil(async () => (await readPids(procs)).length === 0, KILL_TIMEOUT_MS);
    }
    return killUntilEmpty(procs, new Set(pids));
  }

  async processCount(): Promise<number> {
    return (await readPids(join(this.dir, 'cgroup.procs'))).length;
  }

  async stats(): Promise<ContainerStats> {
    const [cpuStat, memoryCurrent, memoryStat, procs, threads] = await Promise.all([
      readKeyed(join(this.dir, 'cpu.stat')),
      readNumber(join(this.dir, 'memory.current')),
      readKeyed(join(this.dir, 'memory.stat')),
      countLines(join(this.dir, 'cgroup.procs')),
      countLines(join(this.dir, 'cgroup.threads')),
    ]);
    return statsFromV2(this.clock.now() / 1000, this.limits, { cpuStat, memoryCurrent, memoryStat, procs, threads });
  }

  async memoryLimitHit(): Promise<boolean> {
    const events = await readKeyed(join(this.dir, 'memory.events'));
    return events ? oomKilledV2(events, this.baselineOomKills) : false;
  }

  async destroy(): Promise<void> {
    await removeCgroupDir(this.dir);
  }

  toJSON(): object {
    return { backend: 'cgroup2', taskId: this.taskId, pid: this.pid, dir: this.dir };
  }
}

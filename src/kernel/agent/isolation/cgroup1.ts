// cgroup v1 isolation: each task gets `<hierarchy>/<parent>/<taskId>` in the memory, cpu, cpuacct
// (when mounted apart from cpu), pids and, when mounted, freezer hierarchies.
//
// - cpus → cpu.shares (1024 per cpu) plus a CFS quota per 100 ms period, so a task gets its share
//   under contention and never more than `cpus` when the node is idle.
// - memMb → memory.limit_in_bytes, and memory.memsw.limit_in_bytes the same when swap accounting
//   exists, so the limit includes swap. Over it the kernel OOM-kills inside the cgroup.
// - pids → pids.max (processes and threads).
// - setupInTask: the task's own side makes a new task's cgroups and writes their limits, before it
//   joins them (EnterSteps.makeDirs/writes; the native launcher does it in C), so none of that
//   cgroupfs work, which waits on the kernel's cgroup locks under load, runs on the agent's event
//   loop. create() then only checks that no cgroup of that name is left from before: one that is
//   is set up by the agent as without the option, because its old values must be read first.
// - memoryLimitHit: `oom_kill` in memory.oom_control rose above its value at create(). A recovered
//   container compares against 0: its cgroup was created for this task alone, so any OOM kill in it
//   is this task's. memory.failcnt only counts reaching the limit (the kernel may have reclaimed
//   its way out), so it is used only as a hint on kernels older than 4.13, which lack `oom_kill`.
import { existsSync, promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { systemClock, type Clock } from '../../../shared/clock';
import { CorralError } from '../../../shared/errors';
import type { Logger } from '../../../shared/logger';
import {
  childCgroups, countLines, exists, killUntilEmpty, makeDirsAsync, makeParentDirs, pollUntil, probeWritable, readKeyed, readNumber,
  readOptional, readPids, removeCgroupDir, removeDirs, signalPids, writeValue,
} from './cgroup-io';
import { CFS_PERIOD_US, cfsQuotaUs, cpuShares, memLimitBytes, oomKilledV1, statsFromV1 } from './formats';
import { checkTask, validParent } from './checks';
import type { Container, ContainerLimits, ContainerStats, EnterSteps, Isolator } from './types';

type Controller = 'memory' | 'cpu' | 'cpuacct' | 'pids' | 'freezer';
const REQUIRED: readonly Controller[] = ['memory', 'cpu', 'pids'];
const OPTIONAL: readonly Controller[] = ['cpuacct', 'freezer'];
/** A file every non-root cgroup of a hierarchy carrying the controller has. */
const MARKER: Record<Controller, string> = {
  memory: 'memory.limit_in_bytes',
  cpu: 'cpu.shares',
  cpuacct: 'cpuacct.stat',
  pids: 'pids.max',
  freezer: 'freezer.state',
};
/** How long a freeze may take before signalAll kills without it, in ms. */
const FREEZE_TIMEOUT_MS = 1_000;

/** One directory per controller; co-mounted controllers (cpu,cpuacct) share one. */
type Dirs = { memory: string; cpu: string; pids: string; cpuacct?: string; freezer?: string };

function distinct(dirs: Dirs): string[] {
  return [...new Set(Object.values(dirs).filter((d): d is string => d !== undefined))];
}

function under(dirs: Dirs, name: string): Dirs {
  return Object.fromEntries(Object.entries(dirs).map(([c, d]) => [c, join(d, name)])) as Dirs;
}

export interface Cgroup1Options {
  /** Where the v1 hierarchies are mounted, one directory per controller; default /sys/fs/cgroup. */
  root?: string;
  /** Relative path of the cgroup that holds the task cgroups in every hierarchy; default `corral`. */
  parent?: string;
  logger: Logger;
  clock?: Clock;
  /** A new task's cgroups are made and limited by the task's side (see the file comment); default false. */
  setupInTask?: boolean;
}

/** What the kernel offers in every cgroup alike, probed once on the parents. */
interface Probes {
  /** CFS bandwidth control (cpu.cfs_quota_us). */
  cfs: boolean;
  /** Swap accounting (memory.memsw.*). */
  memsw: boolean;
}

/**
 * The control-file writes that give a cgroup made just now `limits`, in order. A new cgroup has
 * the kernel's defaults (period 100 ms, memsw unlimited), so the memory limit can go first and the
 * period need not be written.
 */
function freshLimitWrites(dirs: Dirs, limits: ContainerLimits, probes: Probes): Array<[string, string]> {
  const bytes = String(memLimitBytes(limits.memMb));
  return [
    [join(dirs.cpu, 'cpu.shares'), String(cpuShares(limits.cpus))],
    ...(probes.cfs ? [[join(dirs.cpu, 'cpu.cfs_quota_us'), String(cfsQuotaUs(limits.cpus))] as [string, string]] : []),
    [join(dirs.memory, 'memory.limit_in_bytes'), bytes],
    ...(probes.memsw ? [[join(dirs.memory, 'memory.memsw.limit_in_bytes'), bytes] as [string, string]] : []),
    [join(dirs.pids, 'pids.max'), String(limits.pids)],
  ];
}

export class Cgroup1Isolator implements Isolator {
  readonly name = 'cgroup1' as const;

  /**
   * Finds the hierarchies under `root`, creates the parent cgroup in each and proves it accepts
   * children. Throws CONFIG_INVALID saying what is missing when memory, cpu or pids is unusable.
   */
  static async open(opts: Cgroup1Options): Promise<Cgroup1Isolator> {
    const root = opts.root ?? '/sys/fs/cgroup';
    const parent = validParent(opts.parent ?? 'corral');
    const mounts: Partial<Record<Controller, string>> = {};
    for (const c of [...REQUIRED, ...OPTIONAL]) {
      const dir = join(root, c);
      if (await exists(join(dir, 'cgroup.procs'))) mounts[c] = await fsp.realpath(dir);
      else if (REQUIRED.includes(c)) throw new CorralError('CONFIG_INVALID', `cgroup v1: no ${c} hierarchy is mounted at ${dir}`);
    }
    const created: string[] = [];
    try {
      for (const mount of new Set(Object.values(mounts))) created.push(...(await makeParentDirs(mount, parent)));
      const parents: Partial<Record<Controller, string>> = {};
      for (const [c, mount] of Object.entries(mounts) as Array<[Controller, string]>) {
        const dir = join(mount, parent);
        if (await exists(join(dir, MARKER[c]))) parents[c] = dir;
        else if (REQUIRED.includes(c)) throw new CorralError('CONFIG_INVALID', `cgroup v1: ${mount} does not carry the ${c} controller`);
      }
      const dirs = parents as Dirs;
      for (const dir of distinct(dirs)) await probeWritable(dir);
      const probes = { cfs: await exists(join(dirs.cpu, 'cpu.cfs_quota_us')), memsw: await exists(join(dirs.memory, 'memory.memsw.limit_in_bytes')) };
      if (!probes.cfs) opts.logger.warn({ event: 'isolation.cfs_missing', dir: dirs.cpu }, 'kernel lacks CFS bandwidth control; cpus are shares only');
      return new Cgroup1Isolator(dirs, probes, opts.setupInTask ?? false, opts.logger, opts.clock ?? systemClock);
    } catch (err) {
      await removeDirs(created);
      if (err instanceof CorralError) throw err;
      throw new CorralError('CONFIG_INVALID', `cgroup v1 hierarchies under ${root} are not writable: ${(err as Error).message}`);
    }
  }

  private constructor(
    /** The parent cgroup in each hierarchy. */
    readonly parents: Readonly<Dirs>,
    private readonly probes: Probes,
    private readonly setupInTask: boolean,
    private readonly logger: Logger,
    private readonly clock: Clock,
  ) {}

  /** The parent cgroup's directory in every hierarchy (for operators and tests that clean up). */
  parentDirs(): string[] {
    return distinct(this.parents);
  }

  async create(taskId: string, limits: ContainerLimits): Promise<Container> {
    checkTask(taskId, limits);
    const dirs = under(this.parents, taskId);
    if (this.setupInTask && distinct(dirs).every((dir) => !existsSync(dir))) {
      const setup = { makeDirs: distinct(dirs), writes: freshLimitWrites(dirs, limits, this.probes) };
      return new Cgroup1Container(taskId, limits, dirs, 0, this.clock, setup);
    }
    const created: string[] = [];
    try {
      // Off the event loop, all hierarchies at once: a cgroup mkdir waits for the kernel's cgroup lock.
      created.push(...(await makeDirsAsync(distinct(dirs))));
      // A cgroup made just now has the kernel's defaults (period 100 ms, memsw unlimited, no OOM
      // kill yet), so its values need not be read first; one left by a crash is read.
      const fresh = created.includes(dirs.cpu) && created.includes(dirs.memory);
      await this.applyLimits(dirs, limits, fresh);
      const baseline = fresh ? 0 : ((await readKeyed(join(dirs.memory, 'memory.oom_control')))?.oom_kill ?? 0);
      return new Cgroup1Container(taskId, limits, dirs, baseline, this.clock);
    } catch (err) {
      await removeDirs(created);
      throw err;
    }
  }

  async recover(taskId: string, limits: ContainerLimits, pid: number | undefined): Promise<Container> {
    checkTask(taskId, limits);
    const dirs = under(this.parents, taskId);
    if (!(await exists(dirs.memory))) this.logger.warn({ event: 'isolation.recover.missing', taskId, pid, dir: dirs.memory }, 'task cgroup is gone; the task has no processes left');
    const container = new Cgroup1Container(taskId, limits, dirs, 0, this.clock);
    if (pid !== undefined) container.attach(pid);
    return container;
  }

  async leftovers(): Promise<string[]> {
    const ids = new Set<string>();
    for (const dir of distinct(this.parents)) for (const id of await childCgroups(dir)) ids.add(id);
    return [...ids].sort();
  }

  private async applyLimits(dirs: Dirs, limits: ContainerLimits, fresh: boolean): Promise<void> {
    if (fresh) {
      for (const [file, value] of freshLimitWrites(dirs, limits, this.probes)) await writeValue(file, value);
      return;
    }
    await writeValue(join(dirs.cpu, 'cpu.shares'), cpuShares(limits.cpus));
    if (this.probes.cfs) {
      await writeValue(join(dirs.cpu, 'cpu.cfs_period_us'), CFS_PERIOD_US);
      await writeValue(join(dirs.cpu, 'cpu.cfs_quota_us'), cfsQuotaUs(limits.cpus));
    }
    // memory.limit_in_bytes may never exceed memory.memsw.limit_in_bytes, so raise memsw first.
    const bytes = memLimitBytes(limits.memMb);
    const memsw = join(dirs.memory, 'memory.memsw.limit_in_bytes');
    const limit = join(dirs.memory, 'memory.limit_in_bytes');
    const currentMemsw = this.probes.memsw ? await readNumber(memsw) : undefined;
    if (currentMemsw === undefined) await writeValue(limit, bytes);
    else if (bytes > currentMemsw) await writeValue(memsw, bytes).then(() => writeValue(limit, bytes));
    else await writeValue(limit, bytes).then(() => writeValue(memsw, bytes));
    await writeValue(join(dirs.pids, 'pids.max'), limits.pids);
  }
}

class Cgroup1Container implements Container {
  private pid: number | undefined;

  constructor(
    readonly taskId: string,
    readonly limits: ContainerLimits,
    private readonly dirs: Dirs,
    /** memory.oom_control `oom_kill` when the container was created. */
    private readonly baselineOomKills: number,
    private readonly clock: Clock,
    /** The cgroups the task's side makes and limits before it joins them (setupInTask), if any. */
    private readonly setup: Pick<EnterSteps, 'makeDirs' | 'writes'> = { makeDirs: [], writes: [] },
  ) {}

  enterSteps(): EnterSteps {
    return { ...this.setup, cgroupProcs: distinct(this.dirs).map((dir) => join(dir, 'cgroup.procs')), noCoreDumps: false };
  }

  /** Membership comes from enterSteps; the pid is only kept for logs. */
  attach(pid: number): void {
    this.pid = pid;
  }

  async signalAll(signal: NodeJS.Signals): Promise<number> {
    const procs = join(this.dirs.pids, 'cgroup.procs');
    if (signal !== 'SIGKILL') return signalPids(await readPids(procs), signal);
    const killed = new Set<number>();
    if (this.dirs.freezer && (await readPids(procs)).length > 0) await this.killFrozen(this.dirs.freezer, procs, killed);
    return killUntilEmpty(procs, killed);
  }

  /** Freezes the cgroup so nothing can fork while it is killed, kills everything, thaws (killed tasks die on thaw). */
  private async killFrozen(freezer: string, procs: string, killed: Set<number>): Promise<void> {
    const state = join(freezer, 'freezer.state');
    try {
      await writeValue(state, 'FROZEN');
      await pollUntil(async () => (await readOptional(state))?.trim() !== 'FREEZING', FREEZE_TIMEOUT_MS);
      const pids = await readPids(procs);
      signalPids(pids, 'SIGKILL');
      for (const pid of pids) killed.add(pid);
    } finally {
      await writeValue(state, 'THAWED').catch(() => undefined);
    }
  }

  async processCount(): Promise<number> {
    return (await readPids(join(this.dirs.pids, 'cgroup.procs'))).length;
  }

  async stats(): Promise<ContainerStats> {
    const { memory, cpu, pids } = this.dirs;
    const [cpuacctStat, cpuStat, memoryUsage, memoryStat, procs, tasks] = await Promise.all([
      this.dirs.cpuacct ? readKeyed(join(this.dirs.cpuacct, 'cpuacct.stat')) : undefined,
      readKeyed(join(cpu, 'cpu.stat')),
      readNumber(join(memory, 'memory.usage_in_bytes')),
      readKeyed(join(memory, 'memory.stat')),
      countLines(join(pids, 'cgroup.procs')),
      countLines(join(pids, 'tasks')),
    ]);
    return statsFromV1(this.clock.now() / 1000, this.limits, { cpuacctStat, cpuStat, memoryUsage, memoryStat, procs, tasks });
  }

  async memoryLimitHit(): Promise<boolean> {
    const dir = this.dirs.memory;
    const oomControl = await readKeyed(join(dir, 'memory.oom_control'));
    if (!oomControl) return false;
    if (oomControl.oom_kill !== undefined) return oomKilledV1(oomControl, this.baselineOomKills, { limit: 0 });
    const [memswFail, fail, memswMax, max] = await Promise.all(
      ['memory.memsw.failcnt', 'memory.failcnt', 'memory.memsw.max_usage_in_bytes', 'memory.max_usage_in_bytes'].map((f) => readNumber(join(dir, f))),
    );
    return oomKilledV1(oomControl, this.baselineOomKills, { failcnt: memswFail ?? fail, maxUsage: memswMax ?? max, limit: memLimitBytes(this.limits.memMb) });
  }

  async destroy(): Promise<void> {
    for (const dir of distinct(this.dirs)) await removeCgroupDir(dir);
  }

  toJSON(): object {
    return { backend: 'cgroup1', taskId: this.taskId, pid: this.pid, dirs: this.dirs };
  }
}

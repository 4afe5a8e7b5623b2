// The per-task supervisor's process side, shared by the launcher and recovery: where system tools
// live, how a supervisor is recognised after a restart (pid + start time), how its recorded exit
// status reads, and the poll that notices supervisors that end without a word. The shell side is in
// launch-scripts.ts, the fork server that runs it in launcher.ts.
import { spawnSync } from 'node:child_process';
import { accessSync, constants as fsConstants, readFileSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { delimiter, join } from 'node:path';
import type { Clock, TimerHandle } from '../../shared/clock';

/** Where the system tools live; a task's own PATH never decides which binary the agent runs. */
const SYSTEM_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

const toolCache = new Map<string, string>();
/** Absolute path of a system tool (setsid, env, unshare, setpriv); throws when it is missing. */
export function systemTool(name: string): string {
  const cached = toolCache.get(name);
  if (cached) return cached;
  for (const dir of SYSTEM_PATH.split(delimiter)) {
    const path = join(dir, name);
    try {
      accessSync(path, fsConstants.X_OK);
      toolCache.set(name, path);
      return path;
    } catch {
      // keep looking
    }
  }
  throw new Error(`'${name}' is not installed (looked in ${SYSTEM_PATH})`);
}

/** A supervisor this agent started or re-adopted, named by pid and start time. */
export interface SupervisorHandle {
  readonly pid: number;
  readonly startTime: number;
}

/**
 * Field 22 of /proc/<pid>/stat: when the process started, in clock ticks since boot. With the pid
 * it names a process uniquely, so a recycled pid is never mistaken for our supervisor.
 */
export function processStartTime(pid: number): number | undefined {
  const stat = readStat(pid);
  if (stat === undefined) return undefined;
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[19]);
  return Number.isFinite(ticks) ? ticks : undefined;
}

/** The process exists, is not a zombie, and started at `startTime`. */
export function isSameProcessAlive(pid: number, startTime: number): boolean {
  const stat = readStat(pid);
  if (stat === undefined) return false;
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return fields[0] !== 'Z' && fields[0] !== 'X' && Number(fields[19]) === startTime;
}

function readStat(pid: number): string | undefined {
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
}

/** How a task ended, from the supervisor's `$?`. */
export function decodeExitStatus(status: number): { code: number | null; signal: string | null } {
  if (status > 128 && status <= 128 + 64) return { code: null, signal: signalName(status - 128) };
  return { code: status, signal: null };
}

function signalName(n: number): string {
  const found = Object.entries(osConstants.signals).find(([, v]) => v === n);
  return found ? found[0] : `signal ${n}`;
}

/**
 * Watches supervisors by polling their pid and start time on the injected clock: those re-adopted
 * after a restart (nobody tells of their end), and as a fallback those launched, in case one is
 * killed before it can say `exited`. One timer for all of them.
 */
export class SupervisorWatch {
  private readonly watched = new Map<SupervisorHandle, () => void>();
  private timer: TimerHandle | undefined;

  constructor(
    private readonly clock: Clock,
    /** Poll period in ms. */
    private readonly everyMs: number,
  ) {}

  watch(handle: SupervisorHandle, onGone: () => void): void {
    this.watched.set(handle, onGone);
    this.timer ??= this.clock.setInterval(() => this.poll(), this.everyMs);
  }

  unwatch(handle: SupervisorHandle): void {
    this.watched.delete(handle);
  }

  close(): void {
    this.watched.clear();
    this.timer?.cancel();
    this.timer = undefined;
  }

  private poll(): void {
    for (const [handle, onGone] of [...this.watched]) {
      if (isSameProcessAlive(handle.pid, handle.startTime)) continue;
      this.watched.delete(handle);
      onGone();
    }
    if (this.watched.size === 0) this.close();
  }
}

/**
 * Whether tasks can get their own PID namespace here: root, and `unshare --pid --fork --mount-proc`
 * works (it does not inside some containers). Probed once by whoever builds the agent.
 */
export function pidNamespaceAvailable(): boolean {
  if (process.getuid?.() !== 0) return false;
  try {
    const unshare = systemTool('unshare');
    return spawnSync(unshare, ['--pid', '--fork', '--mount-proc', '--kill-child', '/bin/true'], { stdio: 'ignore', timeout: 5_000 }).status === 0;
  } catch {
    return false;
  }
}

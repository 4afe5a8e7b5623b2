// The per-task supervisor: one POSIX sh process, started detached in its own session, that outlives
// the agent. It first records itself (`supervisor`: its pid and start time, so a restarted agent can
// tell it from a process that reused its pid), then starts the task as its child in a NEW session
// (so signals to the task never reach it), writes the task's pid to `task.pid` and to fd 3 (a
// socket the agent reads while it lives),
// waits for the task, and writes the task's wait status to `exit_status` (tmp + mv, so a reader
// never sees half of it). kill -9 of the agent leaves supervisor and task running; a restarted agent
// re-adopts the supervisor by pid + start time, or reads `exit_status` when it has gone.
//
// The task's side gets the socket as fd 4 and writes `running` on it just before it execs the
// task's own program (after cgroups were joined, namespaces made and privileges dropped), so the
// agent reports TASK_RUNNING — and sends a SIGTERM — only once there is a program to receive it.
//
// Exit statuses are sh's `$?`: 0..128 an exit code, 128+N "killed by signal N". A task that itself
// exits with 129..192 is therefore reported as killed by a signal: sh cannot tell the two apart.
//
// The supervisor script is a constant; everything variable (the meta dir, the task side's script,
// tool paths, the task's argv) travels as positional parameters, so nothing a framework chooses is
// ever parsed as shell code. Writes to the agent's socket ignore SIGPIPE (the agent may be gone),
// and every shell restores the default before the task's program is exec'd.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { accessSync, constants as fsConstants, readFileSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { delimiter, join } from 'node:path';
import type { Clock, TimerHandle } from '../../shared/clock';

/** $1 meta dir, $2 the task side's script, $3 setsid, $4 mv, $5… the launcher argv. */
export const SUPERVISOR_SCRIPT = [
  'd=$1 e=$2 setsid=$3 mv=$4',
  'shift 4',
  // Field 22 of /proc/$$/stat is the start time; the command name before it is `sh`, one word.
  'read -r _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ st _ </proc/$$/stat',
  'echo "$$ $st" >"$d/supervisor"',
  '"$setsid" /bin/sh -c "$e" corral-task "$@" </dev/null 4>&3 3>&- &',
  't=$!',
  'echo "$t" >"$d/task.pid"',
  // Set after the fork above, so the task keeps the default SIGPIPE.
  "trap '' PIPE",
  'echo "pid $t" >&3',
  'exec 3>&-',
  'wait "$t"',
  's=$?',
  'echo "$s" >"$d/exit_status.tmp" && "$mv" -f "$d/exit_status.tmp" "$d/exit_status"',
  'exit "$s"',
].join('\n');

/** Says `running` on fd 4, then closes it; SIGPIPE ignored only for the write. */
const SAY_RUNNING = "trap '' PIPE; echo running >&4; trap - PIPE";

/**
 * pid 1 of a task's PID namespace: runs the task as its child and waits for it. A shell without
 * traps as pid 1 ignores SIGTERM (the kernel drops signals init has no handler for), so the task's
 * own process — not pid 1 — receives the agent's SIGTERM and decides; when it ends, pid 1 exits
 * with its status and the kernel kills whatever is left in the namespace.
 */
export const NAMESPACE_INIT_SCRIPT = `"$@" 4>&- & ${SAY_RUNNING}; exec 4>&-; wait $!`;

/**
 * The script of the task's session leader: the isolator's enter script (join cgroups, set rlimits;
 * `$$` is the task's pid), then exec the launcher. Without a PID namespace nothing follows that
 * could say `running`, so this shell says it.
 */
export function taskSideScript(enterScript: string, pidNamespace: boolean): string {
  const exec = pidNamespace ? 'exec "$@"' : `${SAY_RUNNING}; exec "$@" 4>&-`;
  return enterScript.trim() === '' ? exec : `${enterScript}\n${exec}`;
}

/** Where the system tools live; a task's own PATH never decides which binary the agent runs. */
const SYSTEM_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

const toolCache = new Map<string, string>();
/** Absolute path of a system tool (setsid, mv, unshare, setpriv); throws when it is missing. */
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

export interface LauncherSpec {
  /** The task's own argv (`/bin/sh -c value` or program + arguments). */
  argv: string[];
  /** Switch to this user before exec; undefined keeps the agent's user. */
  user?: { uid: number; gid: number };
  /** Run the task as pid 1's child in its own PID namespace with its own /proc (root only). */
  pidNamespace: boolean;
}

/**
 * The argv that follows the enter script. With a PID namespace: `unshare` (new PID + mount
 * namespace, /proc remounted; it stays in the task's cgroup as the namespace's parent, kills the
 * namespace if it dies, and switches to the task user itself, so no setpriv runs), the namespace
 * init, then the task. Without: `setpriv` when the user changes, then the task. Either way the task
 * gets the user's uid and primary gid and no supplementary groups.
 */
export function launcherArgv(spec: LauncherSpec): string[] {
  const argv: string[] = [];
  if (spec.pidNamespace) {
    argv.push(systemTool('unshare'), '--pid', '--fork', '--mount-proc', '--kill-child');
    if (spec.user) argv.push(`--setgid=${spec.user.gid}`, `--setuid=${spec.user.uid}`);
    argv.push('/bin/sh', '-c', NAMESPACE_INIT_SCRIPT, 'corral-init');
  } else if (spec.user) {
    argv.push(systemTool('setpriv'), `--reuid=${spec.user.uid}`, `--regid=${spec.user.gid}`, '--clear-groups', '--');
  }
  return [...argv, ...spec.argv];
}

export interface SupervisorSpec {
  metaDir: string;
  /** taskSideScript(container.enterScript(), pidNamespace). */
  taskScript: string;
  launcher: string[];
  cwd: string;
  env: Record<string, string>;
  stdoutFd: number;
  stderrFd: number;
}

export interface SupervisorEvents {
  /** The task's pid (its session and process group id), as the supervisor reported it. */
  onTaskPid(pid: number): void;
  /** The task's program is about to be exec'd (after onTaskPid). */
  onRunning(): void;
  /**
   * The supervisor exited and its socket is drained (so onTaskPid, if it comes, comes first);
   * `exit_status` says how the task ended, if it got that far.
   */
  onExit(): void;
}

/** A supervisor this agent started (its child) or re-adopted (polled, since it is not our child). */
export interface SupervisorHandle {
  readonly pid: number;
  readonly startTime: number;
}

/**
 * Starts a supervisor. Throws when spawn fails synchronously (e.g. a NUL byte in an argument);
 * returns once the process exists, so the caller can checkpoint its pid in the same tick.
 */
export function startSupervisor(spec: SupervisorSpec, events: SupervisorEvents): SupervisorHandle & { child: ChildProcess } {
  const child = spawn('/bin/sh', ['-c', SUPERVISOR_SCRIPT, 'corral-supervisor', spec.metaDir, spec.taskScript, systemTool('setsid'), systemTool('mv'), ...spec.launcher], {
    cwd: spec.cwd,
    env: spec.env,
    stdio: ['ignore', spec.stdoutFd, spec.stderrFd, 'pipe'],
    detached: true,
  });
  const pid = child.pid;
  if (pid === undefined) {
    // Only when /bin/sh itself cannot be spawned; 'error' says why.
    child.on('error', () => undefined);
    throw new Error('the task supervisor (/bin/sh) could not be started');
  }
  // Lines from the supervisor ("pid N") and the task's side ("running"), in either order.
  let text = '';
  let pidSeen = false;
  let runningSeen = false;
  const pipe = child.stdio[3];
  pipe?.on('data', (chunk: Buffer) => {
    text += chunk.toString();
    const pid = /^pid (\d+)$/m.exec(text);
    if (pid && !pidSeen) {
      pidSeen = true;
      events.onTaskPid(Number(pid[1]));
    }
    if (pidSeen && !runningSeen && /^running$/m.test(text)) {
      runningSeen = true;
      events.onRunning();
    }
  });
  pipe?.on('error', () => undefined);
  child.on('error', () => undefined);
  child.once('close', () => events.onExit());
  return { pid, startTime: processStartTime(pid) ?? 0, child };
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
 * Watches re-adopted supervisors (no longer our children, so no exit event) by polling their pid
 * and start time on the injected clock. One timer for all of them.
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

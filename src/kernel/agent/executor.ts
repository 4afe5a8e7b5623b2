// The imperative shell around one task process. Each task is the leader of its own process group
// (detached), so signals reach everything it started; its stdout/stderr are the sandbox files,
// handed to the child as file descriptors so output never flows through the agent and is kept
// even if the agent dies.
import { spawn, type ChildProcess } from 'node:child_process';
import type { Clock, TimerHandle } from '../../shared/clock';
import type { CommandInfo } from '../types';

/** argv of a command: `/bin/sh -c value` for shell commands, `value arguments…` otherwise. */
export function commandArgv(command: CommandInfo): string[] {
  return command.shell ? ['/bin/sh', '-c', command.value] : [command.value, ...(command.arguments ?? [])];
}

export interface TaskEnvironmentInput {
  /** The agent's own base environment (PATH, HOME, LANG, …), chosen by whoever builds the agent. */
  base: Readonly<Record<string, string>>;
  command: CommandInfo;
  taskId: string;
  sandbox: string;
  /** The agent's hostname, given to the task as HOST unless the framework set HOST itself. */
  hostname: string;
}

/**
 * A task's environment: base, then the framework's (PORTx, MARATHON_*, …), then the agent's own
 * names, which the framework cannot override because they describe where the task really runs.
 */
export function taskEnvironment(input: TaskEnvironmentInput): Record<string, string> {
  const env: Record<string, string> = { ...input.base, HOST: input.hostname, ...input.command.environment };
  env.CORRAL_TASK_ID = input.taskId;
  env.CORRAL_SANDBOX = input.sandbox;
  env.MESOS_TASK_ID = input.taskId;
  env.MESOS_SANDBOX = input.sandbox;
  return env;
}

export interface ProcessSpec {
  argv: string[];
  cwd: string;
  env: Record<string, string>;
  stdoutFd: number;
  stderrFd: number;
}

export interface ProcessEvents {
  /** The program is running (exec succeeded). */
  onSpawn(pid: number): void;
  /** The group leader exited; the rest of its group has been SIGKILLed. */
  onExit(code: number | null, signal: string | null): void;
  /** The program could not be started (e.g. ENOENT); no onSpawn or onExit follows. */
  onSpawnError(err: Error): void;
}

export class TaskProcess {
  private exited = false;
  private killTimer: TimerHandle | undefined;
  /** When the pending SIGKILL fires, in clock milliseconds. */
  private killDeadline = Infinity;

  private constructor(
    private readonly child: ChildProcess,
    private readonly clock: Clock,
  ) {}

  /**
   * Starts the process. Throws when spawn fails synchronously (e.g. invalid arguments); failures
   * libuv reports later, like a missing program, arrive as onSpawnError.
   */
  static start(spec: ProcessSpec, clock: Clock, events: ProcessEvents): TaskProcess {
    const [file, ...args] = spec.argv;
    const child = spawn(file ?? '', args, {
      cwd: spec.cwd,
      env: spec.env,
      stdio: ['ignore', spec.stdoutFd, spec.stderrFd],
      detached: true,
    });
    const proc = new TaskProcess(child, clock);
    let failed = false;
    child.once('spawn', () => {
      if (child.pid !== undefined) events.onSpawn(child.pid);
    });
    child.on('error', (err) => {
      // After a successful spawn, 'error' only reports a failed child.kill(), which is never used.
      if (child.pid !== undefined || failed) return;
      failed = true;
      proc.exited = true;
      events.onSpawnError(err);
    });
    child.once('exit', (code, signal) => {
      if (failed) return;
      proc.exited = true;
      proc.killTimer?.cancel();
      // The leader is gone; anything it left behind in its group goes with it.
      proc.signalGroup('SIGKILL');
      events.onExit(code, signal);
    });
    return proc;
  }

  /**
   * SIGTERM to the whole group now, SIGKILL after `graceMs` if the leader is still alive. A later
   * call can bring the SIGKILL closer, never push it back.
   */
  terminate(graceMs: number): void {
    if (this.exited) return;
    const deadline = this.clock.now() + Math.max(0, graceMs);
    if (deadline >= this.killDeadline) return;
    this.killDeadline = deadline;
    this.signalGroup('SIGTERM');
    this.killTimer?.cancel();
    this.killTimer = this.clock.setTimeout(() => this.signalGroup('SIGKILL'), Math.max(0, graceMs));
  }

  /** Sends `signal` to the task's process group; false when there is no such group any more. */
  signalGroup(signal: NodeJS.Signals): boolean {
    const pid = this.child.pid;
    if (pid === undefined) return false;
    try {
      process.kill(-pid, signal);
      return true;
    } catch {
      // ESRCH: the group is already empty. Nothing else is expected for our own children.
      return false;
    }
  }
}

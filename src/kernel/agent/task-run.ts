// One task's life on the agent, from staging to cleanup: sandbox and checkpoint, fetch, container,
// supervisor, kill, health checks, and how its end is reported. The Agent decides what to run and
// delivers the updates; a TaskRun does the work and reports state changes through `report`.
import { join } from 'node:path';
import type { TimerHandle } from '../../shared/clock';
import { isCorralError } from '../../shared/errors';
import type { TaskInfo } from '../types';
import type { TaskCheckpoint } from './checkpoint';
import { exitOutcome } from './exit-outcome';
import { fetchArtifacts } from './fetcher';
import type { HealthMonitor } from './health';
import type { Container, ContainerStats } from './isolation/types';
import { argvSaysRunning, launchArgv } from './launch-scripts';
import { closeSandboxFiles, createSandbox, openSandbox, type SandboxOwner } from './sandbox';
import { decodeExitStatus, type SupervisorHandle } from './supervisor';
import { reapContainer } from './reaping';
import type { RunContext, StatusFields } from './run-context';
import { sampleMemoryLimit, startHealthChecks } from './task-watchers';

type Phase = 'queued' | 'preparing' | 'ready' | 'spawned' | 'finished';

export class TaskRun {
  phase: Phase = 'queued';
  container: Container | undefined;
  taskPid: number | undefined;
  private supervisor: SupervisorHandle | undefined;
  private readonly abort = new AbortController();
  private killTimer: TimerHandle | undefined;
  /** When the pending SIGKILL fires, in clock ms. */
  private killDeadline = Infinity;
  /** The strongest signal asked for so far; re-sent when the task's pid or program appears. */
  private requestedSignal: NodeJS.Signals | undefined;
  /** The task's program runs (the task side said so, or it was adopted). */
  private running = false;
  private health: HealthMonitor | undefined;
  private memorySampler: TimerHandle | undefined;
  private memoryHit = false;
  private launcher: string[] = [];
  /** Prefixes this launch's lines from its supervisor (see launch-scripts.ts). */
  private launchKey = 0;
  /** Without the exec helper, a task with a later startAt is handed to the launcher then. */
  private startTimer: TimerHandle | undefined;
  /** An adopted task still held until its startAt is running from then (its word went to the old agent). */
  private heldTimer: TimerHandle | undefined;

  constructor(
    private readonly ctx: RunContext,
    readonly saved: TaskCheckpoint,
    readonly env: Record<string, string>,
    private readonly report: (fields: StatusFields) => void,
  ) {}

  get task(): TaskInfo {
    return this.saved.task;
  }

  get owner(): SandboxOwner {
    return this.saved.switchUser ? { uid: this.saved.user.uid, gid: this.saved.user.gid } : undefined;
  }

  get killRequested(): boolean {
    return this.saved.killRequested === true;
  }

  /**
   * Synchronous first step of a launch (run in batches): checks the command, writes the checkpoint,
   * creates the sandbox, reports TASK_STARTING, then fetches and creates the container in the
   * background; `onReady` is called when the task can be spawned.
   */
  stage(argv: string[], onReady: (run: TaskRun) => void): void {
    if (this.killRequested) return this.end({ state: 'TASK_KILLED', source: 'SOURCE_AGENT', reason: 'REASON_TASK_KILLED_DURING_LAUNCH', message: 'Killed before it started' });
    if ([...argv, ...Object.keys(this.env), ...Object.values(this.env)].some((s) => s.includes('\0'))) {
      return this.launchFailed('The command or its environment contains a NUL byte');
    }
    try {
      this.ctx.checkpoints.create(this.task.taskId, this.saved);
      createSandbox(this.saved.sandbox, this.owner);
    } catch (err) {
      return this.launchFailed((err as Error).message);
    }
    this.report({ state: 'TASK_STARTING', source: 'SOURCE_EXECUTOR' });
    this.phase = 'preparing';
    void this.prepare(argv).then((ready) => ready && onReady(this));
  }

  private async prepare(argv: string[]): Promise<boolean> {
    try {
      if (this.task.fetch?.length) {
        await fetchArtifacts(this.task.fetch, { sandbox: this.saved.sandbox, cache: this.ctx.fetchCache(), owner: this.owner, user: this.saved.user.name, signal: this.abort.signal });
      }
      if (this.killRequested) throw new Error('killed');
      const missing = this.ctx.programs.missing(argv[0] ?? '', this.saved.sandbox, this.env.PATH ?? '');
      if (missing) {
        this.launchFailed(missing);
        return false;
      }
      this.container = await this.ctx.isolator.create(this.task.taskId, this.saved.limits);
      this.launchKey = this.ctx.launcher.reserveKey();
      this.launcher = launchArgv({ argv, env: this.env, user: this.saved.switchUser ? this.saved.user : undefined, pidNamespace: this.ctx.pidNamespace, key: this.launchKey, execHelper: this.ctx.execHelper, startAt: this.task.startAt });
      this.phase = 'ready';
      return true;
    } catch (err) {
      if (this.killRequested) {
        await this.reapContainer();
        this.end({ state: 'TASK_KILLED', source: 'SOURCE_AGENT', reason: 'REASON_TASK_KILLED_DURING_LAUNCH', message: 'Killed before it started' });
      } else {
        this.launchFailed(isCorralError(err) ? err.message : `Container could not be created: ${(err as Error).message}`);
      }
      return false;
    }
  }

  /**
   * Hands the task to the launcher (in a spawn batch); its supervisor reports itself on the shared
   * pipe (onSupervisor), and launchedWatch polls it from then on in case it dies without a word.
   * The exec helper holds a task's program until its startAt; the shell chain is handed over then.
   */
  spawn(): void {
    const container = this.container!;
    const wait = this.heldFor();
    if (!this.ctx.execHelper && wait > 0 && !this.killRequested) {
      this.startTimer = this.ctx.clock.setTimeout(() => {
        this.startTimer = undefined;
        this.spawn();
      }, wait);
      return;
    }
    if (this.killRequested) {
      void this.reapContainer().then(() => this.end({ state: 'TASK_KILLED', source: 'SOURCE_AGENT', reason: 'REASON_TASK_KILLED_DURING_LAUNCH', message: 'Killed before it started' }));
      return;
    }
    try {
      // The shell launcher's supervisor opens the logs for appending: they are created here first,
      // with the task user as owner. The native one creates them itself (LaunchLine.logOwner).
      if (!this.ctx.execHelper) closeSandboxFiles(openSandbox(this.saved.sandbox, this.owner));
      this.ctx.launcher.start(
        {
          key: this.launchKey,
          metaDir: this.ctx.checkpoints.dir(this.task.taskId),
          cwd: this.saved.sandbox,
          stdoutPath: join(this.saved.sandbox, 'stdout'),
          stderrPath: join(this.saved.sandbox, 'stderr'),
          logOwner: this.owner,
          enter: container.enterSteps(),
          argv: this.launcher,
          argvSaysRunning: argvSaysRunning(this.ctx),
        },
        {
          onStarted: (supervisor, taskPid) => this.onSupervisor(supervisor, taskPid),
          onRunning: (at) => this.onRunning(false, at),
          onExit: () => void this.finish(),
          onFailed: (message) => void this.reapContainer().then(() => this.launchFailed(message)),
        },
      );
      this.phase = 'spawned';
    } catch (err) {
      void this.reapContainer().then(() => this.launchFailed((err as Error).message));
    }
  }

  private onSupervisor(supervisor: SupervisorHandle, taskPid: number): void {
    if (this.phase === 'finished') return;
    this.supervisor = supervisor;
    // The supervisor recorded itself on disk before it started the task; this copy is checkpointed
    // with the next update.
    this.saved.supervisor = { pid: supervisor.pid, startTime: supervisor.startTime };
    this.ctx.launchedWatch.watch(supervisor, () => void this.finish());
    this.ctx.logger.debug({ event: 'agent_task_spawned', taskId: this.task.taskId, supervisorPid: supervisor.pid }, 'task supervisor started');
    this.onTaskPid(taskPid);
  }

  /** Takes over a task whose supervisor outlived an earlier agent run. */
  adopt(container: Container, supervisor: SupervisorHandle, taskPid: number | undefined, stillRunningState: boolean): void {
    this.container = container;
    this.supervisor = supervisor;
    this.phase = 'spawned';
    this.ctx.watch.watch(supervisor, () => void this.finish());
    if (taskPid !== undefined) {
      this.onTaskPid(taskPid);
      // The program's exec is known from `running` (native launcher), else assumed: the task is
      // there, unless it is still held until its startAt.
      const held = this.heldFor();
      const ranAt = this.ctx.checkpoints.runningAt(this.task.taskId);
      if (!stillRunningState && ranAt === undefined && held > 0) this.heldTimer = this.ctx.clock.setTimeout(() => this.onRunning(false, this.task.startAt), held);
      else this.onRunning(stillRunningState, ranAt, Infinity);
    }
    if (this.killRequested) this.terminate((this.task.killGracePeriodSeconds ?? this.ctx.killGraceSeconds) * 1000);
  }

  private onTaskPid(pid: number): void {
    if (this.taskPid !== undefined || this.phase === 'finished') return;
    this.taskPid = pid;
    try {
      this.container?.attach(pid);
    } catch (err) {
      this.ctx.logger.error({ event: 'agent_container_attach_failed', taskId: this.task.taskId, pid, err }, 'container refused the task pid');
    }
    // Checkpointed with the next write (RUNNING); the supervisor's task.pid has it meanwhile.
    this.saved.taskPid = pid;
    if (this.requestedSignal === 'SIGKILL') this.signal('SIGKILL');
  }

  /** How long until the task's startAt, in ms (0 or less: its program is not held). */
  private heldFor(): number {
    return (this.task.startAt ?? 0) - this.ctx.clock.now();
  }

  /**
   * `at`: when the exec helper said so, by its clock; used when it is not later than now and at
   * most `maxAgeMs` old (one recorded on disk before an agent restart may be as old as the outage).
   */
  private onRunning(alreadyReported: boolean, at?: number, maxAgeMs = 60_000): void {
    if (this.running || this.phase === 'finished') return;
    this.running = true;
    const now = this.ctx.clock.now();
    const since = at !== undefined && at <= now && now - at < maxAgeMs ? at : now;
    // Checkpointed with the RUNNING update (or the next one).
    this.saved.runningAt ??= since;
    if (this.requestedSignal) this.signal(this.requestedSignal);
    if (this.killRequested) return;
    if (!alreadyReported) this.report({ state: 'TASK_RUNNING', source: 'SOURCE_EXECUTOR', at: since });
    this.startWatchers();
  }

  private startWatchers(): void {
    const logger = this.ctx.logger.child({ taskId: this.task.taskId });
    this.health = startHealthChecks(this.task.healthChecks, { env: this.env, cwd: this.saved.sandbox, user: this.owner, clock: this.ctx.clock, logger, startedAt: this.saved.runningAt }, (healthy, healthCheckResults) => {
      if (this.killRequested || this.phase === 'finished') return;
      this.report({ state: 'TASK_RUNNING', source: 'SOURCE_EXECUTOR', reason: 'REASON_TASK_HEALTH_CHECK_STATUS_UPDATED', healthy, healthCheckResults });
    });
    // posix cannot enforce a memory limit: sample it and kill the task over it.
    if (this.ctx.isolator.name === 'posix' && this.container) {
      this.memorySampler = sampleMemoryLimit(this.ctx.clock, this.container, () => {
        this.memoryHit = true;
        this.terminate(0);
      });
    }
  }

  /**
   * SIGTERM now, SIGKILL after `graceMs`; a later call can bring the SIGKILL closer, never push it
   * back. The request is checkpointed with the TASK_KILLING update the agent posts next.
   */
  kill(graceMs: number): void {
    this.saved.killRequested = true;
    if (this.phase === 'preparing') this.abort.abort();
    if (this.startTimer) {
      this.startTimer.cancel();
      this.startTimer = undefined;
      this.spawn();
    }
    if (this.phase === 'spawned') this.terminate(graceMs);
  }

  private terminate(graceMs: number): void {
    // Held until its startAt, the program has not run: nothing to stop gracefully.
    if (!this.running && this.heldFor() > 0) graceMs = 0;
    const deadline = this.ctx.clock.now() + Math.max(0, graceMs);
    if (deadline >= this.killDeadline) return;
    this.killDeadline = deadline;
    this.killTimer?.cancel();
    if (graceMs <= 0) return this.signal('SIGKILL');
    this.signal('SIGTERM');
    this.killTimer = this.ctx.clock.setTimeout(() => this.signal('SIGKILL'), graceMs);
  }

  /**
   * Signals every process of the task: its container and its process group (the PID namespace's
   * parent). A SIGTERM waits until the task's program runs (onRunning re-sends it): sent earlier it
   * would reach only the launcher, which dies of it or passes it by.
   */
  private signal(signal: NodeJS.Signals): void {
    if (this.phase === 'finished') return;
    if (this.requestedSignal !== 'SIGKILL') this.requestedSignal = signal;
    if (signal !== 'SIGKILL' && !this.running) return;
    void this.container?.signalAll(signal).catch((err) => this.ctx.logger.warn({ event: 'agent_task_signal_failed', taskId: this.task.taskId, signal, err }, 'could not signal the container'));
    if (this.taskPid === undefined) return;
    try {
      process.kill(-this.taskPid, signal);
    } catch {
      // ESRCH: the group is already empty.
    }
  }

  stats(): Promise<ContainerStats> {
    return this.container!.stats();
  }

  /**
   * The supervisor is gone: read how the task ended, remove whatever is left of it, then report.
   * `lostMessage` is for tasks whose end nobody recorded (found after an agent restart).
   */
  async finish(lostMessage?: string): Promise<void> {
    if (this.phase === 'finished') return;
    this.phase = 'finished';
    this.killTimer?.cancel();
    this.startTimer?.cancel();
    this.heldTimer?.cancel();
    this.memorySampler?.cancel();
    this.health?.stop();
    if (this.supervisor) {
      this.ctx.watch.unwatch(this.supervisor);
      this.ctx.launchedWatch.unwatch(this.supervisor);
    }
    this.taskPid ??= this.ctx.checkpoints.taskPid(this.task.taskId);
    const exitStatus = this.ctx.checkpoints.exitStatus(this.task.taskId);
    // Started and ended while no agent listened (found after a restart): it did run, and when.
    const ranAt = this.running || this.saved.runningAt !== undefined ? undefined : this.ctx.checkpoints.runningAt(this.task.taskId);
    if (ranAt !== undefined && ranAt <= this.ctx.clock.now()) {
      this.saved.runningAt = ranAt;
      this.report({ state: 'TASK_RUNNING', source: 'SOURCE_EXECUTOR', at: ranAt });
    }
    const limitHit = this.memoryHit || ((await this.container?.memoryLimitHit().catch(() => false)) ?? false);
    await this.reapContainer();
    if (exitStatus === undefined) {
      if (lostMessage) return this.end({ state: 'TASK_LOST', source: 'SOURCE_AGENT', reason: 'REASON_AGENT_RESTARTED', message: lostMessage });
      const how = `The task's supervisor (pid ${this.supervisor?.pid}) ended without recording how the task ended`;
      return this.end({ state: this.killRequested ? 'TASK_KILLED' : 'TASK_FAILED', source: 'SOURCE_AGENT', reason: 'REASON_EXECUTOR_TERMINATED', message: how });
    }
    const { code, signal } = decodeExitStatus(exitStatus);
    const outcome = exitOutcome(code, signal, this.killRequested);
    if (limitHit && !this.killRequested) {
      const message = `Memory limit of ${this.saved.limits.memMb} MiB exceeded; the task was killed (${outcome.message})`;
      return this.end({ state: 'TASK_FAILED', source: 'SOURCE_AGENT', reason: 'REASON_CONTAINER_LIMITATION_MEMORY', message, ...(code !== null ? { exitCode: code } : {}) });
    }
    this.end({ ...outcome, source: 'SOURCE_EXECUTOR' });
  }

  /** Kills whatever is left of the task and removes its container. */
  private async reapContainer(): Promise<void> {
    const container = this.container;
    this.container = undefined;
    if (container) await reapContainer(container, this.taskPid, this.ctx.logger);
  }

  private launchFailed(message: string): void {
    this.ctx.logger.warn({ event: 'agent_task_launch_failed', taskId: this.task.taskId, message }, 'task could not be started');
    this.end({ state: 'TASK_FAILED', source: 'SOURCE_AGENT', reason: 'REASON_CONTAINER_LAUNCH_FAILED', message });
  }

  private end(fields: StatusFields): void {
    this.phase = 'finished';
    this.report(fields);
  }
}

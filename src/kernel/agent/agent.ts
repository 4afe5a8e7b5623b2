// The agent: the resource kernel's hands. It runs the tasks the master launches, reports every
// change of their state at least once, and serves their logs. Decisions about an ended process
// live in exitOutcome; process handling in executor; delivery in StatusOutbox.
import { randomUUID } from 'node:crypto';
import { userInfo } from 'node:os';
import type { Clock } from '../../shared/clock';
import { errors } from '../../shared/errors';
import type { Logger } from '../../shared/logger';
import type { AgentLink, LogChunk, LogStream, MasterLink } from '../agent-link';
import { isTerminal, type Resources, type StatusSource, type TaskInfo, type TaskReason, type TaskState, type TaskStatus } from '../types';
import { exitOutcome } from './exit-outcome';
import { commandArgv, taskEnvironment, TaskProcess } from './executor';
import { closeSandboxFiles, invalidTaskIdReason, openSandbox, readLog, sandboxDir, type SandboxFiles } from './sandbox';
import { StatusOutbox } from './status-outbox';

export interface AgentOptions {
  id: string;
  hostname: string;
  /** Sandboxes live in `<dataDir>/sandboxes/<taskId>/`. */
  dataDir: string;
  /** What the agent offers in total. */
  resources: Resources;
  attributes: Record<string, string>;
  version: string;
  /** SIGTERM-to-SIGKILL grace in seconds when neither the kill nor the task names one. */
  killGraceSeconds: number;
  /** Drives status timestamps, kill grace timers and status resends. */
  clock: Clock;
  logger: Logger;
  master: MasterLink;
  /** Base environment of every task (e.g. PATH, HOME, LANG picked by the config loader). */
  env: Readonly<Record<string, string>>;
  /** Milliseconds between resends of unacknowledged status updates. Default 10000. */
  statusRetryMs?: number;
  /** How many ended, fully acknowledged tasks are remembered for taskStatuses() and readLog. Default 1000. */
  completedTaskLimit?: number;
}

/** Tasks spawned per turn of the event loop during a big launch. */
const SPAWN_BATCH = 32;

interface StatusFields {
  state: TaskState;
  source: StatusSource;
  reason?: TaskReason;
  message?: string;
  exitCode?: number;
}

interface TaskRecord {
  task: TaskInfo;
  sandbox: string;
  latest: TaskStatus;
  proc?: TaskProcess;
  killRequested: boolean;
  /** uuid of the terminal update; the record is retired once it is acknowledged. */
  terminalUuid?: string;
  /** Resolves when the task has reached a terminal state. */
  ended: Promise<void>;
  markEnded: () => void;
}

/** What is kept of a task after its terminal update was acknowledged. */
type CompletedTask = Pick<TaskRecord, 'task' | 'sandbox' | 'latest'>;

export class Agent implements AgentLink {
  private readonly tasks = new Map<string, TaskRecord>();
  /** Insertion-ordered, oldest first; bounded by completedTaskLimit. */
  private readonly completed = new Map<string, CompletedTask>();
  private readonly outbox: StatusOutbox;
  /** Tracked tasks waiting for their process to be spawned, in launch order. */
  private readonly spawnQueue: TaskRecord[] = [];
  private readonly log: Logger;
  private started = false;
  private stopping: Promise<void> | undefined;

  constructor(private readonly opts: AgentOptions) {
    this.log = opts.logger.child({ agentId: opts.id });
    this.outbox = new StatusOutbox(opts.clock, opts.statusRetryMs ?? 10_000, (status) => this.deliver(status));
  }

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    const { id, hostname, resources, attributes, version, clock } = this.opts;
    this.opts.master.registerAgent({ id, hostname, resources, attributes, version, registeredAt: clock.now() }, this);
    this.log.info({ event: 'agent_started', hostname, resources }, 'agent registered with the master');
  }

  /** Kills every live task (SIGTERM, SIGKILL after its grace) and resolves once all have ended. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      const live = [...this.tasks.values()].filter((r) => !isTerminal(r.latest.state));
      for (const record of live) this.kill(record.task.taskId);
      await Promise.all(live.map((r) => r.ended));
      this.outbox.close();
      this.log.info({ event: 'agent_stopped', killed: live.length }, 'agent stopped');
    })();
    return this.stopping;
  }

  launch(task: TaskInfo): void {
    const invalid = this.launchRefusal(task);
    if (invalid) {
      this.log.warn({ event: 'agent_task_refused', taskId: task.taskId, why: invalid }, 'task refused');
      this.outbox.post(this.status(task, { state: 'TASK_FAILED', source: 'SOURCE_AGENT', reason: 'REASON_TASK_INVALID', message: invalid }));
      return;
    }
    this.spawnQueue.push(this.track(task));
    if (this.spawnQueue.length === 1) setImmediate(() => this.drainSpawnQueue());
  }

  /**
   * Spawns queued tasks in batches, yielding to the event loop between batches, so a launch of
   * hundreds of tasks does not freeze status updates, kills and the API while it forks.
   * (setImmediate only yields a turn of the loop; it measures no time, so no Clock is needed.)
   */
  private drainSpawnQueue(): void {
    for (const record of this.spawnQueue.splice(0, SPAWN_BATCH)) this.spawn(record);
    if (this.spawnQueue.length > 0) setImmediate(() => this.drainSpawnQueue());
  }

  private spawn(record: TaskRecord): void {
    const task = record.task;
    if (record.killRequested) {
      this.update(record, { state: 'TASK_KILLED', source: 'SOURCE_AGENT', reason: 'REASON_TASK_KILLED_DURING_LAUNCH', message: 'Killed before it started' });
      return;
    }
    let files: SandboxFiles | undefined;
    try {
      files = openSandbox(record.sandbox);
      record.proc = TaskProcess.start(
        {
          argv: commandArgv(task.command),
          cwd: record.sandbox,
          env: taskEnvironment({ base: this.opts.env, command: task.command, taskId: task.taskId, sandbox: record.sandbox, hostname: this.opts.hostname }),
          stdoutFd: files.stdoutFd,
          stderrFd: files.stderrFd,
        },
        this.opts.clock,
        {
          onSpawn: (pid) => {
            this.log.info({ event: 'agent_task_spawned', taskId: task.taskId, pid }, 'task process started');
            if (!record.killRequested) this.update(record, { state: 'TASK_RUNNING', source: 'SOURCE_EXECUTOR' });
          },
          onExit: (code, signal) => this.update(record, { ...exitOutcome(code, signal, record.killRequested), source: 'SOURCE_EXECUTOR' }),
          onSpawnError: (err) => this.launchFailed(record, err),
        },
      );
    } catch (err) {
      this.launchFailed(record, err as Error);
      return;
    } finally {
      // The child holds its own copies of the log descriptors.
      if (files) closeSandboxFiles(files);
    }
    this.update(record, { state: 'TASK_STARTING', source: 'SOURCE_EXECUTOR' });
  }

  kill(taskId: string, gracePeriodSeconds?: number): void {
    const record = this.tasks.get(taskId);
    if (!record) {
      this.answerUnknownKill(taskId);
      return;
    }
    // An ended task's terminal update is already being delivered until acknowledged.
    if (isTerminal(record.latest.state)) return;
    const grace = [gracePeriodSeconds, record.task.killGracePeriodSeconds, this.opts.killGraceSeconds].find(
      (g): g is number => typeof g === 'number' && Number.isFinite(g) && g >= 0,
    );
    this.log.info({ event: 'agent_task_kill', taskId, graceSeconds: grace }, 'killing task');
    if (!record.killRequested) {
      record.killRequested = true;
      this.update(record, { state: 'TASK_KILLING', source: 'SOURCE_EXECUTOR' });
    }
    record.proc?.terminate((grace ?? 0) * 1000);
  }

  acknowledge(taskId: string, uuid: string): void {
    const acked = this.outbox.acknowledge(taskId, uuid);
    const record = this.tasks.get(taskId);
    if (!acked || !record || record.terminalUuid !== uuid) return;
    // The framework knows how the task ended; older unacknowledged updates no longer matter.
    this.outbox.discard(taskId);
    this.tasks.delete(taskId);
    this.completed.set(taskId, { task: record.task, sandbox: record.sandbox, latest: record.latest });
    const limit = this.opts.completedTaskLimit ?? 1000;
    for (const oldest of this.completed.keys()) {
      if (this.completed.size <= limit) break;
      this.completed.delete(oldest);
    }
  }

  async readLog(taskId: string, stream: LogStream, offset: number, maxBytes: number): Promise<LogChunk> {
    const known = this.tasks.get(taskId) ?? this.completed.get(taskId);
    if (!known) throw errors.taskNotFound(taskId);
    return readLog(known.sandbox, stream, offset, maxBytes);
  }

  /** Latest status of every running, ending or recently ended task, without uuids (nothing to acknowledge). */
  taskStatuses(): TaskStatus[] {
    return [...this.tasks.values(), ...this.completed.values()].map((r) => withoutUuid(r.latest));
  }

  /** Why a launch is refused, or undefined to run it. */
  private launchRefusal(task: TaskInfo): string | undefined {
    if (this.stopping) return 'The agent is stopping';
    const badId = invalidTaskIdReason(task.taskId);
    if (badId) return badId;
    const known = this.tasks.get(task.taskId);
    if (known && !isTerminal(known.latest.state)) return `Task '${task.taskId}' is already running on this agent`;
    if (known) return `Task '${task.taskId}' has ended but its final status is not acknowledged yet`;
    if (!task.command || typeof task.command.value !== 'string' || task.command.value === '') return 'Task has no command';
    const user = task.command.user;
    // Switching users belongs to the isolation backends; until they exist a task asking for
    // another user is refused rather than silently run as the agent's user.
    if (user !== undefined && user !== agentUser()) return `Running tasks as user '${user}' is not supported yet (the agent runs as '${agentUser()}')`;
    return undefined;
  }

  private track(task: TaskInfo): TaskRecord {
    let markEnded = (): void => {};
    const ended = new Promise<void>((resolve) => (markEnded = resolve));
    const record: TaskRecord = {
      task,
      sandbox: sandboxDir(this.opts.dataDir, task.taskId),
      latest: withoutUuid(this.status(task, { state: 'TASK_STAGING', source: 'SOURCE_AGENT' })),
      killRequested: false,
      ended,
      markEnded,
    };
    // A relaunch of an ended task id starts afresh in the same sandbox (logs are appended).
    this.completed.delete(task.taskId);
    this.tasks.set(task.taskId, record);
    return record;
  }

  private launchFailed(record: TaskRecord, err: Error): void {
    this.log.warn({ event: 'agent_task_launch_failed', taskId: record.task.taskId, err }, 'task could not be started');
    this.update(record, { state: 'TASK_FAILED', source: 'SOURCE_AGENT', reason: 'REASON_CONTAINER_LAUNCH_FAILED', message: err.message });
  }

  /** Records and sends a new state of a tracked task. */
  private update(record: TaskRecord, fields: StatusFields): void {
    if (isTerminal(record.latest.state)) return;
    const status = this.status(record.task, fields);
    record.latest = status;
    if (isTerminal(status.state)) {
      record.terminalUuid = status.uuid;
      record.markEnded();
    }
    this.log.info({ event: 'agent_task_status', taskId: status.taskId, state: status.state, reason: status.reason, message: status.message }, 'task status');
    this.outbox.post(status);
  }

  /**
   * A kill for a task this agent does not run. Mesos answers with TASK_LOST; so do we, as a
   * reconciliation answer: without a uuid and sent once, because the agent does not know the
   * task's framework and so nobody could acknowledge it. A task that ended and whose end was
   * acknowledged is answered the same way with its real final state.
   */
  private answerUnknownKill(taskId: string): void {
    const completed = this.completed.get(taskId);
    const answer: TaskStatus = completed
      ? { ...withoutUuid(completed.latest), timestamp: this.opts.clock.now() }
      : {
          taskId,
          agentId: this.opts.id,
          frameworkId: '',
          state: 'TASK_LOST',
          source: 'SOURCE_AGENT',
          reason: 'REASON_RECONCILIATION',
          message: `Task '${taskId}' is not known to this agent`,
          timestamp: this.opts.clock.now(),
        };
    this.log.info({ event: 'agent_task_kill_unknown', taskId, state: answer.state }, 'kill for a task that is not running');
    this.deliver(answer);
  }

  private status(task: Pick<TaskInfo, 'taskId' | 'agentId' | 'frameworkId'>, fields: StatusFields): TaskStatus {
    const status: TaskStatus = {
      taskId: task.taskId,
      agentId: task.agentId ?? this.opts.id,
      frameworkId: task.frameworkId,
      state: fields.state,
      source: fields.source,
      timestamp: this.opts.clock.now(),
      uuid: randomUUID(),
    };
    if (fields.reason !== undefined) status.reason = fields.reason;
    if (fields.message !== undefined) status.message = fields.message;
    if (fields.exitCode !== undefined) status.exitCode = fields.exitCode;
    return status;
  }

  private deliver(status: TaskStatus): void {
    try {
      this.opts.master.statusUpdate(status);
    } catch (err) {
      // Kept in the outbox (when it carries a uuid) and sent again on the next retry.
      this.log.warn({ event: 'agent_status_undelivered', taskId: status.taskId, state: status.state, err }, 'status update not delivered');
    }
  }
}

function withoutUuid(status: TaskStatus): TaskStatus {
  const { uuid: _uuid, ...rest } = status;
  return rest;
}

let cachedUser: string | undefined;
function agentUser(): string {
  if (cachedUser === undefined) {
    try {
      cachedUser = userInfo().username;
    } catch {
      cachedUser = String(process.getuid?.() ?? '');
    }
  }
  return cachedUser;
}

// The agent: the resource kernel's hands. It runs the tasks the master launches, each under a
// supervisor that outlives the agent; reports every change of their state at least once, across its
// own restarts (the outbox is checkpointed); re-adopts its tasks after a restart; and serves their
// logs and statistics. A task's process side lives in TaskRun, recovery in recovery.ts, delivery in
// StatusOutbox, durable state in CheckpointStore.
import { join } from 'node:path';
import type { Clock } from '../../shared/clock';
import { CorralError, errors } from '../../shared/errors';
import type { Logger } from '../../shared/logger';
import type { AgentLink, ContainerStats, LogChunk, LogStream, MasterLink, TaskStatistics } from '../agent-link';
import { isTerminal, type Resources, type TaskInfo, type TaskStatus } from '../types';
import { BatchQueue } from './batch-queue';
import { CheckpointStore, runState, type TaskCheckpoint } from './checkpoint';
import { commandArgv, taskEnvironment } from './executor';
import { FetchCache } from './fetch-cache';
import type { Isolator } from './isolation/types';
import { LogRotator } from './log-rotation';
import { ProgramLookup } from './program-lookup';
import { keepingProcessAlive } from './reaping';
import { recoverTasks, type RecoveryHost } from './recovery';
import type { RunContext } from './run-context';
import { invalidTaskIdReason, readLog, sandboxDir } from './sandbox';
import { StatusOutbox } from './status-outbox';
import { locateExecHelper } from './exec-helper';
import { SupervisorLauncher } from './launcher';
import { SupervisorWatch } from './supervisor';
import { containerLimits, launchRefusal, newStatus, runningStatistics, unknownTaskAnswer, withoutUuid, type StatusFields } from './task-status';
import { TaskRun } from './task-run';
import { UserResolver, type TaskUser } from './users';
import { tuningOf, type AgentTuning } from './tuning';
import { detectCommands } from './commands';

export interface AgentOptions extends Partial<AgentTuning> {
  id: string;
  hostname: string;
  /** Sandboxes live in `<dataDir>/sandboxes/<taskId>/`, checkpoints in `<dataDir>/meta/`. */
  dataDir: string;
  /** What the agent offers in total. */
  resources: Resources;
  attributes: Record<string, string>;
  /** Static reservations: role → the part of `resources` only that role's frameworks are offered. */
  reservations?: Record<string, Resources>;
  version: string;
  /** SIGTERM-to-SIGKILL grace in seconds when neither the kill nor the task names one. */
  killGraceSeconds: number;
  /** Drives status timestamps, kill grace timers, status resends, log checks and supervisor polls. */
  clock: Clock;
  logger: Logger;
  master: MasterLink;
  /** Base environment of every task (e.g. PATH, HOME, LANG picked by the config loader). */
  env: Readonly<Record<string, string>>;
  /** The isolation backend (selectIsolator); its name is reported as AgentInfo.isolation. */
  isolator: Isolator;
  /** Executables this host has, advertised as AgentInfo.commands; detected on PATH when left out. */
  commands?: readonly string[];
}

/** Tasks staged or spawned per turn of the event loop during a big launch. */
const SPAWN_BATCH = 32;

interface TaskRecord {
  task: TaskInfo;
  sandbox: string;
  latest: TaskStatus;
  run: TaskRun;
  /** uuid of the terminal update; the record is retired once it is acknowledged. */
  terminalUuid?: string;
  /** Resolves when the task has reached a terminal state. */
  ended: Promise<void>;
  markEnded: () => void;
}

/** What is kept of a task after its terminal update was acknowledged. */
type CompletedTask = Pick<TaskRecord, 'task' | 'sandbox' | 'latest'>;

export class Agent implements AgentLink {
  private readonly records = new Map<string, TaskRecord>();
  /** Insertion-ordered, oldest first; bounded by completedTaskLimit. */
  private readonly completed = new Map<string, CompletedTask>();
  private readonly outbox: StatusOutbox;
  private readonly checkpoints: CheckpointStore;
  private readonly users: UserResolver;
  private readonly ctx: RunContext;
  private readonly rotator: LogRotator;
  private readonly tuning: AgentTuning;
  /** Tasks waiting to be staged (sandbox, checkpoint, then fetch and container in the background)… */
  private readonly stageQueue = new BatchQueue<TaskRecord>(SPAWN_BATCH, (r) => r.run.stage(commandArgv(r.task.command), (run) => this.spawnQueue.push(run)));
  /** …and staged tasks waiting for their supervisor, in batches per turn of the event loop. */
  private readonly spawnQueue = new BatchQueue<TaskRun>(SPAWN_BATCH, (run) => run.spawn());
  private readonly log: Logger;
  private cache: FetchCache | undefined;
  private started = false;
  private stopping: Promise<void> | undefined;

  constructor(private readonly opts: AgentOptions) {
    this.log = opts.logger.child({ agentId: opts.id });
    this.tuning = tuningOf(opts);
    this.checkpoints = new CheckpointStore(opts.dataDir);
    this.users = new UserResolver(this.tuning.taskUser);
    this.outbox = new StatusOutbox(opts.clock, this.tuning.statusRetryMs, (s) => this.deliver(s), {
      posted: (status) => this.journal(status.taskId, (run) => this.checkpoints.posted(status, runState(run.saved))),
      // The terminal update's acknowledgement retires the checkpoint right after (acknowledge()):
      // the rename of its directory records it, no journal line is needed.
      acknowledged: (taskId, uuid) => {
        if (this.records.get(taskId)?.terminalUuid !== uuid) this.journal(taskId, () => this.checkpoints.acknowledged(taskId, uuid));
      },
    });
    const execHelper = this.tuning.useExecHelper ? locateExecHelper() : undefined;
    this.ctx = {
      isolator: opts.isolator,
      checkpoints: this.checkpoints,
      clock: opts.clock,
      logger: this.log,
      pidNamespace: this.tuning.pidNamespace ?? this.users.agentIsRoot,
      execHelper,
      killGraceSeconds: opts.killGraceSeconds,
      launcher: new SupervisorLauncher(this.log, execHelper),
      watch: new SupervisorWatch(opts.clock, this.tuning.supervisorPollMs),
      launchedWatch: new SupervisorWatch(opts.clock, this.tuning.launchedSupervisorPollMs),
      programs: new ProgramLookup(opts.clock),
      fetchCache: () => (this.cache ??= new FetchCache({ dir: join(opts.dataDir, 'fetch-cache'), maxBytes: this.tuning.fetchCacheBytes, clock: opts.clock })),
    };
    const { logMaxBytes: maxBytes, logKeepFiles: keep } = this.tuning;
    this.rotator = new LogRotator(opts.clock, this.tuning.logCheckIntervalMs, { maxBytes, keep }, () => this.liveLogs(), this.log);
  }

  /**
   * Recovers the tasks of earlier runs (re-adopts, reports, cleans up), then registers with the
   * master. Updates recovered or decided meanwhile are held until the master knows this agent.
   */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    this.outbox.hold();
    const report = await recoverTasks(this.recoveryHost()).catch((err: unknown) => {
      this.outbox.release();
      throw err;
    });
    const { id, hostname, resources, attributes, version, clock, reservations } = this.opts;
    const commands = [...(this.opts.commands ?? detectCommands())];
    this.opts.master.registerAgent({ id, hostname, resources, attributes, version, registeredAt: clock.now(), isolation: this.opts.isolator.name, commands, ...(reservations ? { reservations } : {}) }, this);
    this.outbox.release();
    this.checkpoints.sweepTrash();
    this.rotator.start();
    this.log.info({ event: 'agent_started', hostname, resources, isolation: this.opts.isolator.name, execHelper: this.ctx.execHelper ?? 'none (shell chain)', ...report }, 'agent registered with the master');
  }

  /** Kills every live task (SIGTERM, SIGKILL after its grace) and resolves once all have ended. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      const live = [...this.records.values()].filter((r) => !isTerminal(r.latest.state));
      for (const record of live) this.kill(record.task.taskId);
      await keepingProcessAlive(Promise.all(live.map((r) => r.ended)));
      this.rotator.stop();
      this.ctx.launcher.stop();
      this.ctx.watch.close();
      this.ctx.launchedWatch.close();
      this.outbox.close();
      await this.checkpoints.settled();
      this.log.info({ event: 'agent_stopped', killed: live.length }, 'agent stopped');
    })();
    return this.stopping;
  }

  launch(task: TaskInfo): void {
    const verdict = this.launchVerdict(task);
    if (typeof verdict === 'string') {
      this.log.warn({ event: 'agent_task_refused', taskId: task.taskId, why: verdict }, 'task refused');
      this.outbox.post(this.status(task, { state: 'TASK_FAILED', source: 'SOURCE_AGENT', reason: 'REASON_TASK_INVALID', message: verdict }), false);
      return;
    }
    const record = this.track({ ...verdict, task, sandbox: sandboxDir(this.opts.dataDir, task.taskId), limits: containerLimits(task.resources, this.opts.resources, this.tuning.taskPidsLimit) });
    this.rotator.start();
    this.stageQueue.push(record);
  }

  kill(taskId: string, gracePeriodSeconds?: number): void {
    const record = this.records.get(taskId);
    if (!record) return this.answerUnknownKill(taskId);
    // An ended task's terminal update is already being delivered until acknowledged.
    if (isTerminal(record.latest.state)) return;
    const grace = [gracePeriodSeconds, record.task.killGracePeriodSeconds, this.opts.killGraceSeconds].find(
      (g): g is number => typeof g === 'number' && Number.isFinite(g) && g >= 0,
    );
    this.log.info({ event: 'agent_task_kill', taskId, graceSeconds: grace }, 'killing task');
    const first = !record.run.killRequested;
    record.run.kill((grace ?? 0) * 1000);
    // Also checkpoints that the kill was asked for.
    if (first) this.update(record, { state: 'TASK_KILLING', source: 'SOURCE_EXECUTOR' });
  }

  acknowledge(taskId: string, uuid: string): void {
    const acked = this.outbox.acknowledge(taskId, uuid);
    const record = this.records.get(taskId);
    if (!acked || !record || record.terminalUuid !== uuid) return;
    // The framework knows how the task ended; older unacknowledged updates no longer matter.
    this.outbox.discard(taskId);
    this.records.delete(taskId);
    this.checkpoints.remove(taskId);
    this.completed.set(taskId, { task: record.task, sandbox: record.sandbox, latest: record.latest });
    for (const oldest of this.completed.keys()) {
      if (this.completed.size <= this.tuning.completedTaskLimit) break;
      this.completed.delete(oldest);
    }
  }

  async readLog(taskId: string, stream: LogStream, offset: number, maxBytes: number): Promise<LogChunk> {
    const known = this.records.get(taskId) ?? this.completed.get(taskId);
    if (!known) throw errors.taskNotFound(taskId);
    return readLog(known.sandbox, stream, offset, maxBytes);
  }

  /** Latest status of every running, ending or recently ended task, without uuids (nothing to acknowledge). */
  taskStatuses(): TaskStatus[] {
    return [...this.records.values(), ...this.completed.values()].map((r) => withoutUuid(r.latest));
  }

  /** Every task not yet retired, with its latest status (for a master rebuilding its view). */
  reportTasks(): Array<{ task: TaskInfo; status: TaskStatus }> {
    return [...this.records.values()].map((r) => ({ task: r.task, status: withoutUuid(r.latest) }));
  }

  async taskStats(taskId: string): Promise<ContainerStats> {
    const run = this.records.get(taskId)?.run;
    if (!run && !this.completed.has(taskId)) throw errors.taskNotFound(taskId);
    if (!run?.container || run.phase !== 'spawned') throw new CorralError('TASK_NOT_FOUND', `Task '${taskId}' is not running, so it has no statistics`);
    return run.stats();
  }

  /** Mesos's /monitor/statistics: one entry per running task. */
  statistics(): Promise<TaskStatistics[]> {
    return runningStatistics([...this.records.values()].map((r) => r.run));
  }

  /** Why a launch is refused, or whom to run it as. */
  private launchVerdict(task: TaskInfo): string | { user: TaskUser; switchUser: boolean } {
    const facts = { stopping: this.stopping !== undefined, known: this.records.get(task.taskId)?.latest, checkpointed: invalidTaskIdReason(task.taskId) === undefined && this.checkpoints.has(task.taskId) };
    const refusal = launchRefusal(task, facts);
    if (refusal) return refusal;
    const choice = this.users.choose(task.command.user);
    return 'refusal' in choice ? choice.refusal : choice;
  }

  /** Tracks a task (new, or recovered with its latest status) with the run that does its work. */
  private track(saved: TaskCheckpoint, latest?: TaskStatus): TaskRecord {
    let markEnded = (): void => {};
    const ended = new Promise<void>((resolve) => (markEnded = resolve));
    const { task, sandbox, user, switchUser } = saved;
    const env = taskEnvironment({ base: this.opts.env, command: task.command, taskId: task.taskId, sandbox, hostname: this.opts.hostname, ...(switchUser ? { user: user.name } : {}) });
    const run = new TaskRun(this.ctx, saved, env, (f) => this.update(record, f));
    const record: TaskRecord = { task, sandbox, run, latest: latest ?? withoutUuid(this.status(task, { state: 'TASK_STAGING', source: 'SOURCE_AGENT' })), ended, markEnded };
    if (isTerminal(record.latest.state)) markEnded();
    // A relaunch of an ended task id starts afresh in the same sandbox (logs are appended).
    this.completed.delete(task.taskId);
    this.records.set(task.taskId, record);
    return record;
  }

  private recoveryHost(): RecoveryHost {
    return {
      checkpoints: this.checkpoints,
      isolator: this.opts.isolator,
      logger: this.log,
      restore: (saved, latest) => {
        const record = this.track(saved, latest);
        if (isTerminal(latest.state)) record.terminalUuid = latest.uuid;
        return record.run;
      },
      resend: (pending) => this.outbox.restore(pending),
    };
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

  /** The durable outbox: journals an event of a tracked task, folding the journal when it grew long. */
  private journal(taskId: string, write: (run: TaskRun) => void): void {
    const record = this.records.get(taskId);
    if (!record) return;
    try {
      write(record.run);
      if (this.checkpoints.wantsCompaction(taskId)) this.checkpoints.compact(taskId, record.run.saved, { latest: record.latest, pending: [...this.outbox.pending(taskId)] });
    } catch (err) {
      this.log.error({ event: 'agent_checkpoint_failed', taskId, err }, 'status updates could not be checkpointed');
    }
  }

  private answerUnknownKill(taskId: string): void {
    const answer = unknownTaskAnswer(taskId, this.completed.get(taskId)?.latest, this.opts.id, this.opts.clock.now());
    this.log.info({ event: 'agent_task_kill_unknown', taskId, state: answer.state }, 'kill for a task that is not running');
    this.deliver(answer);
  }

  private status(task: Pick<TaskInfo, 'taskId' | 'agentId' | 'frameworkId'>, fields: StatusFields): TaskStatus {
    return newStatus(task, fields, this.opts.id, this.opts.clock.now());
  }

  private liveLogs(): Array<{ taskId: string; dir: string; owner: TaskRun['owner'] }> {
    // Every live task, also those still starting: an empty list stops the rotator's timer.
    return [...this.records.values()].filter((r) => !isTerminal(r.latest.state)).map((r) => ({ taskId: r.task.taskId, dir: r.sandbox, owner: r.run.owner }));
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

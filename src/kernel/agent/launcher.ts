// The fork server: one small process, started by the agent at its first launch (and again after it
// died), that starts every task's supervisor on the agent's behalf — `corral-exec launch` when the
// exec helper was built, else a POSIX sh (launch-scripts.ts has both protocols). Forking the ~100 MB
// agent per task cost ~5 ms each under load (libuv blocks until the child has exec'd); the launcher
// forks itself, a small process, and the agent never waits for it.
import { spawn, type ChildProcess } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import type { Logger } from '../../shared/logger';
import { LAUNCHER_PREAMBLE, launchCommand, launchRecord, type LaunchLine } from './launch-scripts';
import type { SupervisorHandle } from './supervisor';

/** Delay of the launcher's reaping after a supervisor said `exited`, in ms (housekeeping only). */
const REAP_DELAY_MS = 200;

export interface LaunchEvents {
  /** The supervisor runs and started the task: its own pid and start time, and the task's pid. */
  onStarted(supervisor: SupervisorHandle, taskPid: number): void;
  /** The task's program is about to be exec'd (always after onStarted); `at`: when, by the exec helper's clock (ms). */
  onRunning(at?: number): void;
  /** The supervisor wrote `exit_status` and is ending, or every writer of its pipe is gone. */
  onExit(): void;
  /** No supervisor was started (the launcher could not open the logs or enter the sandbox). */
  onFailed(message: string): void;
}

interface Waiter {
  /** The launch line, until the launcher acknowledged it. */
  command: string | undefined;
  events: LaunchEvents;
  started: boolean;
  /** `running` came before `pid` (both are written by different processes): with its time, if said. */
  runningEarly: { at: number | undefined } | undefined;
}

/** One launcher process and the pipe its supervisors write to (which outlives it). */
class LauncherProcess {
  readonly waiting = new Map<number, Waiter>();
  private partial = '';
  private partialAcks = '';
  private reapTimer: NodeJS.Timeout | undefined;
  exited = false;

  constructor(
    private readonly events: Readable,
    readonly stdin: Writable,
    acks: Readable,
    /** Launches this launcher never took (it died first), to be sent again. */
    private readonly lost: (key: number, command: string, events: LaunchEvents) => void,
    /** A shell launcher reaps ended supervisors only when told to run something (reapSoon). */
    private readonly isShell: boolean,
  ) {
    events.setEncoding('utf8');
    events.on('data', (chunk: string) => this.read(chunk));
    events.on('error', () => undefined);
    events.on('close', () => this.closed());
    acks.setEncoding('utf8');
    acks.on('data', (chunk: string) => this.acknowledged(chunk));
    acks.on('error', () => undefined);
    acks.on('close', () => this.handBack());
    (acks as Readable & { unref?(): void }).unref?.();
    this.reference();
  }

  add(key: number, command: string, events: LaunchEvents): void {
    this.waiting.set(key, { command, events, started: false, runningEarly: undefined });
    this.reference();
    // One write per turn of the event loop for a whole spawn batch, not one per launch.
    if (this.stdin.writableCorked === 0) {
      this.stdin.cork();
      process.nextTick(() => this.stdin.uncork());
    }
    this.stdin.write(command);
  }

  private acknowledged(chunk: string): void {
    const lines = (this.partialAcks + chunk).split('\n');
    this.partialAcks = lines.pop()!;
    for (const key of lines) {
      const waiter = this.waiting.get(Number(key));
      if (waiter) waiter.command = undefined;
    }
  }

  /** The launcher's stdout closed: it is gone, and every acknowledgement it wrote was read. */
  private handBack(): void {
    for (const [key, waiter] of this.waiting) {
      if (waiter.command === undefined) continue;
      this.waiting.delete(key);
      this.lost(key, waiter.command, waiter.events);
    }
    this.reference();
  }

  /** The pipe keeps node alive only while a launch waits for word from its supervisor. */
  private reference(): void {
    const pipe = this.events as Readable & { ref?(): void; unref?(): void };
    if (this.waiting.size > 0) pipe.ref?.();
    else pipe.unref?.();
  }

  private read(chunk: string): void {
    const lines = (this.partial + chunk).split('\n');
    this.partial = lines.pop()!;
    for (const line of lines) this.line(line);
    this.reference();
  }

  private line(line: string): void {
    const [key, word, a, b, c] = line.split(' ');
    const waiter = this.waiting.get(Number(key));
    if (!waiter) return;
    if (word === 'pid' && !waiter.started) {
      waiter.started = true;
      waiter.events.onStarted({ pid: Number(b), startTime: Number(c) }, Number(a));
      if (waiter.runningEarly) waiter.events.onRunning(waiter.runningEarly.at);
    } else if (word === 'running') {
      // `K running MS` from the exec helper, `K running` from the shell chain.
      const at = a === undefined || !/^\d+$/.test(a) ? undefined : Number(a);
      if (waiter.started) waiter.events.onRunning(at);
      else waiter.runningEarly = { at };
    } else if (word === 'exited') {
      this.waiting.delete(Number(key));
      this.reapSoon();
      waiter.events.onExit();
    } else if (word === 'failed') {
      this.waiting.delete(Number(key));
      waiter.events.onFailed("The task's supervisor could not open the task's logs or enter its sandbox (the task's stderr or the agent's log says why)");
    }
  }

  /**
   * sh reaps its ended children only when it runs a command, so an idle launcher keeps the
   * supervisors that ended as zombies. A no-op command shortly after they said `exited` (they exit
   * right after) reaps them; until then they count as gone (isSameProcessAlive skips zombies).
   */
  private reapSoon(): void {
    if (!this.isShell || this.reapTimer || this.exited || !this.stdin.writable) return;
    this.reapTimer = setTimeout(() => {
      this.reapTimer = undefined;
      if (!this.exited && this.stdin.writable) this.stdin.write(':\n');
    }, REAP_DELAY_MS);
    this.reapTimer.unref();
  }

  /** Every supervisor of this launcher is gone: whoever has not said how it ended, ended. */
  private closed(): void {
    for (const waiter of this.waiting.values()) {
      if (waiter.started) waiter.events.onExit();
      else waiter.events.onFailed("The task supervisor's launcher ended before the supervisor started");
    }
    this.waiting.clear();
  }
}

/** How one kind of launcher is started and fed (launch-scripts.ts has both protocols). */
interface LauncherKind {
  program: string;
  args: string[];
  /** Written to its stdin once, when it starts. */
  preamble: string;
  encode(spec: LaunchLine): string;
  /** A shell reaps ended supervisors only when told to run something (LauncherProcess.reapSoon). */
  isShell: boolean;
}

/** `corral-exec launch` when the exec helper was built (it takes only launches that end with it), else sh. */
function launcherKind(execHelper: string | undefined): LauncherKind {
  if (execHelper) return { program: execHelper, args: ['launch'], preamble: '', encode: (spec) => launchRecord(spec, execHelper), isShell: false };
  return { program: '/bin/sh', args: ['-s'], preamble: `${LAUNCHER_PREAMBLE}\n`, encode: launchCommand, isShell: true };
}

/** The agent's handle on its launcher: starts one when needed, hands launches to it. */
export class SupervisorLauncher {
  private current: LauncherProcess | undefined;
  private lastKey = 0;
  private stopped = false;
  private readonly kind: LauncherKind;

  constructor(
    private readonly logger: Logger,
    /** dist/corral-exec: the native launcher; undefined = sh. */
    execHelper?: string,
  ) {
    this.kind = launcherKind(execHelper);
  }

  /** A key for a launch, unique for this agent process. */
  reserveKey(): number {
    return ++this.lastKey;
  }

  /** Hands a launch to the launcher (starting it if needed). Throws on a NUL byte or no launcher. */
  start(spec: LaunchLine, events: LaunchEvents): void {
    this.launcher().add(spec.key, this.kind.encode(spec), events);
  }

  /** Ends the launcher (EOF on its stdin); supervisors keep running. Idempotent. */
  stop(): void {
    this.stopped = true;
    this.current?.stdin.end();
    this.current = undefined;
  }

  private launcher(): LauncherProcess {
    if (this.current && !this.current.exited) return this.current;
    if (this.stopped) throw new Error('The agent is stopping; no task supervisor can be started');
    // No environment: the task's own is applied after privileges are dropped (launch-scripts.ts).
    // `/` pins no directory; its own session keeps a terminal's signals away from the tasks.
    const { program, args } = this.kind;
    const child: ChildProcess = spawn(program, args, { cwd: '/', env: {}, stdio: ['pipe', 'pipe', 'inherit', 'pipe'], detached: true });
    if (child.pid === undefined) {
      child.on('error', () => undefined);
      throw new Error(`The task supervisor launcher (${program}) could not be started`);
    }
    const resend = (key: number, command: string, events: LaunchEvents) => {
      try {
        this.launcher().add(key, command, events);
      } catch (err) {
        events.onFailed((err as Error).message);
      }
    };
    const launcher = new LauncherProcess(child.stdio[3] as Readable, child.stdin!, child.stdout!, resend, this.kind.isShell);
    child.stdin!.on('error', () => undefined);
    child.on('error', () => undefined);
    child.once('exit', (code, signal) => {
      launcher.exited = true;
      if (this.current === launcher) this.current = undefined;
      if (!this.stopped) this.logger.warn({ event: 'agent_launcher_exited', pid: child.pid, code, signal }, 'the task supervisor launcher ended; the next launch starts another');
    });
    child.unref();
    (child.stdin as Writable & { unref?(): void }).unref?.();
    if (this.kind.preamble) child.stdin!.write(this.kind.preamble);
    this.logger.info({ event: 'agent_launcher_started', pid: child.pid, launcher: program }, 'task supervisor launcher started');
    this.current = launcher;
    return launcher;
  }
}

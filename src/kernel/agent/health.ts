// Health checks run by the agent beside the task (HTTP, HTTPS, TCP, COMMAND), so a check never
// crosses the network and a leader change on the master cannot make a healthy task look unhealthy
// (Marathon #3317, #3419). Every timer — delay, interval, timeout — comes from the injected clock;
// a probe's I/O only resolves a promise and schedules nothing. Decisions are in health-result.ts.
import { spawn } from 'node:child_process';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { timeoutAfterTurn, type Clock, type TimerHandle } from '../../shared/clock';
import type { Logger } from '../../shared/logger';
import type { HealthCheck, HealthCheckResult } from '../types';
import { healthChanged, healthReport, httpOutcome, nextResult, type HealthOutcome, type HealthReport } from './health-result';

export interface HealthMonitorOptions {
  /** The task's checks, ports already resolved to host ports. */
  checks: readonly HealthCheck[];
  /** Address HTTP(S) and TCP probes connect to: '127.0.0.1', the task runs on this host. */
  host: string;
  /** Environment of COMMAND checks (the task's own). */
  env: Record<string, string>;
  /** Working directory of COMMAND checks (the task's sandbox). */
  cwd: string;
  /** COMMAND checks run as this user (the task's), never as the agent's root. */
  user?: { uid: number; gid: number };
  clock: Clock;
  logger: Logger;
  /**
   * Called when `healthy` flips or a check's alive/consecutiveFailures changes — not on repeated
   * successes. `results` has one entry per check, in order; `healthy` is undefined until every
   * check has a counted result.
   */
  onChange(results: HealthCheckResult[], healthy: boolean | undefined): void;
}

interface Probe {
  abort: AbortController;
  timeout: TimerHandle;
}

interface CheckSlot {
  check: HealthCheck;
  /** undefined until a result counted (failures within the grace period do not). */
  result: HealthCheckResult | undefined;
  /** The delay before the first probe, then the interval timer. */
  timer: TimerHandle | undefined;
  probe: Probe | undefined;
}

/** Runs one task's checks from `start(startedAt)` until `stop()`. One-shot: a stopped monitor stays stopped. */
export class HealthMonitor {
  private readonly slots: CheckSlot[];
  /** Every probe not yet recorded, including timed-out ones whose promise is still settling. */
  private readonly inFlight = new Set<Promise<void>>();
  private startedAt: number | undefined;
  private stopped = false;
  private reported: HealthReport;

  constructor(private readonly opts: HealthMonitorOptions) {
    this.slots = opts.checks.map((check) => ({ check, result: undefined, timer: undefined, probe: undefined }));
    this.reported = healthReport(this.slots.map(() => undefined));
  }

  /** `startedAt`: when the task started (ms since epoch); the grace period counts from it. */
  start(startedAt: number): void {
    if (this.startedAt !== undefined || this.stopped) return;
    this.startedAt = startedAt;
    const { clock } = this.opts;
    for (const slot of this.slots) {
      slot.timer = clock.setTimeout(() => {
        // A fixed rate: a probe's completion schedules nothing, so slow I/O cannot drift the schedule.
        slot.timer = clock.setInterval(() => this.probe(slot), slot.check.intervalSeconds * 1000);
        this.probe(slot);
      }, slot.check.delaySeconds * 1000);
    }
  }

  /** Cancels every timer and aborts probes in flight (a COMMAND's whole process group is killed). */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    for (const slot of this.slots) {
      slot.timer?.cancel();
      slot.timer = undefined;
      slot.probe?.timeout.cancel();
      slot.probe?.abort.abort('health monitor stopped');
    }
  }

  /** Resolves once the probes in flight now have finished and their results are recorded. */
  async settled(): Promise<void> {
    await Promise.all([...this.inFlight]);
  }

  private probe(slot: CheckSlot): void {
    const { check } = slot;
    if (this.stopped) return;
    if (slot.probe && !slot.probe.abort.signal.aborted) {
      // Only when timeoutSeconds >= intervalSeconds: the slow probe keeps its place, this tick is dropped.
      this.opts.logger.debug({ event: 'health_check_overlap', protocol: check.protocol }, 'previous health check still running; skipped');
      return;
    }
    const abort = new AbortController();
    // Fails the probe one loop turn after it is due (timeoutAfterTurn): a stalled agent does not blame the task.
    const timeout = timeoutAfterTurn(this.opts.clock, check.timeoutSeconds * 1000, () => abort.abort(`timed out after ${check.timeoutSeconds} s`));
    const done = runProbe(check, this.opts, abort.signal)
      .catch((err: unknown): HealthOutcome => ({ status: 'fail', cause: err instanceof Error ? err.message : String(err) }))
      .then((outcome) => {
        timeout.cancel();
        this.inFlight.delete(done);
        // A timed-out probe may already have been replaced by the next one (a FakeClock moves
        // past the next tick before this promise settles); only its own slot entry goes.
        if (slot.probe === probe) slot.probe = undefined;
        if (!this.stopped) this.record(slot, outcome);
      });
    const probe: Probe = { abort, timeout };
    slot.probe = probe;
    this.inFlight.add(done);
  }

  private record(slot: CheckSlot, outcome: HealthOutcome): void {
    const now = this.opts.clock.now();
    const next = nextResult(slot.result, outcome, now, slot.check, this.startedAt!);
    if (outcome.status === 'fail') {
      const counted = next !== slot.result;
      this.opts.logger.debug({ event: 'health_check_failed', protocol: slot.check.protocol, cause: outcome.cause, counted }, counted ? 'health check failed' : 'health check failed within the grace period');
    }
    slot.result = next;
    const report = healthReport(this.slots.map((s) => s.result));
    if (!healthChanged(this.reported, report)) return;
    if (report.healthy !== this.reported.healthy) this.opts.logger.info({ event: 'task_health_changed', healthy: report.healthy ?? null }, 'task health changed');
    this.reported = report;
    try {
      this.opts.onChange(report.results, report.healthy);
    } catch (err) {
      this.opts.logger.error({ event: 'health_change_handler_failed', err }, 'health change handler threw');
    }
  }
}

type ProbeTarget = Pick<HealthMonitorOptions, 'host' | 'env' | 'cwd' | 'user'>;

function runProbe(check: HealthCheck, target: ProbeTarget, signal: AbortSignal): Promise<HealthOutcome> {
  if (check.protocol === 'COMMAND') {
    return check.command ? probeCommand(check.command, target, signal) : Promise.resolve(fail('no command to run'));
  }
  if (check.port === undefined) return Promise.resolve(fail('no port to check'));
  return check.protocol === 'TCP' ? probeTcp(target.host, check.port, signal) : probeHttp(check, target.host, check.port, signal);
}

const fail = (cause: string): HealthOutcome => ({ status: 'fail', cause });

/**
 * Runs `start` until it calls `finish` or `signal` aborts; the cleanup `start` returns runs once
 * either way. On abort the outcome is `onAbort()` if that knows better, else a failure whose cause
 * is the abort reason ("timed out after 20 s").
 */
function settle(signal: AbortSignal, start: (finish: (o: HealthOutcome) => void) => () => void, onAbort?: () => HealthOutcome | undefined): Promise<HealthOutcome> {
  return new Promise((resolve) => {
    let done = false;
    let cleanup: (() => void) | undefined;
    const aborted = () => finish(onAbort?.() ?? fail(String(signal.reason)));
    const finish = (outcome: HealthOutcome) => {
      if (done) return;
      done = true;
      signal.removeEventListener('abort', aborted);
      cleanup?.();
      resolve(outcome);
    };
    if (signal.aborted) return aborted();
    signal.addEventListener('abort', aborted);
    cleanup = start(finish);
    if (done) cleanup(); // start finished synchronously, before its cleanup was known
  });
}

/**
 * The final status decides. A 1xx with no final answer after it (the connection closes or the
 * timeout hits) counts as that status, so ignoreHttp1xx can ignore it. Certificates are not
 * verified, as in Marathon.
 */
function probeHttp(check: HealthCheck, host: string, port: number, signal: AbortSignal): Promise<HealthOutcome> {
  const ignore1xx = check.ignoreHttp1xx ?? false;
  let interim: HealthOutcome | undefined;
  return settle(
    signal,
    (finish) => {
      const options: https.RequestOptions = { host, port, path: check.path || '/', method: 'GET', agent: false, headers: { 'user-agent': 'corral-health-check' } };
      const request = check.protocol === 'HTTPS' ? https.request({ ...options, rejectUnauthorized: false }) : http.request(options);
      request.on('information', (info) => (interim = httpOutcome(info.statusCode, info.statusMessage, ignore1xx)));
      request.on('upgrade', (res, socket) => {
        socket.destroy();
        finish(httpOutcome(res.statusCode ?? 101, res.statusMessage ?? '', ignore1xx));
      });
      request.on('response', (res) => {
        res.resume();
        finish(httpOutcome(res.statusCode ?? 0, res.statusMessage ?? '', ignore1xx));
      });
      request.on('error', (err) => finish(interim ?? fail(err.message)));
      request.end();
      return () => request.destroy();
    },
    () => interim,
  );
}

function probeTcp(host: string, port: number, signal: AbortSignal): Promise<HealthOutcome> {
  return settle(signal, (finish) => {
    const socket = net.connect({ host, port });
    socket.once('connect', () => finish({ status: 'pass' }));
    socket.on('error', (err) => finish(fail(err.message)));
    return () => socket.destroy();
  });
}

/** Characters of the command's output kept in lastFailureCause. */
const OUTPUT_TAIL = 200;

/**
 * `/bin/sh -c command` as the leader of its own process group; on timeout or stop the whole group
 * is SIGKILLed, and whatever the shell leaves behind when it exits goes with it (as for tasks).
 */
function probeCommand(command: string, target: ProbeTarget, signal: AbortSignal): Promise<HealthOutcome> {
  let exit: { code: number | null; sig: NodeJS.Signals | null } | undefined;
  let output = '';
  const exitOutcome = (): HealthOutcome | undefined => {
    if (!exit) return undefined;
    if (exit.code === 0) return { status: 'pass' };
    const why = exit.sig ? `Command terminated with signal ${exit.sig}` : `Command exited with status ${exit.code}`;
    const tail = output.trim();
    return fail(tail ? `${why}: ${tail}` : why);
  };
  return settle(
    signal,
    (finish) => {
      const child = spawn('/bin/sh', ['-c', command], { cwd: target.cwd, env: target.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'], ...(target.user ?? {}) });
      // Signal the group only while its leader is unreaped: afterwards the id could name someone else's group.
      const killGroup = () => {
        if (child.pid === undefined) return;
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          // ESRCH: nothing left in the group.
        }
      };
      const keep = (chunk: Buffer) => {
        output = (output + chunk.toString('utf8')).slice(-OUTPUT_TAIL);
      };
      child.stdout!.on('data', keep);
      child.stderr!.on('data', keep);
      child.on('error', (err) => finish(fail(`command could not start: ${err.message}`)));
      child.once('exit', (code, sig) => {
        exit = { code, sig };
        killGroup();
      });
      // 'close' comes once the output pipes are drained, so the cause holds all of the tail.
      child.once('close', () => finish(exitOutcome() ?? fail('command ended without an exit status')));
      return () => {
        if (!exit) killGroup();
        child.stdout!.destroy();
        child.stderr!.destroy();
      };
    },
    // The shell exited but something outside its group still holds the pipes: its status stands.
    exitOutcome,
  );
}

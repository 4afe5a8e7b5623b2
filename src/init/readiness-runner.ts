// Runs Marathon readiness checks (the shell of readiness.ts): for each running task of an app with
// a readiness check that has not passed it, an HTTP GET every intervalSeconds until one answers
// with a ready status; then the controller marks the task ready. Init runs these, as Marathon does:
// they gate deployments, they never kill anything.
import { timeoutAfterTurn, type Clock, type TimerHandle } from '../shared/clock';
import type { Logger } from '../shared/logger';
import type { InitController } from './controller';
import { awaitsReadiness, readinessUrl, type ReadinessResult } from './readiness';
import type { AppDefinition, AppTask, ReadinessCheck } from './types';

/** How much of a response body a result keeps (preserveLastResponse). */
const MAX_BODY = 16 * 1024;

export interface HttpAnswer {
  status: number;
  contentType: string;
  body: string;
}

/** GET `url`, failing after `timeoutMs`; injected in tests. */
export type HttpGet = (url: string, timeoutMs: number) => Promise<HttpAnswer>;

export interface ReadinessRunnerDeps {
  controller: Pick<InitController, 'apps' | 'tasksOf' | 'onActivity' | 'markReady'>;
  clock: Clock;
  logger: Logger;
  get?: HttpGet;
}

interface Probe {
  appId: string;
  timer: TimerHandle;
  inFlight: boolean;
  result: ReadinessResult;
}

export class ReadinessRunner {
  private readonly probes = new Map<string, Probe>();
  private unsubscribe: (() => void) | undefined;
  private readonly get: HttpGet;

  constructor(private readonly deps: ReadinessRunnerDeps) {
    this.get = deps.get ?? ((url, timeoutMs) => httpGet(url, timeoutMs, deps.clock));
  }

  start(): void {
    this.unsubscribe = this.deps.controller.onActivity((appId) => this.sync(appId));
    for (const appId of this.deps.controller.apps.keys()) this.sync(appId);
  }

  stop(): void {
    this.unsubscribe?.();
    for (const probe of this.probes.values()) probe.timer.cancel();
    this.probes.clear();
  }

  /** The results of the app's tasks still being checked (a deployment's `readinessCheckResults`). */
  results(appId: string): ReadinessResult[] {
    return [...this.probes.values()].filter((p) => p.appId === appId).map((p) => p.result);
  }

  /** Starts probes for the app's tasks that await readiness and drops those of tasks that no longer do. */
  sync(appId: string): void {
    const app = this.deps.controller.apps.get(appId)?.stored.app;
    const tasks = this.deps.controller.tasksOf(appId);
    const waiting = new Set(app ? tasks.filter((t) => awaitsReadiness(app, t)).map((t) => t.taskId) : []);
    for (const [taskId, probe] of this.probes) {
      if (probe.appId === appId && !waiting.has(taskId)) this.drop(taskId);
    }
    for (const task of tasks) {
      if (app && waiting.has(task.taskId) && !this.probes.has(task.taskId)) this.begin(app, task, app.readinessChecks![0]!);
    }
  }

  private begin(app: AppDefinition, task: AppTask, check: ReadinessCheck): void {
    const probe: Probe = {
      appId: app.id,
      inFlight: false,
      timer: this.deps.clock.setInterval(() => void this.probe(app, task, check, probe), check.intervalSeconds * 1000),
      result: { name: check.name, taskId: task.taskId, ready: false, lastResponse: null },
    };
    this.probes.set(task.taskId, probe);
    void this.probe(app, task, check, probe);
  }

  private drop(taskId: string): void {
    this.probes.get(taskId)?.timer.cancel();
    this.probes.delete(taskId);
  }

  private async probe(app: AppDefinition, task: AppTask, check: ReadinessCheck, probe: Probe): Promise<void> {
    const url = readinessUrl(app, task, check);
    if (probe.inFlight || url === undefined) return;
    probe.inFlight = true;
    let answer: HttpAnswer | undefined;
    try {
      answer = await this.get(url, check.timeoutSeconds * 1000);
    } catch (err) {
      this.deps.logger.debug({ event: 'readiness_check_error', appId: app.id, taskId: task.taskId, url, err: (err as Error).message }, 'readiness check got no answer');
    } finally {
      probe.inFlight = false;
    }
    if (this.probes.get(task.taskId) !== probe || !answer) return;
    const ready = check.httpStatusCodesForReady.includes(answer.status);
    probe.result = { ...probe.result, ready, lastResponse: check.preserveLastResponse ? { ...answer, body: answer.body.slice(0, MAX_BODY) } : null };
    if (!ready) return;
    this.deps.logger.info({ event: 'task_ready', appId: app.id, taskId: task.taskId, status: answer.status }, 'task passed its readiness check');
    this.drop(task.taskId);
    this.deps.controller.markReady(task.taskId);
  }
}

/** The default HttpGet: fetch, aborted by the injected clock one loop turn after `timeoutMs` (timeoutAfterTurn). */
async function httpGet(url: string, timeoutMs: number, clock: Clock): Promise<HttpAnswer> {
  const abort = new AbortController();
  const timer = timeoutAfterTurn(clock, timeoutMs, () => abort.abort());
  try {
    const res = await fetch(url, { signal: abort.signal, redirect: 'manual' });
    const body = await res.text();
    return { status: res.status, contentType: res.headers.get('content-type') ?? '', body };
  } finally {
    timer.cancel();
  }
}

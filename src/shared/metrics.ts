// One Prometheus registry per daemon (prom-client). Subsystems get the metrics object injected;
// nothing registers metrics at import time.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface Metrics {
  registry: Registry;
  /** Tasks the kernel handed to an agent. */
  taskLaunches: Counter;
  /** Tasks that ended TASK_FAILED, TASK_ERROR or TASK_LOST, by state and reason. */
  taskFailures: Counter<'state' | 'reason'>;
  /** HTTP API latency in seconds, by method, route pattern and status code. */
  httpDuration: Histogram<'method' | 'route' | 'status'>;
  /** Supplies the current task count per state for the `corral_tasks` gauge at scrape time. */
  setTaskCounter(count: () => Record<string, number>): void;
}

export function createMetrics(opts: { processMetrics?: boolean } = {}): Metrics {
  const registry = new Registry();
  if (opts.processMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'corral_' });
  let countTasks: () => Record<string, number> = () => ({});
  new Gauge({
    name: 'corral_tasks',
    help: 'Tasks known to the master, by state.',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [state, n] of Object.entries(countTasks())) this.set({ state }, n);
    },
  });
  return {
    registry,
    taskLaunches: new Counter({ name: 'corral_task_launches_total', help: 'Tasks launched on agents.', registers: [registry] }),
    taskFailures: new Counter({
      name: 'corral_task_failures_total',
      help: 'Tasks that ended failed, errored or lost.',
      labelNames: ['state', 'reason'],
      registers: [registry],
    }),
    httpDuration: new Histogram({
      name: 'corral_http_request_duration_seconds',
      help: 'HTTP API request latency.',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
      registers: [registry],
    }),
    setTaskCounter(count) {
      countTasks = count;
    },
  };
}

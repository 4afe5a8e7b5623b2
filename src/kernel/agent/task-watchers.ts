// What watches a running task besides its supervisor: the agent's health checks, and for the posix
// backend (which cannot enforce a memory limit) a once-a-second memory sample.
import type { Clock, TimerHandle } from '../../shared/clock';
import type { Logger } from '../../shared/logger';
import type { HealthCheck, HealthCheckResult } from '../types';
import { HealthMonitor } from './health';
import type { Container } from './isolation/types';

/** Between memory samples of a posix container, in ms. */
const MEMORY_SAMPLE_MS = 1000;

export interface HealthTarget {
  env: Record<string, string>;
  /** The sandbox: COMMAND checks run there. */
  cwd: string;
  /** The task's user: COMMAND checks run as it. */
  user: { uid: number; gid: number } | undefined;
  clock: Clock;
  logger: Logger;
  /** When the task started running (grace periods count from it); default now. */
  startedAt: number | undefined;
}

/** Starts the task's health checks, if it has any; probes go to 127.0.0.1, where the task runs. */
export function startHealthChecks(
  checks: readonly HealthCheck[] | undefined,
  target: HealthTarget,
  onChange: (healthy: boolean | undefined, results: HealthCheckResult[]) => void,
): HealthMonitor | undefined {
  if (!checks || checks.length === 0) return undefined;
  const monitor = new HealthMonitor({ checks, host: '127.0.0.1', env: target.env, cwd: target.cwd, ...(target.user ? { user: target.user } : {}), clock: target.clock, logger: target.logger, onChange: (results, healthy) => onChange(healthy, results) });
  monitor.start(target.startedAt ?? target.clock.now());
  return monitor;
}

/** Samples `container.memoryLimitHit()` every second; calls `onHit` once, the first time it is true. */
export function sampleMemoryLimit(clock: Clock, container: Container, onHit: () => void): TimerHandle {
  let sampling = false;
  let hit = false;
  return clock.setInterval(() => {
    if (sampling || hit) return;
    sampling = true;
    void container
      .memoryLimitHit()
      .then((over) => {
        if (!over || hit) return;
        hit = true;
        onHit();
      })
      .catch(() => undefined)
      .finally(() => (sampling = false));
  }, MEMORY_SAMPLE_MS);
}

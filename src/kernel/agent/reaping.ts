// Waiting on real processes. These waits measure the kernel finishing off killed processes, not
// logic time, so they use the system clock even when the agent runs on a fake one: a test's fake
// clock would otherwise have to be advanced for SIGKILLed processes to disappear.
import { systemClock } from '../../shared/clock';
import type { Logger } from '../../shared/logger';
import type { Container } from './isolation/types';

/** How long cleanup waits for a container's killed processes to vanish, in ms. */
const REAP_TIMEOUT_MS = 10_000;
/** Between looks at the container while waiting, in ms. */
const REAP_POLL_MS = 20;

/**
 * SIGKILLs whatever is left in `container` (and in the process group `pgid`, when given), waits
 * until it is empty, and removes it. Errors are logged: cleanup never fails a task's report.
 */
export async function reapContainer(container: Container, pgid: number | undefined, logger: Logger): Promise<void> {
  try {
    await container.signalAll('SIGKILL');
    if (pgid !== undefined) process.kill(-pgid, 'SIGKILL');
  } catch {
    // ESRCH: nothing left.
  }
  const deadline = Date.now() + REAP_TIMEOUT_MS;
  while ((await container.processCount().catch(() => 0)) > 0 && Date.now() < deadline) await systemClock.sleep(REAP_POLL_MS);
  try {
    await container.destroy();
  } catch (err) {
    logger.warn({ event: 'agent_container_destroy_failed', taskId: container.taskId, err }, 'container could not be removed');
  }
}

/**
 * Awaits `done` while holding the event loop open. Adopted supervisors are watched by (unref'd)
 * clock timers and are not our children, so without this a process whose other handles are closed
 * (the daemon stops its API first) would exit while its tasks are still being killed.
 */
export async function keepingProcessAlive(done: Promise<unknown>): Promise<void> {
  let finished = false;
  void done.finally(() => (finished = true));
  while (!finished) await Promise.race([done, systemClock.sleep(200)]);
}

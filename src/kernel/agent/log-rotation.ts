// Size-based rotation of a task's stdout/stderr, so a chatty task cannot fill the disk. The task
// holds its log files open (O_APPEND) and must keep writing to the same descriptors, so rotation
// is copytruncate, as logrotate does it: shift `stdout.1` → `stdout.2` … (the oldest falls off),
// copy `stdout` to `stdout.1`, truncate `stdout` to 0; the task's next write lands at the new end.
// Bytes written between the copy and the truncate are lost (a few, at worst one burst of output):
// the price of not touching the task's descriptors. Readers following a log see the truncation as
// an offset past the end and start over at 0 (see logReadStart).
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import type { Clock, TimerHandle } from '../../shared/clock';
import type { Logger } from '../../shared/logger';
import type { SandboxOwner } from './sandbox';

export interface LogRotationLimits {
  /** A log larger than this many bytes is rotated at the next check. */
  maxBytes: number;
  /** Rotated files kept per stream (`stdout.1` … `stdout.<keep>`); 0 keeps none (truncate only). */
  keep: number;
}

/** Rotates `<dir>/<stream>` if it is over the limit; resolves to whether it did. */
export async function rotateIfOver(dir: string, stream: string, limits: LogRotationLimits, owner: SandboxOwner): Promise<boolean> {
  const path = join(dir, stream);
  let size: number;
  try {
    size = (await fsp.stat(path)).size;
  } catch {
    return false;
  }
  if (size <= limits.maxBytes) return false;
  if (limits.keep > 0) {
    await fsp.rm(`${path}.${limits.keep}`, { force: true });
    for (let n = limits.keep - 1; n >= 1; n--) await fsp.rename(`${path}.${n}`, `${path}.${n + 1}`).catch(ignoreMissing);
    await fsp.copyFile(path, `${path}.1`);
    if (owner) await fsp.chown(`${path}.1`, owner.uid, owner.gid);
  }
  await fsp.truncate(path, 0);
  return true;
}

function ignoreMissing(err: NodeJS.ErrnoException): void {
  if (err.code !== 'ENOENT') throw err;
}

export interface RotatedLog {
  taskId: string;
  dir: string;
  owner: SandboxOwner;
}

/**
 * Checks the logs of the tasks `list()` names every `everyMs` on the clock, one check at a time.
 * An empty list stops the timer (an idle agent keeps no timer); start() again when tasks run.
 */
export class LogRotator {
  private timer: TimerHandle | undefined;
  private running = false;

  constructor(
    private readonly clock: Clock,
    private readonly everyMs: number,
    private readonly limits: LogRotationLimits,
    private readonly list: () => RotatedLog[],
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.timer ??= this.clock.setInterval(() => void this.checkAll(), this.everyMs);
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = undefined;
  }

  /** One pass over every listed task (also callable directly, e.g. by tests). */
  async checkAll(): Promise<void> {
    if (this.running) return;
    const logs = this.list();
    if (logs.length === 0) return this.stop();
    this.running = true;
    try {
      for (const log of logs) {
        for (const stream of ['stdout', 'stderr']) {
          try {
            if (await rotateIfOver(log.dir, stream, this.limits, log.owner)) this.logger.debug({ event: 'agent_log_rotated', taskId: log.taskId, stream }, 'task log rotated');
          } catch (err) {
            this.logger.warn({ event: 'agent_log_rotation_failed', taskId: log.taskId, stream, err }, 'task log could not be rotated');
          }
        }
      }
    } finally {
      this.running = false;
    }
  }
}

// At-least-once delivery of status updates. Every update is sent at once and kept until the
// framework acknowledges its uuid (through the master); a task's unacknowledged updates are sent
// again, oldest first, every `retryMs` until then.
import type { Clock, TimerHandle } from '../../shared/clock';
import type { TaskStatus } from '../types';

interface TaskQueue {
  statuses: TaskStatus[];
  retry: TimerHandle;
}

export class StatusOutbox {
  private readonly queues = new Map<string, TaskQueue>();
  private closed = false;

  /**
   * @param retryMs milliseconds between resends of a task's unacknowledged updates
   * @param send delivers one update; it must not throw (it runs from timers) and may acknowledge re-entrantly
   */
  constructor(
    private readonly clock: Clock,
    private readonly retryMs: number,
    private readonly send: (status: TaskStatus) => void,
  ) {}

  /** Queues `status` (which must carry a uuid) and sends it now. */
  post(status: TaskStatus): void {
    if (status.uuid === undefined) throw new Error('StatusOutbox.post needs a status with a uuid');
    if (!this.closed) {
      const queue = this.queues.get(status.taskId);
      if (queue) queue.statuses.push(status);
      else this.queues.set(status.taskId, { statuses: [status], retry: this.scheduleRetry(status.taskId) });
    }
    this.send(status);
  }

  /** Forgets the update with this uuid; returns it, or undefined when it was not pending. */
  acknowledge(taskId: string, uuid: string): TaskStatus | undefined {
    const queue = this.queues.get(taskId);
    const index = queue ? queue.statuses.findIndex((s) => s.uuid === uuid) : -1;
    if (!queue || index < 0) return undefined;
    const [acked] = queue.statuses.splice(index, 1);
    if (queue.statuses.length === 0) this.discard(taskId);
    return acked;
  }

  /** Forgets every pending update of a task. */
  discard(taskId: string): void {
    this.queues.get(taskId)?.retry.cancel();
    this.queues.delete(taskId);
  }

  /** Unacknowledged updates of a task, oldest first. */
  pending(taskId: string): readonly TaskStatus[] {
    return this.queues.get(taskId)?.statuses ?? [];
  }

  /** Number of tasks with unacknowledged updates. */
  get size(): number {
    return this.queues.size;
  }

  /** Stops resending; later posts are sent once and not kept. */
  close(): void {
    this.closed = true;
    for (const taskId of [...this.queues.keys()]) this.discard(taskId);
  }

  private scheduleRetry(taskId: string): TimerHandle {
    return this.clock.setInterval(() => {
      // Copy: a re-entrant acknowledge may change the queue while resending.
      for (const status of [...(this.queues.get(taskId)?.statuses ?? [])]) {
        if (this.queues.get(taskId)?.statuses.includes(status)) this.send(status);
      }
    }, this.retryMs);
  }
}

// At-least-once delivery of status updates. Every update is sent at once and kept until the
// framework acknowledges its uuid (through the master); a task's unacknowledged updates are sent
// again, oldest first, every `retryMs` until then. A journal, when given, learns of each durable
// update before it is sent and of each acknowledgement, so pending updates survive a restart of the
// agent (restore() re-queues them with their original uuids, so duplicates stay recognisable).
import type { Clock, TimerHandle } from '../../shared/clock';
import type { TaskStatus } from '../types';

interface TaskQueue {
  statuses: TaskStatus[];
  retry: TimerHandle;
}

/** Where durable updates are recorded; must not throw. */
export interface OutboxJournal {
  /** Before the update is sent. */
  posted(status: TaskStatus): void;
  /** The update with this uuid was acknowledged. */
  acknowledged(taskId: string, uuid: string): void;
}

export class StatusOutbox {
  private readonly queues = new Map<string, TaskQueue>();
  private closed = false;
  /** uuids of updates posted as not durable: sent and retried, but kept out of the journal. */
  private readonly transient = new Set<string>();
  /** While held, updates are queued (and journaled) but not sent: nobody could route them yet. */
  private held = false;

  /**
   * @param retryMs milliseconds between resends of a task's unacknowledged updates
   * @param send delivers one update; it must not throw (it runs from timers) and may acknowledge re-entrantly
   */
  constructor(
    private readonly clock: Clock,
    private readonly retryMs: number,
    private readonly send: (status: TaskStatus) => void,
    private readonly journal?: OutboxJournal,
  ) {}

  /**
   * Queues `status` (which must carry a uuid), journals it unless `durable` is false, and sends it.
   * Not durable: answers about no task of ours (a refused launch), which no checkpoint holds.
   */
  post(status: TaskStatus, durable = true): void {
    if (status.uuid === undefined) throw new Error('StatusOutbox.post needs a status with a uuid');
    if (!this.closed) {
      if (!durable) this.transient.add(status.uuid);
      this.enqueue(status);
      if (durable) this.journal?.posted(status);
      if (this.held) return;
    }
    this.send(status);
  }

  /** Re-queues updates recovered from a journal and sends them again (unless held), in order. */
  restore(statuses: readonly TaskStatus[]): void {
    for (const status of statuses) {
      if (status.uuid === undefined || this.closed) continue;
      this.enqueue(status);
      if (!this.held) this.send(status);
    }
  }

  /** Queues without sending until release(): the agent recovers before its master knows it. */
  hold(): void {
    this.held = true;
  }

  /** Sends everything queued while held, task by task, oldest first; then behaves as usual. */
  release(): void {
    if (!this.held) return;
    this.held = false;
    for (const taskId of [...this.queues.keys()]) this.resend(taskId);
  }

  private enqueue(status: TaskStatus): void {
    const queue = this.queues.get(status.taskId);
    if (queue) queue.statuses.push(status);
    else this.queues.set(status.taskId, { statuses: [status], retry: this.scheduleRetry(status.taskId) });
  }

  /** Forgets the update with this uuid; returns it, or undefined when it was not pending. */
  acknowledge(taskId: string, uuid: string): TaskStatus | undefined {
    const queue = this.queues.get(taskId);
    const index = queue ? queue.statuses.findIndex((s) => s.uuid === uuid) : -1;
    if (!queue || index < 0) return undefined;
    const [acked] = queue.statuses.splice(index, 1);
    if (queue.statuses.length === 0) this.discard(taskId);
    if (!this.transient.delete(uuid)) this.journal?.acknowledged(taskId, uuid);
    return acked;
  }

  /** Forgets every pending update of a task. */
  discard(taskId: string): void {
    const queue = this.queues.get(taskId);
    queue?.retry.cancel();
    for (const s of queue?.statuses ?? []) this.transient.delete(s.uuid!);
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
      if (!this.held) this.resend(taskId);
    }, this.retryMs);
  }

  private resend(taskId: string): void {
    // Copy: a re-entrant acknowledge may change the queue while resending.
    for (const status of [...(this.queues.get(taskId)?.statuses ?? [])]) {
      if (this.queues.get(taskId)?.statuses.includes(status)) this.send(status);
    }
  }
}

// The next occurrence of every scheduled job in one heap, so the shell wakes for the earliest and
// takes exactly the jobs due: O(log n) per occurrence, never a scan over all jobs per tick.
// An occurrence is taken `ahead` ms before its time (the shell stages its run early, to start on
// time), plus a fixed share of `spreadMs` per job (a hash of its name), so that the runs of many
// jobs due at the same second are staged over a window rather than in one burst of work that would
// land on the moment earlier runs start. An entry is valid while it is its job's current next time
// and lead, others are dropped as they surface.
import { MinHeap } from '../shared/min-heap';

interface Entry {
  /** When it is taken: the occurrence minus its lead. */
  key: number;
  at: number;
  job: string;
}

export class DueQueue {
  private readonly heap = new MinHeap<Entry>((a, b) => a.key < b.key || (a.key === b.key && a.job < b.job));
  private readonly next = new Map<string, { at: number; key: number }>();

  /** `aheadMs`: the default lead, how long before an occurrence its job is taken; `spreadMs`: see the file comment. */
  constructor(
    private readonly aheadMs = 0,
    private readonly spreadMs = 0,
  ) {}

  /**
   * The job's next occurrence (ms), taken `ahead` ms (and the job's share of the spread, when
   * ahead) before it; undefined when it has none to wait for (exhausted, disabled, deleted).
   */
  set(job: string, at: number | undefined, ahead = this.aheadMs): void {
    if (at === undefined) {
      this.next.delete(job);
      return;
    }
    const key = at - (ahead > 0 ? ahead + spreadOf(job, this.spreadMs) : 0);
    const current = this.next.get(job);
    if (current?.at === at && current.key === key) return;
    this.next.set(job, { at, key });
    this.heap.push({ key, at, job });
  }

  /** Jobs whose next occurrence is due by `now` (its lead included), earliest first; they leave the queue until set again. */
  takeDue(now: number): string[] {
    const out: string[] = [];
    for (let top = this.peekValid(); top && top.key <= now; top = this.peekValid()) {
      this.heap.pop();
      this.next.delete(top.job);
      out.push(top.job);
    }
    return out;
  }

  /** When the earliest job is to be taken. */
  earliest(): number | undefined {
    return this.peekValid()?.key;
  }

  private peekValid(): Entry | undefined {
    for (let top = this.heap.peek(); top; top = this.heap.peek()) {
      const current = this.next.get(top.job);
      if (current?.at === top.at && current.key === top.key) return top;
      this.heap.pop();
    }
    return undefined;
  }
}

/** The job's fixed place in [0, spreadMs): FNV-1a of its name. */
export function spreadOf(job: string, spreadMs: number): number {
  if (spreadMs <= 0) return 0;
  let h = 0x811c9dc5;
  for (let i = 0; i < job.length; i++) h = Math.imul(h ^ job.charCodeAt(i), 0x01000193) >>> 0;
  return h % Math.floor(spreadMs);
}

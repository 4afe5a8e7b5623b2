// The next occurrence of every scheduled job in one heap, so the shell wakes for the earliest and
// takes exactly the jobs due: O(log n) per occurrence, never a scan over all jobs per tick.
// An entry is valid while it is its job's current next time; others are dropped as they surface.
import { MinHeap } from '../shared/min-heap';

interface Entry {
  at: number;
  job: string;
}

export class DueQueue {
  private readonly heap = new MinHeap<Entry>((a, b) => a.at < b.at || (a.at === b.at && a.job < b.job));
  private readonly next = new Map<string, number>();

  /** The job's next occurrence (ms), or undefined when it has none to wait for (exhausted, disabled, deleted). */
  set(job: string, at: number | undefined): void {
    if (at === undefined) {
      this.next.delete(job);
      return;
    }
    if (this.next.get(job) === at) return;
    this.next.set(job, at);
    this.heap.push({ at, job });
  }

  /** Jobs whose next occurrence is at or before `now`, earliest first; they leave the queue until set again. */
  takeDue(now: number): string[] {
    const out: string[] = [];
    for (let top = this.peekValid(); top && top.at <= now; top = this.peekValid()) {
      this.heap.pop();
      this.next.delete(top.job);
      out.push(top.job);
    }
    return out;
  }

  /** The earliest next occurrence of any job. */
  earliest(): number | undefined {
    return this.peekValid()?.at;
  }

  private peekValid(): Entry | undefined {
    for (let top = this.heap.peek(); top; top = this.heap.peek()) {
      if (this.next.get(top.job) === top.at) return top;
      this.heap.pop();
    }
    return undefined;
  }
}

// The only module that touches wall-clock time and timers. Everything else receives a Clock,
// so tests drive time with FakeClock instead of sleeping.
import { MinHeap } from './min-heap';

export interface TimerHandle {
  cancel(): void;
}

export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
  /** Runs `fn` once after `ms` milliseconds. */
  setTimeout(fn: () => void, ms: number): TimerHandle;
  /** Runs `fn` every `ms` milliseconds until cancelled. */
  setInterval(fn: () => void, ms: number): TimerHandle;
  /** Resolves after `ms` milliseconds. */
  sleep(ms: number): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout(fn, ms) {
    const t = setTimeout(fn, ms);
    t.unref?.();
    return { cancel: () => clearTimeout(t) };
  },
  setInterval(fn, ms) {
    const t = setInterval(fn, ms);
    t.unref?.();
    return { cancel: () => clearInterval(t) };
  },
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

/**
 * A timeout that expires one turn of the event loop after it is due. When this process's loop
 * stalls (a long GC, a loaded machine) past the due time, the timer and the other side's answer,
 * which arrived meanwhile, are ready in the same turn, and Node runs timers before it reads
 * sockets: expiring at once would blame the other side for our delay (Marathon's "health checks
 * kill healthy services"). The extra turn lets an answer that is already there be read first.
 */
export function timeoutAfterTurn(clock: Clock, ms: number, expire: () => void): TimerHandle {
  let last: TimerHandle | undefined;
  const due = clock.setTimeout(() => (last = clock.setTimeout(expire, 0)), ms);
  return {
    cancel: () => {
      due.cancel();
      last?.cancel();
    },
  };
}

interface FakeTimer {
  due: number;
  seq: number;
  every: number | undefined;
  fn: () => void;
  cancelled: boolean;
}

const before = (a: FakeTimer, b: FakeTimer): boolean => a.due < b.due || (a.due === b.due && a.seq < b.seq);

/**
 * A clock that moves only when told to: timers fire in due order during `advance`, those due at the
 * same instant in the order they were set, so runs are deterministic. A binary heap of timers, so
 * a simulation with hundreds of thousands of pending timers costs O(log n) per firing.
 */
export class FakeClock implements Clock {
  private current: number;
  private readonly heap = new MinHeap<FakeTimer>(before);
  private seq = 0;
  private live = 0;
  private firedCount = 0;

  constructor(start = Date.UTC(2026, 0, 1)) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    return this.add(fn, ms, undefined);
  }

  setInterval(fn: () => void, ms: number): TimerHandle {
    return this.add(fn, ms, Math.max(1, ms));
  }

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.setTimeout(resolve, ms));
  }

  /** Timers set and not yet fired or cancelled. */
  pending(): number {
    return this.live;
  }

  /** Timer callbacks run so far. */
  get fired(): number {
    return this.firedCount;
  }

  /**
   * Moves time forward by `ms`, firing every timer due on the way, synchronously. Promise callbacks
   * scheduled by those timers run only after this returns; use run() when they matter.
   */
  advance(ms: number): void {
    this.runUntil(this.current + ms);
  }

  /** Fires every timer due at or before `time`, then sets the clock to `time`. */
  runUntil(time: number): void {
    const heap = this.heap;
    for (let timer = heap.peek(); timer !== undefined && timer.due <= time; timer = heap.peek()) {
      heap.pop();
      if (timer.cancelled) continue;
      this.current = timer.due;
      if (timer.every === undefined) {
        timer.cancelled = true;
        this.live--;
      } else {
        timer.due += timer.every;
        timer.seq = this.seq++;
        heap.push(timer);
      }
      this.firedCount++;
      timer.fn();
    }
    if (time > this.current) this.current = time;
  }

  /**
   * Like advance(ms), in slices of `sliceMs` with a turn of the event loop between slices, so
   * promise continuations (a push-pull reply, a join) run at most `sliceMs` of simulated time late.
   */
  async run(ms: number, sliceMs = 10): Promise<void> {
    const end = this.current + ms;
    while (this.current < end) {
      this.runUntil(Math.min(end, this.current + sliceMs));
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  private add(fn: () => void, ms: number, every: number | undefined): TimerHandle {
    const timer: FakeTimer = { due: this.current + Math.max(0, ms), seq: this.seq++, every, fn, cancelled: false };
    this.heap.push(timer);
    this.live++;
    return {
      cancel: () => {
        if (timer.cancelled) return;
        timer.cancelled = true;
        this.live--;
        // Cancelled timers stay in the heap until due; rebuild when they dominate it.
        if (this.heap.size > 1024 && this.heap.size > 4 * this.live) this.heap.retain((t) => !t.cancelled);
      },
    };
  }
}

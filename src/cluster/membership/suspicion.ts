// Lifeguard's suspicion timeout (as memberlist computes it): a suspicion starts at a long timeout and
// shrinks toward a floor as other members independently report the same suspect, so one node with a
// bad link cannot kill a healthy member quickly, while a member everyone finds silent dies fast.
import type { Clock, TimerHandle } from '../../shared/clock';
import type { MembershipConfig } from './config';

export interface SuspicionBounds {
  /** ms: the timeout once `k` independent confirmations have arrived. */
  readonly min: number;
  /** ms: the timeout with no confirmation. */
  readonly max: number;
  /** Confirmations that take the timeout down to `min`. */
  readonly k: number;
}

/**
 * For n live members: min = suspicionMult × max(1, log10(max(1, n))) × probeInterval,
 * max = suspicionMaxTimeoutMult × min, k = suspicionMult − 2 (0 when fewer than k + 2 members could
 * ever confirm, and then the timeout is min from the start). The max(1, …) floor is memberlist's:
 * it keeps clusters of under 10 nodes from getting a timeout shorter than suspicionMult intervals.
 */
export function suspicionBounds(config: Pick<MembershipConfig, 'suspicionMult' | 'suspicionMaxTimeoutMult' | 'probeInterval'>, n: number): SuspicionBounds {
  const nodeScale = Math.max(1, Math.log10(Math.max(1, n)));
  const min = Math.floor(config.suspicionMult * nodeScale * config.probeInterval);
  const kWanted = config.suspicionMult - 2;
  const k = n - 2 < kWanted ? 0 : Math.max(0, kWanted);
  return { min, max: k < 1 ? min : config.suspicionMaxTimeoutMult * min, k };
}

/**
 * Total timeout (ms, from the start of the suspicion) after `confirmations` independent reports:
 * max − (max − min) × log(c + 1) / log(k + 1), never below min.
 */
export function suspicionTimeout(bounds: SuspicionBounds, confirmations: number): number {
  if (bounds.k < 1) return bounds.min;
  const frac = Math.log(Math.min(confirmations, bounds.k) + 1) / Math.log(bounds.k + 1);
  return Math.max(bounds.min, Math.floor(bounds.max - frac * (bounds.max - bounds.min)));
}

/** One running suspicion: a timer that fires `onTimeout` unless cancelled, shortened by confirm(). */
export class Suspicion {
  private readonly reporters = new Set<string>();
  private readonly started: number;
  private timer: TimerHandle;
  private fired = false;

  constructor(
    private readonly clock: Clock,
    /** The node whose report started it; it does not count as a confirmation. */
    startedBy: string,
    readonly bounds: SuspicionBounds,
    private readonly onTimeout: () => void,
  ) {
    this.started = clock.now();
    this.reporters.add(startedBy);
    this.timer = clock.setTimeout(() => this.fire(), suspicionTimeout(bounds, 0));
  }

  /** Confirmations counted so far (reporters other than the first). */
  get confirmations(): number {
    return this.reporters.size - 1;
  }

  /**
   * Records a report from `from`. True when it was a new, independent confirmation that can still
   * shorten the timeout — worth re-gossiping so others shorten theirs too.
   */
  confirm(from: string): boolean {
    if (this.fired || this.confirmations >= this.bounds.k || this.reporters.has(from)) return false;
    this.reporters.add(from);
    const remaining = suspicionTimeout(this.bounds, this.confirmations) - (this.clock.now() - this.started);
    this.timer.cancel();
    this.timer = this.clock.setTimeout(() => this.fire(), Math.max(0, remaining));
    return true;
  }

  cancel(): void {
    this.fired = true;
    this.timer.cancel();
  }

  private fire(): void {
    if (this.fired) return;
    this.fired = true;
    this.onTimeout();
  }
}

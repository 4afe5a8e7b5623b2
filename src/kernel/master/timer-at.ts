// A timer for a moment that may be weeks away (failover timeouts, drain deadlines): Node timers
// take at most about 24.8 days, so a later one re-arms until the moment has come.
import type { Clock, TimerHandle } from '../../shared/clock';

/** Longest delay a Node timer takes (ms, about 24.8 days). */
export const MAX_TIMER_MS = 2_147_483_647;

/** Runs `fn` once at `at` (ms since the epoch; at once if past), however far away. */
export function timerAt(clock: Clock, at: number, fn: () => void): TimerHandle {
  let handle: TimerHandle;
  const check = () => {
    const left = at - clock.now();
    if (left > 0) handle = clock.setTimeout(check, Math.min(left, MAX_TIMER_MS));
    else fn();
  };
  handle = clock.setTimeout(check, Math.min(Math.max(0, at - clock.now()), MAX_TIMER_MS));
  return { cancel: () => handle.cancel() };
}

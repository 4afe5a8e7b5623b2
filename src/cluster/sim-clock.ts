// The simulated clock of the membership tests and bench/gossip: the shared FakeClock (a heap of
// timers, deterministic) starting at time 0.
import { FakeClock } from '../shared/clock';

export class SimClock extends FakeClock {
  constructor(start = 0) {
    super(start);
  }
}

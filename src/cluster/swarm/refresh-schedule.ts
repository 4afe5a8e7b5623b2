// When a node announces and looks up the cluster topic again. Pure: times in, decisions out.
//
// An announce made while no master was reachable went nowhere, and hyperdht would not retry it
// for minutes (its announcer only re-announces when relays it had are lost, and a peer discovery
// refreshes every ~10 min). So during a warm-up after start, and again whenever the node has no
// peer, it refreshes at growing intervals (firstMs, doubling up to warmMaxMs) and re-announces
// its own key as well; once it has peers and the warm-up is over, every steadyMs.

export interface RefreshTimings {
  /** First pause, in ms; doubled after every warm-up refresh. */
  readonly firstMs: number;
  /** Longest warm-up pause, in ms; reaching it ends the warm-up once the node has a peer. */
  readonly warmMaxMs: number;
  /** Pause once warmed up and connected, in ms. */
  readonly steadyMs: number;
}

export interface RefreshPlan {
  /** Re-announce the node's own key too (hyperswarm's server.refresh()). */
  readonly reannounce: boolean;
  /** ms timestamp of the next refresh. */
  readonly nextAt: number;
}

export class RefreshSchedule {
  private delayMs: number;
  private nextAt: number;

  constructor(
    private readonly timings: RefreshTimings,
    now: number,
  ) {
    this.delayMs = timings.firstMs;
    this.nextAt = now + this.delayMs;
  }

  isDue(now: number): boolean {
    return now >= this.nextAt;
  }

  /** Records a refresh made at `now` by a node with `peers` peers, and says what it includes. */
  refreshed(now: number, peers: number): RefreshPlan {
    const warming = peers === 0 || this.delayMs < this.timings.warmMaxMs;
    if (warming) {
      this.nextAt = now + this.delayMs;
      this.delayMs = Math.min(this.delayMs * 2, this.timings.warmMaxMs);
    } else {
      this.nextAt = now + this.timings.steadyMs;
    }
    return { reannounce: warming, nextAt: this.nextAt };
  }

  /** The node lost its last peer at `now`: warm up again from the start. */
  isolated(now: number): void {
    this.delayMs = this.timings.firstMs;
    this.nextAt = now + this.delayMs;
  }
}

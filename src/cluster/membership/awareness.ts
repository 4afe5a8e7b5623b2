// Lifeguard's local health awareness: a node that misses acks and nacks it should have received,
// or that hears itself suspected, is more likely the slow one. It then stretches its own probe
// interval and timeout so it stops accusing healthy members while it is the problem.

export class Awareness {
  private value = 0;

  /** @param max awarenessMaxMultiplier: the score runs 0 … max − 1. */
  constructor(private readonly max: number) {}

  /** 0 is healthy. */
  get score(): number {
    return this.value;
  }

  /** Adds `delta` (negative after a successful probe), clamped to 0 … max − 1. */
  apply(delta: number): void {
    this.value = Math.min(this.max - 1, Math.max(0, this.value + delta));
  }

  /** `ms` × (score + 1). */
  scale(ms: number): number {
    return ms * (this.value + 1);
  }
}

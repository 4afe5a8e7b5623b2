// Seeded pseudo-random numbers for the membership core and the mock network. Every random choice
// SWIM makes (probe order, gossip targets, indirect helpers, timer stagger) and every loss or jitter
// the mock network draws comes from one of these, so a simulation replays exactly from its seed.
// The generator is sfc32 (Chris Doty-Humphrey's small fast counter, 128-bit state), seeded through
// splitmix32; it is fast, passes PractRand far beyond what a simulation draws, and is not
// cryptographic: nothing security-relevant may use it.
import { randomBytes } from 'node:crypto';

export interface Random {
  /** A float in [0, 1). */
  next(): number;
}

/** One step of splitmix32: turns any 32-bit seed into well-mixed state words. */
function splitmix32(state: number): [next: number, out: number] {
  const next = (state + 0x9e3779b9) | 0;
  let z = next;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return [next, (z ^ (z >>> 16)) >>> 0];
}

class Sfc32 implements Random {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    let s = seed | 0;
    const words: number[] = [];
    for (let i = 0; i < 4; i++) {
      const [n, out] = splitmix32(s);
      s = n;
      words.push(out);
    }
    [this.a, this.b, this.c, this.d] = words as [number, number, number, number];
    for (let i = 0; i < 12; i++) this.next(); // leave the seeding neighbourhood
  }

  next(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return (t >>> 0) / 4294967296;
  }
}

/** A generator that yields the same sequence for the same 32-bit seed. */
export function seededRandom(seed: number): Random {
  return new Sfc32(seed);
}

/** A seed for a sub-generator (node `index` of a simulation with base seed `seed`). */
export function deriveSeed(seed: number, index: number): number {
  return splitmix32((seed ^ Math.imul(index + 1, 0x27d4eb2f)) | 0)[1];
}

/** A seed from the operating system, for production instances that need no replay. */
export function osSeed(): number {
  return randomBytes(4).readUInt32LE(0);
}

/** An integer in [0, n). */
export function randomInt(rng: Random, n: number): number {
  return Math.floor(rng.next() * n);
}

/** Fisher–Yates shuffle of `items[0..length)` in place. */
export function shuffleInPlace(rng: Random, items: { [i: number]: number; length: number }, length = items.length): void {
  for (let i = length - 1; i > 0; i--) {
    const j = randomInt(rng, i + 1);
    const tmp = items[i]!;
    items[i] = items[j]!;
    items[j] = tmp;
  }
}

// Retired checkpoint directories leave the event loop's thread: a directory is renamed into
// `<dataDir>/meta/trash/` (one rename(2), ~20 µs) and removed from there in the background, one at
// a time, through libuv's thread pool. Removing it in place (five unlinks and an rmdir on ext4) cost
// ~1.5–5 ms per task under load, all on the agent's event loop (bench/RESULTS.md, bench/cron).
// The rename also settles the race with a relaunch of the same task id: the id's directory is gone
// the moment remove() returns, so a new checkpoint under the same name can never be swept away.
// Whatever a killed agent left in the trash is swept by the next one.
import { randomBytes } from 'node:crypto';
import { mkdirSync, promises as fsp, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';

function errno(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

export class CheckpointTrash {
  private readonly queue: string[] = [];
  private sweeping: Promise<void> | undefined;
  /** Names are `<tag>-<seq>`: unique across agent runs sharing a data dir (pids are reused). */
  private readonly tag = randomBytes(6).toString('hex');
  private seq = 0;
  private made = false;

  constructor(readonly dir: string) {}

  /**
   * Takes `path` out of the way at once and removes it in the background. A missing `path` is fine.
   * Falls back to removing it in place when it cannot be moved.
   */
  discard(path: string): void {
    const target = join(this.dir, `${this.tag}-${++this.seq}`);
    try {
      this.rename(path, target);
    } catch (err) {
      if (errno(err) === 'ENOENT') return;
      rmSync(path, { recursive: true, force: true });
      return;
    }
    this.queue.push(target);
    this.sweeping ??= this.sweep();
  }

  /** Queues whatever an earlier run left in the trash. */
  sweepLeftovers(): void {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return;
    }
    for (const name of names) this.queue.push(join(this.dir, name));
    if (this.queue.length > 0) this.sweeping ??= this.sweep();
  }

  /** Resolves once everything discarded so far is removed. */
  async settled(): Promise<void> {
    while (this.sweeping) await this.sweeping;
  }

  /** Entries still waiting to be removed (for tests). */
  get backlog(): number {
    return this.queue.length;
  }

  private rename(path: string, target: string): void {
    if (!this.made) {
      mkdirSync(this.dir, { recursive: true, mode: 0o700 });
      this.made = true;
    }
    try {
      renameSync(path, target);
    } catch (err) {
      // ENOENT is either `path` missing (nothing to do) or the trash removed behind our back.
      if (errno(err) !== 'ENOENT') throw err;
      mkdirSync(this.dir, { recursive: true, mode: 0o700 });
      renameSync(path, target);
    }
  }

  private async sweep(): Promise<void> {
    try {
      for (let next = this.queue.shift(); next !== undefined; next = this.queue.shift()) await removeFlat(next);
    } finally {
      this.sweeping = undefined;
    }
  }
}

/**
 * Removes a checkpoint directory: its files one by one, then the directory; half the thread-pool
 * round trips of a generic recursive rm (each costs the event loop ~50 µs on a loaded machine), and
 * never more than one thread of the pool, so the sweep stays in the background. Anything
 * unexpected inside (a subdirectory) falls back to the generic rm.
 */
async function removeFlat(dir: string): Promise<void> {
  try {
    for (const name of await fsp.readdir(dir)) {
      await fsp.unlink(join(dir, name)).catch((err: unknown) => {
        if (errno(err) !== 'ENOENT') throw err;
      });
    }
    await fsp.rmdir(dir);
  } catch (err) {
    if (errno(err) !== 'ENOENT') await fsp.rm(dir, { recursive: true, force: true }).catch(() => undefined);
  }
}

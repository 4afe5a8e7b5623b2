// The agent's fetch cache: downloaded artifacts kept on disk under `<dir>/<key>`, where the key is a
// hash of the user and the URI (as Mesos keys its cache), so one user's artifact is never handed to
// another. Bounded in bytes; least recently used entries go first. The index lives in memory and is
// rebuilt from the directory at start, ordered by file mtime, which every use refreshes.
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, rmSync, statSync, promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { systemClock, type Clock } from '../../shared/clock';

/** Default cache bound, in bytes: 2 GiB (Mesos's `--fetcher_cache_size` default). */
export const DEFAULT_FETCH_CACHE_BYTES = 2 * 1024 ** 3;

const KEY = /^[0-9a-f]{64}$/;
const TEMP_PREFIX = '.tmp-';

export interface FetchCacheOptions {
  dir: string;
  /** Most bytes kept; an artifact larger than this is fetched but not kept. Default 2 GiB. */
  maxBytes?: number;
  /** Stamps each use on the cached file's mtime, so LRU order survives a restart. */
  clock?: Clock;
}

interface Entry {
  bytes: number;
  /** Use order: higher was used more recently. */
  used: number;
  /** Copies out in progress; a pinned entry is never evicted. */
  pins: number;
}

/** The cache key of `uri` fetched on behalf of `user`. */
export function fetchCacheKey(uri: string, user: string): string {
  return createHash('sha256').update(`${user}\n${uri}`).digest('hex');
}

export class FetchCache {
  readonly dir: string;
  readonly maxBytes: number;
  private readonly clock: Clock;
  private readonly entries = new Map<string, Entry>();
  /** Downloads under way, by key; concurrent fetches of a key wait for the first. */
  private readonly inflight = new Map<string, Promise<number>>();
  private useCounter = 0;
  private total = 0;

  /** Creates the directory if needed and rebuilds the index from it (synchronously, once). */
  constructor(opts: FetchCacheOptions) {
    this.dir = opts.dir;
    this.maxBytes = opts.maxBytes ?? DEFAULT_FETCH_CACHE_BYTES;
    this.clock = opts.clock ?? systemClock;
    mkdirSync(this.dir, { recursive: true });
    const found: Array<{ key: string; bytes: number; mtime: number }> = [];
    for (const name of readdirSync(this.dir)) {
      const path = join(this.dir, name);
      // A temp file is a copy that a crash interrupted.
      if (name.startsWith(TEMP_PREFIX)) rmSync(path, { force: true });
      if (!KEY.test(name)) continue;
      const st = statSync(path);
      if (st.isFile()) found.push({ key: name, bytes: st.size, mtime: st.mtimeMs });
    }
    found.sort((a, b) => a.mtime - b.mtime);
    for (const f of found) this.remember(f.key, f.bytes);
    this.evict();
  }

  /** Bytes currently held. */
  get usedBytes(): number {
    return this.total;
  }

  has(key: string): boolean {
    return this.entries.has(key);
  }

  /**
   * Puts the artifact for `key` at `dest`: a copy of the cached file when there is one, otherwise
   * whatever `download(dest)` writes (it resolves to the byte count), which is then kept if it fits.
   * Callers that arrive while the same key is downloading wait for that download instead of
   * starting their own; if it fails or was too big to keep, each of them downloads for itself,
   * since the first caller may have failed for its own reasons (its timeout, size limit, abort).
   */
  async fetch(key: string, dest: string, download: (dest: string) => Promise<number>, signal?: AbortSignal): Promise<{ bytes: number; hit: boolean }> {
    let bytes = await this.copyOut(key, dest);
    if (bytes !== undefined) return { bytes, hit: true };
    const leader = this.inflight.get(key);
    if (leader) {
      await untilSettledOrAborted(leader, signal);
      bytes = await this.copyOut(key, dest);
      if (bytes !== undefined) return { bytes, hit: true };
      bytes = await download(dest);
      await this.admit(key, dest, bytes);
      return { bytes, hit: false };
    }
    const work = (async () => {
      const n = await download(dest);
      await this.admit(key, dest, n);
      return n;
    })();
    this.inflight.set(key, work);
    try {
      return { bytes: await work, hit: false };
    } finally {
      if (this.inflight.get(key) === work) this.inflight.delete(key);
    }
  }

  /** Copies the cached file to `dest` and marks it used; undefined on a miss. */
  private async copyOut(key: string, dest: string): Promise<number | undefined> {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    entry.used = ++this.useCounter;
    entry.pins++;
    const path = join(this.dir, key);
    try {
      await fsp.copyFile(path, dest);
      const now = new Date(this.clock.now());
      await fsp.utimes(path, now, now).catch(() => undefined);
      return entry.bytes;
    } catch {
      // Removed behind our back: forget it and fetch afresh.
      this.forget(key);
      return undefined;
    } finally {
      entry.pins--;
    }
  }

  /** Keeps a copy of `src` under `key` unless it is larger than the whole cache. Never throws. */
  private async admit(key: string, src: string, bytes: number): Promise<void> {
    if (bytes > this.maxBytes) return;
    const temp = join(this.dir, `${TEMP_PREFIX}${randomBytes(6).toString('hex')}`);
    try {
      await fsp.copyFile(src, temp);
      await fsp.rename(temp, join(this.dir, key));
    } catch {
      // A cache that cannot be written costs a re-download later, never the fetch itself.
      await fsp.rm(temp, { force: true });
      return;
    }
    this.forgetIndex(key);
    this.remember(key, bytes);
    this.evict();
  }

  private remember(key: string, bytes: number): void {
    this.entries.set(key, { bytes, used: ++this.useCounter, pins: 0 });
    this.total += bytes;
  }

  private forgetIndex(key: string): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    this.entries.delete(key);
    this.total -= entry.bytes;
  }

  private forget(key: string): void {
    this.forgetIndex(key);
    rmSync(join(this.dir, key), { force: true });
  }

  /** Drops least recently used, unpinned entries until the cache is within its bound. */
  private evict(): void {
    if (this.total <= this.maxBytes) return;
    const byAge = [...this.entries].filter(([, e]) => e.pins === 0).sort((a, b) => a[1].used - b[1].used);
    for (const [key] of byAge) {
      if (this.total <= this.maxBytes) break;
      this.forget(key);
    }
  }
}

/** Waits for `p` to settle, however it ends, or for `signal` to abort. */
function untilSettledOrAborted(p: Promise<unknown>, signal: AbortSignal | undefined): Promise<void> {
  const settled = p.then(
    () => undefined,
    () => undefined,
  );
  if (!signal) return settled;
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = (): void => {
      signal.removeEventListener('abort', done);
      resolve();
    };
    signal.addEventListener('abort', done);
    void settled.then(done);
  });
}

// The bytes of a list body (`{"tasks":[...]}`) joined from per-object JSON parts, kept until what
// they are built from changes. At 50,000 tasks the body is about 20 MB: building the parts (per-task
// JSON is cached, yet 50,000 lookups) costs tens of milliseconds on a busy machine, joining and
// encoding them again as much; while the state version holds, an answer costs only the write.

/** Cached bodies per query variant (filters, embeds); a handful at most, the oldest dropped first. */
const MAX_VARIANTS = 8;

interface Joined {
  /** What the parts were built from (a state version); undefined: always rebuilt and compared. */
  stamp: string | undefined;
  parts: readonly string[];
  bytes: Buffer;
}

export class JoinedBodies {
  private readonly cache = new Map<string, Joined>();

  constructor(
    private readonly head: string,
    private readonly tail: string,
  ) {}

  /**
   * `head + parts.join(',') + tail` as UTF-8 for `variant`: the cached bytes when `stamp` (what the
   * parts are built from, e.g. a state version) is the cached one — `build` is not even called — or
   * when the built parts equal the cached ones.
   */
  bytes(variant: string, stamp: string | undefined, build: () => readonly string[]): Buffer {
    const last = this.cache.get(variant);
    if (last && stamp !== undefined && last.stamp === stamp) return last.bytes;
    const parts = build();
    if (last && sameParts(last.parts, parts)) {
      last.stamp = stamp;
      return last.bytes;
    }
    const bytes = Buffer.from(this.head + parts.join(',') + this.tail, 'utf8');
    this.cache.delete(variant);
    this.cache.set(variant, { stamp, parts, bytes });
    if (this.cache.size > MAX_VARIANTS) this.cache.delete(this.cache.keys().next().value!);
    return bytes;
  }
}

function sameParts(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

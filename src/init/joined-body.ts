// The bytes of a list body (`{"tasks":[...]}`) joined from per-object JSON parts, kept until a part
// changes. At 50,000 tasks the body is about 20 MB: comparing the parts with the last ones costs a
// few milliseconds (the per-task JSON is cached, so unchanged parts are the same strings), joining
// and encoding them again costs tens; a steady cluster pays only the comparison and the write.

/** Cached bodies per query variant (filters, embeds); a handful at most, the oldest dropped first. */
const MAX_VARIANTS = 8;

interface Joined {
  parts: readonly string[];
  bytes: Buffer;
}

export class JoinedBodies {
  private readonly cache = new Map<string, Joined>();

  constructor(
    private readonly head: string,
    private readonly tail: string,
  ) {}

  /** `head + parts.join(',') + tail` as UTF-8, the cached bytes when `parts` equal the last parts of `variant`. */
  bytes(variant: string, parts: readonly string[]): Buffer {
    const last = this.cache.get(variant);
    if (last && sameParts(last.parts, parts)) return last.bytes;
    const bytes = Buffer.from(this.head + parts.join(',') + this.tail, 'utf8');
    this.cache.delete(variant);
    this.cache.set(variant, { parts, bytes });
    if (this.cache.size > MAX_VARIANTS) this.cache.delete(this.cache.keys().next().value!);
    return bytes;
  }
}

function sameParts(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

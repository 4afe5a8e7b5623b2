// RecordIO, the framing of Mesos's v1 HTTP event streams: each record is its length in bytes as
// ASCII decimal, a newline, then that many bytes of JSON. `<length>\n<json><length>\n<json>...`
// Chunks on the wire split records anywhere (inside the length, inside a multi-byte character),
// so the decoder works on bytes and decodes a record only once all of it has arrived.

/** Largest record the decoder accepts (bytes); a longer length prefix means a broken stream. */
export const MAX_RECORD_BYTES = 64 * 1024 * 1024;

const NEWLINE = 0x0a;
const encoder = new TextEncoder();

/** One record: `<byte length>\n<json>`. */
export function encodeRecord(value: unknown): string {
  const json = JSON.stringify(value);
  return `${encoder.encode(json).byteLength}\n${json}`;
}

/** Incremental decoder: push chunks as they arrive, get back every record they complete. */
export class RecordIoDecoder {
  private buffered: Uint8Array = new Uint8Array(0);
  /** Byte length of the record being read, once its prefix is complete. */
  private expected: number | undefined;
  private readonly text = new TextDecoder('utf-8', { fatal: true });

  /** Returns the records (as raw JSON text) completed by this chunk, in order. Throws on a malformed stream. */
  pushText(chunk: Uint8Array): string[] {
    this.append(chunk);
    const out: string[] = [];
    let at = 0;
    for (;;) {
      if (this.expected === undefined) {
        const nl = this.buffered.indexOf(NEWLINE, at);
        if (nl < 0) {
          this.checkPrefix(this.buffered.subarray(at));
          break;
        }
        this.expected = this.parseLength(this.buffered.subarray(at, nl));
        at = nl + 1;
      }
      if (this.buffered.byteLength - at < this.expected) break;
      out.push(this.text.decode(this.buffered.subarray(at, at + this.expected)));
      at += this.expected;
      this.expected = undefined;
    }
    this.buffered = this.buffered.slice(at);
    return out;
  }

  /** Like pushText, but parses each record as JSON. */
  push(chunk: Uint8Array): unknown[] {
    return this.pushText(chunk).map((json) => JSON.parse(json) as unknown);
  }

  /** True when no partial record is waiting (a stream that ends here ended cleanly). */
  get idle(): boolean {
    return this.buffered.byteLength === 0 && this.expected === undefined;
  }

  private append(chunk: Uint8Array): void {
    if (this.buffered.byteLength === 0) {
      this.buffered = chunk.slice();
      return;
    }
    const joined = new Uint8Array(this.buffered.byteLength + chunk.byteLength);
    joined.set(this.buffered, 0);
    joined.set(chunk, this.buffered.byteLength);
    this.buffered = joined;
  }

  private parseLength(digits: Uint8Array): number {
    this.checkPrefix(digits);
    if (digits.byteLength === 0) throw new Error('RecordIO: empty length prefix');
    const length = Number(String.fromCharCode(...digits));
    if (length > MAX_RECORD_BYTES) throw new Error(`RecordIO: record of ${length} bytes exceeds the ${MAX_RECORD_BYTES}-byte limit`);
    return length;
  }

  /** A (possibly partial) length prefix must be ASCII digits and cannot be longer than the limit's. */
  private checkPrefix(digits: Uint8Array): void {
    for (const b of digits) if (b < 0x30 || b > 0x39) throw new Error(`RecordIO: invalid byte 0x${b.toString(16)} in a length prefix`);
    if (digits.byteLength > String(MAX_RECORD_BYTES).length) throw new Error('RecordIO: length prefix too long');
  }
}

// A task log's HTTP response as a LogStream (client.ts `taskLogs`).
import { CorralError } from '../shared/errors';
import { isAbort, networkCause } from './http';
import type { LogOptions, LogStream } from './types';

/**
 * The response body as Buffer chunks. `X-Corral-Log-Offset` is the offset just past the returned
 * data; a followed response sends its headers before the end is known, so there the final offset is
 * the start (the requested offset, or the header for a negative one) plus the bytes received.
 */
export class HttpLogStream implements LogStream {
  private received = 0;
  private done = false;
  private readonly header: number | undefined;

  constructor(
    private readonly res: Response,
    private readonly opts: LogOptions,
    private readonly url: string,
  ) {
    const raw = res.headers.get('x-corral-log-offset');
    const n = raw === null ? NaN : Number(raw);
    this.header = Number.isFinite(n) ? n : undefined;
  }

  get offset(): number | undefined {
    if (!this.done) return undefined;
    const requested = this.opts.offset ?? 0;
    if (!this.opts.follow) return this.header ?? (requested >= 0 ? requested + this.received : undefined);
    const start = requested >= 0 ? requested : this.header;
    return start === undefined ? undefined : start + this.received;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Buffer> {
    const body = this.res.body;
    try {
      if (body === null) return;
      for await (const chunk of body) {
        this.received += chunk.byteLength;
        yield Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      }
    } catch (err) {
      if (!isAbort(err) && !this.opts.signal?.aborted) {
        throw new CorralError('API_UNREACHABLE', `The connection to the Corral API at ${this.url} broke while reading a task log (${networkCause(err)}).`);
      }
    } finally {
      this.done = true;
    }
  }
}

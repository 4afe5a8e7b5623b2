// Readers for the API's long-lived streams over real HTTP: the scheduler's RecordIO event stream
// and the operator's Server-Sent Events. Each collects what arrives in a Feed that tests await.
import { RecordIoDecoder } from '../../../src/kernel/sdk/recordio';

/** Items in arrival order; `next` takes the first unread one matching, waiting for it if need be. */
export class Feed<T> {
  readonly all: T[] = [];
  private unread: T[] = [];
  private wake: (() => void) | undefined;
  ended = false;

  push(item: T): void {
    this.all.push(item);
    this.unread.push(item);
    this.wake?.();
  }

  end(): void {
    this.ended = true;
    this.wake?.();
  }

  async next(what: string, match: (item: T) => boolean = () => true, ms = 10_000): Promise<T> {
    const deadline = Date.now() + ms;
    for (;;) {
      const i = this.unread.findIndex(match);
      if (i >= 0) return this.unread.splice(i, 1)[0]!;
      if (this.ended) throw new Error(`stream ended while waiting for ${what}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
    }
  }

  /** Resolves once the stream has ended. */
  async closed(ms = 10_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!this.ended) {
      if (Date.now() > deadline) throw new Error('timed out waiting for the stream to end');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 50);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }
}

export interface OpenStream<T> {
  res: Response;
  feed: Feed<T>;
  close(): void;
}

async function open<T>(url: string, init: RequestInit, decode: (chunk: Uint8Array) => T[]): Promise<OpenStream<T>> {
  const abort = new AbortController();
  const res = await fetch(url, { ...init, signal: abort.signal });
  const feed = new Feed<T>();
  if (res.body) {
    const reader = res.body.getReader();
    void (async () => {
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          for (const item of decode(value)) feed.push(item);
        }
      } catch {
        // aborted by close()
      }
      feed.end();
    })();
  }
  return { res, feed, close: () => abort.abort() };
}

/** POSTs a SUBSCRIBE (or any) call and reads the response as RecordIO events. */
export function openScheduler(baseUrl: string, token: string, body: unknown, headers: Record<string, string> = {}): Promise<OpenStream<any>> {
  const decoder = new RecordIoDecoder();
  return open(baseUrl + '/api/v1/scheduler', { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) }, (c) => decoder.push(c));
}

export interface SseItem {
  /** Event type, or ':' for a comment line. */
  event: string;
  data: any;
}

/** GETs an SSE stream and parses it into events (data parsed as JSON) and comments. */
export function openSse(url: string, token: string): Promise<OpenStream<SseItem>> {
  const text = new TextDecoder();
  let buffered = '';
  return open(url, { headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' } }, (chunk) => {
    buffered += text.decode(chunk, { stream: true });
    const blocks = buffered.split('\n\n');
    buffered = blocks.pop()!;
    return blocks.map((block) => {
      if (block.startsWith(':')) return { event: ':', data: block.slice(1).trim() };
      const event = /^event: (.*)$/m.exec(block)?.[1] ?? 'message';
      const data = /^data: (.*)$/m.exec(block)?.[1];
      return { event, data: data === undefined ? undefined : JSON.parse(data) };
    });
  });
}

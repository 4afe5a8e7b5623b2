// One Server-Sent Events stream on a hijacked fastify reply, shared by the operator stream
// (`/api/v1/events`) and Marathon's (`/v2/events`). Each event is written to the socket as it
// happens (no buffering, Nagle off): Marathon's users were bitten by SSE streams that sat in
// buffers (marathon#2878, #1926). A reader that falls too far behind is cut off; it may reconnect.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Clock } from './clock';

/** A reader this many bytes behind is disconnected. */
const MAX_UNREAD_BYTES = 16 * 1024 * 1024;

export interface SseStreamOptions {
  clock: Clock;
  /** Between `: heartbeat` comments, ms: they keep proxies and idle timeouts from closing the stream. */
  heartbeatMs: number;
  /** Runs once when the client goes away (or is cut off). */
  onClose: () => void;
}

export interface SseStream {
  /** Writes `event: <event>` and `data: <one line of JSON>`; a no-op once the stream has closed. */
  send(event: string, data: unknown): void;
}

/** Takes the reply over (fastify sends nothing more) and opens the stream with a 200. */
export function openSseStream(req: FastifyRequest, reply: FastifyReply, opts: SseStreamOptions): SseStream {
  void reply.hijack();
  const res = reply.raw;
  res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-cache, no-transform', Connection: 'keep-alive', 'X-Accel-Buffering': 'no' });
  // Sent now: a filtered stream may have nothing to write for a long time, and clients wait for the headers.
  res.flushHeaders();
  req.raw.socket.setNoDelay(true);
  const write = (text: string) => {
    if (res.writableEnded || res.destroyed) return;
    res.write(text);
    if (res.writableLength > MAX_UNREAD_BYTES) res.destroy();
  };
  const heartbeat = opts.clock.setInterval(() => write(': heartbeat\n\n'), opts.heartbeatMs);
  res.on('error', () => undefined);
  res.on('close', () => {
    heartbeat.cancel();
    opts.onClose();
  });
  return { send: (event, data) => write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`) };
}

// One connection to one peer, over any ordered byte stream (a hyperswarm connection in production,
// an in-memory pair in tests): the token proof exchange with its deadline, then framed datagrams,
// requests with ids and timeouts, and one-way messages (wire.ts).
//
// Life: 'hello' (our proof sent, waiting for theirs) → 'open' (emits 'authenticated') → 'closed'
// (emits 'close' once). A link that fails authentication emits 'rejected' before 'close'; nothing
// it received is ever handed to the handlers.
import { EventEmitter } from 'node:events';
import type { Clock, TimerHandle } from '../../shared/clock';
import { isCorralError } from '../../shared/errors';
import { connectionProof, verifyConnectionProof } from './auth';
import { SwarmRequestError, type AuthFailure } from './types';
import {
  DATAGRAM_CHANNELS,
  encodeFrame,
  FrameDecoder,
  MAX_FRAME_BYTES,
  MAX_HELLO_FRAME_BYTES,
  MIN_PROTOCOL_VERSION,
  PROTOCOL_VERSION,
  RESPONSE_STATUS,
  WireError,
  type DatagramChannel,
  type Frame,
} from './wire';

/** What PeerLink needs of a stream; node's Duplex and hyperswarm's SecretStream both fit. */
export interface LinkStream {
  write(data: Buffer): unknown;
  destroy(err?: Error): unknown;
  on(event: 'data', listener: (chunk: Buffer) => void): unknown;
  on(event: 'close', listener: () => void): unknown;
  on(event: 'error', listener: (err: Error) => void): unknown;
}

export interface LinkHandlers {
  datagram(channel: DatagramChannel, payload: Buffer): void;
  /** The answer to a request, or null when nothing handles `method`. */
  request(method: string, payload: Buffer): Promise<Uint8Array> | null;
  notify(method: string, payload: Buffer): void;
}

export interface PeerLinkOptions {
  readonly stream: LinkStream;
  readonly authKey: Buffer;
  /** The Noise handshake hash, identical on both ends of the connection. */
  readonly handshakeHash: Buffer;
  readonly localPublicKey: Buffer;
  readonly remotePublicKey: Buffer;
  readonly clock: Clock;
  readonly authTimeoutMs: number;
  readonly handlers: LinkHandlers;
  /** Protocol version to announce (tests); default PROTOCOL_VERSION. */
  readonly version?: number;
}

export interface PeerLinkEvents {
  authenticated: [];
  rejected: [reason: AuthFailure, detail: string];
  close: [];
}

interface Pending {
  resolve(payload: Buffer): void;
  reject(err: SwarmRequestError): void;
  timer: TimerHandle;
}

/**
 * How long a rejected link's stream stays up (ignored) so that our own hello still reaches the
 * peer, in ms. Both ends check at once: if the first to reject destroyed the stream (or even ended
 * it) at once, its queued hello could be lost, and the other end would see a mere close instead of
 * the wrong proof it must ban.
 */
const REJECT_LINGER_MS = 1000;

const CHANNEL_BY_NUMBER = new Map<number, DatagramChannel>(Object.entries(DATAGRAM_CHANNELS).map(([name, n]) => [n, name as DatagramChannel]));

export class PeerLink extends EventEmitter<PeerLinkEvents> {
  readonly remoteNodeId: string;
  /** When bytes last arrived on this link (the swarm's clock, ms); gossip keeps it fresh. */
  lastReceivedAt: number | undefined;
  private state: 'hello' | 'open' | 'closed' = 'hello';
  private negotiated = 0;
  private readonly decoder = new FrameDecoder(MAX_HELLO_FRAME_BYTES);
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private authTimer: TimerHandle | undefined;
  private rejected = false;
  private lingerTimer: TimerHandle | undefined;

  constructor(private readonly opts: PeerLinkOptions) {
    super();
    this.remoteNodeId = opts.remotePublicKey.toString('hex');
    opts.stream.on('data', (chunk) => this.onData(chunk));
    opts.stream.on('close', () => {
      this.lingerTimer?.cancel();
      this.finish();
    });
    opts.stream.on('error', () => undefined); // 'close' follows; the reason does not matter here
    this.authTimer = opts.clock.setTimeout(() => this.reject('timeout', `no proof within ${opts.authTimeoutMs} ms`), opts.authTimeoutMs);
    const proof = connectionProof(opts.authKey, opts.handshakeHash, opts.localPublicKey);
    this.write({ kind: 'hello', version: opts.version ?? PROTOCOL_VERSION, proof });
  }

  get isOpen(): boolean {
    return this.state === 'open';
  }

  /** The protocol version both ends speak, known once open (0 before). */
  get version(): number {
    return this.negotiated;
  }

  private get isLive(): boolean {
    return this.state !== 'closed';
  }

  /** Best effort: false when the link is not open. */
  sendDatagram(channel: DatagramChannel, payload: Uint8Array): boolean {
    if (this.state !== 'open') return false;
    return this.write({ kind: 'datagram', channel: DATAGRAM_CHANNELS[channel], payload: asBuffer(payload) });
  }

  notify(method: string, payload: Uint8Array): boolean {
    if (this.state !== 'open') return false;
    return this.write({ kind: 'notify', method, payload: asBuffer(payload) });
  }

  /** Rejects with a SwarmRequestError, or a WireError when the request cannot be framed (too big, bad method name). */
  request(method: string, payload: Uint8Array, timeoutMs: number): Promise<Buffer> {
    if (this.state !== 'open') return Promise.reject(new SwarmRequestError('closed', `connection to ${short(this.remoteNodeId)} is not open`));
    const id = this.nextId;
    this.nextId = this.nextId >= 0xffffffff ? 1 : this.nextId + 1;
    let frame: Buffer;
    try {
      frame = encodeFrame({ kind: 'request', id, method, payload: asBuffer(payload) });
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise<Buffer>((resolve, reject) => {
      const timer = this.opts.clock.setTimeout(() => {
        this.pending.delete(id);
        reject(new SwarmRequestError('timeout', `${method} to ${short(this.remoteNodeId)} got no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      this.opts.stream.write(frame);
    });
  }

  /** Closes the link and its stream; pending requests fail with 'closed'. */
  close(): void {
    if (this.state === 'closed') return;
    this.opts.stream.destroy();
    this.finish();
  }

  private write(frame: Frame): boolean {
    try {
      this.opts.stream.write(encodeFrame(frame));
      return true;
    } catch (err) {
      // Only an oversized payload gets here; the caller learns it as a failed send.
      if (err instanceof WireError) return false;
      throw err;
    }
  }

  private onData(chunk: Buffer): void {
    if (this.state === 'closed') return;
    this.lastReceivedAt = this.opts.clock.now();
    this.decoder.push(chunk);
    // One frame at a time: the hello switches the state (and the size limit) for the next one.
    while (this.isLive) {
      let frame: Frame | undefined;
      try {
        frame = this.decoder.next();
      } catch (err) {
        this.violation((err as Error).message);
        return;
      }
      if (frame === undefined) return;
      if (this.state === 'hello') this.onHello(frame);
      else this.onFrame(frame);
    }
  }

  private onHello(frame: Frame): void {
    if (frame.kind !== 'hello') return this.reject('protocol', `first frame is a ${frame.kind}, not a hello`);
    if (!verifyConnectionProof(this.opts.authKey, this.opts.handshakeHash, this.opts.remotePublicKey, frame.proof)) {
      return this.reject('bad-proof', 'the proof does not match the cluster token');
    }
    const version = Math.min(this.opts.version ?? PROTOCOL_VERSION, frame.version);
    if (version < MIN_PROTOCOL_VERSION) return this.reject('version', `peer speaks protocol ${frame.version}, this node ${MIN_PROTOCOL_VERSION}..${PROTOCOL_VERSION}`);
    this.authTimer?.cancel();
    this.authTimer = undefined;
    this.negotiated = version;
    this.state = 'open';
    this.decoder.limit = MAX_FRAME_BYTES;
    this.emit('authenticated');
  }

  private onFrame(frame: Frame): void {
    switch (frame.kind) {
      case 'hello':
        return this.violation('a second hello');
      case 'datagram': {
        const channel = CHANNEL_BY_NUMBER.get(frame.channel);
        // A channel from a newer version: nobody here listens to it.
        if (channel !== undefined) this.opts.handlers.datagram(channel, frame.payload);
        return;
      }
      case 'notify':
        return this.opts.handlers.notify(frame.method, frame.payload);
      case 'request':
        return void this.answer(frame.id, frame.method, frame.payload);
      case 'response':
        return this.settle(frame.id, frame.status, frame.payload);
    }
  }

  private async answer(id: number, method: string, payload: Buffer): Promise<void> {
    const answering = this.opts.handlers.request(method, payload);
    if (answering === null) {
      this.write({ kind: 'response', id, status: RESPONSE_STATUS.noHandler, payload: Buffer.alloc(0) });
      return;
    }
    let status: number = RESPONSE_STATUS.ok;
    let body: Buffer;
    try {
      body = Buffer.from(await answering);
    } catch (err) {
      status = RESPONSE_STATUS.error;
      const error = isCorralError(err) ? { message: err.message, code: err.code } : { message: err instanceof Error ? err.message : String(err) };
      body = Buffer.from(JSON.stringify(error), 'utf8');
    }
    if (this.state !== 'open') return;
    if (!this.write({ kind: 'response', id, status, payload: body })) {
      const tooBig = Buffer.from(JSON.stringify({ message: `the answer to ${method} is over the frame size limit` }), 'utf8');
      this.write({ kind: 'response', id, status: RESPONSE_STATUS.error, payload: tooBig });
    }
  }

  private settle(id: number, status: number, payload: Buffer): void {
    const pending = this.pending.get(id);
    if (pending === undefined) return; // it timed out already
    this.pending.delete(id);
    pending.timer.cancel();
    if (status === RESPONSE_STATUS.ok) return pending.resolve(payload);
    if (status === RESPONSE_STATUS.noHandler) return pending.reject(new SwarmRequestError('no-responder', `${short(this.remoteNodeId)} has no handler for this request`));
    let message = 'the peer failed the request';
    let code: string | undefined;
    try {
      const parsed = JSON.parse(payload.toString('utf8')) as { message?: unknown; code?: unknown };
      if (typeof parsed.message === 'string') message = parsed.message;
      if (typeof parsed.code === 'string') code = parsed.code;
    } catch {
      // keep the generic message
    }
    pending.reject(new SwarmRequestError('remote-error', message, code));
  }

  private reject(reason: AuthFailure, detail: string): void {
    if (this.state !== 'hello') return;
    this.rejected = true;
    this.emit('rejected', reason, detail);
    this.lingerTimer = this.opts.clock.setTimeout(() => this.opts.stream.destroy(), REJECT_LINGER_MS);
    this.finish();
  }

  /** Bad framing: before authentication it counts against the peer, after it just ends the link. */
  private violation(detail: string): void {
    if (this.state === 'hello') this.reject('protocol', detail);
    else this.close();
  }

  private finish(): void {
    if (this.state === 'closed') return;
    const wasHello = this.state === 'hello';
    this.state = 'closed';
    this.authTimer?.cancel();
    this.authTimer = undefined;
    if (wasHello && !this.rejected) this.emit('rejected', 'closed', 'the connection closed before the proof arrived');
    for (const [id, pending] of this.pending) {
      this.pending.delete(id);
      pending.timer.cancel();
      pending.reject(new SwarmRequestError('closed', `connection to ${short(this.remoteNodeId)} closed`));
    }
    this.emit('close');
  }
}

/** A Buffer view of `bytes`, without copying. */
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function short(nodeId: string): string {
  return nodeId.slice(0, 12);
}

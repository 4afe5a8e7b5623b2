// The framing spoken on an authenticated swarm connection, version 1. Pure encode/decode; the
// connection logic is in peer-link.ts.
//
//   frame    = length:u32be kind:u8 body          length counts kind + body, at most MAX_FRAME_BYTES
//   hello    (0) version:u16be proof:32 bytes      always the first frame each way; later versions may append fields
//   datagram (1) channel:u8 payload                best-effort messages (membership gossip)
//   request  (2) id:u32be methodLen:u8 method payload
//   response (3) id:u32be status:u8 payload       status 0 ok, 1 error (payload: JSON {message, code?}), 2 no handler
//   notify   (4) methodLen:u8 method payload       one-way message, no answer
//
// Kinds, channels and statuses are append-only: a number once used keeps its meaning.

/** The version this node speaks; two nodes use the lower of their two versions. */
export const PROTOCOL_VERSION = 1;
/** The oldest version this node still speaks. */
export const MIN_PROTOCOL_VERSION = 1;
/** Largest frame accepted (kind + body), in bytes: a bigger one is a protocol violation. */
export const MAX_FRAME_BYTES = 8 * 1024 * 1024;
/** Largest frame accepted before the peer has proved the token: nobody unproven makes us buffer much. */
export const MAX_HELLO_FRAME_BYTES = 256;
export const PROOF_BYTES = 32;

const KIND = { hello: 0, datagram: 1, request: 2, response: 3, notify: 4 } as const;

/** Datagram channels by name → wire number. */
export const DATAGRAM_CHANNELS = { membership: 1 } as const;
export type DatagramChannel = keyof typeof DATAGRAM_CHANNELS;

export const RESPONSE_STATUS = { ok: 0, error: 1, noHandler: 2 } as const;
export type ResponseStatus = (typeof RESPONSE_STATUS)[keyof typeof RESPONSE_STATUS];

export type Frame =
  | { kind: 'hello'; version: number; proof: Buffer }
  | { kind: 'datagram'; channel: number; payload: Buffer }
  | { kind: 'request'; id: number; method: string; payload: Buffer }
  | { kind: 'response'; id: number; status: number; payload: Buffer }
  | { kind: 'notify'; method: string; payload: Buffer };

/** A frame that breaks the format: the connection that sent it is dropped. */
export class WireError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WireError';
  }
}

export function encodeFrame(frame: Frame): Buffer {
  let head: Buffer;
  let payload: Buffer;
  switch (frame.kind) {
    case 'hello':
      if (frame.proof.length !== PROOF_BYTES) throw new WireError(`hello proof must be ${PROOF_BYTES} bytes`);
      head = Buffer.alloc(3);
      head[0] = KIND.hello;
      head.writeUInt16BE(frame.version, 1);
      payload = frame.proof;
      break;
    case 'datagram':
      head = Buffer.from([KIND.datagram, frame.channel]);
      payload = frame.payload;
      break;
    case 'request': {
      const method = methodBytes(frame.method);
      head = Buffer.alloc(6 + method.length);
      head[0] = KIND.request;
      head.writeUInt32BE(frame.id, 1);
      head[5] = method.length;
      method.copy(head, 6);
      payload = frame.payload;
      break;
    }
    case 'response':
      head = Buffer.alloc(6);
      head[0] = KIND.response;
      head.writeUInt32BE(frame.id, 1);
      head[5] = frame.status;
      payload = frame.payload;
      break;
    case 'notify': {
      const method = methodBytes(frame.method);
      head = Buffer.concat([Buffer.from([KIND.notify, method.length]), method]);
      payload = frame.payload;
      break;
    }
  }
  const length = head.length + payload.length;
  if (length > MAX_FRAME_BYTES) throw new WireError(`frame of ${length} bytes is over the ${MAX_FRAME_BYTES}-byte limit`);
  const prefix = Buffer.alloc(4);
  prefix.writeUInt32BE(length, 0);
  return Buffer.concat([prefix, head, payload], 4 + length);
}

/** Splits a byte stream into frames, however the bytes were chunked. */
export class FrameDecoder {
  private buffered: Buffer = Buffer.alloc(0);
  private offset = 0;

  /**
   * @param limit largest frame accepted (kind + body), in bytes; checked as each frame is read,
   *   so a reader can accept only a small hello first and raise the limit after it.
   */
  constructor(public limit = MAX_FRAME_BYTES) {}

  /** Adds received bytes; read the frames they complete with next(). */
  push(chunk: Uint8Array): void {
    const rest = this.buffered.subarray(this.offset);
    this.buffered = rest.length === 0 ? Buffer.from(chunk) : Buffer.concat([rest, chunk]);
    this.offset = 0;
  }

  /** The next complete frame, or undefined until more bytes arrive. Throws WireError on bad input. */
  next(): Frame | undefined {
    if (this.buffered.length - this.offset < 4) return undefined;
    const length = this.buffered.readUInt32BE(this.offset);
    if (length === 0 || length > this.limit) throw new WireError(`frame length ${length} is outside 1..${this.limit}`);
    if (this.buffered.length - this.offset - 4 < length) return undefined;
    const body = this.buffered.subarray(this.offset + 4, this.offset + 4 + length);
    this.offset += 4 + length;
    return decodeBody(body);
  }

  /** Bytes received that do not yet form a whole frame. */
  get pendingBytes(): number {
    return this.buffered.length - this.offset;
  }
}

/** Every frame in `bytes` (tests and tools). */
export function decodeFrames(bytes: Uint8Array, decoder = new FrameDecoder()): Frame[] {
  decoder.push(bytes);
  const frames: Frame[] = [];
  for (let frame = decoder.next(); frame !== undefined; frame = decoder.next()) frames.push(frame);
  return frames;
}

function decodeBody(body: Buffer): Frame {
  const kind = body[0];
  switch (kind) {
    case KIND.hello:
      need(body, 3 + PROOF_BYTES, 'hello');
      return { kind: 'hello', version: body.readUInt16BE(1), proof: Buffer.from(body.subarray(3, 3 + PROOF_BYTES)) };
    case KIND.datagram:
      need(body, 2, 'datagram');
      return { kind: 'datagram', channel: body[1]!, payload: Buffer.from(body.subarray(2)) };
    case KIND.request: {
      need(body, 6, 'request');
      const [method, rest] = readMethod(body, 5, 'request');
      return { kind: 'request', id: body.readUInt32BE(1), method, payload: rest };
    }
    case KIND.response:
      need(body, 6, 'response');
      return { kind: 'response', id: body.readUInt32BE(1), status: body[5]!, payload: Buffer.from(body.subarray(6)) };
    case KIND.notify: {
      need(body, 2, 'notify');
      const [method, rest] = readMethod(body, 1, 'notify');
      return { kind: 'notify', method, payload: rest };
    }
    default:
      throw new WireError(`unknown frame kind ${kind}`);
  }
}

function need(body: Buffer, bytes: number, what: string): void {
  if (body.length < bytes) throw new WireError(`${what} frame of ${body.length} bytes is shorter than ${bytes}`);
}

function readMethod(body: Buffer, at: number, what: string): [string, Buffer] {
  const len = body[at]!;
  if (len === 0 || body.length < at + 1 + len) throw new WireError(`${what} frame has a bad method name`);
  return [body.toString('utf8', at + 1, at + 1 + len), Buffer.from(body.subarray(at + 1 + len))];
}

function methodBytes(method: string): Buffer {
  const bytes = Buffer.from(method, 'utf8');
  if (bytes.length === 0 || bytes.length > 255) throw new WireError(`method name must be 1..255 bytes, got ${bytes.length}`);
  return bytes;
}

// The membership wire protocol, version 1. Messages are plain JSON-safe objects with short field
// names. An in-process transport (MockNetwork) passes the objects as they are and counts their size
// with `messageBytes`, which is the exact length of their JSON for ASCII content; a network transport
// sends `encodeMessage(msg)` and hands the receiver the bytes, which `parseMessage` decodes and
// validates. Passing objects keeps a 10,000-node simulation from spending its time in
// JSON.stringify/parse; MockNetwork's `serialize` option runs the same code over real bytes.
//
// Compatibility rules: both enums below are append-only (never renumber or reuse a value); every
// message carries `v`, the sender's protocol version; a receiver ignores fields it does not know and
// drops messages whose type it does not know, so a newer node can add both.

export const PROTOCOL_VERSION = 1;

/** Message types. Append-only. */
export const MessageType = {
  /** Direct probe: "are you `to`? ack with this seq". */
  Ping: 1,
  /** Indirect probe: "ping `to` at `addr` for me and relay its ack, or a nack if it stays silent". */
  PingReq: 2,
  Ack: 3,
  /** Lifeguard: a helper could not reach the target; tells the requester its own link works. */
  Nack: 4,
  /** Updates only, sent to `gossipNodes` random members every `gossipInterval`. */
  Gossip: 5,
  /** Full-state exchange over the transport's request/response stream (join and anti-entropy). */
  PushPull: 6,
  PushPullReply: 7,
} as const;
export type MessageType = (typeof MessageType)[keyof typeof MessageType];

/** Member states on the wire. Append-only. */
export const StateCode = { Alive: 0, Suspect: 1, Dead: 2, Left: 3 } as const;
export type StateCode = (typeof StateCode)[keyof typeof StateCode];

/** One member as a node stores it and as push-pull sends it. Immutable: replaced, never mutated. */
export interface MemberRecord {
  readonly id: string;
  readonly inc: number;
  readonly st: StateCode;
  /** Transport address; absent when it equals `id` (always, in production). */
  readonly addr?: string;
  /** The member's metadata as JSON text, kept as text so it is compared and sized without parsing. */
  readonly meta: string;
}

/**
 * One piggybacked or gossiped change. `alive` updates carry the whole record (with `meta`);
 * `suspect` and `dead` carry `from`, the node that reported it (independent reports shorten a
 * suspicion); `left` carries neither.
 */
export interface MemberUpdate {
  readonly id: string;
  readonly inc: number;
  readonly st: StateCode;
  readonly addr?: string;
  readonly meta?: string;
  readonly from?: string;
}

export interface PingMessage { t: 1; v: number; seq: number; to: string; u?: MemberUpdate[] | undefined }
export interface PingReqMessage { t: 2; v: number; seq: number; to: string; addr: string; u?: MemberUpdate[] | undefined }
export interface AckMessage { t: 3; v: number; seq: number; u?: MemberUpdate[] | undefined }
export interface NackMessage { t: 4; v: number; seq: number; u?: MemberUpdate[] | undefined }
export interface GossipMessage { t: 5; v: number; u: MemberUpdate[] }
export interface PushPullMessage { t: 6; v: number; join: boolean; m: readonly MemberRecord[] }
export interface PushPullReplyMessage { t: 7; v: number; m: readonly MemberRecord[] }

export type DatagramMessage = PingMessage | PingReqMessage | AckMessage | NackMessage | GossipMessage;
export type WireMessage = DatagramMessage | PushPullMessage | PushPullReplyMessage;

/** Longest accepted id, address or reporter; hex public keys are 64. */
export const MAX_ID_LENGTH = 256;
/** Longest metadata text accepted from a peer (a node's own limit is `maxMetaBytes`). */
export const MAX_WIRE_META_LENGTH = 8192;
/** Most updates accepted in one datagram (a 1,400-byte packet holds far fewer). */
export const MAX_UPDATES_PER_MESSAGE = 1024;

// ---------------------------------------------------------------------------------------------
// Validation: every received payload passes here, bytes or object alike.

/** Printable ASCII without `"` and `\`, so its JSON is the text plus two quotes. */
const PLAIN_ID = /^[\x20\x21\x23-\x5b\x5d-\x7e]+$/;

function isId(x: unknown): x is string {
  return typeof x === 'string' && x.length > 0 && x.length <= MAX_ID_LENGTH && PLAIN_ID.test(x);
}

function isCount(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
}

function isState(x: unknown): x is StateCode {
  return x === 0 || x === 1 || x === 2 || x === 3;
}

function isUpdate(x: unknown, requireMeta: boolean): boolean {
  if (typeof x !== 'object' || x === null) return false;
  const u = x as Record<string, unknown>;
  if (!isId(u.id) || !isCount(u.inc) || !isState(u.st)) return false;
  if (u.addr !== undefined && !isId(u.addr)) return false;
  if (u.from !== undefined && (requireMeta || !isId(u.from))) return false;
  if (u.meta === undefined) return !requireMeta && u.st !== StateCode.Alive;
  return typeof u.meta === 'string' && u.meta.length <= MAX_WIRE_META_LENGTH;
}

function isUpdateList(x: unknown, max: number, records: boolean): boolean {
  if (!Array.isArray(x) || x.length > max) return false;
  for (const u of x) if (!isUpdate(u, records)) return false;
  return true;
}

/**
 * The message a payload holds, or undefined when it is not a valid message of a known type (the
 * caller ignores it). Accepts encoded bytes or an already-decoded object.
 */
export function parseMessage(payload: unknown): WireMessage | undefined {
  let m: unknown = payload;
  if (payload instanceof Uint8Array) {
    try {
      m = JSON.parse(Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString('utf8'));
    } catch {
      return undefined;
    }
  }
  if (typeof m !== 'object' || m === null) return undefined;
  const o = m as Record<string, unknown>;
  if (!isCount(o.v) || o.v < 1) return undefined;
  const optionalUpdates = o.u === undefined || isUpdateList(o.u, MAX_UPDATES_PER_MESSAGE, false);
  switch (o.t) {
    case MessageType.Ping:
      return isCount(o.seq) && isId(o.to) && optionalUpdates ? (o as unknown as PingMessage) : undefined;
    case MessageType.PingReq:
      return isCount(o.seq) && isId(o.to) && isId(o.addr) && optionalUpdates ? (o as unknown as PingReqMessage) : undefined;
    case MessageType.Ack:
    case MessageType.Nack:
      return isCount(o.seq) && optionalUpdates ? (o as unknown as AckMessage | NackMessage) : undefined;
    case MessageType.Gossip:
      return isUpdateList(o.u, MAX_UPDATES_PER_MESSAGE, false) ? (o as unknown as GossipMessage) : undefined;
    case MessageType.PushPull:
      return typeof o.join === 'boolean' && isUpdateList(o.m, Number.MAX_SAFE_INTEGER, true) ? (o as unknown as PushPullMessage) : undefined;
    case MessageType.PushPullReply:
      return isUpdateList(o.m, Number.MAX_SAFE_INTEGER, true) ? (o as unknown as PushPullReplyMessage) : undefined;
    default:
      return undefined;
  }
}

/** The bytes a network transport sends for a message (UTF-8 JSON). */
export function encodeMessage(msg: WireMessage): Uint8Array {
  return Buffer.from(JSON.stringify(msg), 'utf8');
}

// ---------------------------------------------------------------------------------------------
// Sizes: exact JSON lengths for ASCII content, without serialising. Used for the piggyback budget
// (`maxPacketBytes`) and by MockNetwork to count traffic.

function digits(n: number): number {
  if (n < 10) return 1;
  if (n < 100) return 2;
  if (n < 1000) return 3;
  if (n < 10000) return 4;
  if (n < 100000) return 5;
  return String(n).length;
}

const metaSizes = new Map<string, number>();

/** JSON length of a metadata text as a JSON string (quotes and backslashes are escaped). */
function metaBytes(meta: string): number {
  const cached = metaSizes.get(meta);
  if (cached !== undefined) return cached;
  let size = meta.length + 2;
  for (let i = 0; i < meta.length; i++) {
    const c = meta.charCodeAt(i);
    if (c === 34 || c === 92 || c === 8 || c === 9 || c === 10 || c === 12 || c === 13) size += 1; // \" \\ \b \t \n \f \r
    else if (c < 32) size += 5; // \u00XX
  }
  // One text per member at most (10,000 in the largest simulation); bounded all the same.
  if (metaSizes.size >= 65536) metaSizes.clear();
  metaSizes.set(meta, size);
  return size;
}

/** JSON length of one update or record. */
export function updateBytes(u: MemberUpdate): number {
  // {"id":"…","inc":N,"st":N[,"addr":"…"][,"meta":"…"][,"from":"…"]}
  let size = 6 + u.id.length + 2 + 7 + digits(u.inc) + 6 + 1 + 1;
  if (u.addr !== undefined) size += 8 + u.addr.length + 2;
  if (u.meta !== undefined) size += 8 + metaBytes(u.meta);
  if (u.from !== undefined) size += 8 + u.from.length + 2;
  return size;
}

/**
 * Sizes of records seen in long lists (push-pull states). Records are immutable and shared between
 * the snapshots a node sends, so a simulation sizes each one once instead of once per push-pull.
 */
const recordSizes = new WeakMap<MemberUpdate, number>();

/** JSON length of a list of updates including brackets and commas, e.g. `[{…},{…}]`. */
export function updateListBytes(list: readonly MemberUpdate[]): number {
  let size = 2 + Math.max(0, list.length - 1);
  if (list.length < 64) {
    for (const u of list) size += updateBytes(u);
    return size;
  }
  for (const u of list) {
    let bytes = recordSizes.get(u);
    if (bytes === undefined) {
      bytes = updateBytes(u);
      recordSizes.set(u, bytes);
    }
    size += bytes;
  }
  return size;
}

/** Bytes `,"u":[]` adds to a datagram before its first update. */
export const PIGGYBACK_OVERHEAD = 7;

/** JSON length of a message (see the note at the top). */
export function messageBytes(msg: WireMessage): number {
  let size = 12 + 1; // {"t":N,"v":N …}
  if (msg.v >= 10) size += digits(msg.v) - 1;
  switch (msg.t) {
    case MessageType.PushPull:
      return size + (msg.join ? 12 : 13) + 5 + updateListBytes(msg.m);
    case MessageType.PushPullReply:
      return size + 5 + updateListBytes(msg.m);
    case MessageType.Gossip:
      return size + 5 + updateListBytes(msg.u);
    case MessageType.Ping:
      size += 7 + digits(msg.seq) + 6 + msg.to.length + 2;
      break;
    case MessageType.PingReq:
      size += 7 + digits(msg.seq) + 6 + msg.to.length + 2 + 8 + msg.addr.length + 2;
      break;
    default:
      size += 7 + digits(msg.seq);
  }
  return msg.u === undefined ? size : size + 5 + updateListBytes(msg.u);
}

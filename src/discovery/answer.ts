// The DNS answerer: query bytes in, reply bytes out, from one catalog. Replies are encoded with
// dns-packet once per (name, type, class, EDNS) and cached; a query only copies the cached reply,
// patches in its id, RD/CD flags and question bytes (so the name keeps the client's case), and
// picks the truncated form when the full one does not fit the client's UDP size. A new catalog
// starts a new cache. No I/O: the server shell sends the bytes, or forwards what is outside the zone.
import { encode, type Answer, AUTHORITATIVE_ANSWER, TRUNCATED_RESPONSE } from 'dns-packet';
import { parseQuery, questionName, type DnsQuery } from './query';
import { RCODE, resolveInZone, type ZoneAnswer } from './resolve';
import type { Catalog } from './types';

/** Smallest UDP payload every client takes (RFC 1035), and the largest Corral sends (RFC 9715's advice). */
const MIN_UDP = 512;
const MAX_UDP = 1232;
/** Cached replies before the cache starts over (a flood of random names must not grow it without end). */
const MAX_CACHED = 50_000;

export type Reply = { kind: 'reply'; packet: Buffer } | { kind: 'forward'; query: DnsQuery } | { kind: 'drop' };

interface CachedReply {
  full: Buffer;
  /** The reply without records and with TC set, made when a UDP client first needs it. */
  truncated: Buffer | undefined;
  /** Bytes [12, questionEnd) of the reply: the question as encoded (patched from the query when equally long). */
  questionEnd: number;
}

export interface AnswererOptions {
  /** Names outside the zone are forwarded (upstreams are configured) rather than refused. */
  forwardOutside: boolean;
}

export class DnsAnswerer {
  private cache = new Map<string, CachedReply>();
  private current: Catalog;

  constructor(catalog: Catalog, private readonly opts: AnswererOptions) {
    this.current = catalog;
  }

  get catalog(): Catalog {
    return this.current;
  }

  setCatalog(catalog: Catalog): void {
    this.current = catalog;
    this.cache = new Map();
  }

  /** The reply to `query`; `udp`: it came over UDP (size limits and truncation apply). */
  answer(query: Buffer, udp: boolean): Reply {
    const q = parseQuery(query);
    if (q.kind === 'drop') return q;
    if (q.kind === 'error') return { kind: 'reply', packet: headerOnlyReply(q.id, q.flags, q.rcode) };
    let cached = q.key === undefined ? undefined : this.cache.get(q.key);
    if (!cached) {
      const zone = resolveInZone(this.current, questionName(query, q), q.qtype, q.qclass);
      if (!zone && this.opts.forwardOutside) return { kind: 'forward', query: q };
      cached = encodeReply(query, q, zone ?? { rcode: RCODE.REFUSED, answers: [], authorities: [], additionals: [] }, zone !== undefined);
      if (!cached) return { kind: 'reply', packet: headerOnlyReply(q.id, q.flags, RCODE.FORMERR) };
      if (q.key !== undefined) {
        if (this.cache.size >= MAX_CACHED) this.cache.clear();
        this.cache.set(q.key, cached);
      }
    }
    const limit = udp ? (q.udpSize === undefined ? MIN_UDP : Math.min(MAX_UDP, Math.max(MIN_UDP, q.udpSize))) : 65535;
    let source = cached.full;
    if (source.length > limit) source = cached.truncated ??= truncate(cached.full, cached.questionEnd);
    const out = Buffer.allocUnsafe(source.length);
    source.copy(out);
    out.writeUInt16BE(q.id, 0);
    // RD and CD as the client sent them.
    out[2] = (out[2]! & ~0x01) | ((q.flags >> 8) & 0x01);
    out[3] = (out[3]! & ~0x10) | (q.flags & 0x10);
    // Same cache key, same wire length: the client's own spelling of the name.
    if (q.nameEnd !== undefined) query.copy(out, 12, 12, q.nameEnd);
    return { kind: 'reply', packet: out };
  }
}

function encodeReply(query: Buffer, q: DnsQuery, zone: ZoneAnswer, authoritative: boolean): CachedReply | undefined {
  const question = q.nameEnd !== undefined ? query.subarray(12, q.nameEnd + 4) : questionBytes(q);
  if (!question) return undefined;
  const additionals: Answer[] = [...zone.additionals];
  if (q.udpSize !== undefined) additionals.push({ type: 'OPT', name: '.', udpPayloadSize: MAX_UDP, flags: 0 } as unknown as Answer);
  const records = encode({
    type: 'response',
    id: 0,
    flags: (authoritative ? AUTHORITATIVE_ANSWER : 0) | zone.rcode,
    questions: [],
    answers: zone.answers,
    authorities: zone.authorities,
    additionals,
  });
  // Header, then the question exactly as the client sent it, then the records.
  const full = Buffer.allocUnsafe(records.length + question.length);
  records.copy(full, 0, 0, 12);
  full.writeUInt16BE(1, 4);
  question.copy(full, 12);
  records.copy(full, 12 + question.length, 12);
  return { full, truncated: undefined, questionEnd: 12 + question.length };
}

/** The question of a query whose name was compressed, written out uncompressed; undefined if its name cannot be. */
function questionBytes(q: DnsQuery): Buffer | undefined {
  const name = (q.name ?? '').replace(/\.$/, '');
  const labels = name === '' ? [] : name.split('.');
  if (labels.some((l) => l === '' || Buffer.byteLength(l) > 63) || Buffer.byteLength(name) > 253) return undefined;
  const out = encode({ type: 'query', id: 0, questions: [{ name: name === '' ? '.' : name, type: 'A', class: 'IN' }] }).subarray(12);
  out.writeUInt16BE(q.qtype, out.length - 4);
  out.writeUInt16BE(q.qclass, out.length - 2);
  return out;
}

/** The same reply with TC set, no records, just the header and question: the client retries over TCP. */
function truncate(full: Buffer, questionEnd: number): Buffer {
  const out = Buffer.from(full.subarray(0, questionEnd));
  out.writeUInt16BE(full.readUInt16BE(2) | TRUNCATED_RESPONSE, 2);
  out.writeUInt16BE(0, 6);
  out.writeUInt16BE(0, 8);
  out.writeUInt16BE(0, 10);
  return out;
}

/** A reply with only a header (FORMERR, NOTIMP, SERVFAIL): no question is echoed. */
export function headerOnlyReply(id: number, queryFlags: number, rcode: number): Buffer {
  const out = Buffer.alloc(12);
  out.writeUInt16BE(id, 0);
  // QR, the query's opcode and RD, the rcode.
  out.writeUInt16BE(0x8000 | (queryFlags & 0x7900) | rcode, 2);
  return out;
}

/** SERVFAIL for a forwarded query no upstream answered. */
export function serverFailure(q: DnsQuery): Buffer {
  return headerOnlyReply(q.id, q.flags, RCODE.SERVFAIL);
}

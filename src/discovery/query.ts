// Reading a DNS query. The common shape — one question with an uncompressed name, nothing else but
// an optional EDNS OPT record — is read here in one pass without allocating a packet object (the
// DNS server's hot path); anything else is handed to dns-packet's decoder, which rejects
// truncated records and compression loops. Whatever cannot be read is FORMERR or dropped.
import { decode } from 'dns-packet';
import { QTYPE, RCODE } from './resolve';

export interface DnsQuery {
  kind: 'query';
  id: number;
  /** Header flags of the query (RD and CD are copied into the reply). */
  flags: number;
  qtype: number;
  qclass: number;
  /** Question name in wire form [12, nameEnd) when uncompressed; the reply copies it to keep its case. */
  nameEnd: number | undefined;
  /** The name as decoded (any case, no trailing dot); set lazily from the wire form by questionName(). */
  name: string | undefined;
  /** EDNS: the UDP payload size the client accepts; undefined without an OPT record. */
  udpSize: number | undefined;
  /** The key of the reply cache: the name's wire bytes (lower case), type, class, EDNS or not. */
  key: string | undefined;
}

export type ParsedQuery = DnsQuery | { kind: 'error'; id: number; flags: number; rcode: number } | { kind: 'drop' };

const HEADER = 12;
const MAX_NAME = 255;

const DROP: ParsedQuery = { kind: 'drop' };

/** Reads a query; replies (QR set) and packets shorter than a header are dropped. */
export function parseQuery(buf: Buffer): ParsedQuery {
  if (buf.length < HEADER) return DROP;
  const id = buf.readUInt16BE(0);
  const flags = buf.readUInt16BE(2);
  if (flags & 0x8000) return DROP;
  const error = (rcode: number): ParsedQuery => ({ kind: 'error', id, flags, rcode });
  if (((flags >> 11) & 0xf) !== 0) return error(RCODE.NOTIMP);
  if (buf.readUInt16BE(4) !== 1) return error(RCODE.FORMERR);
  const an = buf.readUInt16BE(6);
  const ns = buf.readUInt16BE(8);
  const ar = buf.readUInt16BE(10);

  // The question name, uncompressed: labels of 1..63 bytes up to the root label.
  let pos = HEADER;
  for (;;) {
    if (pos >= buf.length) return error(RCODE.FORMERR);
    const len = buf[pos]!;
    if (len === 0) break;
    if (len > 63) return slowPath(buf, id, flags);
    pos += len + 1;
    if (pos - HEADER > MAX_NAME) return error(RCODE.FORMERR);
  }
  const nameEnd = pos + 1;
  if (nameEnd + 4 > buf.length) return error(RCODE.FORMERR);
  const qtype = buf.readUInt16BE(nameEnd);
  const qclass = buf.readUInt16BE(nameEnd + 2);
  let rest = nameEnd + 4;
  let udpSize: number | undefined;
  if (an !== 0 || ns !== 0 || ar > 1) return slowPath(buf, id, flags);
  if (ar === 1) {
    // An OPT record: root name, type 41, payload size, extended rcode/version/flags, options.
    if (rest + 11 > buf.length || buf[rest] !== 0 || buf.readUInt16BE(rest + 1) !== QTYPE.OPT) return slowPath(buf, id, flags);
    udpSize = buf.readUInt16BE(rest + 3);
    rest += 11 + buf.readUInt16BE(rest + 9);
  }
  if (rest !== buf.length) return error(RCODE.FORMERR);
  const key = buf.toString('latin1', HEADER, nameEnd).toLowerCase() + (udpSize === undefined ? '-' : '+') + String.fromCharCode(qtype, qclass);
  return { kind: 'query', id, flags, qtype, qclass, nameEnd, name: undefined, udpSize, key };
}

/** A query of an unusual shape (compressed name, extra records): dns-packet decodes it or it is FORMERR. */
function slowPath(buf: Buffer, id: number, flags: number): ParsedQuery {
  let packet: ReturnType<typeof decode>;
  try {
    packet = decode(buf);
  } catch {
    return { kind: 'error', id, flags, rcode: RCODE.FORMERR };
  }
  if (decode.bytes !== buf.length) return { kind: 'error', id, flags, rcode: RCODE.FORMERR };
  const q = packet.questions?.[0];
  if (!q || packet.questions!.length !== 1) return { kind: 'error', id, flags, rcode: RCODE.FORMERR };
  // Type and class as numbers, whatever names dns-packet gave them.
  const qEnd = questionEnd(buf);
  if (qEnd === undefined) return { kind: 'error', id, flags, rcode: RCODE.FORMERR };
  const opt = packet.additionals?.find((a) => a.type === 'OPT') as { udpPayloadSize?: number } | undefined;
  return { kind: 'query', id, flags, qtype: buf.readUInt16BE(qEnd), qclass: buf.readUInt16BE(qEnd + 2), nameEnd: undefined, name: q.name, udpSize: opt?.udpPayloadSize, key: undefined };
}

/** Offset of the question's type field (after a possibly compressed name), undefined if malformed. */
function questionEnd(buf: Buffer): number | undefined {
  let pos = HEADER;
  while (pos < buf.length) {
    const len = buf[pos]!;
    if (len === 0) return pos + 5 <= buf.length ? pos + 1 : undefined;
    if ((len & 0xc0) === 0xc0) return pos + 6 <= buf.length ? pos + 2 : undefined;
    if (len > 63) return undefined;
    pos += len + 1;
  }
  return undefined;
}

/** The question's name (no trailing dot); decoded from the wire form once. */
export function questionName(buf: Buffer, q: DnsQuery): string {
  if (q.name !== undefined) return q.name;
  const labels: string[] = [];
  for (let pos = HEADER; buf[pos] !== 0; pos += buf[pos]! + 1) labels.push(buf.toString('latin1', pos + 1, pos + 1 + buf[pos]!));
  q.name = labels.join('.');
  return q.name;
}

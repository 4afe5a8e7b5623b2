// Key, prefix and value rules shared by every Store implementation, so that the memory twin and
// SQLite agree on what is accepted and in which order keys sort.
import { CorralError } from '../shared/errors';
import type { JsonValue } from './types';

// A lone surrogate cannot be encoded as UTF-8: SQLite would store U+FFFD instead, and the memory
// store would not, so the two would disagree about which key was written.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function invalid(message: string): CorralError {
  return new CorralError('INVALID_REQUEST', message);
}

export function checkKey(key: unknown): string {
  if (typeof key !== 'string' || key.length === 0) throw invalid(`Store key must be a non-empty string, got ${JSON.stringify(key)}`);
  if (LONE_SURROGATE.test(key)) throw invalid(`Store key ${JSON.stringify(key)} is not well-formed Unicode`);
  return key;
}

/** Prefixes may be empty for reads and watches (everything); see checkDeletePrefix for deletes. */
export function checkPrefix(prefix: unknown): string {
  if (typeof prefix !== 'string') throw invalid(`Store prefix must be a string, got ${JSON.stringify(prefix)}`);
  if (LONE_SURROGATE.test(prefix)) throw invalid(`Store prefix ${JSON.stringify(prefix)} is not well-formed Unicode`);
  return prefix;
}

// An empty prefix would wipe the whole cluster state; etcd also makes that an explicit range. A
// caller that truly means it can list and delete.
export function checkDeletePrefix(prefix: unknown): string {
  if (checkPrefix(prefix).length === 0) throw invalid('deletePrefix needs a non-empty prefix');
  return prefix as string;
}

/** Serialises once, up front, so a write can never fail half-way through on a bad value. */
export function toJson(key: string, value: JsonValue): string {
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch (err) {
    throw invalid(`Value for store key '${key}' is not JSON-serialisable: ${(err as Error).message}`);
  }
  if (json === undefined) throw invalid(`Value for store key '${key}' is not JSON-serialisable`);
  return json;
}

// Maps UTF-16 code units so that comparing them gives code point order: surrogates (U+D800-DFFF,
// which encode code points above U+FFFF) move above U+E000-FFFF.
function codePointRank(unit: number): number {
  if (unit >= 0xd800 && unit <= 0xdfff) return unit + 0x2000;
  if (unit >= 0xe000) return unit - 0x800;
  return unit;
}

/**
 * Code point order, which is the byte order of UTF-8 and so SQLite's BINARY collation; plain `<`
 * on JS strings compares UTF-16 units and disagrees for characters above U+FFFF.
 */
export function compareKeys(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return codePointRank(x) - codePointRank(y);
  }
  return a.length - b.length;
}

/**
 * The smallest string greater than every string that starts with `prefix` (in compareKeys order),
 * so a prefix scan can be an index range `key >= prefix AND key < bound`. Undefined when no such
 * bound exists (empty prefix, or only U+10FFFF characters): scan to the end instead.
 */
export function prefixUpperBound(prefix: string): string | undefined {
  let head = prefix;
  while (head.length > 0) {
    const last = head.charCodeAt(head.length - 1);
    const width = last >= 0xdc00 && last <= 0xdfff && head.length >= 2 ? 2 : 1;
    const codePoint = head.codePointAt(head.length - width) ?? 0;
    head = head.slice(0, head.length - width);
    if (codePoint < 0x10ffff) {
      const next = codePoint + 1 === 0xd800 ? 0xe000 : codePoint + 1;
      return head + String.fromCodePoint(next);
    }
  }
  return undefined;
}

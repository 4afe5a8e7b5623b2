// RecordIO framing (Mesos's `<length>\n<json>` records): lengths count bytes, not characters, and
// the decoder must give the same records however the byte stream is cut into chunks.
import t from 'tap';
import { encodeRecord, MAX_RECORD_BYTES, RecordIoDecoder } from '../../../src/kernel/sdk/recordio';

const bytes = (s: string) => new TextEncoder().encode(s);
const records = [{ type: 'SUBSCRIBED', subscribed: { framework_id: 'f1' } }, { type: 'HEARTBEAT' }, { type: 'UPDATE', update: { message: 'zoë ✓ 🐄' } }];
const stream = bytes(records.map(encodeRecord).join(''));

/** Feeds `chunks` to a fresh decoder and returns everything it produced, or undefined if bytes were left over. */
function decodeAll(chunks: Uint8Array[]): unknown[] | undefined {
  const d = new RecordIoDecoder();
  const out = chunks.flatMap((c) => d.push(c));
  return d.idle ? out : undefined;
}

t.test('encodeRecord prefixes the JSON with its length in bytes', async (t) => {
  t.equal(encodeRecord({ a: 1 }), '7\n{"a":1}');
  t.equal(encodeRecord({ s: 'é' }), '10\n{"s":"é"}', 'é is two bytes');
  t.equal(encodeRecord({ s: '🐄' }), '12\n{"s":"🐄"}', 'an astral character is four bytes');
});

t.test('decoding is independent of how the stream is chunked', async (t) => {
  const cases: Array<[string, Uint8Array[]]> = [
    ['one chunk holding every record', [stream]],
    ['one byte at a time', [...stream].map((b) => Uint8Array.of(b))],
    ['split inside a length prefix', [stream.subarray(0, 1), stream.subarray(1)]],
    ['split right after a newline', [stream.subarray(0, stream.indexOf(0x0a) + 1), stream.subarray(stream.indexOf(0x0a) + 1)]],
    ['split inside a multi-byte character', [stream.subarray(0, stream.length - 5), stream.subarray(stream.length - 5)]],
    ['empty chunks in between', [new Uint8Array(0), stream.subarray(0, 10), new Uint8Array(0), stream.subarray(10)]],
  ];
  for (const [name, chunks] of cases) t.same(decodeAll(chunks), records, name);
  for (let cut = 0; cut <= stream.length; cut++) {
    const got = decodeAll([stream.subarray(0, cut), stream.subarray(cut)]);
    if (JSON.stringify(got) !== JSON.stringify(records)) t.fail(`two chunks cut at byte ${cut}`);
  }
  t.pass('every two-chunk cut decodes the same records');
});

t.test('records are returned as soon as they are complete', async (t) => {
  const d = new RecordIoDecoder();
  const first = bytes(encodeRecord({ n: 1 }));
  const second = bytes(encodeRecord({ n: 2 }));
  t.same(d.push(first.subarray(0, 4)), [], 'a partial record yields nothing');
  t.notOk(d.idle, 'a partial record is pending');
  t.same(d.push(Uint8Array.from([...first.subarray(4), ...second.subarray(0, 3)])), [{ n: 1 }], 'the completed record comes out; the next one waits');
  t.same(d.push(second.subarray(3)), [{ n: 2 }]);
  t.same(d.pushText(bytes('0\n')), [''], 'an empty record is legal framing');
});

t.test('a malformed stream is an error, not a hang', async (t) => {
  const cases: Array<[string, string | Uint8Array, RegExp]> = [
    ['a letter in the length', '1x\n{}', /invalid byte/],
    ['a letter before any newline', 'abc', /invalid byte/],
    ['an empty length', '\n{}', /empty length/],
    ['a length over the limit', `${MAX_RECORD_BYTES + 1}\n`, /exceeds/],
    ['a never-ending prefix', '1'.repeat(12), /too long/],
    ['invalid UTF-8 in a record', Uint8Array.from([...bytes('2\n'), 0xff, 0xfe]), /./],
  ];
  for (const [name, input, error] of cases) {
    t.throws(() => new RecordIoDecoder().pushText(typeof input === 'string' ? bytes(input) : input), error, name);
  }
  t.throws(() => new RecordIoDecoder().push(bytes('3\n{x}')), SyntaxError, 'a record that is not JSON');
});

// Wire protocol v1: what parses, what is dropped, the byte round trip, and that messageBytes is the
// exact JSON length the piggyback budget and the traffic counters rely on.
import t from 'tap';
import { encodeMessage, MessageType, messageBytes, parseMessage, PIGGYBACK_OVERHEAD, StateCode, updateBytes, updateListBytes, type WireMessage } from '../../../src/cluster/membership/wire';

const hex = 'ab'.repeat(32);
const meta = JSON.stringify({ roles: ['agent', 'master'], api: 'http://10.0.0.5:5050', version: '0.1.0', leader: hex, resources: { cpus: 32, mem: 131072 }, note: 'tab\there "quoted" back\\slash' });

const samples: Array<[string, WireMessage]> = [
  ['ping', { t: MessageType.Ping, v: 1, seq: 7, to: hex }],
  ['ping with piggyback', { t: MessageType.Ping, v: 1, seq: 123456789, to: hex, u: [{ id: hex, inc: 3, st: StateCode.Suspect, from: 'cd'.repeat(32) }, { id: 'x', inc: 0, st: StateCode.Alive, addr: '10.0.0.1:7946', meta }] }],
  ['ping-req', { t: MessageType.PingReq, v: 1, seq: 99, to: hex, addr: hex }],
  ['ack', { t: MessageType.Ack, v: 1, seq: 0 }],
  ['nack with update', { t: MessageType.Nack, v: 1, seq: 12, u: [{ id: hex, inc: 1000001, st: StateCode.Dead, from: hex }] }],
  ['gossip', { t: MessageType.Gossip, v: 1, u: [{ id: hex, inc: 2, st: StateCode.Left }, { id: hex, inc: 2, st: StateCode.Alive, meta: '{}' }] }],
  ['push-pull', { t: MessageType.PushPull, v: 1, join: true, m: [{ id: hex, inc: 0, st: StateCode.Alive, meta }, { id: 'y', inc: 4, st: StateCode.Dead, meta: '{}' }] }],
  ['push-pull, not a join', { t: MessageType.PushPull, v: 1, join: false, m: [] }],
  ['push-pull reply', { t: MessageType.PushPullReply, v: 1, m: [{ id: hex, inc: 0, st: StateCode.Suspect, addr: 'a', meta }] }],
  ['a future protocol version', { t: MessageType.Ack, v: 12, seq: 5 }],
];

t.test('every message type round-trips through bytes and messageBytes is its exact JSON length', async (t) => {
  for (const [name, msg] of samples) {
    const bytes = encodeMessage(msg);
    t.same(parseMessage(bytes), msg, `${name}: bytes parse back`);
    t.equal(parseMessage(msg), msg, `${name}: an object is accepted as is`);
    t.equal(messageBytes(msg), bytes.byteLength, `${name}: size`);
  }
  const u = [{ id: hex, inc: 5, st: StateCode.Alive, meta }];
  t.equal(updateListBytes(u), JSON.stringify(u).length);
  t.equal(updateBytes(u[0]!), JSON.stringify(u[0]).length);
  t.equal(updateListBytes([]), 2);
  const ping = { t: MessageType.Ping, v: 1, seq: 1, to: 'z' } as const;
  t.equal(messageBytes({ ...ping, u: [u[0]!] }) - messageBytes(ping), PIGGYBACK_OVERHEAD + updateBytes(u[0]!), 'piggyback overhead');
});

t.test('malformed or unknown messages are dropped, unknown fields ignored', async (t) => {
  const ok = { t: MessageType.Ping, v: 1, seq: 1, to: 'n1' };
  t.ok(parseMessage({ ...ok, future: { x: 1 } }), 'unknown fields are ignored');
  const bad: Array<[string, unknown]> = [
    ['not JSON', Buffer.from('{nope')],
    ['not an object', Buffer.from('42')],
    ['null', null],
    ['no version', { t: 1, seq: 1, to: 'n1' }],
    ['version 0', { ...ok, v: 0 }],
    ['unknown type', { ...ok, t: 99 }],
    ['seq negative', { ...ok, seq: -1 }],
    ['seq fractional', { ...ok, seq: 1.5 }],
    ['empty target', { ...ok, to: '' }],
    ['target with a quote', { ...ok, to: 'a"b' }],
    ['target too long', { ...ok, to: 'x'.repeat(257) }],
    ['ping-req without addr', { t: MessageType.PingReq, v: 1, seq: 1, to: 'n1' }],
    ['ack without seq', { t: MessageType.Ack, v: 1 }],
    ['gossip without updates', { t: MessageType.Gossip, v: 1 }],
    ['updates not a list', { ...ok, u: {} }],
    ['update with bad state', { ...ok, u: [{ id: 'a', inc: 0, st: 7 }] }],
    ['alive update without meta', { ...ok, u: [{ id: 'a', inc: 0, st: StateCode.Alive }] }],
    ['update with a non-string meta', { ...ok, u: [{ id: 'a', inc: 0, st: StateCode.Alive, meta: {} }] }],
    ['update with oversized meta', { ...ok, u: [{ id: 'a', inc: 0, st: StateCode.Alive, meta: 'x'.repeat(8193) }] }],
    ['update with bad addr', { ...ok, u: [{ id: 'a', inc: 0, st: StateCode.Alive, meta: '{}', addr: 5 }] }],
    ['update with bad reporter', { ...ok, u: [{ id: 'a', inc: 0, st: StateCode.Suspect, from: '' }] }],
    ['update that is not an object', { ...ok, u: ['a'] }],
    ['too many updates', { ...ok, u: Array.from({ length: 1025 }, () => ({ id: 'a', inc: 0, st: StateCode.Left })) }],
    ['push-pull without join flag', { t: MessageType.PushPull, v: 1, m: [] }],
    ['push-pull record without meta', { t: MessageType.PushPull, v: 1, join: false, m: [{ id: 'a', inc: 0, st: StateCode.Dead }] }],
    ['push-pull record with a reporter', { t: MessageType.PushPullReply, v: 1, m: [{ id: 'a', inc: 0, st: StateCode.Dead, meta: '{}', from: 'b' }] }],
    ['push-pull reply without members', { t: MessageType.PushPullReply, v: 1 }],
  ];
  for (const [name, payload] of bad) t.equal(parseMessage(payload), undefined, name);
});

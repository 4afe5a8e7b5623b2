// The native batch UDP socket (native/corral-udp.c) on its own and under the DNS server: many
// queries in flight from several clients, datagrams too large for its buffers, garbage, close while
// traffic flows, stop and start on the same port, IPv6, forwarding through an upstream, and a batch
// callback that throws. server.test.ts runs the server's common cases over it too.
import { createSocket, type Socket } from 'node:dgram';
import { connect } from 'node:net';
import { networkInterfaces } from 'node:os';
import { decode, encode } from 'dns-packet';
import t, { type Test } from 'tap';
import { DnsAnswerer } from '../../src/discovery/answer';
import { UpstreamForwarder, parseUpstream } from '../../src/discovery/forward';
import { DnsServer } from '../../src/discovery/server';
import { loadUdpAddon, type UdpAddonSocket } from '../../src/discovery/udp-native';
import { systemClock } from '../../src/shared/clock';
import { silentLogger } from '../../src/shared/logger';
import { baseState, catalogOf } from './helpers/state';
import { dnsQuery, tcpExchange } from './helpers/dns-client';

const logger = silentLogger();
const addon = loadUdpAddon();
const skip = addon === undefined && 'native UDP addon not built (node scripts/build-native.mjs)';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function serve(t: Test, opts: { host?: string; port?: number; forwarder?: UpstreamForwarder } = {}) {
  const answerer = new DnsAnswerer(catalogOf(baseState()), { forwardOutside: opts.forwarder !== undefined });
  const server = new DnsServer({ host: opts.host ?? '127.0.0.1', port: opts.port ?? 0, answerer, forwarder: opts.forwarder, logger, udp: 'native' });
  const { port } = await server.start();
  t.teardown(() => server.stop());
  return { server, port };
}

/** A client socket that keeps every reply it gets, by id. */
async function client(t: Test, family: 'udp4' | 'udp6' = 'udp4'): Promise<{ socket: Socket; replies: Map<number, Buffer> }> {
  const socket = createSocket(family);
  const replies = new Map<number, Buffer>();
  socket.on('message', (msg) => msg.length >= 2 && replies.set(msg.readUInt16BE(0), msg));
  await new Promise<void>((r) => socket.bind(0, family === 'udp4' ? '127.0.0.1' : '::1', () => r()));
  t.teardown(() => socket.close());
  return { socket, replies };
}

const send = (socket: Socket, packet: Buffer, port: number, host = '127.0.0.1') => new Promise<void>((r) => socket.send(packet, port, host, () => r()));

/** Until `done()` or `ms` pass (checked every 10 ms). */
async function until(done: () => boolean, ms = 3000): Promise<void> {
  for (let waited = 0; !done() && waited < ms; waited += 10) await sleep(10);
}

t.test('500 queries in flight from 5 sockets: every one answered, with its id, to its sender', { skip }, async (t) => {
  const { server, port } = await serve(t);
  const clients = await Promise.all(Array.from({ length: 5 }, () => client(t)));
  const names = ['leader.corral', 'hello.corral-init.corral', 'node-a.node.corral', 'nope.corral'];
  const wanted = (k: number) => Array.from({ length: 100 }, (_, j) => k * 1000 + j);
  // Like a resolver: what got no reply (a full socket buffer drops it) is asked again.
  for (let round = 0; round < 5; round++) {
    await Promise.all(clients.map((c, k) => Promise.all(wanted(k).filter((id) => !c.replies.has(id)).map((id) => send(c.socket, dnsQuery(names[id % 4]!, 'A', id), port)))));
    await until(() => clients.every((c, k) => wanted(k).every((id) => c.replies.has(id))), 1000);
  }
  for (const [k, c] of clients.entries()) {
    t.same([...c.replies.keys()].sort((a, b) => a - b), wanted(k), `client ${k} got exactly its 100 ids`);
    const wrong = [...c.replies].filter(([id, msg]) => decode(msg).questions![0]!.name !== names[id % 4]);
    t.equal(wrong.length, 0, `client ${k}: each reply answers its own question`);
  }
  const stats = server.udpTransport!.stats;
  t.ok(stats.received >= 500 && stats.answered >= 500, `counters: ${JSON.stringify(stats)}`);
});

t.test('a datagram over 4096 bytes is dropped (counted), one of 4096 is read whole; garbage does no harm', { skip }, async (t) => {
  const { server, port } = await serve(t);
  const { socket, replies } = await client(t);
  const query = dnsQuery('leader.corral', 'A', 1);
  const exact = Buffer.concat([dnsQuery('leader.corral', 'A', 2), Buffer.alloc(4096 - query.length)]);
  const over = Buffer.concat([dnsQuery('leader.corral', 'A', 3), Buffer.alloc(5000)]);
  // Garbage: empty, 1 byte, a header cut short, a header promising a question, a reply, random bytes.
  const header = Buffer.from([0, 4, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
  const reply = Buffer.from(query);
  reply[2] = reply[2]! | 0x80;
  reply.writeUInt16BE(5, 0);
  const random = Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 7919) & 0xff));
  random.writeUInt16BE(6, 0);
  for (const packet of [Buffer.alloc(0), Buffer.from([1]), header.subarray(0, 11), header, reply, random, over, exact, query]) await send(socket, packet, port);
  await until(() => replies.has(1) && replies.has(2) && replies.has(4));
  t.equal(decode(replies.get(1)!).answers!.length, 1, 'the good query is answered');
  t.equal(replies.get(2)!.readUInt16BE(2) & 0xf, 1, 'the 4096-byte one (trailing bytes) is read whole: FORMERR');
  t.equal(replies.get(4)!.readUInt16BE(2) & 0xf, 1, 'a header promising a missing question: FORMERR');
  await sleep(100);
  t.notOk(replies.has(3), 'the oversized one gets no reply, not even from its first bytes');
  t.notOk(replies.has(5), 'a reply is not answered');
  t.ok(server.udpTransport!.stats.dropped >= 1, 'counted as dropped');
});

t.test('stop while traffic flows, then start again on the same port, three times', { skip }, async (t) => {
  const first = await serve(t);
  const port = first.port;
  const { socket, replies } = await client(t);
  let flowing = true;
  let sent = 0;
  const flood = (async () => {
    while (flowing) {
      await send(socket, dnsQuery('leader.corral', 'A', sent++ & 0xffff), port);
      if (sent % 50 === 0) await new Promise((r) => setImmediate(r));
    }
  })();
  let server = first.server;
  for (let round = 0; round < 3; round++) {
    await until(() => replies.size > 0);
    t.ok(replies.size > 0, `round ${round}: answered while open`);
    await server.stop();
    t.equal(server.address, undefined, 'stopped');
    await sleep(30); // queries keep coming to a closed port
    replies.clear();
    server = new DnsServer({ host: '127.0.0.1', port, answerer: new DnsAnswerer(catalogOf(baseState()), { forwardOutside: false }), forwarder: undefined, logger, udp: 'native' });
    t.same(await server.start(), { host: '127.0.0.1', port }, `round ${round}: the same port again`);
  }
  await until(() => replies.size > 0);
  t.ok(replies.size > 0, 'the last server answers');
  flowing = false;
  await flood;
  await server.stop();
  await server.stop();
  t.pass(`${sent} queries sent, the server stopped twice without harm`);
});

t.test('IPv6: UDP and TCP on ::1', { skip: skip || (!hasIpv6Loopback() && 'no ::1 on this machine') }, async (t) => {
  const { server, port } = await serve(t, { host: '::1' });
  t.equal(server.address!.host, '::1');
  const { socket, replies } = await client(t, 'udp6');
  await send(socket, dnsQuery('leader.corral', 'A', 66), port, '::1');
  await until(() => replies.has(66));
  t.same(decode(replies.get(66)!).answers!.map((a) => (a as { data: unknown }).data), ['10.0.0.9']);
  const overTcp = await new Promise<Buffer>((resolve, reject) => {
    const query = dnsQuery('leader.corral', 'A', 67);
    const conn = connect({ host: '::1', port }, () => conn.end(Buffer.concat([Buffer.from([0, query.length]), query])));
    const chunks: Buffer[] = [];
    conn.on('data', (d: Buffer) => chunks.push(d));
    conn.on('close', () => resolve(Buffer.concat(chunks)));
    conn.on('error', reject);
  });
  t.equal(decode(overTcp.subarray(2)).id, 67, 'and over TCP');
});

function hasIpv6Loopback(): boolean {
  return Object.values(networkInterfaces()).some((addresses) => addresses?.some((a) => a.address === '::1'));
}

t.test('names outside the zone go through a fake upstream, each reply to its client with its id', { skip }, async (t) => {
  // The upstream answers `cK-qJ.example` with 10.K.0.J, after 0–20 ms, in any order.
  const upstream = createSocket('udp4');
  upstream.on('message', (msg, rinfo) => {
    const q = decode(msg);
    const name = q.questions![0]!.name;
    const [, k, j] = /^c(\d+)-q(\d+)\.example$/.exec(name) ?? [];
    const answers = k === undefined ? [] : [{ type: 'A' as const, name, ttl: 5, data: `10.${k}.0.${j}` }];
    const reply = encode({ type: 'response', id: q.id, flags: 0x8180, questions: q.questions, answers });
    setTimeout(() => upstream.send(reply, rinfo.port, rinfo.address), ((q.id ?? 0) * 7) % 20);
  });
  await new Promise<void>((r) => upstream.bind(0, '127.0.0.1', () => r()));
  t.teardown(() => upstream.close());
  const forwarder = new UpstreamForwarder({ upstreams: [parseUpstream(`127.0.0.1:${upstream.address().port}`)!], clock: systemClock, logger });
  t.teardown(() => forwarder.stop());
  const { port } = await serve(t, { forwarder });
  const clients = await Promise.all(Array.from({ length: 4 }, () => client(t)));
  await Promise.all(clients.flatMap((c, k) => Array.from({ length: 25 }, (_, j) => send(c.socket, dnsQuery(`c${k}-q${j}.example`, 'A', 100 * k + j), port))));
  await until(() => clients.every((c) => c.replies.size === 25));
  for (const [k, c] of clients.entries()) {
    const got = [...c.replies].map(([id, msg]) => [id, (decode(msg).answers![0] as { data: string } | undefined)?.data]);
    t.same(
      got.sort((a, b) => (a[0] as number) - (b[0] as number)),
      Array.from({ length: 25 }, (_, j) => [100 * k + j, `10.${k}.0.${j}`]),
      `client ${k}: its 25 answers, its ids`,
    );
  }
  // And a TCP client still goes the same way.
  const [viaTcp] = await tcpExchange(port, [dnsQuery('c9-q9.example', 'A', 77)]);
  t.equal(decode(viaTcp!).id, 77);
});

t.test('the addon itself: errors with codes, a throwing batch callback, microtasks after each batch, close twice', { skip }, async (t) => {
  const { UdpSocket } = addon!;
  const taken = new UdpSocket('127.0.0.1', 0, () => []);
  t.throws(() => new UdpSocket('127.0.0.1', taken.port, () => []), { code: 'EADDRINUSE' });
  t.throws(() => new UdpSocket('not-an-ip', 0, () => []), { code: 'EINVAL' });
  t.throws(() => new UdpSocket('127.0.0.1', 70000, () => []), TypeError);
  t.throws(() => taken.peer(0), RangeError, 'peer() outside a batch');
  t.throws(() => taken.sendTo(Buffer.from('x'), Buffer.alloc(3)), TypeError, 'sendTo() to something peer() did not make');
  await new Promise<void>((r) => taken.close(r));
  taken.close();

  const order: string[] = [];
  let mode: 'throw' | 'echo' = 'throw';
  const sock: UdpAddonSocket = new UdpSocket('127.0.0.1', 0, (count): Buffer[] => {
    if (mode === 'throw') throw new Error('boom (expected in this test)');
    Promise.resolve().then(() => order.push('microtask'));
    setImmediate(() => order.push('immediate'));
    return Array.from({ length: count }, (_, i) => Buffer.concat([Buffer.from('re:'), sock.data.subarray(i * addon!.SLOT, i * addon!.SLOT + sock.lengths[i]!)]));
  });
  t.teardown(() => new Promise<void>((r) => sock.close(r)));
  const { socket } = await client(t);
  const got: string[] = [];
  socket.on('message', (m) => got.push(m.toString()));
  await send(socket, Buffer.from('one'), sock.port);
  await until(() => sock.stats().received === 1);
  await sleep(20);
  t.same(got, [], 'the throwing batch sends nothing');
  t.same(sock.stats(), { received: 1, answered: 0, dropped: 1 }, 'and counts its datagram dropped');
  mode = 'echo';
  await send(socket, Buffer.from('two'), sock.port);
  await until(() => got.length === 1 && order.length === 2);
  t.same(got, ['re:two'], 'the next batch is answered');
  t.same(order, ['microtask', 'immediate'], 'microtasks run when the batch call returns, like any libuv callback');
});

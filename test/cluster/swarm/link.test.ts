// The pieces under a swarm connection, without a network: the wire format, a PeerLink over an
// in-memory stream pair with a fake clock (proofs, deadlines, rpc), the ban list, address parsing
// and the handler registry.
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { Duplex } from 'node:stream';
import t from 'tap';
import { BanList } from '../../../src/cluster/swarm/bans';
import { bindDht, bootstrapFor, createDhtNode, parseClusterAddress, parseJoinList } from '../../../src/cluster/swarm/dht';
import { HandlerRegistry } from '../../../src/cluster/swarm/handlers';
import { PeerLink, type LinkHandlers } from '../../../src/cluster/swarm/peer-link';
import { RefreshSchedule } from '../../../src/cluster/swarm/refresh-schedule';
import { SwarmRequestError, type AuthFailure } from '../../../src/cluster/swarm/types';
import { decodeFrames, encodeFrame, FrameDecoder, MAX_FRAME_BYTES, WireError, type Frame } from '../../../src/cluster/swarm/wire';
import { FakeClock } from '../../../src/shared/clock';
import { CorralError, isCorralError } from '../../../src/shared/errors';
import { silentLogger } from '../../../src/shared/logger';
import { ClusterToken } from '../../../src/cluster/token';
import { freeUdpPort, makeNode, newIdentity } from './helpers/swarm';

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Two connected in-memory streams; destroying one closes the other, like a dropped connection. */
function streamPair(): [Duplex, Duplex] {
  const ends: Duplex[] = [];
  const make = (other: () => Duplex): Duplex =>
    new Duplex({
      read() {},
      write(chunk: Buffer, _enc, cb) {
        other().push(chunk);
        cb();
      },
    });
  ends.push(make(() => ends[1]!), make(() => ends[0]!));
  ends[0]!.on('close', () => ends[1]!.destroy());
  ends[1]!.on('close', () => ends[0]!.destroy());
  return [ends[0]!, ends[1]!];
}

const noHandlers: LinkHandlers = { datagram: () => undefined, request: () => null, notify: () => undefined };

interface Side {
  link: PeerLink;
  stream: Duplex;
  events: string[];
}

function linkPair(clock: FakeClock, opts: { keyA?: Buffer; keyB?: Buffer; versionB?: number; handlersA?: LinkHandlers; handlersB?: LinkHandlers } = {}): [Side, Side] {
  const [sa, sb] = streamPair();
  const [a, b] = [newIdentity(), newIdentity()];
  const key = randomBytes(32);
  const hh = randomBytes(64);
  const side = (stream: Duplex, me: typeof a, them: typeof a, authKey: Buffer, handlers: LinkHandlers, version?: number): Side => {
    const link = new PeerLink({ stream, authKey, handshakeHash: hh, localPublicKey: me.keyPair.publicKey, remotePublicKey: them.keyPair.publicKey, clock, authTimeoutMs: 2000, handlers, version });
    const events: string[] = [];
    link.on('authenticated', () => events.push('authenticated'));
    link.on('rejected', (reason: AuthFailure) => events.push(`rejected:${reason}`));
    link.on('close', () => events.push('close'));
    return { link, stream, events };
  };
  return [side(sa, a, b, opts.keyA ?? key, opts.handlersA ?? noHandlers), side(sb, b, a, opts.keyB ?? key, opts.handlersB ?? noHandlers, opts.versionB)];
}

/** A PeerLink facing a raw stream the test writes frames to by hand. */
function linkVsRaw(clock: FakeClock): { side: Side; raw: Duplex; received: Frame[] } {
  const [sa, raw] = streamPair();
  const decoder = new FrameDecoder();
  const received: Frame[] = [];
  raw.on('data', (chunk: Buffer) => received.push(...decodeFrames(chunk, decoder)));
  const link = new PeerLink({ stream: sa, authKey: randomBytes(32), handshakeHash: randomBytes(64), localPublicKey: randomBytes(32), remotePublicKey: randomBytes(32), clock, authTimeoutMs: 2000, handlers: noHandlers });
  const events: string[] = [];
  link.on('rejected', (reason: AuthFailure) => events.push(`rejected:${reason}`));
  link.on('close', () => events.push('close'));
  return { side: { link, stream: sa, events }, raw, received };
}

t.test('wire: every frame kind round-trips however the bytes are chunked', async (t) => {
  const frames: Frame[] = [
    { kind: 'hello', version: 1, proof: randomBytes(32) },
    { kind: 'datagram', channel: 1, payload: Buffer.from('gossip') },
    { kind: 'request', id: 0xfffffffe, method: 'agent.register', payload: Buffer.from('{}') },
    { kind: 'response', id: 7, status: 1, payload: Buffer.alloc(0) },
    { kind: 'notify', method: 'ü', payload: randomBytes(1000) },
  ];
  const bytes = Buffer.concat(frames.map(encodeFrame));
  t.same(decodeFrames(bytes), frames, 'all in one chunk');
  const decoder = new FrameDecoder();
  const out: Frame[] = [];
  for (const byte of bytes) out.push(...decodeFrames(Buffer.from([byte]), decoder));
  t.same(out, frames, 'one byte at a time');
  t.equal(decoder.pendingBytes, 0);
});

t.test('wire: malformed input is a WireError, oversized output is refused', async (t) => {
  const bad: [string, Buffer][] = [
    ['zero length', Buffer.from([0, 0, 0, 0])],
    ['over the limit', Buffer.from([0xff, 0xff, 0xff, 0xff])],
    ['unknown kind', Buffer.from([0, 0, 0, 1, 99])],
    ['short hello', Buffer.from([0, 0, 0, 3, 0, 0, 1])],
    ['short request', Buffer.from([0, 0, 0, 2, 2, 0])],
    ['empty method', Buffer.from([0, 0, 0, 2, 4, 0])],
    ['method past the end', Buffer.from([0, 0, 0, 3, 4, 5, 0x61])],
  ];
  for (const [what, bytes] of bad) t.throws(() => decodeFrames(bytes), WireError, what);
  const small = new FrameDecoder(16);
  t.throws(() => decodeFrames(encodeFrame({ kind: 'datagram', channel: 1, payload: Buffer.alloc(16) }), small), WireError, 'over a lowered limit');
  t.throws(() => encodeFrame({ kind: 'datagram', channel: 1, payload: Buffer.alloc(MAX_FRAME_BYTES) }), WireError, 'payload over the limit');
  t.throws(() => encodeFrame({ kind: 'notify', method: 'x'.repeat(256), payload: Buffer.alloc(0) }), WireError, 'method name over 255 bytes');
  t.throws(() => encodeFrame({ kind: 'hello', version: 1, proof: Buffer.alloc(8) }), WireError, 'short proof');
});

t.test('link: both ends prove the token and open; the lower version wins', async (t) => {
  const clock = new FakeClock();
  const [a, b] = linkPair(clock, { versionB: 7 });
  await tick();
  t.same([a.events, b.events], [['authenticated'], ['authenticated']]);
  t.same([a.link.version, b.link.version], [1, 1], 'version 1 spoken with a newer peer');
  t.ok(a.link.isOpen && b.link.isOpen);
  clock.advance(5000);
  t.same(a.events, ['authenticated'], 'the auth deadline was cancelled');
});

t.test('link: a wrong token is rejected on both ends, and the stream lingers so each end sees the other proof', async (t) => {
  const clock = new FakeClock();
  const [a, b] = linkPair(clock, { keyA: randomBytes(32), keyB: randomBytes(32) });
  await tick();
  t.same([a.events, b.events], [['rejected:bad-proof', 'close'], ['rejected:bad-proof', 'close']]);
  t.notOk(a.stream.destroyed, 'the stream stays up for the linger');
  clock.advance(1000);
  await tick();
  t.ok(a.stream.destroyed && b.stream.destroyed, 'then it is destroyed');
  t.same(a.events, ['rejected:bad-proof', 'close'], 'no second rejection');
});

t.test('link: a peer that never proves anything times out; one that closes first is just closed', async (t) => {
  const clock = new FakeClock();
  const silent = linkVsRaw(clock);
  await tick();
  t.equal(silent.received[0]?.kind, 'hello', 'our hello went out at once');
  clock.advance(1999);
  t.same(silent.side.events, []);
  clock.advance(1);
  t.same(silent.side.events, ['rejected:timeout', 'close']);

  const gone = linkVsRaw(clock);
  gone.raw.destroy();
  await tick();
  t.same(gone.side.events, ['rejected:closed', 'close']);
});

t.test('link: frames out of order or malformed before the proof are protocol violations', async (t) => {
  const clock = new FakeClock();
  const early = linkVsRaw(clock);
  early.raw.write(encodeFrame({ kind: 'datagram', channel: 1, payload: Buffer.from('too early') }));
  await tick();
  t.same(early.side.events, ['rejected:protocol', 'close']);

  const garbage = linkVsRaw(clock);
  garbage.raw.write(Buffer.from([0xff, 0xff, 0xff, 0xff, 0]));
  await tick();
  t.same(garbage.side.events, ['rejected:protocol', 'close']);

  const big = linkVsRaw(clock);
  big.raw.write(Buffer.from([0, 1, 0, 0])); // announces a 64 KiB frame: far more than a hello
  await tick();
  t.same(big.side.events, ['rejected:protocol', 'close'], 'an unproven peer cannot make us buffer a big frame');

  const [a, b] = linkPair(clock, { versionB: 0 });
  await tick();
  t.same([a.events, b.events], [['rejected:version', 'close'], ['rejected:version', 'close']], 'no version in common');
});

t.test('link: requests, responses, errors, timeouts, one-way messages and datagrams', async (t) => {
  const clock = new FakeClock();
  const seen: string[] = [];
  const handlersB: LinkHandlers = {
    datagram: (channel, payload) => seen.push(`${channel}:${payload.toString()}`),
    notify: (method, payload) => seen.push(`${method}!${payload.toString()}`),
    request: (method, payload) => {
      if (method === 'echo') return Promise.resolve(payload);
      if (method === 'corral') return Promise.reject(new CorralError('AGENT_NOT_FOUND', 'no agent'));
      if (method === 'boom') return Promise.reject('plain string');
      if (method === 'slow') return new Promise<Uint8Array>((resolve) => setTimeout(() => resolve(Buffer.from('late')), 5));
      return null;
    },
  };
  const [a, b] = linkPair(clock, { handlersB });
  await tick();
  t.equal((await a.link.request('echo', Buffer.from('hi'), 1000)).toString(), 'hi');
  const large = randomBytes(1024 * 1024);
  t.ok((await a.link.request('echo', large, 1000)).equals(large), 'a 1 MiB payload after the proof is fine');
  const fail = (p: Promise<unknown>): Promise<[string, string | undefined, string]> =>
    p.then(
      () => ['resolved', undefined, ''],
      (e: SwarmRequestError) => [e.reason, e.code, e.message],
    );
  t.same(await fail(a.link.request('corral', Buffer.alloc(0), 1000)), ['remote-error', 'AGENT_NOT_FOUND', 'no agent']);
  t.same(await fail(a.link.request('boom', Buffer.alloc(0), 1000)), ['remote-error', undefined, 'plain string']);
  t.same((await fail(a.link.request('missing', Buffer.alloc(0), 1000))).slice(0, 2), ['no-responder', undefined]);

  const slow = fail(a.link.request('slow', Buffer.alloc(0), 100));
  clock.advance(100);
  t.equal((await slow)[0], 'timeout', 'no answer within the deadline');
  await new Promise((resolve) => setTimeout(resolve, 20)); // the late answer arrives and is ignored

  t.ok(a.link.sendDatagram('membership', Buffer.from('ping')));
  t.ok(a.link.notify('status', Buffer.from('up')));
  t.notOk(a.link.sendDatagram('membership', Buffer.alloc(MAX_FRAME_BYTES)), 'an oversized datagram is not sent');
  await t.rejects(a.link.request('echo', new Uint8Array(MAX_FRAME_BYTES), 1000), WireError, 'an oversized request fails at once');
  t.equal((await a.link.request('echo', new Uint8Array([1, 2, 3]).subarray(1), 1000)).toString('hex'), '0203', 'a Uint8Array view is sent as it is');
  b.stream.write(encodeFrame({ kind: 'datagram', channel: 200, payload: Buffer.from('future channel') }));
  await tick();
  t.same(seen, ['membership:ping', 'status!up'], 'datagrams and notifies delivered; an unknown channel ignored');

  const pending = fail(a.link.request('slow', Buffer.alloc(0), 10_000));
  b.stream.write(encodeFrame({ kind: 'hello', version: 1, proof: randomBytes(32) }));
  t.equal((await pending)[0], 'closed', 'a second hello ends the link and fails what is pending');
  t.same(a.events, ['authenticated', 'close']);
  t.equal((await fail(a.link.request('echo', Buffer.alloc(0), 10)))[0], 'closed', 'requests on a closed link fail at once');
  t.notOk(a.link.sendDatagram('membership', Buffer.from('x')));
  t.notOk(a.link.notify('status', Buffer.from('x')));
  t.equal(clock.pending(), 0, 'no timer left behind');
});

t.test('link: an answer over the frame limit is reported to the requester as an error', async (t) => {
  const clock = new FakeClock();
  const [a] = linkPair(clock, { handlersB: { ...noHandlers, request: () => Promise.resolve(Buffer.alloc(MAX_FRAME_BYTES)) } });
  await tick();
  const err = await a.link.request('big', Buffer.alloc(0), 1000).catch((e: SwarmRequestError) => e);
  t.match(err, { reason: 'remote-error', message: /frame size limit/ });
});

t.test('refresh schedule: fast and re-announcing while warming up or alone, steady once connected', async (t) => {
  const schedule = new RefreshSchedule({ firstMs: 500, warmMaxMs: 5000, steadyMs: 30_000 }, 0);
  t.notOk(schedule.isDue(499));
  t.ok(schedule.isDue(500));
  const steps: [number, number][] = [
    [500, 0],
    [1000, 1],
    [2000, 1],
    [4000, 1],
    [8000, 1],
    [38_000, 3],
    [68_000, 0],
    [73_000, 0],
  ];
  t.same(
    steps.map(([now, peers]) => schedule.refreshed(now, peers)),
    [
      { reannounce: true, nextAt: 1000 },
      { reannounce: true, nextAt: 2000 },
      { reannounce: true, nextAt: 4000 },
      { reannounce: true, nextAt: 8000 },
      { reannounce: false, nextAt: 38_000 },
      { reannounce: false, nextAt: 68_000 },
      { reannounce: true, nextAt: 73_000 },
      { reannounce: true, nextAt: 78_000 },
    ],
    'doubling from 0.5 s to 5 s, then 30 s once it has peers; 5 s again while alone',
  );
  schedule.isolated(100_000);
  t.notOk(schedule.isDue(100_499));
  t.same(schedule.refreshed(100_500, 0), { reannounce: true, nextAt: 101_000 }, 'losing the last peer restarts the warm-up');
});

t.test('bans: timed and permanent, the longer one kept, expired ones reported once', async (t) => {
  const bans = new BanList();
  bans.add('a', 1000, 'timeout');
  bans.add('b', Infinity, 'bad-proof');
  bans.add('b', 500, 'timeout');
  bans.add('a', 2000, 'timeout');
  t.ok(bans.has('a', 1999) && !bans.has('a', 2000));
  t.same(bans.list(0).map((e) => [e.nodeId, e.until, e.reason]), [['a', 2000, 'timeout'], ['b', Infinity, 'bad-proof']]);
  t.same(bans.expire(1000), []);
  t.same(bans.expire(2000), ['a']);
  t.same(bans.expire(3000), []);
  t.ok(bans.has('b', Number.MAX_SAFE_INTEGER));
  t.notOk(bans.has('c', 0));
});

t.test('addresses: --join parsing, self excluded from the bootstrap, bad hosts refused', async (t) => {
  t.same(parseClusterAddress('10.0.0.5:49737'), { host: '10.0.0.5', port: 49737 });
  t.same(parseClusterAddress('master-1.dc.example'), { host: 'master-1.dc.example', port: 49737 }, 'the port defaults to 49737');
  t.same(parseJoinList(['10.0.0.5:1,10.0.0.6:2', ' 10.0.0.5:1  10.0.0.7']), [
    { host: '10.0.0.5', port: 1 },
    { host: '10.0.0.6', port: 2 },
    { host: '10.0.0.7', port: 49737 },
  ]);
  t.same(parseJoinList('127.0.0.1:9'), [{ host: '127.0.0.1', port: 9 }]);
  const codeOf = (fn: () => unknown): string => {
    try {
      fn();
      return 'no error';
    } catch (err) {
      return isCorralError(err) ? err.code : String(err);
    }
  };
  for (const bad of ['10.0.0.5:0', '10.0.0.5:70000', '10.0.0.5:x', '[::1]:49737', '1.2.3:4', 'under_score:1', '']) {
    t.equal(codeOf(() => parseClusterAddress(bad)), 'CLUSTER_ADDRESS_INVALID', `'${bad}'`);
  }
  t.same(bootstrapFor([{ host: 'a', port: 1 }, { host: 'b', port: 1 }], { host: 'a', port: 1 }), [{ host: 'b', port: 1 }]);
  const keyPair = newIdentity().keyPair;
  const base = { join: [], bindHost: undefined, port: undefined, keyPair, keepAliveMs: 1000 };
  t.equal(codeOf(() => createDhtNode({ ...base, role: 'master', host: undefined })), 'CLUSTER_ADDRESS_INVALID', 'a master needs its address');
  t.equal(codeOf(() => createDhtNode({ ...base, role: 'master', host: '0.0.0.0' })), 'CLUSTER_ADDRESS_INVALID');
  t.equal(codeOf(() => createDhtNode({ ...base, role: 'master', host: '127.0.0.1', port: 0 })), 'CLUSTER_ADDRESS_INVALID', 'a master needs a real port');
  t.equal(codeOf(() => createDhtNode({ ...base, role: 'agent', host: undefined })), 'CLUSTER_ADDRESS_INVALID', 'an agent needs someone to join');
  const joined = { ...base, join: [{ host: '127.0.0.1', port: 9 }] };
  t.equal(codeOf(() => createDhtNode({ ...joined, role: 'agent', host: '0.0.0.0' })), 'CLUSTER_ADDRESS_INVALID', "an agent's own address must be a real one");
  t.equal(codeOf(() => createDhtNode({ ...joined, role: 'agent', host: 'agent-1.dc.example' })), 'CLUSTER_ADDRESS_INVALID', 'an IPv4 address, like a master');
});

t.test('the DHT is only ever bootstrapped from the join list, never from public nodes', async (t) => {
  const keyPair = newIdentity().keyPair;
  const [p1, p2, p3] = [await freeUdpPort(), await freeUdpPort(), await freeUdpPort()];
  const at = (port: number): { host: string; port: number } => ({ host: '127.0.0.1', port });
  const lone = createDhtNode({ role: 'master', join: [], host: '127.0.0.1', bindHost: '127.0.0.1', port: p3, keyPair, keepAliveMs: 1000 });
  const master = createDhtNode({ role: 'master', join: [at(p1), at(p2)], host: '127.0.0.1', bindHost: '127.0.0.1', port: p1, keyPair, keepAliveMs: 1000 });
  const agent = createDhtNode({ role: 'agent', join: [at(p1)], host: undefined, bindHost: '127.0.0.1', port: undefined, keyPair, keepAliveMs: 1000 });
  const reachable = createDhtNode({ role: 'agent', join: [at(p1)], host: '127.0.0.1', bindHost: undefined, port: undefined, keyPair, keepAliveMs: 1000 });
  t.teardown(() => Promise.all([lone, master, agent, reachable].map((d) => d.destroy())));
  t.ok(agent.firewalled && agent.ephemeral, 'an agent without its address is firewalled (holepunched) and ephemeral');
  t.ok(!reachable.firewalled && reachable.ephemeral, 'an agent given its address takes direct connections, still ephemeral');
  t.same(lone.bootstrapNodes, [], 'the first master bootstraps from nobody');
  t.same(master.bootstrapNodes, [at(p2)], 'a master from the other masters');
  t.same(agent.bootstrapNodes, [at(p1)], 'an agent from the join list');
});

t.test('a master (or an agent given its port) whose cluster port is taken fails with CLUSTER_PORT_UNAVAILABLE', async (t) => {
  const holder = createSocket('udp4');
  await new Promise<void>((resolve) => holder.bind(0, '127.0.0.1', resolve));
  t.teardown(() => holder.close());
  const port = holder.address().port;
  const code = (err: unknown): string => (isCorralError(err) ? err.code : String(err));

  const node = makeNode(t, { role: 'master', token: ClusterToken.generate(), join: [port], port });
  t.equal(code(await node.start().catch((e: unknown) => e)), 'CLUSTER_PORT_UNAVAILABLE', 'checked before the DHT is built');
  const agent = makeNode(t, { role: 'agent', token: ClusterToken.generate(), join: [await freeUdpPort()], port, reachable: true });
  t.equal(code(await agent.start().catch((e: unknown) => e)), 'CLUSTER_PORT_UNAVAILABLE', 'so is an agent given its address and port');

  // The same inside hyperdht, for a port taken between that check and the DHT's own bind.
  const dht = createDhtNode({ role: 'master', join: [], host: '127.0.0.1', bindHost: '127.0.0.1', port, keyPair: newIdentity().keyPair, keepAliveMs: 1000 });
  t.equal(code(await bindDht(dht, `127.0.0.1:${port}`).catch((e: unknown) => e)), 'CLUSTER_PORT_UNAVAILABLE');
});

t.test('handlers: one responder per method, a throwing receiver does not disturb the others', async (t) => {
  const registry = new HandlerRegistry(silentLogger());
  const got: string[] = [];
  registry.onDatagram('membership', () => {
    throw new Error('bad handler');
  });
  const off = registry.onDatagram('membership', (from, p) => got.push(`${from}:${p.toString()}`));
  const offRequest = registry.onRequest('m', (from) => Buffer.from(from));
  t.throws(() => registry.onRequest('m', () => Buffer.alloc(0)), /already registered/);
  const peer = registry.forPeer('n1');
  peer.datagram('membership', Buffer.from('x'));
  peer.notify('nobody', Buffer.from('y'));
  t.same(got, ['n1:x']);
  t.equal((await peer.request('m', Buffer.alloc(0)))?.toString(), 'n1');
  off();
  offRequest();
  peer.datagram('membership', Buffer.from('z'));
  t.same(got, ['n1:x'], 'removed');
  t.equal(peer.request('m', Buffer.alloc(0)), null, 'no responder after removal');
  const throwing = registry.onRequest('sync-throw', () => {
    throw new Error('sync');
  });
  await t.rejects(
    async () => {
      await peer.request('sync-throw', Buffer.alloc(0));
    },
    /sync/,
    'a synchronous throw becomes a rejection',
  );
  throwing();
});

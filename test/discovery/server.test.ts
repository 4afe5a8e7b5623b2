// The DNS server shell on real sockets: UDP and TCP (pipelined, split frames), truncation and the
// retry over TCP, forwarding to an upstream (UDP, TCP, a silent one), a port in use, and a fuzz run
// of malformed packets after which the server still answers. Every case runs over both UDP
// transports: Node's dgram and the native batch socket (skipped when dist/corral-udp.node is not
// built); udp-native.test.ts has the cases only the native socket needs.
import { createSocket } from 'node:dgram';
import { decode, encode } from 'dns-packet';
import t, { type Test } from 'tap';
import { DnsAnswerer } from '../../src/discovery/answer';
import { UpstreamForwarder, parseUpstream } from '../../src/discovery/forward';
import { DnsServer } from '../../src/discovery/server';
import type { UdpMode } from '../../src/discovery/udp-transport';
import { loadUdpAddon } from '../../src/discovery/udp-native';
import { buildCatalog } from '../../src/discovery/catalog';
import { systemClock } from '../../src/shared/clock';
import { silentLogger } from '../../src/shared/logger';
import { baseState, catalogOf, taskView, withTasks } from './helpers/state';
import { dnsQuery, resolveUdp, tcpExchange, udpExchange } from './helpers/dns-client';

const logger = silentLogger();
const NOT_BUILT = loadUdpAddon() === undefined && 'native UDP addon not built (node scripts/build-native.mjs)';

/** Registers the case once per UDP transport. */
function eachTransport(name: string, fn: (t: Test, udp: UdpMode) => Promise<void>): void {
  for (const udp of ['dgram', 'native'] as const) t.test(`${name} [${udp}]`, { skip: udp === 'native' && NOT_BUILT }, (t) => fn(t, udp));
}

function manyTasks(n: number) {
  const state = withTasks(baseState(), Array.from({ length: n }, (_, i) => taskView({ id: `t${i}`, agentId: `agent-${i}`, host: `10.1.${i >> 8}.${(i & 255) + 1}` })));
  for (let i = 0; i < n; i++) state.agents.set(`agent-${i}`, { id: `agent-${i}`, hostname: `10.1.${i >> 8}.${(i & 255) + 1}`, reachable: true });
  return catalogOf(state);
}

async function serve(t: Test, udp: UdpMode, answerer: DnsAnswerer, forwarder?: UpstreamForwarder) {
  const server = new DnsServer({ host: '127.0.0.1', port: 0, answerer, forwarder, logger, udp });
  const { port } = await server.start();
  t.equal(server.udpTransport?.kind, udp, `UDP over ${udp}`);
  t.teardown(() => server.stop());
  return { server, port };
}

eachTransport('UDP and TCP answer the zone; TCP takes pipelined and byte-by-byte frames', async (t, udp) => {
  const { port } = await serve(t, udp, new DnsAnswerer(manyTasks(3), { forwardOutside: false }));
  const a = await resolveUdp(port, 'hello.corral-init.corral', 'A');
  t.equal(a!.answers!.length, 3);
  const replies = await tcpExchange(port, [dnsQuery('leader.corral', 'A', 1), dnsQuery('nope.corral', 'A', 2)]);
  t.same(replies.map((r) => [r.readUInt16BE(0), r.readUInt16BE(2) & 0xf]), [[1, 0], [2, 3]]);
  const split = await tcpExchange(port, [dnsQuery('leader.corral', 'A', 3)], { split: true });
  t.equal(split.length, 1);
  t.equal(decode(split[0]!).answers!.length, 1);
});

eachTransport('a large answer: TC over UDP, whole over TCP (what dig does on its own)', async (t, udp) => {
  const { port } = await serve(t, udp, new DnsAnswerer(manyTasks(100), { forwardOutside: false }));
  const overUdp = decode((await udpExchange(port, dnsQuery('_hello._tcp.corral-init.corral', 'SRV')))!);
  t.ok(overUdp.flags! & 0x200, 'truncated');
  const [tcp] = await tcpExchange(port, [dnsQuery('_hello._tcp.corral-init.corral', 'SRV')]);
  t.equal(decode(tcp!).answers!.length, 100);
});

eachTransport('names outside the zone go to the upstream (UDP, TCP after TC), SERVFAIL when it is silent', async (t, udp) => {
  // The upstream: another answerer with its own zone, and a large answer to force TCP.
  const upstreamState = baseState();
  for (let i = 0; i < 100; i++) upstreamState.agents.set(`agent-${i}`, { id: `agent-${i}`, hostname: `10.2.0.${i + 1}`, reachable: true });
  const upstreamFull = buildCatalog(withTasks(upstreamState, Array.from({ length: 100 }, (_, i) => taskView({ id: `u${i}`, agentId: `agent-${i}`, host: `10.2.0.${i + 1}` }))), { domain: 'example', ttl: 30 }, 1);
  const upstream = await serve(t, udp, new DnsAnswerer(upstreamFull, { forwardOutside: false }));
  const forwarder = new UpstreamForwarder({ upstreams: [parseUpstream(`127.0.0.1:${upstream.port}`)!], clock: systemClock, logger });
  t.teardown(() => forwarder.stop());
  const { port } = await serve(t, udp, new DnsAnswerer(manyTasks(1), { forwardOutside: true }), forwarder);
  const viaUdp = decode((await udpExchange(port, dnsQuery('leader.example', 'A', 99)))!);
  t.equal(viaUdp.id, 99, 'the client id comes back');
  t.same(viaUdp.answers!.map((x) => (x as { data: unknown }).data), ['10.0.0.9']);
  const [viaTcp] = await tcpExchange(port, [dnsQuery('_hello._tcp.corral-init.example', 'SRV', 7)]);
  t.equal(decode(viaTcp!).answers!.length, 100, 'TCP client, truncated UDP upstream answer: asked again over TCP');
  t.equal(decode(viaTcp!).id, 7);

  const silent = createSocket('udp4');
  await new Promise<void>((r) => silent.bind(0, '127.0.0.1', () => r()));
  t.teardown(() => silent.close());
  const slow = new UpstreamForwarder({ upstreams: [{ host: '127.0.0.1', port: silent.address().port }], clock: systemClock, logger, timeoutMs: 200 });
  t.teardown(() => slow.stop());
  const second = await serve(t, udp, new DnsAnswerer(manyTasks(1), { forwardOutside: true }), slow);
  const failed = await udpExchange(second.port, dnsQuery('example.org', 'A', 5));
  t.equal(failed!.readUInt16BE(2) & 0xf, 2, 'SERVFAIL');
  t.same([parseUpstream('1.1.1.1'), parseUpstream('[::1]:5353'), parseUpstream('dns.example:53'), parseUpstream('1.1.1.1:0')], [{ host: '1.1.1.1', port: 53 }, { host: '::1', port: 5353 }, undefined, undefined]);
});

eachTransport('a port in use: DNS_PORT_UNAVAILABLE', async (t, udp) => {
  const { port } = await serve(t, udp, new DnsAnswerer(manyTasks(1), { forwardOutside: false }));
  const second = new DnsServer({ host: '127.0.0.1', port, answerer: new DnsAnswerer(manyTasks(1), { forwardOutside: false }), forwarder: undefined, logger, udp });
  await t.rejects(second.start(), { code: 'DNS_PORT_UNAVAILABLE' });
});

/** Deterministic pseudo-random bytes (xorshift32), so a failure can be replayed. */
function rng(seed: number) {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

function malformed(next: () => number, i: number): Buffer {
  const good = encode({ type: 'query', id: i & 0xffff, questions: [{ name: 'hello.corral-init.corral', type: 'A' }], additionals: i % 2 ? [{ type: 'OPT', name: '.', udpPayloadSize: 4096 } as never] : [] });
  switch (i % 5) {
    case 0: {
      // Random bytes of any length up to 600.
      const b = Buffer.alloc(next() % 600);
      for (let k = 0; k < b.length; k++) b[k] = next() & 0xff;
      return b;
    }
    case 1:
      // A header cut anywhere.
      return good.subarray(0, next() % 14);
    case 2: {
      // Compression pointers: to itself, forward, in a chain.
      const b = Buffer.from(good);
      const at = 12 + (next() % 10);
      b[at] = 0xc0 | (next() & 0x3f);
      b[at + 1] = next() & 0xff;
      return b;
    }
    case 3: {
      // A few flipped bits anywhere, counts included.
      const b = Buffer.from(good);
      for (let k = 0; k < 1 + (next() % 4); k++) {
        const at = next() % b.length;
        b[at] = b[at]! ^ (1 << (next() % 8));
      }
      return b;
    }
    default: {
      // The packet cut short, or with bytes after it.
      return i % 10 < 5 ? good.subarray(0, 12 + (next() % (good.length - 12))) : Buffer.concat([good, Buffer.alloc(1 + (next() % 20), next() & 0xff)]);
    }
  }
}

eachTransport('fuzz: 12,000 malformed packets (answerer, UDP, TCP) never break the server', async (t, udp) => {
  const answerer = new DnsAnswerer(manyTasks(3), { forwardOutside: false });
  const next = rng(20240607);
  const allowed = new Set([0, 1, 3, 4, 5]);
  let replies = 0;
  let bad = 0;
  for (let i = 0; i < 10_000; i++) {
    const r = answerer.answer(malformed(next, i), true);
    if (r.kind !== 'reply') continue;
    replies++;
    const flags = r.packet.readUInt16BE(2);
    if (!(flags & 0x8000) || !allowed.has(flags & 0xf) || r.packet.length > 512) bad++;
  }
  t.equal(bad, 0, `every one of ${replies} replies is a reply with NOERROR/FORMERR/NXDOMAIN/NOTIMP/REFUSED within 512 bytes`);

  const { port } = await serve(t, udp, answerer);
  const socket = createSocket('udp4');
  let udpReplies = 0;
  socket.on('message', () => udpReplies++);
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', () => r()));
  // In bursts of 100 so the socket buffers hold them.
  for (let burst = 0; burst < 15; burst++) {
    await Promise.all(Array.from({ length: 100 }, (_, k) => new Promise<void>((r) => socket.send(malformed(next, burst * 100 + k), port, '127.0.0.1', () => r()))));
    await new Promise((r) => setTimeout(r, 5));
  }
  socket.close();
  t.ok(udpReplies > 0, `${udpReplies} UDP replies`);
  // TCP: frames of random bytes, then a zero-length frame and a frame cut mid-way.
  const frames = Array.from({ length: 500 }, (_, k) => malformed(next, k));
  const tcp = await tcpExchange(port, frames, { timeoutMs: 1500 });
  t.ok(tcp.length > 0, `${tcp.length} TCP replies`);
  const good = await resolveUdp(port, 'hello.corral-init.corral', 'A');
  t.equal(good!.answers!.length, 3, 'a good query is still answered over UDP');
  const [overTcp] = await tcpExchange(port, [dnsQuery('leader.corral', 'A')]);
  t.equal(decode(overTcp!).answers!.length, 1, 'and over TCP');
});

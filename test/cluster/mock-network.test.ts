// The simulation substrate: SimClock (heap-ordered timers, same contract as FakeClock) and
// MockNetwork (delay, jitter, seeded loss, partitions, killed nodes, reliable requests, counters).
import t from 'tap';
import { FakeClock } from '../../src/shared/clock';
import { SimClock } from '../../src/cluster/sim-clock';
import { MockNetwork } from '../../src/cluster/mock-network';
import { TransportError, type Payload } from '../../src/cluster/transport';
import { MessageType } from '../../src/cluster/membership/wire';

t.test('SimClock fires timers in due order like FakeClock, FIFO at equal times', async (t) => {
  for (const clock of [new SimClock(0), new FakeClock(0)]) {
    const seen: string[] = [];
    clock.setTimeout(() => seen.push('b'), 20);
    clock.setTimeout(() => seen.push('a'), 10);
    clock.setTimeout(() => seen.push('a2'), 10);
    const iv = clock.setInterval(() => seen.push('i'), 15);
    const gone = clock.setTimeout(() => seen.push('never'), 12);
    gone.cancel();
    clock.advance(31);
    t.same(seen, ['a', 'a2', 'i', 'b', 'i'], clock.constructor.name);
    iv.cancel();
    clock.advance(100);
    t.equal(clock.now(), 131);
    t.equal(clock.pending(), 0);
  }
});

t.test('SimClock: timers set while firing, cancel inside a callback, compaction, run() drains promises', async (t) => {
  const clock = new SimClock(1000);
  const seen: number[] = [];
  clock.setTimeout(() => {
    seen.push(clock.now());
    clock.setTimeout(() => seen.push(clock.now()), 0);
  }, 5);
  const iv = clock.setInterval(() => {
    seen.push(-clock.now());
    iv.cancel();
  }, 7);
  clock.advance(20);
  t.same(seen, [1005, 1005, -1007]);

  // many cancelled timers are compacted away without losing live ones
  const handles = Array.from({ length: 5000 }, (_, i) => clock.setTimeout(() => t.fail('cancelled timer fired'), 100 + i));
  let fired = 0;
  clock.setTimeout(() => fired++, 50);
  for (const h of handles) h.cancel();
  t.equal(clock.pending(), 1);
  clock.advance(10_000);
  t.equal(fired, 1);
  t.ok(clock.fired >= 4);

  // compaction triggered from inside a firing timer must not disturb the loop that is firing them
  const order: number[] = [];
  const many = Array.from({ length: 3000 }, (_, i) => clock.setTimeout(() => order.push(i), 1000 + i));
  clock.setTimeout(() => {
    for (const h of many.slice(10)) h.cancel();
  }, 500);
  const start = clock.now();
  clock.setTimeout(() => order.push(-1), 5000);
  clock.advance(10_000);
  t.same(order, [...Array.from({ length: 10 }, (_, i) => i), -1], 'the survivors fire in order, once');
  t.equal(clock.now(), start + 10_000, 'and time never jumps ahead');

  // run(): a promise resolved by a timer continues before the next slice
  let continuedAt = -1;
  void clock.sleep(25).then(() => (continuedAt = clock.now()));
  await clock.run(100, 10);
  t.ok(continuedAt >= clock.now() - 100 + 25 && continuedAt <= clock.now() - 100 + 30, `continued at +${continuedAt - (clock.now() - 100)} ms`);
});

const ping = (seq: number) => ({ t: MessageType.Ping, v: 1, seq, to: 'x' });

function setup(opts: Partial<ConstructorParameters<typeof MockNetwork>[0]> = {}) {
  const clock = new SimClock(0);
  const net = new MockNetwork({ clock, seed: 9, ...opts });
  const got = new Map<string, Array<[number, string, Payload]>>();
  const transports = ['a', 'b', 'c', 'd'].map((addr) => {
    const tr = net.transport(addr);
    got.set(addr, []);
    tr.onMessage((from, payload) => got.get(addr)!.push([clock.now(), from, payload]));
    return tr;
  });
  return { clock, net, got, a: transports[0]!, b: transports[1]!, c: transports[2]!, d: transports[3]! };
}

t.test('datagrams: fixed delay plus jitter, per-link overrides, counters', async (t) => {
  const { clock, net, got, a, b, c } = setup({ link: { delayMs: 5, jitterMs: 0 } });
  a.send('b', ping(1));
  clock.advance(4);
  t.equal(got.get('b')!.length, 0, 'not before the delay');
  clock.advance(1);
  t.same(got.get('b')![0]!.slice(0, 2), [5, 'a']);
  net.setLink('a', 'c', { delayMs: 50, jitterMs: 10 });
  a.send('c', ping(2));
  c.send('a', ping(3));
  b.send('c', ping(4));
  clock.advance(100);
  const atC = got.get('c')!.map(([at, from]) => [from, at]);
  t.same(atC.find(([f]) => f === 'b'), ['b', 10], 'other links keep the default (sent at 5 ms)');
  const fromA = atC.find(([f]) => f === 'a')![1] as number;
  t.ok(fromA >= 55 && fromA < 65, `a → c arrived at ${fromA} ms: 50 ms + jitter`);
  const toA = got.get('a')![0]![0];
  t.ok(toA >= 55 && toA < 65, 'the override is symmetric');
  t.equal(net.statsOf('a').datagramsSent, 2);
  t.equal(net.statsOf('a').datagramBytesSent, 2 * JSON.stringify(ping(1)).length, 'bytes from messageBytes');
  t.equal(net.totals.datagramsDelivered, 4);
  t.same(net.statsOf('nobody'), { datagramsSent: 0, datagramBytesSent: 0, datagramsDelivered: 0, datagramsDropped: 0, requestsSent: 0, requestBytesSent: 0, requestsFailed: 0 });
  const other = { hello: 'world' };
  a.send('b', other);
  t.equal(net.statsOf('a').datagramBytesSent, 2 * JSON.stringify(ping(1)).length + JSON.stringify(other).length, 'other objects count as their JSON');
});

t.test('loss is drawn from the seed: the same seed drops the same packets, near the configured rate', async (t) => {
  const run = (seed: number): string => {
    const { clock, got, a } = setup({ seed, link: { loss: 0.3 } });
    for (let i = 0; i < 2000; i++) a.send('b', ping(i));
    clock.advance(100);
    return got.get('b')!.map(([, , p]) => (p as { seq: number }).seq).join(',');
  };
  const first = run(5);
  t.equal(run(5), first, 'reproducible');
  t.not(run(6), first, 'another seed, other losses');
  const delivered = first.split(',').length;
  t.ok(delivered > 2000 * 0.65 && delivered < 2000 * 0.75, `${delivered} of 2000 delivered at 30% loss`);
  const oneWay = setup();
  oneWay.net.setLink('a', 'b', { loss: 1 }, true);
  oneWay.a.send('b', ping(1));
  oneWay.b.send('a', ping(2));
  oneWay.clock.advance(10);
  t.same([oneWay.got.get('b')!.length, oneWay.got.get('a')!.length], [0, 1], 'a one-way override');
  t.equal(oneWay.net.totals.datagramsDropped, 1);
});

t.test('partitions cut both ways and add up; heal restores; kill stops a node, in flight too', async (t) => {
  const { clock, net, got, a, b, c, d } = setup();
  net.partition(['a', 'b'], ['c']);
  net.partition(['d'], ['a']);
  t.notOk(net.connected('a', 'c'));
  t.notOk(net.connected('c', 'b'));
  t.notOk(net.connected('a', 'd'));
  t.ok(net.connected('a', 'b'));
  t.ok(net.connected('c', 'd'));
  a.send('c', ping(1));
  c.send('b', ping(2));
  d.send('c', ping(3));
  clock.advance(10);
  t.same([got.get('c')!.length, got.get('b')!.length], [1, 0]);
  net.heal();
  a.send('c', ping(4));
  clock.advance(10);
  t.equal(got.get('c')!.length, 2);

  b.send('a', ping(5)); // in flight when a dies
  net.kill('a');
  clock.advance(10);
  t.equal(got.get('a')!.length, 0, 'dropped on arrival');
  a.send('b', ping(6));
  clock.advance(10);
  t.equal(got.get('b')!.length, 0, 'a dead node sends nothing');
  t.notOk(net.connected('b', 'a'));
  net.revive('a');
  a.send('b', ping(7));
  clock.advance(10);
  t.equal(got.get('b')!.length, 1);
  net.kill('nobody');
  net.revive('nobody');
  t.notOk(net.connected('a', 'nobody'));
});

t.test('requests: reliable exchange with replies, timeouts, unreachable peers, errors, async responders', async (t) => {
  const { clock, net, a, b, c } = setup({ link: { delayMs: 5, jitterMs: 0 } });
  b.onRequest((from, payload) => ({ echo: payload, from }));
  const ok = a.request('b', { hi: 1 }, 1000);
  clock.advance(9);
  let answer: unknown;
  void ok.then((v) => (answer = v));
  clock.advance(1);
  await Promise.resolve();
  t.same(answer, { echo: { hi: 1 }, from: 'a' }, 'answered after two link delays');

  // On a lossy link a request is never lost: each lost segment costs a 200 ms retransmission.
  net.setLink('a', 'd', { loss: 0.5 });
  const d = net.transport('d');
  d.onRequest(() => ({}));
  const latencies: number[] = [];
  for (let i = 0; i < 200; i++) {
    const sent = clock.now();
    let done = false;
    void a.request('d', {}, 100_000).then(() => (done = true));
    while (!done) {
      clock.advance(1);
      await Promise.resolve();
    }
    latencies.push(clock.now() - sent);
  }
  t.equal(latencies.length, 200, 'every request answered despite 50% loss');
  t.ok(latencies.every((ms) => (ms - 10) % 200 === 0), 'link delays plus whole retransmission timeouts');
  const mean = latencies.reduce((x, y) => x + y, 0) / latencies.length;
  t.ok(mean > 10 + 300 && mean < 10 + 500, `mean ${mean} ms: about one retransmission per leg at 50% loss`);

  const expectFailure = async (p: Promise<Payload>, reason: string): Promise<void> => {
    const outcome = p.then(() => undefined, (err: unknown) => err);
    await clock.run(2000, 1); // slices, so an async responder's rejection is seen before the timeout
    const err = await outcome;
    t.ok(err instanceof TransportError && err.reason === reason, `fails with ${reason}`);
  };
  await expectFailure(a.request('c', {}, 100), 'no-responder');
  const off = c.onRequest(() => {
    throw new Error('boom');
  });
  await expectFailure(a.request('c', {}, 100), 'remote-error');
  off();
  c.onRequest(() => Promise.reject(new Error('async boom')));
  await expectFailure(a.request('c', {}, 100), 'remote-error');
  c.onRequest(() => new Promise(() => {}));
  await expectFailure(a.request('c', {}, 100), 'timeout');
  c.onRequest(async () => ({ later: true }));
  const asyncAnswer = a.request('c', {}, 100);
  await Promise.resolve();
  clock.advance(5);
  await Promise.resolve();
  await Promise.resolve();
  clock.advance(5);
  t.same(await asyncAnswer, { later: true }, 'an async responder');
  net.partition(['a'], ['b']);
  await expectFailure(a.request('b', {}, 100), 'timeout');
  net.heal();
  net.kill('b');
  await expectFailure(a.request('b', {}, 100), 'timeout');
  t.equal(net.statsOf('a').requestsFailed, 6);
});

t.test('serialize: payloads travel as JSON bytes and are counted exactly', async (t) => {
  const { clock, net, got, a, b } = setup({ serialize: true });
  a.send('b', ping(1));
  b.onRequest((_from, payload) => {
    t.ok(payload instanceof Uint8Array, 'the responder gets bytes');
    return { ok: true };
  });
  const reply = a.request('b', { q: 1 }, 100);
  clock.advance(20);
  const [, , payload] = got.get('b')![0]!;
  t.ok(payload instanceof Uint8Array);
  t.same(JSON.parse(Buffer.from(payload as Uint8Array).toString()), ping(1));
  t.same(JSON.parse(Buffer.from((await reply) as Uint8Array).toString()), { ok: true });
  t.equal(net.statsOf('a').datagramBytesSent, JSON.stringify(ping(1)).length);
  const bytes = new Uint8Array([1, 2, 3]);
  a.send('b', bytes);
  clock.advance(20);
  t.equal(got.get('b')![1]![2], bytes, 'bytes pass through untouched');
});

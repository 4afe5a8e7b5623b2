import t from 'tap';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { FakeClock, systemClock, timeoutAfterTurn, type TimerHandle } from '../../src/shared/clock';

t.test('FakeClock fires timers in due order as time advances', async (t) => {
  const c = new FakeClock(0);
  const seen: string[] = [];
  c.setTimeout(() => seen.push('b'), 20);
  c.setTimeout(() => seen.push('a'), 10);
  const iv = c.setInterval(() => seen.push('i'), 15);
  c.advance(31);
  t.same(seen, ['a', 'i', 'b', 'i']);
  iv.cancel();
  c.advance(100);
  t.equal(c.now(), 131);
  t.equal(c.pending(), 0);
});

t.test('timeoutAfterTurn: after a stall past the due time, what is ready in that turn runs before it expires', async (t) => {
  const stall = (ms: number) => {
    const until = Date.now() + ms;
    while (Date.now() < until) {
      // the loop is blocked, as by a long GC
    }
  };
  // A connected pair of loopback sockets: what one writes is in the other's receive queue at once.
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const accepted = new Promise<Socket>((r) => server.once('connection', r));
  const client = connect((server.address() as AddressInfo).port, '127.0.0.1');
  const peer = await accepted;
  t.teardown(() => (client.destroy(), peer.destroy(), server.close()));
  // The loop stalls past the due time in another callback, while the answer arrives; Node reads
  // sockets in the poll phase, after that turn's due timers.
  const race = (arm: (expire: () => void) => TimerHandle) =>
    new Promise<string[]>((done) => {
      const order: string[] = [];
      // systemClock's timers do not keep the process alive; this does, until the race is over.
      const hold = setTimeout(() => undefined, 1000);
      const push = (what: string) => {
        order.push(what);
        if (order.length === 2) (clearTimeout(hold), done(order));
      };
      arm(() => push('expired'));
      peer.once('data', () => push('answer'));
      setImmediate(() => {
        client.write('x');
        stall(30);
      });
    });
  t.same(await race((expire) => timeoutAfterTurn(systemClock, 5, expire)), ['answer', 'expired'], 'the answer first');
  t.same(await race((expire) => systemClock.setTimeout(expire, 5)), ['expired', 'answer'], 'a plain timeout would have expired first');
  const c = new FakeClock(0);
  let expired = 0;
  timeoutAfterTurn(c, 100, () => expired++).cancel();
  const h = timeoutAfterTurn(c, 100, () => expired++);
  c.advance(99);
  t.equal(expired, 0);
  c.advance(1);
  c.advance(0);
  t.equal(expired, 1, 'expires once, cancelled ones never');
  h.cancel();
});

import t from 'tap';
import { FakeClock } from '../../src/shared/clock';

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

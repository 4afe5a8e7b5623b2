// The cached list bodies of the /v2 list routes (joined-body.ts): rebuilt when the stamp moves,
// reused (without building) while it holds, reused after a rebuild that gives the same parts.
import t from 'tap';
import { JoinedBodies } from '../../src/init/joined-body';

t.test('bytes are reused while the stamp holds and rebuilt when it moves', async (t) => {
  const bodies = new JoinedBodies('{"tasks":[', ']}');
  let builds = 0;
  let parts = ['{"id":"a"}', '{"id":"b"}'];
  const build = () => (builds++, parts);
  const first = bodies.bytes('all', '1', build);
  t.equal(first.toString(), '{"tasks":[{"id":"a"},{"id":"b"}]}');
  t.equal(bodies.bytes('all', '1', build), first, 'same stamp: the same bytes');
  t.equal(builds, 1, 'and no build');
  t.equal(bodies.bytes('all', '2', build), first, 'a new stamp but equal parts: the same bytes');
  t.equal(builds, 2);
  parts = ['{"id":"a"}'];
  t.equal(bodies.bytes('all', '3', build).toString(), '{"tasks":[{"id":"a"}]}', 'changed parts: rebuilt');
  t.equal(bodies.bytes('running', '3', () => []).toString(), '{"tasks":[]}', 'variants are cached apart');
  t.equal(bodies.bytes('all', undefined, build).toString(), '{"tasks":[{"id":"a"}]}', 'no stamp: always built');
  t.equal(builds, 4);
});

t.test('at most 8 variants are kept, the oldest dropped first', async (t) => {
  const bodies = new JoinedBodies('[', ']');
  let builds = 0;
  for (let i = 0; i < 9; i++) bodies.bytes(`v${i}`, 's', () => (builds++, [String(i)]));
  bodies.bytes('v8', 's', () => (builds++, ['8']));
  t.equal(builds, 9, 'the newest is cached');
  bodies.bytes('v0', 's', () => (builds++, ['0']));
  t.equal(builds, 10, 'the oldest was dropped');
});

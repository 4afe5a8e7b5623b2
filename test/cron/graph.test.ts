// The pure dependency checks of a job submission: missing parents and cycles are refused, and a
// submission reads only its own ancestors, so adding the 10,001st job costs what adding the 2nd did.
import t from 'tap';
import { checkDependencies, dependents, type ParentLookup } from '../../src/cron/graph';

type Def = { name: string; parents?: string[] };

/** A lookup over `defs` that counts what is read. */
function counted(defs: Def[]): { lookup: ParentLookup; reads: () => number } {
  const byName = new Map(defs.map((d) => [d.name, d]));
  let reads = 0;
  return {
    lookup: {
      has: (n) => (reads++, byName.has(n)),
      get: (n) => (reads++, byName.get(n)),
    },
    reads: () => reads,
  };
}

t.test('a submission reads its ancestors only, not every job', async (t) => {
  const defs: Def[] = [];
  for (let i = 0; i < 10_000; i++) defs.push({ name: `job-${i}` });
  defs.push({ name: 'p1', parents: ['job-1'] }, { name: 'p2', parents: ['p1'] });
  const { lookup, reads } = counted(defs);
  checkDependencies(lookup, { name: 'new', parents: ['p2'] });
  t.ok(reads() <= 6, `reads ${reads()}: new -> p2 -> p1 -> job-1`);
  const before = reads();
  checkDependencies(lookup, { name: 'job-5' });
  t.ok(reads() - before <= 2, 'a scheduled job (no parents) reads next to nothing');
});

t.test('missing parents and cycles are refused, also through a replaced job', async (t) => {
  const { lookup } = counted([{ name: 'a' }, { name: 'b', parents: ['a'] }, { name: 'c', parents: ['b'] }]);
  t.throws(() => checkDependencies(lookup, { name: 'd', parents: ['a', 'x', 'y'] }), { code: 'JOB_PARENT_NOT_FOUND', message: /x, y/ });
  t.throws(() => checkDependencies(lookup, { name: 'a', parents: ['c'] }), { code: 'JOB_DEPENDENCY_CYCLE', message: /a -> c -> b -> a/ });
  t.doesNotThrow(() => checkDependencies(lookup, { name: 'c', parents: ['a'] }), 'c moved under a directly');
  t.doesNotThrow(() => checkDependencies(lookup, { name: 'a' }), 'a stays a root');
  t.same(dependents(new Map([['a', { name: 'a' }], ['b', { name: 'b', parents: ['a'] }]]), 'a'), ['b']);
});

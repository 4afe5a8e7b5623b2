// Pins the dependency rules of DESIGN.md: no import cycle between files under src/, and no edge the
// layering forbids (the table is ALLOWED in test/helpers/depcheck.ts). The checker is first run on
// planted graphs, so a broken checker cannot pass the real tree by finding nothing.
import t from 'tap';
import { resolve } from 'node:path';
import {
  buildSrcGraph,
  findCycles,
  forbiddenEdges,
  formatCycle,
  formatViolations,
  importsOf,
  moduleOf,
  type Edge,
} from './helpers/depcheck';

const root = resolve(__dirname, '..');

const edge = (from: string, to: string): Edge => ({ from, to, kind: 'import', line: 1 });

t.test('checker self-test: the parser sees every import form', async (t) => {
  const source = [
    "import a from './a';",
    "import type { B } from './b';",
    "import { type C } from './c.js';",
    "export { d } from './d';",
    "export * from './e';",
    "export type { F } from './f';",
    "import './g';",
    "const h = await import('./h');",
    "const i = require('./i');",
    "import j = require('./j');",
    "type K = import('./k').K;",
    "import fs from 'node:fs';",
    '// import nope from "./comment";',
    "const s = 'import x from \"./string\"';",
  ].join('\n');
  const refs = importsOf('fake.ts', source);
  t.same(
    refs.map((r) => [r.specifier, r.kind]),
    [
      ['./a', 'import'],
      ['./b', 'import type'],
      ['./c.js', 'import'],
      ['./d', 'export from'],
      ['./e', 'export from'],
      ['./f', 'export from'],
      ['./g', 'import'],
      ['./h', 'import()'],
      ['./i', 'require()'],
      ['./j', 'import = require()'],
      ['./k', 'type import()'],
      ['node:fs', 'import'],
    ],
  );
  t.equal(refs.find((r) => r.specifier === './i')?.line, 9);
});

t.test('checker self-test: modules follow the layout', async (t) => {
  t.equal(moduleOf('src/main.ts'), 'main');
  t.equal(moduleOf('src/kernel/types.ts'), 'kernel/types');
  t.equal(moduleOf('src/kernel/agent-link.ts'), 'kernel/agent-link');
  t.equal(moduleOf('src/kernel/sdk/types.ts'), 'kernel/sdk');
  t.equal(moduleOf('src/kernel/master/allocator/drf.ts'), 'kernel/master');
  t.equal(moduleOf('src/kernel/index.ts'), 'kernel');
  t.equal(moduleOf('src/shared/errors.ts'), 'shared');
  t.equal(moduleOf('src/stray.ts'), undefined);
  t.equal(moduleOf('src/nowhere/x.ts'), undefined);
});

t.test('checker self-test: a planted cycle and planted forbidden edges are caught', async (t) => {
  const planted = [
    edge('src/shared/a.ts', 'src/shared/b.ts'),
    edge('src/shared/b.ts', 'src/shared/c.ts'),
    edge('src/shared/c.ts', 'src/shared/a.ts'),
    edge('src/shared/c.ts', 'src/shared/d.ts'),
    edge('src/store/self.ts', 'src/store/self.ts'),
    edge('src/cli/up.ts', 'src/store/sqlite.ts'),
    edge('src/init/planner.ts', 'src/kernel/master/offers.ts'),
    edge('src/kernel/agent/executor.ts', 'src/kernel/master/registry.ts'),
    edge('src/shared/config.ts', 'src/store/types.ts'),
    edge('src/ui/index.ts', 'src/shared/ids.ts'),
    edge('src/api/server.ts', 'src/cli/index.ts'),
    edge('src/store/x.ts', 'test/helpers/depcheck.ts'),
    // allowed edges that must stay quiet
    edge('src/init/planner.ts', 'src/kernel/sdk/types.ts'),
    edge('src/init/planner.ts', 'src/kernel/types.ts'),
    edge('src/kernel/agent/executor.ts', 'src/kernel/agent-link.ts'),
    edge('src/cli/up.ts', 'src/daemon/index.ts'),
    edge('src/main.ts', 'src/cli/index.ts'),
  ];
  t.same(findCycles(planted).map(formatCycle), [
    'src/shared/a.ts -> src/shared/b.ts -> src/shared/c.ts -> src/shared/a.ts (import cycle)',
    'src/store/self.ts -> src/store/self.ts (import cycle)',
  ]);
  t.same(
    forbiddenEdges(planted).map((v) => `${v.from} -> ${v.to}`),
    [
      'src/cli/up.ts -> src/store/sqlite.ts',
      'src/init/planner.ts -> src/kernel/master/offers.ts',
      'src/kernel/agent/executor.ts -> src/kernel/master/registry.ts',
      'src/shared/config.ts -> src/store/types.ts',
      'src/ui/index.ts -> src/shared/ids.ts',
      'src/api/server.ts -> src/cli/index.ts',
      'src/store/x.ts -> test/helpers/depcheck.ts',
    ],
  );
  t.match(formatViolations(forbiddenEdges([edge('src/cli/up.ts', 'src/store/sqlite.ts')])), [
    'src/cli/up.ts -> src/store/sqlite.ts (cli may import only shared, client, daemon; not store)',
  ]);
  t.equal(forbiddenEdges([edge('src/stray.ts', 'src/shared/a.ts')]).length, 1, 'a file outside the layout is reported');
});

t.test('src/ has no import cycle, no forbidden edge and no unresolved relative import', async (t) => {
  const graph = buildSrcGraph(root);
  t.ok(graph.files.includes('src/shared/errors.ts'), 'the walk found src/');
  t.ok(graph.edges.length > 0, 'the walk found imports');

  const unresolved = graph.unresolved.map((u) => `${u.from}:${u.line} -> '${u.specifier}' (relative import names no file)`);
  const cycles = findCycles(graph.edges).map(formatCycle);
  const forbidden = formatViolations(forbiddenEdges(graph.edges));
  for (const line of [...unresolved, ...cycles, ...forbidden]) t.comment(line);
  t.same(unresolved, [], 'every relative import resolves');
  t.same(cycles, [], 'no import cycle');
  t.same(forbidden, [], 'no forbidden edge');
});

// The pure group functions: ids resolved as Marathon's PathId, a definition flattened into absolute
// app bodies (group dependencies handed down), group dependencies expanded to apps, and the tree.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { validateApp } from '../../src/init/app';
import { expandGroupDependencies, groupIds, groupTree, resolveGroupDefinition, resolveGroupId, scaledInstances } from '../../src/init/groups';

t.test('resolveGroupId: relative to the base group, .. and absolute ids, the root', async (t) => {
  for (const [raw, base, want] of [
    ['web', '/shop', '/shop/web'],
    ['../db', '/shop/web', '/shop/db'],
    ['/x/y', '/shop', '/x/y'],
    ['/', '/shop', '/'],
    ['..', '/shop', '/'],
    ['shop/', '/', '/shop'],
  ] as const) {
    t.equal(resolveGroupId(raw, base), want, `${raw} in ${base}`);
  }
  t.throws(() => resolveGroupId('Bad', '/'), { code: 'VALIDATION_FAILED' });
});

t.test('resolveGroupDefinition: absolute app bodies, group dependencies handed down, every problem with its path', async (t) => {
  const resolved = resolveGroupDefinition(
    { id: 'shop', dependencies: ['/infra'], apps: [{ id: 'db', cmd: 'x' }], groups: [{ id: 'web', dependencies: ['db'], apps: [{ id: 'api', cmd: 'x', dependencies: ['ui'] }] }] },
    '/',
  );
  t.same(resolved.groups, [
    { id: '/shop', dependencies: ['/infra'] },
    { id: '/shop/web', dependencies: ['/shop/db'] },
  ]);
  t.same(
    resolved.apps.map((a) => [a.body.id, a.body.dependencies, a.path]),
    [
      ['/shop/db', ['/infra'], '/apps/0'],
      ['/shop/web/api', ['ui', '/shop/db', '/infra'], '/groups/0/apps/0'],
    ],
  );
  t.same(validateApp(resolved.apps[1]!.body).dependencies, ['/shop/web/ui', '/shop/db', '/infra'], "the app's own dependencies resolve against its group");
  t.throws(() => resolveGroupDefinition({ id: '/a', apps: [{ id: '/b/c', cmd: 'x' }, { cmd: 'x' }], groups: [{ id: '/z' }, { id: 'ok', apps: [{ id: 'a', cmd: 'x' }, { id: 'a', cmd: 'y' }] }] }, '/'), {
    code: 'VALIDATION_FAILED',
    details: [
      { path: '/apps/0/id', errors: ['app /b/c is not a direct child of group /a'] },
      { path: '/apps/1/id', errors: ['is required'] },
      { path: '/groups/0/id', errors: ['group /z is not a direct child of group /a'] },
      { path: '/groups/1/apps/1/id', errors: ['app /a/ok/a is defined twice'] },
    ],
  });
  t.throws(() => resolveGroupDefinition({ apps: {} }, '/'), { code: 'VALIDATION_FAILED', details: [{ path: '/id', errors: ['is required'] }, { path: '/apps', errors: ['must be an array'] }] });
  t.throws(() => resolveGroupDefinition([], '/'), { code: 'VALIDATION_FAILED', details: [{ path: '/', errors: ['must be a JSON object'] }] });
});

t.test('expandGroupDependencies: a group stands for every app below it; apps and unknown ids stay', async (t) => {
  const apps = ['/shop/db', '/shop/cache', '/shop/web/api', '/shop/web/ui'];
  t.same(expandGroupDependencies(['/shop/db'], '/shop/web/api', apps), ['/shop/db']);
  t.same(expandGroupDependencies(['/shop/web'], '/shop/db', apps), ['/shop/web/api', '/shop/web/ui']);
  t.same(expandGroupDependencies(['/elsewhere'], '/shop/db', apps), ['/elsewhere'], 'met already, as for apps');
  t.same(expandGroupDependencies(['/shop'], '/shop/web/api', apps), ['/shop'], 'an app never waits for its own group');
});

t.test('groupIds and groupTree: implicit and explicit groups, sorted, versions from below, embed', async (t) => {
  const apps = [
    { id: '/shop/web/api', version: '2026-01-03T00:00:00.000Z' },
    { id: '/shop/db', version: '2026-01-01T00:00:00.000Z' },
    { id: '/top', version: '2026-01-02T00:00:00.000Z' },
  ];
  const explicit = [{ id: '/empty/inner', dependencies: [], version: '2026-01-04T00:00:00.000Z' }];
  t.same([...groupIds(apps.map((a) => a.id), explicit.map((g) => g.id))].sort(), ['/', '/empty', '/empty/inner', '/shop', '/shop/web']);
  const tree = groupTree('/', apps, explicit, (a) => a.id, { apps: true, groups: true });
  t.same(tree, {
    id: '/',
    dependencies: [],
    version: '2026-01-04T00:00:00.000Z',
    apps: ['/top'],
    groups: [
      { id: '/empty', dependencies: [], version: '2026-01-04T00:00:00.000Z', apps: [], groups: [{ id: '/empty/inner', dependencies: [], version: '2026-01-04T00:00:00.000Z', apps: [], groups: [] }] },
      { id: '/shop', dependencies: [], version: '2026-01-03T00:00:00.000Z', apps: ['/shop/db'], groups: [{ id: '/shop/web', dependencies: [], version: '2026-01-03T00:00:00.000Z', apps: ['/shop/web/api'], groups: [] }] },
    ],
  });
  t.same(groupTree('/shop', apps, [], (a) => a.id, { apps: false, groups: false }), { id: '/shop', dependencies: [], version: '2026-01-03T00:00:00.000Z' });
});

t.test('scaledInstances rounds up, as Marathon', async (t) => {
  t.same([scaledInstances(3, 1.5), scaledInstances(1, 0.5), scaledInstances(4, 0), scaledInstances(2, 2)], [5, 1, 0, 4]);
});

t.test('examples/shop.json is a valid group definition', async (t) => {
  const def = JSON.parse(readFileSync(resolve(__dirname, '..', '..', 'examples', 'shop.json'), 'utf8')) as unknown;
  const resolved = resolveGroupDefinition(def, '/');
  t.same(resolved.apps.map((a) => validateApp(a.body).id), ['/shop/db', '/shop/web/api']);
});

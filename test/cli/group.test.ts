// `corral group ...` against a fake client: what each command asks the API, what it prints (tables,
// --json), and how bad input fails.
import t from 'tap';
import type { App, Group } from '../../src/client';
import { buildProgram, runProgram, type CliClient } from '../../src/cli/program';
import { fakeCliDeps } from './helpers/fake-deps';
import { CorralError } from '../../src/shared/errors';

const V = '2026-01-01T10:00:00.000Z';
const app = (id: string, extra: Partial<App> = {}): App => ({ id, cmd: 'serve', instances: 1, cpus: 0.5, mem: 64, disk: 0, tasksRunning: 1, ...extra }) as App;
const tree: Group = {
  id: '/',
  apps: [],
  dependencies: [],
  version: V,
  groups: [
    {
      id: '/shop',
      apps: [app('/shop/db')],
      dependencies: [],
      version: V,
      groups: [{ id: '/shop/web', apps: [app('/shop/web/api', { instances: 2, tasksRunning: 1, dependencies: ['/shop/db'] } as Partial<App>)], groups: [], dependencies: ['/shop/db'], version: V }],
    },
  ],
};

function harness(over: Partial<CliClient> = {}) {
  const h = { stdout: '', stderr: '', calls: [] as unknown[][] };
  const unused = () => Promise.reject(new Error('not used'));
  const record = <T>(name: string, value: T) => (...args: unknown[]) => {
    h.calls.push([name, ...args]);
    return Promise.resolve(value);
  };
  const fake = {
    getGroup: async (id?: string, opts?: unknown) => {
      h.calls.push(['getGroup', id, opts]);
      return id === '/' ? tree : tree.groups![0]!;
    },
    createGroup: record('createGroup', { deploymentId: 'dep-1', version: V }),
    updateGroup: record('updateGroup', { deploymentId: 'dep-2', version: V }),
    deleteGroup: record('deleteGroup', { deploymentId: 'dep-3', version: V }),
    ...over,
  } as Partial<CliClient>;
  // Only group methods are used; any other call fails the test.
  const others = ['listApps', 'getApp', 'createApp', 'updateApp', 'deleteApp', 'appVersions', 'rollbackApp', 'appTasks', 'listTasks', 'getTask', 'killTask', 'taskLogs', 'listNodes', 'drainNode', 'undrainNode', 'planApp', 'planAppUpdate', 'restartApp', 'listDeployments', 'getDeployment', 'rollbackDeployment'];
  const client = { ...Object.fromEntries(others.map((k) => [k, unused])), ...fake } as CliClient;
  const deps = fakeCliDeps(h, client, { files: { 'shop.json': JSON.stringify({ id: 'shop', apps: [{ id: 'db', cmd: 'db' }] }), 'bad.json': '{nope' }, stdin: '{"apps": []}', now: Date.parse(V) });
  const run = (...args: string[]) => runProgram(buildProgram(deps), args, deps);
  return { h, run };
}

t.test('group add: POSTs the file as is and names the deployment; --json prints the answer', async (t) => {
  const { h, run } = harness();
  t.equal(await run('group', 'add', 'shop.json'), 0);
  t.same(h.calls, [['createGroup', { id: 'shop', apps: [{ id: 'db', cmd: 'db' }] }, { force: false }]]);
  t.equal(h.stdout, 'Created group /shop (deployment dep-1).\n');
  const json = harness();
  await json.run('--json', 'group', 'add', 'shop.json', '--force');
  t.same(JSON.parse(json.h.stdout), { deploymentId: 'dep-1', version: V });
  t.same(json.h.calls[0]![2], { force: true });
  const bad = harness();
  t.equal(await bad.run('group', 'add', 'bad.json'), 1);
  t.match(bad.h.stderr, /^error: Group definition bad\.json is not valid JSON: .*\(INVALID_JSON\)\n$/);
  t.same(bad.h.calls, [], 'nothing sent');
});

t.test('group list: one row per group with its apps, subgroups and instances of its subtree', async (t) => {
  const { h, run } = harness();
  t.equal(await run('group', 'list'), 0);
  t.same(h.calls, [['getGroup', '/', { embed: ['group.apps', 'group.groups', 'group.apps.counts'] }]]);
  t.equal(
    h.stdout,
    ['ID         APPS  GROUPS  INSTANCES  VERSION', `/shop      1     1       2/3        ${V}`, `/shop/web  1     0       1/2        ${V}`, ''].join('\n'),
  );
  const empty = harness({ getGroup: async () => ({ id: '/', apps: [], groups: [], dependencies: [], version: V }) });
  await empty.run('group', 'list');
  t.equal(empty.h.stdout, 'No groups. Create one with `corral group add FILE`.\n');
  const json = harness();
  await json.run('group', 'list', '--json');
  t.same(JSON.parse(json.h.stdout), tree);
});

t.test('group show: the group and every app of its subtree', async (t) => {
  const { h, run } = harness();
  t.equal(await run('group', 'show', 'shop'), 0);
  t.match(h.stdout, /ID:\s+\/shop\n/);
  t.match(h.stdout, /GROUPS:\s+\/shop\/web\n/);
  t.match(h.stdout, /APP\s+INSTANCES\s+CPUS\s+MEM\s+DEPENDS ON\s+CMD\n/);
  t.match(h.stdout, /\/shop\/db\s+1\/1\s+0\.5\s+64\s+-\s+serve\n/);
  t.match(h.stdout, /\/shop\/web\/api\s+1\/2\s+0\.5\s+64\s+\/shop\/db\s+serve\n/);
  const missing = harness({ getGroup: async () => Promise.reject(new CorralError('GROUP_NOT_FOUND', "Group '/nope' does not exist")) });
  t.equal(await missing.run('group', 'show', 'nope'), 1);
  t.equal(missing.h.stderr, "error: Group '/nope' does not exist (GROUP_NOT_FOUND)\n");
});

t.test('group scale, update, remove: one request each, a deployment note', async (t) => {
  const { h, run } = harness();
  t.equal(await run('group', 'scale', 'shop', '1.5'), 0);
  t.equal(await run('group', 'update', '/shop', '-', '--force'), 0);
  t.equal(await run('group', 'remove', 'shop/web'), 0);
  t.same(h.calls, [
    ['updateGroup', 'shop', { scaleBy: 1.5 }, { force: false }],
    ['updateGroup', '/shop', { apps: [] }, { force: true }],
    ['deleteGroup', 'shop/web', { force: false }],
  ]);
  t.equal(h.stdout, 'Scaling group /shop by 1.5 (deployment dep-2).\nUpdating group /shop (deployment dep-2).\nRemoving group /shop/web (deployment dep-3).\n');
  const bad = harness();
  t.equal(await bad.run('group', 'scale', 'shop', 'lots'), 2, 'a usage error');
  t.match(bad.h.stderr, /factor must be a number >= 0/);
  t.same(bad.h.calls, []);
});

t.test('group versions and rollback: the kept versions; rollback to --to or to the one before the newest', async (t) => {
  const V0 = '2025-12-31T10:00:00.000Z';
  const { h, run } = harness({ groupVersions: async (id: string) => (h.calls.push(['groupVersions', id]), [V, V0]), rollbackGroup: async (...args: unknown[]) => (h.calls.push(['rollbackGroup', ...args]), { deploymentId: 'dep-4', version: V }) } as Partial<CliClient>);
  t.equal(await run('group', 'versions', 'shop'), 0);
  t.match(h.stdout, /VERSION\n2026-01-01T10:00:00.000Z\n2025-12-31T10:00:00.000Z\n/);
  h.stdout = '';
  t.equal(await run('group', 'rollback', 'shop'), 0);
  t.equal(await run('group', 'rollback', '/shop', '--to', V, '--force'), 0);
  t.same(h.calls.slice(1), [
    ['groupVersions', 'shop'],
    ['rollbackGroup', 'shop', V0, { force: false }],
    ['rollbackGroup', '/shop', V, { force: true }],
  ]);
  t.equal(h.stdout, `Rolling back group /shop to version ${V0} (deployment dep-4).\nRolling back group /shop to version ${V} (deployment dep-4).\n`);

  const single = harness({ groupVersions: async () => [V] } as Partial<CliClient>);
  t.equal(await single.run('group', 'rollback', 'shop'), 1);
  t.match(single.h.stderr, /has no version before its newest/);
});

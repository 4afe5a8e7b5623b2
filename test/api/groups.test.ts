// Marathon's /v2/groups through inject() over the real controller, a master with a fake agent and a
// fake clock: the tree (implicit and explicit groups, embed), a group definition creating several
// apps in ONE deployment ordered by dependencies, PUT replacing and scaleBy, DELETE removing the
// subtree, group versions and rollback, and Marathon’s 404/409/422.
import t, { type Test } from 'tap';
import { registerGroupRoutes } from '../../src/init/group-routes';
import { GroupService, type GroupChangeEvent } from '../../src/init/group-service';
import { initStack } from './helpers/init-stack';

const app = (id: string, extra: Record<string, unknown> = {}) => ({ id, cmd: 'serve', instances: 1, cpus: 0.1, mem: 16, ...extra });

/** /shop with a db app and a web group depending on it; web's apps also depend on nothing else. */
const shop = {
  id: '/shop',
  apps: [app('db')],
  groups: [{ id: 'web', dependencies: ['db'], apps: [app('api', { instances: 2 }), app('/shop/web/ui', { dependencies: ['api'] })] }],
};

async function harness(t: Test) {
  const groupEvents: GroupChangeEvent[] = [];
  const stack = await initStack(t, ({ store, controller, apps }) => {
    const groups = new GroupService(store, apps);
    groups.announceChanges((listener) => apps.deployments.onEvent(listener), (e) => groupEvents.push(e));
    return [(s) => registerGroupRoutes(s, groups, apps, controller)];
  });
  const ids = async () => ((await stack.call('GET', '/v2/apps')).json().apps as Array<{ id: string }>).map((a) => a.id);
  return { ...stack, round: () => stack.round(), ids, groupEvents };
}

async function deployedShop(t: Test) {
  const h = await harness(t);
  const res = await h.call('POST', '/v2/groups', shop);
  t.equal(res.statusCode, 201);
  for (let i = 0; i < 5 && (await h.listed()).length > 0; i++) await h.round();
  t.same(await h.listed(), [], 'the group is deployed');
  return h;
}

t.test('POST a group: every app of its subtree in ONE deployment, steps ordered by app and group dependencies', async (t) => {
  const h = await harness(t);
  const res = await h.call('POST', '/v2/groups', shop);
  t.equal(res.statusCode, 201);
  t.equal(res.headers.location, '/v2/groups/shop');
  const { deploymentId, version } = res.json();
  t.match(res.json(), { deploymentId: String, version: String });
  t.equal(res.headers['marathon-deployment-id'], deploymentId);
  const listed = await h.listed();
  t.equal(listed.length, 1, 'one deployment');
  t.match(listed[0], {
    id: deploymentId,
    version,
    affectedApps: ['/shop/db', '/shop/web/api', '/shop/web/ui'],
    steps: [
      { actions: [{ action: 'StartApplication', app: '/shop/db' }, { action: 'StartApplication', app: '/shop/web/api' }, { action: 'StartApplication', app: '/shop/web/ui' }] },
      { actions: [{ action: 'ScaleApplication', app: '/shop/db' }] },
      { actions: [{ action: 'ScaleApplication', app: '/shop/web/api' }] },
      { actions: [{ action: 'ScaleApplication', app: '/shop/web/ui' }] },
    ],
  });
  const ui = (await h.call('GET', '/v2/apps/shop/web/ui')).json().app;
  t.same(ui.dependencies, ['/shop/web/api', '/shop/db'], 'relative dependencies resolved; the group’s added');
  for (let i = 0; i < 5 && (await h.listed()).length > 0; i++) await h.round();
  t.same(await h.listed(), []);
  t.equal(h.controller.tasksOf('/shop/web/api').length, 2);
});

t.test('GET /v2/groups: the root tree of implicit and explicit groups, a subtree, embed', async (t) => {
  const h = await deployedShop(t);
  t.equal((await h.call('POST', '/v2/groups', { id: '/empty' })).statusCode, 201, 'an empty group can be created');
  t.equal((await h.call('POST', '/v2/apps', app('/loose'))).statusCode, 201);
  const root = (await h.call('GET', '/v2/groups')).json();
  t.equal(root.id, '/');
  t.same(root.apps.map((a: { id: string }) => a.id), ['/loose']);
  t.same(root.groups.map((g: { id: string }) => g.id), ['/empty', '/shop']);
  const shopNode = root.groups[1];
  t.same(shopNode.apps.map((a: { id: string }) => a.id), ['/shop/db']);
  t.same(shopNode.groups.map((g: { id: string }) => g.id), ['/shop/web']);
  t.same(shopNode.groups[0].apps.map((a: { id: string }) => a.id), ['/shop/web/api', '/shop/web/ui']);
  t.same(shopNode.groups[0].dependencies, ['/shop/db']);
  t.match(root, { version: String });

  const sub = await h.call('GET', '/v2/groups/shop/web');
  t.equal(sub.statusCode, 200);
  t.equal(sub.json().id, '/shop/web');
  t.notOk('tasksRunning' in sub.json().apps[0], 'no counts unless asked for');

  const groupsOnly = (await h.call('GET', '/v2/groups/shop?embed=group.groups')).json();
  t.notOk('apps' in groupsOnly);
  t.same(groupsOnly.groups.map((g: { id: string }) => g.id), ['/shop/web']);
  const counted = (await h.call('GET', '/v2/groups/shop/web?embed=group.apps&embed=group.apps.counts&embed=group.apps.tasks')).json();
  t.notOk('groups' in counted);
  t.match(counted.apps[0], { id: '/shop/web/api', tasksRunning: 2, tasks: [{ appId: '/shop/web/api' }, { appId: '/shop/web/api' }] });

  const missing = await h.call('GET', '/v2/groups/nope');
  t.equal(missing.statusCode, 404);
  t.same(missing.json().message, "Group '/nope' does not exist");
});

t.test('POST an existing group: 409 with Marathon’s message; invalid definitions: 422 with paths, nothing written', async (t) => {
  const h = await deployedShop(t);
  const dup = await h.call('POST', '/v2/groups', { id: 'shop', apps: [] });
  t.equal(dup.statusCode, 409);
  t.equal(dup.json().message, 'Group /shop is already created. Use PUT to change this group.');
  const revision = await h.store.revision();
  const bad = await h.call('POST', '/v2/groups', { id: '/x', apps: [{ id: 'a', cmd: 'c', instances: -1 }], groups: [{ id: 'y', apps: [{ id: 'B!' }] }] });
  t.equal(bad.statusCode, 422);
  t.equal(bad.json().message, 'Object is not valid');
  t.match(bad.json().details, [{ path: '/groups/0/apps/0/id' }]);
  const invalidApp = await h.call('POST', '/v2/groups', { id: '/x', apps: [{ id: 'a', cmd: 'c', instances: -1 }, { id: 'b' }] });
  t.equal(invalidApp.statusCode, 422);
  t.same(invalidApp.json().details.map((d: { path: string }) => d.path).sort(), ['/apps/0/instances', '/apps/1/cmd']);
  const cycle = await h.call('POST', '/v2/groups', { id: '/x', apps: [app('a', { dependencies: ['b'] }), app('b', { dependencies: ['a'] })] });
  t.equal(cycle.statusCode, 422);
  const clash = await h.call('POST', '/v2/groups', { id: '/shop/db/x', apps: [] });
  t.equal(clash.statusCode, 422, 'a group may not take an app’s id');
  t.match(clash.json().details, [{ path: '/id', errors: ['Groups and Applications may not have the same identifier: /shop/db'] }]);
  t.equal((await h.call('PUT', '/v2/groups/shop', { apps: [app('web')] })).statusCode, 422, 'nor an app a group’s');
  t.equal(await h.store.revision(), revision, 'nothing written');
  t.equal((await h.call('GET', '/v2/groups/x')).statusCode, 404);
});

t.test('PUT scaleBy scales every app of the subtree in one deployment; dryRun answers the plan only', async (t) => {
  const h = await deployedShop(t);
  const dry = await h.call('PUT', '/v2/groups/shop/web?dryRun=true', { scaleBy: 2 });
  t.equal(dry.statusCode, 200);
  t.match(dry.json(), { dryRun: true, affectedApps: ['/shop/web/api', '/shop/web/ui'] });
  t.same(await h.listed(), [], 'a dry run starts nothing');
  const res = await h.call('PUT', '/v2/groups/shop/web', { scaleBy: 2 });
  t.equal(res.statusCode, 200);
  const listed = await h.listed();
  t.equal(listed.length, 1);
  t.match(listed[0], { id: res.json().deploymentId, affectedApps: ['/shop/web/api', '/shop/web/ui'] });
  for (let i = 0; i < 5 && (await h.listed()).length > 0; i++) await h.round();
  t.equal(h.controller.tasksOf('/shop/web/api').length, 4);
  t.equal(h.controller.tasksOf('/shop/web/ui').length, 2);
  t.equal(h.controller.tasksOf('/shop/db').length, 1, 'outside the subtree: untouched');
  t.equal((await h.call('PUT', '/v2/groups/shop', { scaleBy: 'x' })).statusCode, 422);
  t.equal((await h.call('PUT', '/v2/groups/nope', { scaleBy: 2 })).statusCode, 404);
});

t.test('PUT a definition: creates and changes apps in one deployment, removes the group’s apps left out', async (t) => {
  const h = await deployedShop(t);
  const res = await h.call('PUT', '/v2/groups/shop', { apps: [app('db', { instances: 2 }), app('cache')], groups: [{ id: 'web', apps: [app('api', { instances: 2 })] }] });
  t.equal(res.statusCode, 200);
  const listed = await h.listed();
  t.equal(listed.length, 1, 'one deployment');
  t.same(listed[0]!.affectedApps, ['/shop/cache', '/shop/db', '/shop/web/api', '/shop/web/ui'], 'api changes: it lost the group dependency');
  for (let i = 0; i < 5 && (await h.listed()).length > 0; i++) await h.round();
  t.same(await h.ids(), ['/shop/cache', '/shop/db', '/shop/web/api']);
  t.equal(h.controller.tasksOf('/shop/db').length, 2);
  t.equal(h.controller.tasksOf('/shop/web/ui').length, 0);

  const locked = await h.call('PUT', '/v2/groups/shop', { scaleBy: 2 });
  t.equal(locked.statusCode, 200, 'nothing in progress');
  t.equal((await h.call('PUT', '/v2/groups/shop', { scaleBy: 2 })).statusCode, 409, 'one deployment per app');
  t.equal((await h.call('PUT', '/v2/groups/shop?force=true', { scaleBy: 1 })).statusCode, 200, 'unless forced');
});

t.test('DELETE a group removes every app of its subtree in one deployment, and the explicit groups', async (t) => {
  const h = await deployedShop(t);
  t.equal((await h.call('POST', '/v2/groups', { id: '/shop/web/empty' })).statusCode, 201);
  t.equal((await h.call('POST', '/v2/apps', app('/other'))).statusCode, 201);
  for (let i = 0; i < 3 && (await h.listed()).length > 0; i++) await h.round();
  const res = await h.call('DELETE', '/v2/groups/shop');
  t.equal(res.statusCode, 200);
  const listed = await h.listed();
  t.equal(listed.length, 1);
  t.same(listed[0]!.affectedApps, ['/shop/db', '/shop/web/api', '/shop/web/ui']);
  t.same(
    listed[0]!.steps,
    ['/shop/web/ui', '/shop/web/api', '/shop/db'].map((a) => ({ actions: [{ action: 'StopApplication', app: a }] })),
    'dependents stop before what they depend on',
  );
  for (let i = 0; i < 5 && (await h.listed()).length > 0; i++) await h.round();
  t.same(await h.ids(), ['/other']);
  t.equal((await h.call('GET', '/v2/groups/shop')).statusCode, 404);
  t.equal((await h.call('GET', '/v2/groups/shop/web/empty')).statusCode, 404, 'explicit groups below are gone too');
  t.equal((await h.call('DELETE', '/v2/groups/shop')).statusCode, 404);
});

t.test('group_change_success follows the deployment of each group change that succeeded', async (t) => {
  const h = await deployedShop(t);
  t.match(h.groupEvents, [{ eventType: 'group_change_success', groupId: '/shop', version: String, timestamp: String }], 'the POST, once deployed');
  const scaled = await h.call('PUT', '/v2/groups/shop/web', { scaleBy: 2 });
  t.equal(h.groupEvents.length, 1, 'not before its deployment succeeds');
  for (let i = 0; i < 5 && (await h.listed()).length > 0; i++) await h.round();
  t.match(h.groupEvents[1], { groupId: '/shop/web', version: scaled.json().version });
  await h.call('PUT', '/v2/groups/shop/web?dryRun=true', { scaleBy: 3 });
  const removed = await h.call('DELETE', '/v2/groups/shop');
  for (let i = 0; i < 5 && (await h.listed()).length > 0; i++) await h.round();
  t.same(h.groupEvents.map((e) => e.groupId), ['/shop', '/shop/web', '/shop'], 'a dry run announces nothing');
  t.equal(h.groupEvents[2]!.version, removed.json().version);
});

t.test('group versions: each group change keeps one; PUT {version} rolls the group back, a delete too', async (t) => {
  const h = await deployedShop(t);
  const settle = async () => {
    for (let i = 0; i < 10 && (await h.listed()).length > 0; i++) await h.round();
  };
  const [v1] = (await h.call('GET', '/v2/groups/shop/versions')).json() as string[];
  t.match(v1, /^\d{4}-\d\d-\d\dT/, 'the POST kept a version');
  const changed = await h.call('PUT', '/v2/groups/shop', { apps: [app('db', { instances: 2 }), app('cache')], groups: [{ id: 'web', apps: [app('api', { instances: 2 })] }] });
  await settle();
  const v2 = changed.json().version as string;
  t.same((await h.call('GET', '/v2/groups/shop/versions')).json(), [v2, v1], 'newest first, a plain array as in Marathon');
  const then = (await h.call('GET', `/v2/groups/shop/versions/${v1}`)).json();
  t.match(then, { id: '/shop', apps: [{ id: '/shop/db', instances: 1 }], groups: [{ id: '/shop/web', dependencies: ['/shop/db'], apps: [{ id: '/shop/web/api' }, { id: '/shop/web/ui' }] }] }, 'the group as the POST left it');

  const dry = await h.call('PUT', '/v2/groups/shop?dryRun=true', { version: v1 });
  t.match(dry.json(), { dryRun: true });
  t.equal(((await h.call('GET', '/v2/groups/shop/versions')).json() as string[]).length, 2, 'a dry run keeps no version');

  const rolled = await h.call('PUT', '/v2/groups/shop', { id: '/shop', version: v1 });
  t.equal(rolled.statusCode, 200);
  t.not(rolled.json().version, v1, 'a rollback is a new version');
  await settle();
  t.same(await h.ids(), ['/shop/db', '/shop/web/api', '/shop/web/ui'], 'the app added since is gone, the removed one back');
  t.equal(h.controller.tasksOf('/shop/db').length, 1);
  t.equal(h.controller.tasksOf('/shop/web/ui').length, 1);
  t.same((await h.call('GET', '/v2/groups/shop/web')).json().dependencies, ['/shop/db'], 'the explicit subgroup as it was');

  t.equal((await h.call('DELETE', '/v2/groups/shop')).statusCode, 200);
  await settle();
  t.equal((await h.call('GET', '/v2/groups/shop')).statusCode, 404);
  t.equal(((await h.call('GET', '/v2/groups/shop/versions')).json() as string[]).length, 4, 'the history outlives the group');
  t.equal((await h.call('PUT', '/v2/groups/shop', { version: v2 })).statusCode, 200, 'a delete rolls back too');
  await settle();
  t.same(await h.ids(), ['/shop/cache', '/shop/db', '/shop/web/api']);

  const unknown = await h.call('PUT', '/v2/groups/shop', { version: '2001-01-01T00:00:00.000Z' });
  t.equal(unknown.statusCode, 404);
  t.match(unknown.json(), { code: 'GROUP_VERSION_NOT_FOUND', message: "Group '/shop' does not exist in version 2001-01-01T00:00:00.000Z" });
  t.equal((await h.call('GET', '/v2/groups/shop/versions/2001-01-01T00:00:00.000Z')).statusCode, 404);
  t.match((await h.call('PUT', '/v2/groups/shop', { version: 'yesterday' })).json(), { code: 'VALIDATION_FAILED' });
  t.match((await h.call('PUT', '/v2/groups/shop', { version: v1, apps: [] })).json(), { code: 'VALIDATION_FAILED' }, 'version only with id, as for apps');
  t.match((await h.call('GET', '/v2/groups/nope/versions')).json(), { code: 'GROUP_NOT_FOUND' });
  t.same((await h.call('GET', '/v2/groups/versions')).json(), [], 'the root: no change was made through it');
});

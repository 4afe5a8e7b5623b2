// PATCH /v2/apps/{id} (a partial update whatever the query says) and Marathon's bulk PUT /v2/apps
// (an array of apps, one deployment), over the real controller with a fake agent.
import t from 'tap';
import { initStack } from './helpers/init-stack';

const web = { id: '/web', cmd: 'serve web', instances: 1, cpus: 0.1, mem: 16, env: { V: '1' } };

t.test('PATCH merges into the app, like PUT with partialUpdate', async (t) => {
  const h = await initStack(t);
  t.equal((await h.call('POST', '/v2/apps', web)).statusCode, 201);
  await h.round();
  const patched = await h.call('PATCH', '/v2/apps/web?partialUpdate=false', { instances: 3 });
  t.equal(patched.statusCode, 200);
  t.match(patched.json(), { deploymentId: String, version: String });
  t.equal(patched.headers['marathon-deployment-id'], patched.json().deploymentId);
  await h.round();
  const app = (await h.call('GET', '/v2/apps/web')).json().app;
  t.match(app, { instances: 3, cmd: 'serve web', env: { V: '1' }, tasksRunning: 3 }, 'only the given field changed');
  const bad = await h.call('PATCH', '/v2/apps/web', { instances: -1 });
  t.equal(bad.statusCode, 422);
  t.match(bad.json(), { code: 'VALIDATION_FAILED', details: [{ path: '/instances' }] });
});

t.test('bulk PUT /v2/apps: every app in one deployment, partial by default, created when missing', async (t) => {
  const h = await initStack(t);
  await h.call('POST', '/v2/apps', web);
  await h.round();
  const res = await h.call('PUT', '/v2/apps', [
    { id: 'web', instances: 2 },
    { id: '/db', cmd: 'serve db', instances: 1, cpus: 0.1, mem: 16 },
  ]);
  t.equal(res.statusCode, 200);
  const { deploymentId, version } = res.json();
  t.match(res.json(), { deploymentId: String, version: String });
  const listed = await h.listed();
  t.equal(listed.length, 1, 'one deployment');
  t.same((listed[0]!.affectedApps as string[]).sort(), ['/db', '/web']);
  t.equal(listed[0]!.id, deploymentId);
  await h.round();
  t.same(await h.listed(), []);
  t.match((await h.call('GET', '/v2/apps/web')).json().app, { instances: 2, cmd: 'serve web', tasksRunning: 2, version });
  t.match((await h.call('GET', '/v2/apps/db')).json().app, { instances: 1, tasksRunning: 1 });

  const replaced = await h.call('PUT', '/v2/apps?partialUpdate=false', [{ id: '/web', cmd: 'serve v2', cpus: 0.1, mem: 16 }]);
  t.equal(replaced.statusCode, 200);
  await h.round();
  t.match((await h.call('GET', '/v2/apps/web')).json().app, { instances: 1, cmd: 'serve v2', env: {} }, 'partialUpdate=false replaces the definition (defaults again)');
});

t.test('bulk PUT refuses bad input whole: paths name the item, nothing is written', async (t) => {
  const h = await initStack(t);
  await h.call('POST', '/v2/apps', web);
  await h.round();
  const before = (await h.call('GET', '/v2/apps')).json();
  const cases: Array<[string, unknown, string[]]> = [
    ['not an array', { id: '/web' }, ['/']],
    ['an item without id', [{ instances: 2 }], ['/0/id']],
    ['a bad id', [{ id: 'Bad_Id', cmd: 'x' }], ['/0/id']],
    ['the same app twice', [{ id: '/web', instances: 2 }, { id: 'web', instances: 3 }], ['/1/id']],
    ['a bad field in the second item', [{ id: '/web', instances: 2 }, { id: '/db', cmd: 'x', cpus: -1 }], ['/1/cpus']],
  ];
  for (const [name, body, paths] of cases) {
    const res = await h.call('PUT', '/v2/apps', body);
    t.equal(res.statusCode, 422, name);
    t.same(res.json().details.map((d: { path: string }) => d.path), paths, name);
  }
  const dry = await h.call('PUT', '/v2/apps?dryRun=true', [{ id: '/web', instances: 4 }]);
  t.equal(dry.statusCode, 200);
  t.match(dry.json(), { dryRun: true, affectedApps: ['/web'], totalSteps: 1 });
  t.same((await h.call('GET', '/v2/apps')).json(), before, 'nothing changed');
  t.same(await h.listed(), []);
});

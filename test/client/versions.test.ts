// The client's version calls: the routes they hit (a version's colons are escaped) and the
// rollback body Marathon expects.
import t from 'tap';
import { CorralClient } from '../../src/client';
import { TOKEN, startFakeApi, webApp, type FakeApi } from './helpers/fake-api';

let api: FakeApi;
t.before(async () => {
  api = await startFakeApi();
});
t.teardown(() => api.close());

t.test('appVersions, appVersion and rollbackApp', async (t) => {
  const c = new CorralClient({ url: api.url, token: TOKEN });
  t.same(await c.appVersions('/shop/web'), { versions: ['2026-01-02T00:00:00.000Z', webApp.version] });
  t.match(api.seen.at(-1), { method: 'GET', url: '/v2/apps/shop/web/versions' });
  t.equal((await c.appVersion('shop/web', webApp.version)).version, webApp.version);
  t.equal(api.seen.at(-1)!.url, '/v2/apps/shop/web/versions/2026-01-01T00%3A00%3A00.000Z');
  t.same(await c.rollbackApp('shop/web', webApp.version, { force: true }), { deploymentId: 'dep-2', version: '2026-01-02T00:00:00.000Z' });
  t.match(api.seen.at(-1), { method: 'PUT', url: '/v2/apps/shop/web?force=true', body: JSON.stringify({ version: webApp.version }) });
  await c.rollbackApp('shop/web', webApp.version);
  t.equal(api.seen.at(-1)!.url, '/v2/apps/shop/web', 'no force unless asked');
});

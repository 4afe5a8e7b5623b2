// The client's group methods: the routes, query and bodies they send (fetch recorded, no server).
import t from 'tap';
import { CorralClient, groupPath } from '../../src/client/client';

function recording() {
  const seen: Array<{ method: string; url: string; body: string | undefined }> = [];
  const fetchFn = (async (input: string | URL | Request, init?: RequestInit) => {
    seen.push({ method: init?.method ?? 'GET', url: String(input).replace('http://corral.test', ''), body: init?.body === undefined ? undefined : String(init.body) });
    return new Response(JSON.stringify({ id: '/', deploymentId: 'dep-1', version: 'v1', dependencies: [] }), { status: 200, headers: { 'content-type': 'application/json' } });
  }) as typeof fetch;
  return { seen, client: new CorralClient({ url: 'http://corral.test', token: 't', fetch: fetchFn }) };
}

t.test('groupPath: the root is /v2/groups, other ids keep their slashes', async (t) => {
  t.same(['/', '', 'shop', '/shop/web/', 'a b'].map(groupPath), ['/v2/groups', '/v2/groups', '/v2/groups/shop', '/v2/groups/shop/web', '/v2/groups/a%20b']);
});

t.test('getGroup, createGroup, updateGroup, deleteGroup send Marathon’s requests', async (t) => {
  const { seen, client } = recording();
  await client.getGroup();
  await client.getGroup('/shop', { embed: ['group.apps', 'group.apps.counts'] });
  await client.createGroup({ id: '/shop', apps: [{ id: 'db', cmd: 'x' }] });
  await client.updateGroup('shop', { scaleBy: 2 }, { force: true });
  await client.deleteGroup('/shop/web');
  t.same(seen, [
    { method: 'GET', url: '/v2/groups', body: undefined },
    { method: 'GET', url: '/v2/groups/shop?embed=group.apps&embed=group.apps.counts', body: undefined },
    { method: 'POST', url: '/v2/groups', body: '{"id":"/shop","apps":[{"id":"db","cmd":"x"}]}' },
    { method: 'PUT', url: '/v2/groups/shop?force=true', body: '{"scaleBy":2}' },
    { method: 'DELETE', url: '/v2/groups/shop/web', body: undefined },
  ]);
});

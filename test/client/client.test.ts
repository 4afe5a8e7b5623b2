import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import t from 'tap';
import { CorralClient, appPath, discoverEndpoint } from '../../src/client';
import { CorralError } from '../../src/shared/errors';
import { TOKEN, startFakeApi, type FakeApi } from './helpers/fake-api';

let api: FakeApi;
t.before(async () => {
  api = await startFakeApi();
});
t.teardown(() => api.close());

const client = () => new CorralClient({ url: api.url + '/', token: TOKEN });

async function rejection(p: Promise<unknown>): Promise<CorralError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof CorralError) return err;
    throw err;
  }
  throw new Error('expected a rejection');
}

async function collect(stream: AsyncIterable<Buffer>): Promise<string> {
  let out = '';
  for await (const chunk of stream) out += chunk.toString();
  return out;
}

t.test('sends the bearer token and JSON bodies to the documented routes', async (t) => {
  const c = client();
  t.equal(await c.ping(), 'pong');
  t.same((await c.listApps({ id: 'shop', embedTasks: true })).apps[0]?.id, '/shop/web');
  t.match(api.seen.at(-1), { method: 'GET', url: '/v2/apps?id=shop&embed=apps.tasks', authorization: `Bearer ${TOKEN}` });

  const created = await c.createApp({ id: '/shop/api', cmd: 'sleep 100' });
  t.same(created.deployments, [{ id: 'dep-1' }]);
  t.match(api.seen.at(-1), { method: 'POST', url: '/v2/apps', contentType: 'application/json' });
  t.same(JSON.parse(api.seen.at(-1)!.body), { id: '/shop/api', cmd: 'sleep 100' });

  t.equal((await c.getApp('/shop/web')).app.instances, 2);
  t.same(await c.updateApp('shop/web', { instances: 3 }, { partialUpdate: false, force: true }), { deploymentId: 'dep-2', version: '2026-01-02T00:00:00.000Z' });
  t.match(api.seen.at(-1), { method: 'PUT', url: '/v2/apps/shop/web?partialUpdate=false&force=true', body: '{"instances":3}' });
  t.equal((await c.deleteApp('/shop/web')).deploymentId, 'dep-2');
  t.match(api.seen.at(-1), { method: 'DELETE', url: '/v2/apps/shop/web' });
  t.equal((await c.appTasks('/shop/web')).tasks[0]?.host, 'node-a');

  t.equal((await c.listTasks({ app: '/shop/web' })).tasks[0]?.id, 'shop_web.1');
  t.equal(api.seen.at(-1)!.url, '/api/v1/tasks?app=%2Fshop%2Fweb');
  t.equal((await c.getTask('shop_web.1')).task.state, 'TASK_RUNNING');
  t.equal((await c.killTask('shop_web.1')).task.state, 'TASK_KILLING');
  t.match(api.seen.at(-1), { method: 'DELETE', url: '/api/v1/tasks/shop_web.1' });

  t.equal((await c.listNodes()).nodes[0]?.hostname, 'node-a');
  t.equal((await c.info()).name, 'corral');
  t.match(await c.metrics(), /^corral_tasks/);
});

t.test('app ids keep their slashes as path segments; other characters are escaped', async (t) => {
  t.equal(appPath('/shop/web'), '/v2/apps/shop/web');
  t.equal(appPath('shop/web'), '/v2/apps/shop/web');
  t.equal(appPath('/a b/c?d'), '/v2/apps/a%20b/c%3Fd');
});

t.test('maps error bodies to CorralErrors by their code', async (t) => {
  const c = client();
  const invalid = await rejection(c.createApp({ id: '/x', cmd: 'true', instances: -1 }));
  t.match(invalid, { code: 'VALIDATION_FAILED', status: 422, message: 'Object is not valid', details: [{ path: '/instances', errors: ['must be >= 0'] }] });
  t.match(await rejection(c.getApp('/nope')), { code: 'APP_NOT_FOUND', message: "App '/nope' does not exist" });
  t.match(await rejection(c.createApp({ id: '/shop/web', cmd: 'true' })), { code: 'APP_EXISTS' });
  t.match(await rejection(c.getTask('gone')), { code: 'TASK_NOT_FOUND' });
  t.match(await rejection(new CorralClient({ url: api.url, token: 'wrong' }).listNodes()), { code: 'UNAUTHORIZED' });
  t.match(await rejection(new CorralClient({ url: api.url }).listNodes()), { code: 'UNAUTHORIZED' }, 'no token, no header');
  t.equal(api.seen.at(-1)!.authorization, undefined);
});

t.test('an unknown code keeps the message as INTERNAL; non-JSON answers name the status', async (t) => {
  const c = client();
  t.match(await rejection(c.getApp('weird')), { code: 'INTERNAL', message: 'Something odd' });
  const proxy = await rejection(c.getApp('proxy'));
  t.equal(proxy.code, 'INTERNAL');
  t.match(proxy.message, /HTTP 502 Bad Gateway: <html>Bad Gateway<\/html>/);
  t.match(await rejection(c.getApp('garbage')), { code: 'INTERNAL', message: /not JSON: \{not json/ });
});

t.test('connection refused is API_UNREACHABLE naming the URL and `corral up`', async (t) => {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  const url = `http://127.0.0.1:${port}`;
  const err = await rejection(new CorralClient({ url, token: TOKEN }).listApps());
  t.equal(err.code, 'API_UNREACHABLE');
  t.match(err.message, url);
  t.match(err.message, 'ECONNREFUSED');
  t.match(err.message, '`corral up`');
});

t.test('a malformed URL is CONFIG_INVALID before any request', async (t) => {
  t.throws(() => new CorralClient({ url: 'not a url' }), { code: 'CONFIG_INVALID' });
  t.throws(() => new CorralClient({ url: 'ftp://host' }), { code: 'CONFIG_INVALID' });
});

t.test('an injected fetch is used, and its failures are API_UNREACHABLE', async (t) => {
  const failing = (async () => {
    throw new TypeError('fetch failed', { cause: Object.assign(new Error('getaddrinfo ENOTFOUND nowhere'), { code: 'ENOTFOUND' }) });
  }) as typeof fetch;
  const err = await rejection(new CorralClient({ url: 'http://nowhere:5050', token: TOKEN, fetch: failing }).listNodes());
  t.match(err, { code: 'API_UNREACHABLE', message: /http:\/\/nowhere:5050 \(ENOTFOUND\)/ });
});

t.test('task logs: bytes, stream and offset; the final offset from the header', async (t) => {
  const c = client();
  const all = await c.taskLogs('shop_web.1');
  t.equal(all.offset, undefined, 'unknown before the end');
  t.equal(await collect(all), 'hello\nworld\n');
  t.equal(all.offset, 12);

  const tail = await c.taskLogs('shop_web.1', { offset: -6 });
  t.equal(await collect(tail), 'world\n');
  t.equal(api.seen.at(-1)!.url, '/api/v1/tasks/shop_web.1/logs?offset=-6');
  t.equal(tail.offset, 12);

  const err = await c.taskLogs('shop_web.1', { stream: 'stderr' });
  t.equal(await collect(err), 'oops\n');
  t.equal(api.seen.at(-1)!.url, '/api/v1/tasks/shop_web.1/logs?stream=stderr');

  t.match(await rejection(c.taskLogs('missing')), { code: 'TASK_NOT_FOUND' }, 'fails before any byte');
});

t.test('task logs with follow stream chunks as they come until the server ends', async (t) => {
  const stream = await client().taskLogs('shop_web.1', { follow: true, offset: 6 });
  t.equal(api.seen.at(-1)!.url, '/api/v1/tasks/shop_web.1/logs?offset=6&follow=true');
  const chunks: string[] = [];
  for await (const chunk of stream) {
    t.ok(Buffer.isBuffer(chunk));
    chunks.push(chunk.toString());
    // The second chunk only exists once the first has been seen: proof that bytes arrive live.
    if (chunks.length === 1) api.releaseFollow();
  }
  t.same(chunks, ['world\n', 'more\n']);
  t.equal(stream.offset, 6 + 'world\nmore\n'.length);
});

t.test('aborting a followed log ends the iteration quietly', async (t) => {
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'x-corral-log-offset': '100' });
    res.write('first\n');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  const { port } = server.address() as AddressInfo;
  const ac = new AbortController();
  const stream = await new CorralClient({ url: `http://127.0.0.1:${port}`, token: TOKEN }).taskLogs('t', { follow: true, offset: -10, signal: ac.signal });
  let text = '';
  for await (const chunk of stream) {
    text += chunk.toString();
    ac.abort();
  }
  t.equal(text, 'first\n');
  t.equal(stream.offset, 106, 'a negative offset starts where the header says');
});

t.test('discoverEndpoint', async (t) => {
  const root = t.testdir({
    cluster: { 'api.json': JSON.stringify({ url: 'http://127.0.0.1:5999', pid: 42 }), 'admin.token': 'tok-from-file\n' },
    other: { 'api.json': JSON.stringify({ url: 'http://127.0.0.1:6000', pid: 43 }), 'admin.token': 'other-token' },
    empty: {},
    tokenOnly: { 'admin.token': 'only-token' },
    badJson: { 'api.json': '{"url":', 'admin.token': 'x' },
    noUrl: { 'api.json': '{"pid": 1}', 'admin.token': 'x' },
    noToken: { 'api.json': '{"url": "http://h:1"}' },
  });
  const dir = (name: string) => join(root, name);
  const none = { fallbackDirs: [dir('empty')] };

  t.same(await discoverEndpoint({ dataDir: dir('cluster') }, none), { url: 'http://127.0.0.1:5999', token: 'tok-from-file' });
  t.same(await discoverEndpoint({ url: 'http://x:1', token: 't' }, { fallbackDirs: [dir('cluster')] }), { url: 'http://x:1', token: 't' }, 'explicit values need no files');
  t.same(await discoverEndpoint({ dataDir: dir('cluster'), token: 'explicit' }, none), { url: 'http://127.0.0.1:5999', token: 'explicit' });
  t.same(await discoverEndpoint({ url: 'http://x:1' }, { fallbackDirs: [dir('empty'), dir('tokenOnly')] }), { url: 'http://x:1', token: 'only-token' }, 'url given: the first admin.token');
  t.same(await discoverEndpoint({ dataDir: dir('empty') }, { fallbackDirs: [dir('other'), dir('cluster')] }), { url: 'http://127.0.0.1:6000', token: 'other-token' }, 'first dir holding api.json wins');
  t.same(await discoverEndpoint({}, { fallbackDirs: [dir('missing'), dir('cluster')] }), { url: 'http://127.0.0.1:5999', token: 'tok-from-file' });

  const nothing = await rejection(discoverEndpoint({ dataDir: dir('empty') }, { fallbackDirs: [dir('missing')] }));
  t.equal(nothing.code, 'API_UNREACHABLE');
  t.match(nothing.message, join(dir('empty'), 'api.json'));
  t.match(nothing.message, join(dir('missing'), 'api.json'));
  t.match(nothing.message, '`corral up`');
  t.match(nothing.message, 'CORRAL_URL');

  t.match(await rejection(discoverEndpoint({ url: 'http://x:1' }, none)), { code: 'UNAUTHORIZED', message: /--token/ });
  t.match(await rejection(discoverEndpoint({ dataDir: dir('badJson') }, none)), { code: 'INVALID_JSON', message: /api\.json/ });
  t.match(await rejection(discoverEndpoint({ dataDir: dir('noUrl') }, none)), { code: 'CONFIG_INVALID' });
  t.match(await rejection(discoverEndpoint({ dataDir: dir('noToken') }, none)), { code: 'UNAUTHORIZED', message: /admin\.token/ });

  mkdirSync(join(root, 'unreadable', 'admin.token'), { recursive: true });
  writeFileSync(join(root, 'unreadable', 'api.json'), '{"url": "http://h:1"}');
  t.match(await rejection(discoverEndpoint({ dataDir: dir('unreadable') }, none)), { code: 'FILE_UNREADABLE', message: /admin\.token/ });
});

t.test('a discovered endpoint drives a real client', async (t) => {
  const root = t.testdir({ 'api.json': JSON.stringify({ url: api.url, pid: process.pid }), 'admin.token': `${TOKEN}\n` });
  const c = new CorralClient(await discoverEndpoint({ dataDir: root }, { fallbackDirs: [] }));
  t.equal((await c.listApps()).apps.length, 1);
});

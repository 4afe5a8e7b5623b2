// A tiny real HTTP server answering the shapes docs/api.md promises, for client tests. It records
// every request so tests can assert on what the client sent.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export const TOKEN = 'secret-token';

export interface Seen {
  method: string;
  url: string;
  authorization: string | undefined;
  contentType: string | undefined;
  body: string;
}

export const webApp = {
  id: '/shop/web',
  cmd: 'python3 -m http.server $PORT0',
  instances: 2,
  cpus: 0.5,
  mem: 64,
  disk: 0,
  tasksRunning: 2,
  version: '2026-01-01T00:00:00.000Z',
};

export const nativeTask = {
  id: 'shop_web.1',
  name: 'web',
  appId: '/shop/web',
  frameworkId: 'fw-1',
  agentId: 'agent-1',
  host: 'node-a',
  state: 'TASK_RUNNING',
  ports: [10001],
  resources: { cpus: 0.5, mem: 64, disk: 0 },
  stagedAt: 1000,
  startedAt: 2000,
  updatedAt: 2000,
};

export interface FakeApi {
  url: string;
  seen: Seen[];
  /** Resolve to let a followed log response send its second chunk and end. */
  releaseFollow: () => void;
  close: () => Promise<void>;
}

const LOG = Buffer.from('hello\nworld\n');

export async function startFakeApi(): Promise<FakeApi> {
  const seen: Seen[] = [];
  let releaseFollow: () => void = () => {};
  const followGate = new Promise<void>((resolve) => (releaseFollow = resolve));

  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      seen.push({ method: req.method!, url: req.url!, authorization: req.headers.authorization, contentType: req.headers['content-type'], body });
      void route(req, res, body, followGate);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    releaseFollow: () => releaseFollow(),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function send(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(value));
}

async function route(req: IncomingMessage, res: ServerResponse, body: string, followGate: Promise<void>): Promise<void> {
  const url = new URL(req.url!, 'http://x');
  const key = `${req.method} ${url.pathname}`;
  if (key === 'GET /ping') return void res.end('pong');
  if (req.headers.authorization !== `Bearer ${TOKEN}`) return send(res, 401, { message: 'Missing or invalid bearer token.', code: 'UNAUTHORIZED' });

  switch (key) {
    case 'GET /v2/apps':
      return send(res, 200, { apps: [webApp] });
    case 'POST /v2/apps': {
      const def = JSON.parse(body) as { id: string; instances?: number };
      if (def.instances !== undefined && def.instances < 0) {
        return send(res, 422, { message: 'Object is not valid', code: 'VALIDATION_FAILED', details: [{ path: '/instances', errors: ['must be >= 0'] }] });
      }
      if (def.id === '/shop/web') return send(res, 409, { message: 'An app with id [/shop/web] already exists.', code: 'APP_EXISTS' });
      return send(res, 201, { ...def, deployments: [{ id: 'dep-1' }] }, { location: `/v2/apps${def.id}`, 'marathon-deployment-id': 'dep-1' });
    }
    case 'GET /v2/apps/shop/web':
      return send(res, 200, { app: { ...webApp, tasks: [] } });
    case 'PUT /v2/apps/shop/web':
    case 'DELETE /v2/apps/shop/web':
      return send(res, 200, { deploymentId: 'dep-2', version: '2026-01-02T00:00:00.000Z' });
    case 'GET /v2/apps/shop/web/versions':
      return send(res, 200, { versions: ['2026-01-02T00:00:00.000Z', webApp.version] });
    case `GET /v2/apps/shop/web/versions/${encodeURIComponent(webApp.version)}`:
      return send(res, 200, webApp);
    case 'GET /v2/apps/shop/web/tasks':
      return send(res, 200, { tasks: [{ id: 'shop_web.1', appId: '/shop/web', host: 'node-a', ports: [10001], state: 'TASK_RUNNING' }] });
    case 'GET /api/v1/tasks':
      return send(res, 200, { tasks: [nativeTask] });
    case 'GET /api/v1/tasks/shop_web.1':
      return send(res, 200, { task: nativeTask });
    case 'DELETE /api/v1/tasks/shop_web.1':
      return send(res, 202, { task: { ...nativeTask, state: 'TASK_KILLING' } });
    case 'GET /api/v1/tasks/shop_web.1/logs':
      return sendLog(res, url, followGate);
    case 'GET /api/v1/nodes':
      return send(res, 200, { nodes: [{ id: 'ab'.repeat(32), hostname: 'node-a', roles: ['master', 'agent'], resources: { cpus: 4, mem: 8192, disk: 0 }, used: { cpus: 1, mem: 128, disk: 0 }, attributes: {}, status: 'alive' }] });
    case 'GET /v2/info':
      return send(res, 200, { name: 'corral', version: '0.1.0', elected: true });
    case 'GET /metrics':
      res.writeHead(200, { 'content-type': 'text/plain' });
      return void res.end('corral_tasks{state="TASK_RUNNING"} 1\n');
    case 'GET /v2/apps/weird':
      return send(res, 500, { message: 'Something odd', code: 'NOT_A_REAL_CODE' });
    case 'GET /v2/apps/proxy':
      res.writeHead(502, { 'content-type': 'text/html' });
      return void res.end('<html>Bad Gateway</html>');
    case 'GET /v2/apps/garbage':
      res.writeHead(200, { 'content-type': 'application/json' });
      return void res.end('{not json');
  }
  if (url.pathname.startsWith('/v2/apps/')) return send(res, 404, { message: `App '/${url.pathname.slice(9)}' does not exist`, code: 'APP_NOT_FOUND' });
  if (url.pathname.startsWith('/api/v1/tasks/')) return send(res, 404, { message: 'Task does not exist', code: 'TASK_NOT_FOUND' });
  return send(res, 404, { message: 'No such route', code: 'NOT_FOUND' });
}

/** Non-follow: the bytes from `offset`, header = offset past them. Follow: one chunk now, one after the gate. */
async function sendLog(res: ServerResponse, url: URL, followGate: Promise<void>): Promise<void> {
  const file = url.searchParams.get('stream') === 'stderr' ? Buffer.from('oops\n') : LOG;
  const raw = Number(url.searchParams.get('offset') ?? 0);
  const start = raw < 0 ? Math.max(0, file.length + raw) : Math.min(raw, file.length);
  if (url.searchParams.get('follow') !== 'true') {
    res.writeHead(200, { 'content-type': 'text/plain', 'x-corral-log-offset': String(file.length) });
    return void res.end(file.subarray(start));
  }
  res.writeHead(200, { 'content-type': 'text/plain', 'x-corral-log-offset': String(start) });
  res.write(file.subarray(start));
  await followGate;
  res.end(Buffer.from('more\n'));
}

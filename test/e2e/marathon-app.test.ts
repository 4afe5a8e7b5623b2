// App JSON written for Marathon deploys unchanged: a Python http.server with portDefinitions and
// an HTTP health check, posted as a Marathon user would, reports tasksRunning / tasksHealthy like
// Marathon, serves on the ports Marathon's environment names, and answers Marathon's shapes.
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { removeEmptyCorralCgroups, startCorral, waitFor, type RunningCorral } from '../helpers/corral-process';

const root = mkdtempSync(join(tmpdir(), 'corral-marathon-app-'));
// Tasks run as nobody and use MESOS_SANDBOX, an absolute path: the data dir's parent must be
// traversable, as /var/lib is (mkdtemp makes it 0700).
chmodSync(root, 0o711);
let corral: RunningCorral | undefined;

t.teardown(async () => {
  await corral?.stop();
  rmSync(root, { recursive: true, force: true });
  removeEmptyCorralCgroups();
});

/** As Marathon's docs and users write it, with fields Corral does not act on left in. */
const MARATHON_APP = {
  id: '/python/web',
  cmd: 'cd $MESOS_SANDBOX 2>/dev/null; echo "hello from $MARATHON_APP_ID" > index.html && python3 -m http.server $PORT0',
  cpus: 0.1,
  mem: 64,
  disk: 0,
  instances: 2,
  portDefinitions: [{ port: 0, protocol: 'tcp', name: 'http', labels: {} }],
  requirePorts: false,
  env: { GREETING: 'hello' },
  labels: { HAPROXY_GROUP: 'external', team: 'web' },
  healthChecks: [{ protocol: 'HTTP', path: '/', portIndex: 0, gracePeriodSeconds: 15, intervalSeconds: 2, timeoutSeconds: 1, maxConsecutiveFailures: 3, ignoreHttp1xx: false }],
  backoffSeconds: 1,
  backoffFactor: 1.15,
  maxLaunchDelaySeconds: 300,
  upgradeStrategy: { minimumHealthCapacity: 1, maximumOverCapacity: 1 },
  unreachableStrategy: { inactiveAfterSeconds: 0, expungeAfterSeconds: 0 },
  killSelection: 'YOUNGEST_FIRST',
  constraints: [],
  fetch: [],
  user: null,
};

interface MarathonApp {
  id: string;
  instances: number;
  tasksRunning: number;
  tasksHealthy: number;
  tasksUnhealthy: number;
  tasksStaged: number;
  ports: number[];
  portDefinitions: Array<{ port: number; name?: string }>;
  tasks?: Array<{ host: string; ports: number[]; servicePorts: number[]; healthCheckResults: Array<{ alive: boolean }> }>;
}

t.test('a Marathon Python http.server app deploys unchanged and reports health like Marathon', async (t) => {
  corral = await startCorral(join(root, 'node'));
  const api = async <T>(path: string, init: RequestInit = {}): Promise<{ status: number; body: T }> => {
    const res = await fetch(`${corral!.url}${path}`, { ...init, headers: { authorization: `Bearer ${corral!.token}`, 'content-type': 'application/json' } });
    return { status: res.status, body: (await res.json()) as T };
  };

  const created = await api<MarathonApp>('/v2/apps', { method: 'POST', body: JSON.stringify(MARATHON_APP) });
  t.equal(created.status, 201, 'POST /v2/apps with the Marathon JSON: 201 Created');
  t.match(created.body, { id: '/python/web', instances: 2 });
  const servicePort = created.body.portDefinitions[0]!.port;
  t.ok(servicePort >= 10000 && servicePort <= 20000, `port 0 became a service port (${servicePort})`);

  // Marathon's default delaySeconds (15) passes before the first probe.
  let last: unknown;
  const app = await waitFor('2 running and 2 healthy', 45_000, async () => {
    const { body } = await api<{ app: MarathonApp }>('/v2/apps/python/web?embed=app.tasks');
    last = body;
    return body.app.tasksRunning === 2 && body.app.tasksHealthy === 2 ? body.app : undefined;
  }).catch((err: Error) => {
    throw new Error(`${err.message}: ${JSON.stringify(last)}`);
  });
  t.match(app, { tasksRunning: 2, tasksHealthy: 2, tasksUnhealthy: 0, tasksStaged: 0 }, 'counts as Marathon reports them');
  t.equal(app.tasks?.length, 2);
  for (const task of app.tasks ?? []) {
    t.same(task.servicePorts, [servicePort], 'each task carries the service port');
    t.match(task.healthCheckResults, [{ alive: true }], 'and its health check result');
    const res = await fetch(`http://127.0.0.1:${task.ports[0]}/`);
    t.equal(res.status, 200, `the server answers on its host port ${task.ports[0]}`);
    t.match(await res.text(), /hello from \/python\/web/, 'with the page it wrote from MARATHON_APP_ID');
  }

  const list = await api<{ apps: MarathonApp[] }>('/v2/apps?embed=apps.counts');
  t.match(list.body.apps.find((a) => a.id === '/python/web'), { tasksRunning: 2, tasksHealthy: 2 }, 'GET /v2/apps?embed=apps.counts');
  const text = await fetch(`${corral.url}/v2/apps/python/web/tasks`, { headers: { authorization: `Bearer ${corral.token}`, accept: 'text/plain' } });
  t.match(await text.text(), new RegExp(`python_web\\t${servicePort}\\t`), 'the text task list has Marathon’s app, service port, host:port lines');
});

// End to end: rolling upgrades of a 4-instance Python http.server app with an HTTP health check on
// a real `corral up`, sampled every 100 ms through /v2/apps/{id}/tasks while they run. Pins issue 5's
// "done when": with minimumHealthCapacity 0.5 and maximumOverCapacity 0.25 the healthy count never
// drops below 2 and the total never exceeds 5; with minimumHealthCapacity 1 never below 4; a new
// version whose health check always fails never replaces the old tasks, and the deployment deadline
// rolls it back. `corral deployment watch` follows the deployments.
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { corralCli, removeEmptyCorralCgroups, startCorral, waitFor, type RunningCorral } from '../helpers/corral-process';

const root = mkdtempSync(join(tmpdir(), 'corral-rolling-'));
// Tasks run as nobody and cd into MESOS_SANDBOX: the data dir's parent must be traversable.
chmodSync(root, 0o711);
const dataDir = join(root, 'node');
let corral: RunningCorral | undefined;

t.teardown(async () => {
  await corral?.stop();
  rmSync(root, { recursive: true, force: true });
  removeEmptyCorralCgroups();
});

const check = (path: string) => ({ protocol: 'HTTP', path, portIndex: 0, gracePeriodSeconds: 10, intervalSeconds: 3, timeoutSeconds: 2, delaySeconds: 0, maxConsecutiveFailures: 0 });
const APP = {
  id: '/e2e/roll',
  cmd: 'cd $MESOS_SANDBOX && echo "version $V" > index.html && exec python3 -m http.server $PORT0 --bind 127.0.0.1',
  instances: 4,
  cpus: 0.05,
  mem: 48,
  portDefinitions: [{ port: 0, name: 'http' }],
  env: { V: '1' },
  healthChecks: [check('/')],
  upgradeStrategy: { minimumHealthCapacity: 0.5, maximumOverCapacity: 0.25 },
};

interface Task {
  id: string;
  state: string;
  version: string;
  healthCheckResults: Array<{ alive: boolean }>;
}

async function api<T>(path: string, init: RequestInit = {}): Promise<{ status: number; body: T }> {
  const res = await fetch(`${corral!.url}${path}`, { ...init, headers: { authorization: `Bearer ${corral!.token}`, 'content-type': 'application/json' } });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
}
const tasks = async () => (await api<{ tasks: Task[] }>('/v2/apps/e2e/roll/tasks')).body.tasks;
const healthyOf = (list: Task[]) => list.filter((x) => x.state === 'TASK_RUNNING' && x.healthCheckResults.length > 0 && x.healthCheckResults.every((r) => r.alive));

/** One task of a sample, for the failure message: version time, state, health results. */
const describe = (x: Task) => `${x.version.slice(11, 23)} ${x.state.replace('TASK_', '')} ${x.healthCheckResults.map((r) => (r.alive ? 'up' : 'down')).join(',') || 'unchecked'}`;

/** Samples the app's tasks every 100 ms until stopped: the lowest healthy count (and that sample) and the highest total seen. */
function sampler() {
  const seen = { lowestHealthy: Infinity, lowestSample: '', highestTotal: 0, samples: 0 };
  let running = true;
  const done = (async () => {
    while (running) {
      const list = await tasks();
      const healthy = healthyOf(list).length;
      if (healthy < seen.lowestHealthy) [seen.lowestHealthy, seen.lowestSample] = [healthy, list.map(describe).join('; ')];
      seen.highestTotal = Math.max(seen.highestTotal, list.length);
      seen.samples++;
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  return {
    seen,
    stop: async () => {
      running = false;
      await done;
      return seen;
    },
  };
}

const fourHealthy = (version: string) =>
  waitFor(`4 healthy tasks of version ${version}`, 30_000, async () => {
    const list = await tasks();
    const healthy = healthyOf(list);
    return list.length === 4 && healthy.length === 4 && healthy.every((x) => x.version === version) ? healthy : undefined;
  });

/** PUTs `change` while sampling; returns the deployment id, `watch`'s result and what was seen. */
async function upgrade(change: Record<string, unknown>) {
  const sampling = sampler();
  const put = await api<{ deploymentId: string; version: string }>('/v2/apps/e2e/roll', { method: 'PUT', body: JSON.stringify(change) });
  const watched = await corralCli(['--data-dir', dataDir, 'deployment', 'watch', put.body.deploymentId, '--interval', '0.5']);
  await waitFor('no deployment in progress', 30_000, async () => ((await api<unknown[]>('/v2/deployments')).body.length === 0 ? true : undefined));
  return { put, watched, seen: await sampling.stop() };
}

t.test('rolling upgrades keep the healthy floor and the total ceiling; a failing version rolls back at its deadline', async (t) => {
  corral = await startCorral(dataDir);
  const created = await api<{ deployments: Array<{ id: string }> }>('/v2/apps', { method: 'POST', body: JSON.stringify(APP) });
  t.equal(created.status, 201);
  const v1 = (await api<{ app: { version: string } }>('/v2/apps/e2e/roll')).body.app.version;
  await fourHealthy(v1);

  const half = await upgrade({ env: { V: '2' } });
  t.equal(half.put.status, 200);
  t.equal(half.watched.code, 0, `deployment watch exits 0 once it succeeded: ${half.watched.stderr}`);
  t.match(half.watched.stdout, /\/e2e\/roll: 4\/4 healthy/, 'watch showed the healthy count reach 4/4');
  t.ok(half.seen.samples >= 10, `sampled throughout (${half.seen.samples} samples)`);
  t.ok(half.seen.lowestHealthy >= 2, `minimumHealthCapacity 0.5: never below 2 healthy (lowest ${half.seen.lowestHealthy}: ${half.seen.lowestSample})`);
  t.ok(half.seen.highestTotal <= 5, `maximumOverCapacity 0.25: never above 5 tasks (highest ${half.seen.highestTotal})`);
  await fourHealthy(half.put.body.version);

  const full = await upgrade({ env: { V: '3' }, upgradeStrategy: { minimumHealthCapacity: 1, maximumOverCapacity: 0.25 } });
  t.equal(full.watched.code, 0, `deployment watch exits 0: ${full.watched.stderr}`);
  t.ok(full.seen.lowestHealthy >= 4, `minimumHealthCapacity 1: never below 4 healthy (lowest ${full.seen.lowestHealthy}: ${full.seen.lowestSample})`);
  t.ok(full.seen.highestTotal <= 5, `never above 5 tasks (highest ${full.seen.highestTotal})`);
  const good = await fourHealthy(full.put.body.version);

  // The new version's check asks for a page that does not exist: it never turns healthy.
  const broken = await upgrade({ env: { V: '4' }, healthChecks: [check('/missing')], upgradeStrategy: { minimumHealthCapacity: 1, maximumOverCapacity: 0.25, deadlineSeconds: 8 } });
  t.equal(broken.watched.code, 1, 'deployment watch fails: the deployment did not succeed');
  t.match(broken.watched.stderr, /was rolled back: deadline passed \(8 s\).*\(DEPLOYMENT_FAILED\)/);
  t.ok(broken.seen.lowestHealthy >= 4, `the broken version never replaced a healthy task (lowest ${broken.seen.lowestHealthy} healthy: ${broken.seen.lowestSample})`);
  t.ok(broken.seen.highestTotal <= 5, `never above 5 tasks (highest ${broken.seen.highestTotal})`);
  const status = (await api<{ deployment: { status: string; replacedBy: string } }>(`/api/v1/deployments/${broken.put.body.deploymentId}`)).body.deployment;
  t.match(status, { status: 'rolled-back', replacedBy: String });
  const app = (await api<{ app: { env: Record<string, string>; healthChecks: Array<{ path: string }> } }>('/v2/apps/e2e/roll')).body.app;
  t.same([app.env.V, app.healthChecks[0]!.path], ['3', '/'], 'the previous definition is back');
  const after = healthyOf(await tasks());
  t.same(after.map((x) => x.id).sort(), good.map((x) => x.id).sort(), 'the same 4 healthy tasks of the old version still serve');
  t.equal((await tasks()).length, 4, 'the broken task is gone');
});

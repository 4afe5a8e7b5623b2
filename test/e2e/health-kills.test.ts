// Health kills end to end: instances whose check fails past maxConsecutiveFailures are killed and
// replaced, but when every instance fails at once (a broken dependency) only one of four goes per
// minute: the app is degraded, not wiped out.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { removeEmptyCorralCgroups, startCorral, waitFor, type RunningCorral } from '../helpers/corral-process';

const dataDir = mkdtempSync(join(tmpdir(), 'corral-health-kills-'));
let corral: RunningCorral | undefined;
t.teardown(async () => {
  await corral?.stop();
  rmSync(dataDir, { recursive: true, force: true });
  removeEmptyCorralCgroups();
});

interface Task {
  id: string;
  state: string;
  appId: string | null;
}

t.test('every instance failing: one killed and replaced per window, the rest keep running', async (t) => {
  corral = await startCorral(dataDir);
  const api = async <T>(path: string, init: RequestInit = {}): Promise<T> =>
    (await (await fetch(`${corral!.url}${path}`, { ...init, headers: { authorization: `Bearer ${corral!.token}`, 'content-type': 'application/json' } })).json()) as T;
  const app = { id: '/sick', cmd: 'sleep 600', cpus: 0.05, mem: 16, instances: 4, healthChecks: [{ protocol: 'COMMAND', command: { value: 'false' }, delaySeconds: 0, intervalSeconds: 2, timeoutSeconds: 1, gracePeriodSeconds: 0, maxConsecutiveFailures: 2 }] };
  await api('/v2/apps', { method: 'POST', body: JSON.stringify(app) });
  const tasks = async () => (await api<{ tasks: Task[] }>('/api/v1/tasks?app=/sick')).tasks;
  await waitFor('a first health kill', 20_000, async () => ((await tasks()).some((x) => x.state === 'TASK_KILLED') ? true : undefined));
  // Two more probe rounds fail on every instance: still only one may go this minute.
  await new Promise((r) => setTimeout(r, 6000));
  const list = await tasks();
  const killed = list.filter((x) => x.state === 'TASK_KILLED').length;
  const live = list.filter((x) => x.state === 'TASK_RUNNING').length;
  t.equal(killed, 1, 'one instance killed for health in the window');
  t.equal(live, 4, 'the app stays at 4 running (3 old, 1 replacement)');
});

// Health state survives a restart of `corral up` (Marathon lost it on failover and showed every
// task unhealthy until the next checks ran): an app healthy before a SIGKILL of the daemon is
// reported healthy right after it comes back, before any new probe could have run.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { removeEmptyCorralCgroups, startCorral, waitFor, type RunningCorral } from '../helpers/corral-process';

const root = mkdtempSync(join(tmpdir(), 'corral-health-restart-'));
chmodSync(root, 0o711); // the check runs as nobody and reads the flag file below
const dataDir = join(root, 'data');
const flag = join(root, 'healthy');
let corral: RunningCorral | undefined;
t.teardown(async () => {
  await corral?.stop();
  rmSync(root, { recursive: true, force: true });
  removeEmptyCorralCgroups();
});

interface App {
  tasksRunning: number;
  tasksHealthy: number;
  tasksUnhealthy: number;
}

t.test('an app healthy before a crash of corral up is healthy right after it', async (t) => {
  corral = await startCorral(dataDir);
  const get = async (c: RunningCorral) => ((await (await fetch(`${c.url}/v2/apps/steady`, { headers: { authorization: `Bearer ${c.token}` } })).json()) as { app: App }).app;
  // A check that passes while the flag file exists; its first probe comes delaySeconds (3 s) after the task (or the agent) starts.
  writeFileSync(flag, 'ok', { mode: 0o644 });
  const app = { id: '/steady', cmd: 'sleep 600', cpus: 0.05, mem: 16, instances: 2, healthChecks: [{ protocol: 'COMMAND', command: { value: `test -f ${flag}` }, delaySeconds: 3, intervalSeconds: 2, timeoutSeconds: 1, gracePeriodSeconds: 5, maxConsecutiveFailures: 0 }] };
  await fetch(`${corral.url}/v2/apps`, { method: 'POST', headers: { authorization: `Bearer ${corral.token}`, 'content-type': 'application/json' }, body: JSON.stringify(app) });
  await waitFor('2 healthy', 20_000, async () => ((await get(corral!)).tasksHealthy === 2 ? true : undefined));

  // From now on every probe fails: a healthy report after the restart can only be remembered state.
  rmSync(flag);
  corral.proc.kill('SIGKILL');
  await new Promise((r) => corral!.proc.once('exit', r));
  corral = await startCorral(dataDir);
  const restartedAt = Date.now();
  const after = await waitFor('the app to be listed with its tasks', 10_000, async () => {
    const a = await get(corral!);
    return a.tasksRunning === 2 ? a : undefined;
  });
  t.ok(Date.now() - restartedAt < 2_500, 'seen before the first probe after the restart (delay 3 s)');
  t.match(after, { tasksRunning: 2, tasksHealthy: 2, tasksUnhealthy: 0 }, 'still healthy: the last known health survived the restart');
  await waitFor('the probes to run again and fail', 15_000, async () => ((await get(corral!)).tasksUnhealthy === 2 ? true : undefined));
  t.pass('and the checks go on from there: both turn unhealthy once the flag is gone');
});

// `corral deployment list|watch|rollback`, `corral app update|restart` and the `--dry-run` of
// `app add|update`, against a fake client: what each sends and prints, and watch's polling until the
// deployment ends (failing unless it succeeded).
import t from 'tap';
import type { App, Deployment, DeploymentPlanPreview, DeploymentStatus } from '../../src/client';
import { buildProgram, formatError, runProgram, type CliClient } from '../../src/cli/program';
import { fakeCliDeps } from './helpers/fake-deps';
import { CorralError, errors } from '../../src/shared/errors';

const NOW = Date.UTC(2026, 0, 1, 12, 0, 0);
const running: Deployment = {
  id: 'dep-1',
  version: new Date(NOW - 90_000).toISOString(),
  affectedApps: ['/web'],
  steps: [{ actions: [{ action: 'RestartApplication', app: '/web' }] }],
  currentActions: [{ action: 'RestartApplication', app: '/web', readinessCheckResults: [] }],
  currentStep: 1,
  totalSteps: 1,
};
const status = (over: Partial<DeploymentStatus>): DeploymentStatus => ({ ...running, status: 'running', startedAt: running.version, finishedAt: null, reason: null, rollbackOf: null, replacedBy: null, ...over });
const app = (healthy: number, runningCount: number, staged: number): App => ({ id: '/web', instances: 4, cpus: 0.1, mem: 32, disk: 0, healthChecks: [{ protocol: 'HTTP' }], tasksHealthy: healthy, tasksRunning: runningCount, tasksStaged: staged, tasksUnhealthy: 0 });
const preview: DeploymentPlanPreview = {
  dryRun: true,
  version: 'v2',
  affectedApps: ['/web'],
  steps: [{ actions: [{ action: 'RestartApplication', app: '/web' }] }],
  totalSteps: 1,
  app: app(0, 0, 0),
  rolling: [{ app: '/web', instances: 4, minimumHealthy: 2, maximumTotal: 5, deadlineSeconds: 60 }],
};

function harness(over: Partial<CliClient>) {
  const h = { stdout: '', stderr: '', sleeps: 0 };
  const fake = {
    ...over,
  } as CliClient;
  const deps = fakeCliDeps(h, fake, { files: { 'web.json': '{"id": "/web", "cmd": "serve", "env": {"V": "2"}}' }, stdin: '{}', now: NOW, sleep: async () => void h.sleeps++ });
  const run = (...args: string[]) => runProgram(buildProgram(deps), args, deps);
  return { h, run };
}

t.test('deployment list: a table of the deployments in progress, or a hint', async (t) => {
  const { h, run } = harness({ listDeployments: async () => [running] });
  t.equal(await run('deployment', 'list'), 0);
  t.equal(h.stdout, 'ID     APPS  STEP  ACTIONS                  AGE\ndep-1  /web  1/1   RestartApplication /web  1m\n');
  const empty = harness({ listDeployments: async () => [] });
  await empty.run('deployment', 'list');
  t.equal(empty.h.stdout, 'No deployments in progress.\n');
  const json = harness({ listDeployments: async () => [running] });
  await json.run('--json', 'deployment', 'list');
  t.same(JSON.parse(json.h.stdout), [running]);
});

t.test('deployment watch: prints progress when it changes, until it succeeds', async (t) => {
  const polls = [status({}), status({}), status({}), status({ status: 'succeeded', finishedAt: new Date(NOW).toISOString() })];
  const apps = [app(2, 4, 1), app(2, 4, 1), app(3, 4, 0), app(4, 4, 0)];
  let i = 0;
  const { h, run } = harness({
    getDeployment: async () => ({ deployment: polls[i]! }),
    getApp: async () => ({ app: apps[i++]! }),
  });
  t.equal(await run('deployment', 'watch', 'dep-1'), 0, 'exit 0 once it succeeded');
  t.equal(
    h.stdout,
    [
      'Deployment dep-1: step 1/1: RestartApplication /web',
      '  /web: 2/4 healthy (4 running, 1 staged, 0 unhealthy)',
      'Deployment dep-1: step 1/1: RestartApplication /web',
      '  /web: 3/4 healthy (4 running, 0 staged, 0 unhealthy)',
      'Deployment dep-1: step 1/1 (succeeded): RestartApplication /web',
      '  /web: 4/4 healthy (4 running, 0 staged, 0 unhealthy)',
      '',
    ].join('\n'),
    'an unchanged poll prints nothing',
  );
  t.equal(h.sleeps, 3, 'sleeps between polls');
});

t.test('deployment watch: a rollback or a stop fails with DEPLOYMENT_FAILED and names what took over', async (t) => {
  const { h, run } = harness({
    getDeployment: async () => ({ deployment: status({ status: 'rolled-back', reason: 'deadline passed (60 s)', replacedBy: 'dep-2' }) }),
    getApp: async () => Promise.reject(errors.appNotFound('/web')),
  });
  t.equal(await run('deployment', 'watch', 'dep-1'), 1);
  t.match(h.stdout, /\/web: removed/);
  t.equal(h.stderr, 'error: Deployment dep-1 was rolled back: deadline passed (60 s); deployment dep-2 took over (corral deployment watch dep-2) (DEPLOYMENT_FAILED)\n');
  const bad = harness({});
  t.equal(await bad.run('deployment', 'watch', 'dep-1', '--interval', '0'), 2, 'a bad interval is a usage error');
});

t.test('deployment rollback: rolls back, or with --force only stops', async (t) => {
  const back = harness({ rollbackDeployment: async () => ({ deploymentId: 'dep-2', version: 'v3' }) });
  t.equal(await back.run('deployment', 'rollback', 'dep-1'), 0);
  t.equal(back.h.stdout, 'Rolling back deployment dep-1 (deployment dep-2, version v3).\n');
  const calls: unknown[][] = [];
  const stop = harness({ rollbackDeployment: async (...args: unknown[]) => (calls.push(args), undefined) });
  t.equal(await stop.run('deployment', 'rollback', 'dep-1', '--force'), 0);
  t.same(calls, [['dep-1', { force: true }]]);
  t.equal(stop.h.stdout, 'Stopped deployment dep-1; its apps keep their new definitions.\n');
  const missing = harness({ rollbackDeployment: async () => Promise.reject(errors.deploymentNotFound('nope')) });
  t.equal(await missing.run('deployment', 'rollback', 'nope'), 1);
  t.equal(missing.h.stderr, 'error: DeploymentPlan nope does not exist (DEPLOYMENT_NOT_FOUND)\n');
});

t.test('app add|update --dry-run print the plan and change nothing; update and restart start deployments', async (t) => {
  const calls: unknown[][] = [];
  const dryAdd = harness({ planApp: async (def) => (calls.push(['planApp', def]), preview) });
  t.equal(await dryAdd.run('app', 'add', 'web.json', '--dry-run'), 0);
  t.same(calls, [['planApp', { id: '/web', cmd: 'serve', env: { V: '2' } }]]);
  t.equal(
    dryAdd.h.stdout,
    'Dry run: nothing was changed. The deployment would take 1 step:\n  1. RestartApplication /web\nRolling upgrade of /web: 4 instances, at least 2 healthy and at most 5 in total at any time; rolls back by itself after 60 s.\n',
  );
  const dryUpdate = harness({ planAppUpdate: async (...args: unknown[]) => (calls.push(['planAppUpdate', ...args]), preview) });
  t.equal(await dryUpdate.run('app', 'update', 'web', 'web.json', '--dry-run', '--force'), 0);
  t.same(calls[1], ['planAppUpdate', 'web', { id: '/web', cmd: 'serve', env: { V: '2' } }, { partialUpdate: undefined, force: true }]);
  const update = harness({ updateApp: async (...args: unknown[]) => (calls.push(['updateApp', ...args]), { deploymentId: 'dep-7', version: 'v7' }) });
  t.equal(await update.run('app', 'update', '/web', 'web.json', '--replace'), 0);
  t.same(calls[2], ['updateApp', '/web', { id: '/web', cmd: 'serve', env: { V: '2' } }, { partialUpdate: false, force: false }]);
  t.equal(update.h.stdout, 'Updating app /web (deployment dep-7). Follow it with `corral deployment watch dep-7`.\n');
  const restart = harness({ restartApp: async (...args: unknown[]) => (calls.push(['restartApp', ...args]), { deploymentId: 'dep-8', version: 'v8' }) });
  t.equal(await restart.run('app', 'restart', 'web', '--force'), 0);
  t.same(calls[3], ['restartApp', 'web', { force: true }]);
  t.equal(restart.h.stdout, 'Restarting app /web (deployment dep-8). Follow it with `corral deployment watch dep-8`.\n');
});

t.test('a locked app: the CLI names the deployment that holds it', async (t) => {
  const locked = errors.appLocked(['dep-1']);
  t.equal(
    formatError(new CorralError(locked.code, locked.message, undefined, locked.extra)),
    "error: App is locked by one or more deployments. Override with the option '?force=true'. View details at '/v2/deployments/<DEPLOYMENT_ID>'. (APP_LOCKED)\n  deployment in progress: dep-1 (corral deployment watch dep-1)\n",
  );
});

// `corral deployment ...`: the deployments the init framework runs for every app change — list
// them, watch one's steps and healthy counts until it ends, roll one back (or only stop it).
// Also renders the plan a `--dry-run` answers.
import { InvalidArgumentError, type Command } from 'commander';
import type { App, Deployment, DeploymentPlanPreview, DeploymentStatus } from '../client';
import { CorralError } from '../shared/errors';
import { defineAction, type CliDeps } from './context';
import { formatAge, renderTable, toMillis } from './table';

export function registerDeploymentCommands(program: Command, deps: CliDeps): void {
  const deployment = program.command('deployment').description('follow and roll back the deployments of app changes');

  deployment
    .command('list')
    .description('list the deployments in progress')
    .action(
      defineAction(deps, async (ctx) => {
        const list = await (await ctx.client()).listDeployments();
        if (await ctx.printJson(list)) return;
        if (list.length === 0) return ctx.print('No deployments in progress.\n');
        const now = ctx.deps.clock.now();
        const rows = list.map((d) => [d.id, d.affectedApps.join(','), `${d.currentStep}/${d.totalSteps}`, currentActions(d), formatAge(toMillis(d.version), now)]);
        await ctx.print(renderTable(['ID', 'APPS', 'STEP', 'ACTIONS', 'AGE'], rows));
      }),
    );

  deployment
    .command('watch')
    .description("print a deployment's progress (steps, healthy instances) until it ends; fails unless it succeeds")
    .argument('<id>', 'deployment id')
    .option('--interval <seconds>', 'seconds between polls', parseInterval, 1)
    .action(
      defineAction(deps, async (ctx, [id]) => {
        const client = await ctx.client();
        const sleep = ctx.deps.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
        let last = '';
        for (;;) {
          const { deployment: d } = await client.getDeployment(id!);
          const apps = await Promise.all(d.affectedApps.map(async (appId) => ({ appId, app: await client.getApp(appId).then((r) => r.app, () => undefined) })));
          const text = progress(d, apps);
          if (text !== last) await ctx.print(text);
          last = text;
          if (d.status !== 'running') {
            if (await ctx.printJson({ deployment: d })) return;
            return ended(d);
          }
          await sleep((ctx.opts.interval as number) * 1000);
        }
      }),
    );

  deployment
    .command('rollback')
    .description('start a deployment back to the definitions before this one; with --force only stop it')
    .argument('<id>', 'deployment id')
    .option('--force', 'stop the deployment without rolling back: its apps keep their new definitions')
    .action(
      defineAction(deps, async (ctx, [id]) => {
        const res = await (await ctx.client()).rollbackDeployment(id!, { force: ctx.opts.force === true });
        if (await ctx.printJson(res ?? { stopped: id })) return;
        if (!res) return ctx.print(`Stopped deployment ${id}; its apps keep their new definitions.\n`);
        await ctx.print(`Rolling back deployment ${id} (deployment ${res.deploymentId}, version ${res.version}).\n`);
      }),
    );
}

function parseInterval(raw: string): number {
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('The interval is a number of seconds > 0.');
  return n;
}

const currentActions = (d: Deployment) => d.currentActions.map((a) => `${a.action} ${a.app}`).join(', ') || '-';

/**
 * One block per poll: the step and its actions, then each app's instances — healthy out of the
 * target when it has health checks, running otherwise.
 */
export function progress(d: DeploymentStatus, apps: ReadonlyArray<{ appId: string; app: App | undefined }>): string {
  let out = `Deployment ${d.id}: step ${d.currentStep}/${d.totalSteps}${d.status === 'running' ? '' : ` (${d.status})`}: ${currentActions(d)}\n`;
  for (const { appId, app } of apps) {
    if (!app) {
      out += `  ${appId}: removed\n`;
      continue;
    }
    const checked = Array.isArray(app.healthChecks) && app.healthChecks.length > 0;
    const counts = `${app.tasksRunning ?? 0} running, ${app.tasksStaged ?? 0} staged${checked ? `, ${app.tasksUnhealthy ?? 0} unhealthy` : ''}`;
    out += `  ${appId}: ${checked ? `${app.tasksHealthy ?? 0}/${app.instances} healthy` : `${app.tasksRunning ?? 0}/${app.instances} running`} (${counts})\n`;
  }
  return out;
}

/** The last word of `watch`: success, or a DEPLOYMENT_FAILED error saying how it ended. */
function ended(d: DeploymentStatus): Promise<void> {
  if (d.status === 'succeeded') return Promise.resolve();
  const next = d.replacedBy ? `; deployment ${d.replacedBy} took over (corral deployment watch ${d.replacedBy})` : '';
  throw new CorralError('DEPLOYMENT_FAILED', `Deployment ${d.id} ${d.status === 'rolled-back' ? 'was rolled back' : `was ${d.status}`}: ${d.reason ?? d.status}${next}`);
}

/** What `--dry-run` prints: the steps, and the bounds of each rolling upgrade. */
export function renderPlan(plan: DeploymentPlanPreview): string {
  let out = `Dry run: nothing was changed. The deployment would take ${plan.totalSteps} step${plan.totalSteps === 1 ? '' : 's'}:\n`;
  plan.steps.forEach((s, i) => (out += `  ${i + 1}. ${s.actions.map((a) => `${a.action} ${a.app}`).join(', ')}\n`));
  if (plan.totalSteps === 0) out += '  (none: nothing needs new or fewer tasks)\n';
  for (const r of plan.rolling) {
    out += `Rolling upgrade of ${r.app}: ${r.instances} instance${r.instances === 1 ? '' : 's'}, at least ${r.minimumHealthy} healthy and at most ${r.maximumTotal} in total at any time`;
    out += r.deadlineSeconds === null ? '.\n' : `; rolls back by itself after ${r.deadlineSeconds} s.\n`;
  }
  return out;
}

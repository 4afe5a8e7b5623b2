// `corral app update|restart`: changes that start a rolling deployment, each with `--dry-run` to
// see the plan first (shared with `corral app add --dry-run`).
import type { Command } from 'commander';
import { absoluteAppId, defineAction, type CliDeps } from './context';
import { deploymentNote, readDefinition } from './app-input';
import { renderPlan } from './deployment';

export function registerAppDeployCommands(app: Command, deps: CliDeps): void {
  app
    .command('update')
    .description("change an app from JSON (merged into its definition); a config change rolls its instances by its upgradeStrategy")
    .argument('<id>', 'app id')
    .argument('<file>', "the fields to change (Marathon JSON); '-' reads standard input")
    .option('--replace', 'replace the whole definition instead of merging (partialUpdate=false)')
    .option('--force', 'override a deployment in progress')
    .option('--dry-run', 'validate and show the deployment plan; change nothing')
    .action(
      defineAction(deps, async (ctx, [id, file]) => {
        const patch = await readDefinition(ctx, file!);
        const client = await ctx.client();
        const opts = { partialUpdate: ctx.opts.replace === true ? false : undefined, force: ctx.opts.force === true };
        if (ctx.opts.dryRun === true) {
          const plan = await client.planAppUpdate(id!, patch, opts);
          if (await ctx.printJson(plan)) return;
          return ctx.print(renderPlan(plan));
        }
        const res = await client.updateApp(id!, patch, opts);
        if (await ctx.printJson(res)) return;
        await ctx.print(`Updating app ${absoluteAppId(id!)}${deploymentNote(res.deploymentId)}. Follow it with \`corral deployment watch ${res.deploymentId}\`.\n`);
      }),
    );

  app
    .command('restart')
    .description('replace every instance of an app, by its upgradeStrategy')
    .argument('<id>', 'app id')
    .option('--force', 'override a deployment in progress')
    .action(
      defineAction(deps, async (ctx, [id]) => {
        const res = await (await ctx.client()).restartApp(id!, { force: ctx.opts.force === true });
        if (await ctx.printJson(res)) return;
        await ctx.print(`Restarting app ${absoluteAppId(id!)}${deploymentNote(res.deploymentId)}. Follow it with \`corral deployment watch ${res.deploymentId}\`.\n`);
      }),
    );
}

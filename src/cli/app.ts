// `corral app ...`: long-running services through the Marathon-compatible /v2/apps API.
import { InvalidArgumentError, type Command } from 'commander';
import type { App, Task } from '../client';
import { CorralError } from '../shared/errors';
import { absoluteAppId, defineAction, type CliDeps, type CommandContext } from './context';
import { formatAge, formatNumber, renderFields, renderTable, shortState, toMillis, truncate } from './table';
import { registerAppDeployCommands } from './app-deploy';
import { deploymentNote, readDefinition } from './app-input';
import { renderPlan } from './deployment';

export function registerAppCommands(program: Command, deps: CliDeps): void {
  const app = program.command('app').description('run and manage long-running services (Marathon apps)');

  app
    .command('add')
    .description('create an app from its JSON definition')
    .argument('<file>', "app definition (Marathon JSON); '-' reads standard input")
    .option('--dry-run', 'validate and show the deployment plan; create nothing')
    .action(
      defineAction(deps, async (ctx, [file]) => {
        const def = await readDefinition(ctx, file!);
        if (ctx.opts.dryRun === true) {
          const plan = await (await ctx.client()).planApp(def);
          if (await ctx.printJson(plan)) return;
          return ctx.print(renderPlan(plan));
        }
        const created = await (await ctx.client()).createApp(def);
        if (await ctx.printJson(created)) return;
        await ctx.print(`Created app ${created.id}${deploymentNote(created.deployments?.[0]?.id)}.\n`);
      }),
    );

  app
    .command('list')
    .description('list apps with their instance counts')
    .action(
      defineAction(deps, async (ctx) => {
        const res = await (await ctx.client()).listApps();
        if (await ctx.printJson(res)) return;
        if (res.apps.length === 0) return ctx.print('No apps. Create one with `corral app add FILE`.\n');
        const rows = res.apps.map((a) => [a.id, `${runningCount(a)}/${a.instances}`, formatNumber(a.cpus), formatNumber(a.mem), truncate(commandOf(a), 50)]);
        await ctx.print(renderTable(['ID', 'INSTANCES', 'CPUS', 'MEM', 'CMD'], rows));
      }),
    );

  app
    .command('show')
    .description("show an app's definition, status and tasks")
    .argument('<id>', 'app id, e.g. /shop/web')
    .action(
      defineAction(deps, async (ctx, [id]) => {
        const client = await ctx.client();
        const res = await client.getApp(id!);
        if (await ctx.printJson(res)) return;
        const tasks = res.app.tasks ?? (await client.appTasks(id!)).tasks;
        await ctx.print(describeApp(res.app, tasks, ctx.deps.clock.now()));
      }),
    );

  app
    .command('scale')
    .description('set the number of instances')
    .argument('<id>', 'app id')
    .argument('<instances>', 'desired number of instances', parseInstances)
    .option('--force', 'override a deployment in progress')
    .action(
      defineAction<[string, number]>(deps, async (ctx, [id, instances]) => {
        const res = await (await ctx.client()).updateApp(id, { instances }, { force: ctx.opts.force === true });
        if (await ctx.printJson(res)) return;
        await ctx.print(`Scaling app ${absoluteAppId(id)} to ${instances} instance${instances === 1 ? '' : 's'}${deploymentNote(res.deploymentId)}.\n`);
      }),
    );

  app
    .command('versions')
    .description("list the app's kept versions, newest first, marking the current one")
    .argument('<id>', 'app id')
    .action(
      defineAction(deps, async (ctx, [id]) => {
        const client = await ctx.client();
        const res = await client.appVersions(id!);
        if (await ctx.printJson(res)) return;
        const current = (await client.getApp(id!)).app.version;
        await ctx.print(renderTable(['VERSION', 'CURRENT'], res.versions.map((v) => [v, v === current ? 'yes' : ''])));
      }),
    );

  app
    .command('rollback')
    .description('deploy an earlier version of the app again (under a new version)')
    .argument('<id>', 'app id')
    // Not --version: the program's own -V/--version would take it wherever it stands.
    .option('--to <version>', 'the version to go back to, from `corral app versions` (default: the one before the current)')
    .option('--force', 'override a deployment in progress')
    .action(
      defineAction(deps, async (ctx, [id]) => {
        const client = await ctx.client();
        const version = typeof ctx.opts.to === 'string' ? ctx.opts.to : await previousVersion(ctx, id!);
        const res = await client.rollbackApp(id!, version, { force: ctx.opts.force === true });
        if (await ctx.printJson(res)) return;
        await ctx.print(`Rolling back app ${absoluteAppId(id!)} to version ${version}${deploymentNote(res.deploymentId)}.\n`);
      }),
    );

  app
    .command('remove')
    .description('kill the tasks of an app and delete it')
    .argument('<id>', 'app id')
    .option('--force', 'override a deployment in progress')
    .action(
      defineAction(deps, async (ctx, [id]) => {
        const res = await (await ctx.client()).deleteApp(id!, { force: ctx.opts.force === true });
        if (await ctx.printJson(res)) return;
        await ctx.print(`Removing app ${absoluteAppId(id!)}${deploymentNote(res.deploymentId)}.\n`);
      }),
    );

  registerAppDeployCommands(app, deps);
}

/** The newest kept version older than the current one. */
async function previousVersion(ctx: CommandContext, id: string): Promise<string> {
  const client = await ctx.client();
  const [{ versions }, { app }] = await Promise.all([client.appVersions(id), client.getApp(id)]);
  const current = app.version ?? versions[0];
  const earlier = versions.filter((v) => v !== current && (current === undefined || Date.parse(v) < Date.parse(current)));
  if (earlier[0] === undefined) {
    throw new CorralError('APP_VERSION_NOT_FOUND', `App '${absoluteAppId(id)}' has no version before ${current ?? 'its current one'} to roll back to; \`corral app versions ${absoluteAppId(id)}\` lists what is kept`);
  }
  return earlier[0];
}

function parseInstances(raw: string): number {
  if (!/^\d+$/.test(raw)) throw new InvalidArgumentError('Instances must be a whole number >= 0.');
  return Number(raw);
}

function commandOf(app: App): string {
  if (typeof app.cmd === 'string') return app.cmd;
  return Array.isArray(app.args) ? app.args.join(' ') : '-';
}

function runningCount(app: App): string {
  if (typeof app.tasksRunning === 'number') return String(app.tasksRunning);
  if (Array.isArray(app.tasks)) return String(app.tasks.filter((t) => t.state === 'TASK_RUNNING').length);
  return '?';
}

function describeApp(app: App, tasks: Task[], now: number): string {
  const ports = (app.portDefinitions ?? []).map((p) => (p.port === 0 ? 'dynamic' : String(p.port)));
  const counts = [`staged ${app.tasksStaged ?? 0}`, `healthy ${app.tasksHealthy ?? 0}`, `unhealthy ${app.tasksUnhealthy ?? 0}`];
  const fields: Array<[string, string]> = [
    ['ID', app.id],
    ['CMD', commandOf(app)],
    ['INSTANCES', `${runningCount(app)}/${app.instances} running (${counts.join(', ')})`],
    ['CPUS', formatNumber(app.cpus)],
    ['MEM', `${formatNumber(app.mem)} MiB`],
    ['DISK', `${formatNumber(app.disk)} MiB`],
    ['PORTS', ports.length > 0 ? ports.join(', ') : '-'],
    ['VERSION', app.version ?? '-'],
    ['DEPLOYMENTS', (app.deployments ?? []).map((d) => d.id).join(', ') || '-'],
  ];
  const failure = app.lastTaskFailure;
  if (failure) fields.push(['LAST FAILURE', `${shortState(failure.state)} ${failure.taskId} on ${failure.host} at ${failure.timestamp}: ${failure.message}`]);
  let out = renderFields(fields) + '\n';
  if (tasks.length === 0) return out + 'No tasks.\n';
  const rows = tasks.map((t) => [t.id, shortState(t.state), t.host, t.ports.join(',') || '-', formatAge(toMillis(t.startedAt), now)]);
  out += renderTable(['TASK', 'STATE', 'HOST', 'PORTS', 'STARTED'], rows);
  return out;
}

// `corral app ...`: long-running services through the Marathon-compatible /v2/apps API.
import { InvalidArgumentError, type Command } from 'commander';
import type { App, AppDefinition, Task } from '../client';
import { CorralError } from '../shared/errors';
import { absoluteAppId, defineAction, type CliDeps, type CommandContext } from './context';
import { formatAge, formatNumber, renderFields, renderTable, shortState, toMillis, truncate } from './table';

export function registerAppCommands(program: Command, deps: CliDeps): void {
  const app = program.command('app').description('run and manage long-running services (Marathon apps)');

  app
    .command('add')
    .description('create an app from its JSON definition')
    .argument('<file>', "app definition (Marathon JSON); '-' reads standard input")
    .action(
      defineAction(deps, async (ctx, [file]) => {
        const def = await readDefinition(ctx, file!);
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
}

function parseInstances(raw: string): number {
  if (!/^\d+$/.test(raw)) throw new InvalidArgumentError('Instances must be a whole number >= 0.');
  return Number(raw);
}

async function readDefinition(ctx: CommandContext, file: string): Promise<AppDefinition> {
  const name = file === '-' ? 'standard input' : file;
  let text: string;
  try {
    text = file === '-' ? await ctx.deps.readStdin() : await ctx.deps.readFile(file);
  } catch (err) {
    throw new CorralError('FILE_UNREADABLE', `Cannot read app definition ${name}: ${(err as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new CorralError('INVALID_JSON', `App definition ${name} is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new CorralError('VALIDATION_FAILED', `App definition ${name} must be a JSON object`, [{ path: '', errors: ['must be object'] }]);
  }
  return parsed as AppDefinition;
}

function deploymentNote(id: string | undefined): string {
  return id ? ` (deployment ${id})` : '';
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

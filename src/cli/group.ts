// `corral group ...`: Marathon groups through /v2/groups. Every change (add, update, scale, rollback,
// remove) is one deployment over all the apps of the group's subtree, and keeps a group version.
import { InvalidArgumentError, type Command } from 'commander';
import { CorralError } from '../shared/errors';
import type { App, Group, GroupDefinition } from '../client';
import { absoluteAppId, defineAction, type CliDeps } from './context';
import { deploymentNote, readDefinition } from './app-input';
import { formatNumber, renderFields, renderTable, truncate } from './table';

/** What `list` and `show` ask for: apps with their counts, and subgroups. */
const EMBED = ['group.apps', 'group.groups', 'group.apps.counts'];

export function registerGroupCommands(program: Command, deps: CliDeps): void {
  const group = program.command('group').description('manage groups of apps (Marathon groups); each change is one deployment');

  group
    .command('add')
    .description('create a group and all its apps (nested groups included) from its JSON definition')
    .argument('<file>', "group definition (Marathon JSON: {id, apps, groups, dependencies}); '-' reads standard input")
    .option('--force', 'override deployments in progress on its apps')
    .action(
      defineAction(deps, async (ctx, [file]) => {
        const def = (await readDefinition(ctx, file!, 'Group definition')) as unknown as GroupDefinition;
        const res = await (await ctx.client()).createGroup(def, { force: ctx.opts.force === true });
        if (await ctx.printJson(res)) return;
        await ctx.print(`Created group ${typeof def.id === 'string' ? absoluteAppId(def.id) : '/'}${deploymentNote(res.deploymentId)}.\n`);
      }),
    );

  group
    .command('list')
    .description('list every group with its apps and instance counts')
    .action(
      defineAction(deps, async (ctx) => {
        const root = await (await ctx.client()).getGroup('/', { embed: EMBED });
        if (await ctx.printJson(root)) return;
        const rows = flatten(root)
          .filter((g) => g.id !== '/' || (g.apps?.length ?? 0) > 0)
          .map((g) => {
            const apps = appsBelow(g);
            return [g.id, String(g.apps?.length ?? 0), String(g.groups?.length ?? 0), `${sum(apps, (a) => a.tasksRunning ?? 0)}/${sum(apps, (a) => a.instances)}`, g.version];
          });
        if (rows.length === 0) return ctx.print('No groups. Create one with `corral group add FILE`.\n');
        await ctx.print(renderTable(['ID', 'APPS', 'GROUPS', 'INSTANCES', 'VERSION'], rows));
      }),
    );

  group
    .command('show')
    .description("show a group's apps (its subtree's) and subgroups")
    .argument('<id>', 'group id, e.g. /shop')
    .action(
      defineAction(deps, async (ctx, [id]) => {
        const g = await (await ctx.client()).getGroup(id!, { embed: EMBED });
        if (await ctx.printJson(g)) return;
        const fields: Array<[string, string]> = [
          ['ID', g.id],
          ['VERSION', g.version],
          ['DEPENDENCIES', g.dependencies.join(', ') || '-'],
          ['GROUPS', (g.groups ?? []).map((s) => s.id).join(', ') || '-'],
        ];
        const apps = appsBelow(g);
        let out = renderFields(fields) + '\n';
        if (apps.length === 0) return ctx.print(out + 'No apps.\n');
        const rows = apps.map((a) => [a.id, `${a.tasksRunning ?? '?'}/${a.instances}`, formatNumber(a.cpus), formatNumber(a.mem), (Array.isArray(a.dependencies) ? (a.dependencies as string[]).join(',') : '') || '-', truncate(commandOf(a), 40)]);
        out += renderTable(['APP', 'INSTANCES', 'CPUS', 'MEM', 'DEPENDS ON', 'CMD'], rows);
        await ctx.print(out);
      }),
    );

  group
    .command('scale')
    .description('multiply the instances of every app below the group (rounded up)')
    .argument('<id>', 'group id')
    .argument('<factor>', 'scale factor, e.g. 2 or 0.5', parseFactor)
    .option('--force', 'override deployments in progress on its apps')
    .action(
      defineAction<[string, number]>(deps, async (ctx, [id, factor]) => {
        const res = await (await ctx.client()).updateGroup(id, { scaleBy: factor }, { force: ctx.opts.force === true });
        if (await ctx.printJson(res)) return;
        await ctx.print(`Scaling group ${absoluteAppId(id)} by ${factor}${deploymentNote(res.deploymentId)}.\n`);
      }),
    );

  group
    .command('update')
    .description("replace the group's apps with a definition; its apps left out are removed")
    .argument('<id>', 'group id')
    .argument('<file>', "group definition (Marathon JSON); '-' reads standard input")
    .option('--force', 'override deployments in progress on its apps')
    .action(
      defineAction(deps, async (ctx, [id, file]) => {
        const def = (await readDefinition(ctx, file!, 'Group definition')) as unknown as GroupDefinition;
        const res = await (await ctx.client()).updateGroup(id!, def, { force: ctx.opts.force === true });
        if (await ctx.printJson(res)) return;
        await ctx.print(`Updating group ${absoluteAppId(id!)}${deploymentNote(res.deploymentId)}.\n`);
      }),
    );

  group
    .command('versions')
    .description("list the group's kept versions (one per group change), newest first")
    .argument('<id>', 'group id')
    .action(
      defineAction(deps, async (ctx, [id]) => {
        const versions = await (await ctx.client()).groupVersions(id!);
        if (await ctx.printJson(versions)) return;
        await ctx.print(renderTable(['VERSION'], versions.map((v) => [v])));
      }),
    );

  group
    .command('rollback')
    .description('make the group what an earlier group change left: its apps, definitions and subgroups then')
    .argument('<id>', 'group id')
    .option('--to <version>', 'the version to go back to, from `corral group versions` (default: the one before the newest)')
    .option('--force', 'override deployments in progress on its apps')
    .action(
      defineAction(deps, async (ctx, [id]) => {
        const client = await ctx.client();
        let version = typeof ctx.opts.to === 'string' ? ctx.opts.to : undefined;
        if (version === undefined) {
          version = (await client.groupVersions(id!))[1];
          if (version === undefined) throw new CorralError('GROUP_VERSION_NOT_FOUND', `Group '${absoluteAppId(id!)}' has no version before its newest to roll back to; \`corral group versions ${absoluteAppId(id!)}\` lists what is kept`);
        }
        const res = await client.rollbackGroup(id!, version, { force: ctx.opts.force === true });
        if (await ctx.printJson(res)) return;
        await ctx.print(`Rolling back group ${absoluteAppId(id!)} to version ${version}${deploymentNote(res.deploymentId)}.\n`);
      }),
    );

  group
    .command('remove')
    .description('kill and delete every app below the group, and the group')
    .argument('<id>', 'group id')
    .option('--force', 'override deployments in progress on its apps')
    .action(
      defineAction(deps, async (ctx, [id]) => {
        const res = await (await ctx.client()).deleteGroup(id!, { force: ctx.opts.force === true });
        if (await ctx.printJson(res)) return;
        await ctx.print(`Removing group ${absoluteAppId(id!)}${deploymentNote(res.deploymentId)}.\n`);
      }),
    );
}

function parseFactor(raw: string): number {
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n) || n < 0) throw new InvalidArgumentError('The factor must be a number >= 0.');
  return n;
}

/** The group and every group below it, depth first. */
function flatten(g: Group): Group[] {
  return [g, ...(g.groups ?? []).flatMap(flatten)];
}

function appsBelow(g: Group): App[] {
  return flatten(g).flatMap((x) => x.apps ?? []);
}

function commandOf(app: App): string {
  if (typeof app.cmd === 'string') return app.cmd;
  return Array.isArray(app.args) ? app.args.join(' ') : '-';
}

const sum = <T>(xs: readonly T[], f: (x: T) => number) => xs.reduce((n, x) => n + f(x), 0);

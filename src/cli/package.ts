// `corral package ...`: the package catalog, dcos-style (search, describe, install, list,
// uninstall, repo add|list|remove), through Cosmos's /package API.
import { isAbsolute, resolve } from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import type { CorralClient } from '../client';
import type { PackageDescription } from '../client/package-types';
import { CorralError } from '../shared/errors';
import { readDefinition } from './app-input';
import { defineAction, type CliDeps, type CommandContext } from './context';
import { renderFields, renderTable, truncate } from './table';

/**
 * The client methods `corral package` uses. Kept out of CliClient (every CLI test's fake client
 * lists CliClient's methods in full): the real client has them, a test's fake adds them.
 */
export type PackageClient = Pick<CorralClient, 'searchPackages' | 'describePackage' | 'packageVersions' | 'renderPackage' | 'installPackage' | 'uninstallPackage' | 'listPackages' | 'listRepositories' | 'addRepository' | 'removeRepository'>;

const packageClient = async (ctx: CommandContext): Promise<PackageClient> => ctx.client();

export function registerPackageCommands(program: Command, deps: CliDeps): void {
  const pkg = program.command('package').description('install services from package repositories (DC/OS Universe format)');

  pkg
    .command('search')
    .description('list the packages whose name, description or tags match QUERY (* wildcards)')
    .argument('[query]', 'text to look for; all packages when left out')
    .action(
      defineAction<[string | undefined]>(deps, async (ctx, [query]) => {
        const res = await (await packageClient(ctx)).searchPackages(query);
        if (await ctx.printJson(res)) return;
        if (res.packages.length === 0) return ctx.print(query ? `No package matches '${query}'.\n` : 'No packages. Add a repository with `corral package repo add NAME URL`.\n');
        const rows = res.packages.map((p) => [p.name, p.currentVersion, p.repository ?? '', truncate(p.description, 70)]);
        await ctx.print(renderTable(['NAME', 'VERSION', 'REPOSITORY', 'DESCRIPTION'], rows));
      }),
    );

  pkg
    .command('describe')
    .description("show a package: its description, notes, versions, the commands it needs; its options' schema or the app it renders")
    .argument('<name>', 'package name')
    .option('--package-version <version>', 'a version other than the newest')
    .option('--config', "print the package's options schema (config.json)")
    .option('--render', 'print the app (and job) the package renders to, with --options')
    .option('--options <file>', "install options (JSON; '-' reads standard input), with --render")
    .option('--app-id <id>', 'the app id to render with, with --render')
    .action(
      defineAction(deps, async (ctx, [name]) => {
        const client = await packageClient(ctx);
        const version = ctx.opts.packageVersion as string | undefined;
        if (ctx.opts.render === true) {
          const rendered = await client.renderPackage({ packageName: name!, ...(version ? { packageVersion: version } : {}), ...(await optionsOf(ctx)), ...appIdOf(ctx) });
          return void (await ctx.deps.stdout(JSON.stringify(ctx.opts.json ? rendered : (rendered.marathonJson ?? rendered.chronosJson), null, 2) + '\n'));
        }
        const { package: p } = await client.describePackage(name!, version);
        if (ctx.opts.config === true) return void (await ctx.deps.stdout(JSON.stringify(p.config ?? {}, null, 2) + '\n'));
        const versions = await client.packageVersions(name!);
        if (await ctx.printJson({ package: p, versions: versions.results })) return;
        await ctx.print(describePackage(p, Object.keys(versions.results)));
      }),
    );

  pkg
    .command('install')
    .description('install a package: its app (and job) with the options given, checked before anything is created')
    .argument('<name>', 'package name')
    .option('--options <file>', "install options (JSON; '-' reads standard input); the package's defaults fill the rest")
    .option('--package-version <version>', 'a version other than the newest')
    .option('--app-id <id>', "the app's id instead of the package's")
    .option('--yes', 'do not ask (Corral never asks: accepted for dcos compatibility)')
    .action(
      defineAction(deps, async (ctx, [name]) => {
        const version = ctx.opts.packageVersion as string | undefined;
        const res = await (await packageClient(ctx)).installPackage({ packageName: name!, ...(version ? { packageVersion: version } : {}), ...(await optionsOf(ctx)), ...appIdOf(ctx) });
        if (await ctx.printJson(res)) return;
        let out = res.preInstallNotes ? `${res.preInstallNotes.trim()}\n` : '';
        const what = [res.appId ? `app ${res.appId}` : '', res.jobName ? `job ${res.jobName}` : ''].filter(Boolean).join(' and ');
        out += `Installed package ${res.packageName} ${res.packageVersion} as ${what}${res.deploymentId ? ` (deployment ${res.deploymentId})` : ''}.\n`;
        if (res.postInstallNotes) out += `${res.postInstallNotes.trim()}\n`;
        await ctx.print(out);
      }),
    );

  pkg
    .command('list')
    .description('list the installed packages (apps and jobs with Universe labels)')
    .option('--app-id <id>', 'only the package installed as this app')
    .argument('[name]', 'only this package')
    .action(
      defineAction<[string | undefined]>(deps, async (ctx, [name]) => {
        const res = await (await packageClient(ctx)).listPackages({ ...(name ? { packageName: name } : {}), ...(ctx.opts.appId ? { appId: String(ctx.opts.appId) } : {}) });
        if (await ctx.printJson(res)) return;
        if (res.packages.length === 0) return ctx.print('No packages installed. Find one with `corral package search`.\n');
        const rows = res.packages.map((p) => [p.packageInformation.packageDefinition.name, p.packageInformation.packageDefinition.version, p.appId ?? '-', p.jobName ?? '-']);
        await ctx.print(renderTable(['NAME', 'VERSION', 'APP', 'JOB'], rows));
      }),
    );

  pkg
    .command('uninstall')
    .description("remove an installed package's app (and job)")
    .argument('<name>', 'package name')
    .option('--app-id <id>', 'the installation to remove, when there are several')
    .option('--all', 'remove every installation of the package')
    .option('--yes', 'do not ask (Corral never asks: accepted for dcos compatibility)')
    .action(
      defineAction(deps, async (ctx, [name]) => {
        if (ctx.opts.all === true && ctx.opts.appId !== undefined) throw new CorralError('INVALID_REQUEST', 'Give either --app-id or --all, not both');
        const res = await (await packageClient(ctx)).uninstallPackage({ packageName: name!, ...appIdOf(ctx), ...(ctx.opts.all === true ? { all: true } : {}) });
        if (await ctx.printJson(res)) return;
        let out = '';
        for (const r of res.results) {
          const what = [r.appId ? `app ${r.appId}` : '', r.jobName ? `job ${r.jobName}` : ''].filter(Boolean).join(' and ');
          out += `Uninstalled package ${r.packageName} ${r.packageVersion} (${what}).\n`;
          if (r.postUninstallNotes) out += `${r.postUninstallNotes.trim()}\n`;
        }
        await ctx.print(out);
      }),
    );

  const repo = pkg.command('repo').description('package repositories, in priority order (the first that has a package wins)');
  repo
    .command('add')
    .description('add a repository: a repo index URL, a file:// URL, or a directory or index file on the server')
    .argument('<name>', 'repository name')
    .argument('<uri>', 'URL of a Universe repo index, or a path (made absolute)')
    .option('--index <n>', 'position in the priority order (0: first); last when left out', parseIndex)
    .action(
      defineAction<[string, string]>(deps, async (ctx, [name, uri]) => {
        const res = await (await packageClient(ctx)).addRepository(name, absoluteUri(uri), ctx.opts.index as number | undefined);
        if (await ctx.printJson(res)) return;
        await ctx.print(`Added repository ${name}.\n` + repositoryTable(res.repositories));
      }),
    );
  repo
    .command('list')
    .description('list the repositories in priority order')
    .action(
      defineAction(deps, async (ctx) => {
        const res = await (await packageClient(ctx)).listRepositories();
        if (await ctx.printJson(res)) return;
        await ctx.print(res.repositories.length === 0 ? 'No repositories. Add one with `corral package repo add NAME URL`.\n' : repositoryTable(res.repositories));
      }),
    );
  repo
    .command('remove')
    .description('remove a repository')
    .argument('<name>', 'repository name')
    .action(
      defineAction(deps, async (ctx, [name]) => {
        const res = await (await packageClient(ctx)).removeRepository(name!);
        if (await ctx.printJson(res)) return;
        await ctx.print(`Removed repository ${name}.\n`);
      }),
    );
}

function repositoryTable(repos: ReadonlyArray<{ name: string; uri: string }>): string {
  return renderTable(['PRIORITY', 'NAME', 'URI'], repos.map((r, i) => [String(i), r.name, r.uri]));
}

function parseIndex(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('must be a whole number >= 0');
  return n;
}

/** URLs pass as they are; a path is made absolute (the server reads it on its own machine). */
export function absoluteUri(uri: string): string {
  if (/^[a-z][a-z0-9+.-]*:/i.test(uri) || isAbsolute(uri)) return uri;
  return resolve(uri);
}

async function optionsOf(ctx: CommandContext): Promise<{ options?: Record<string, unknown> }> {
  const file = ctx.opts.options as string | undefined;
  if (file === undefined) return {};
  return { options: (await readDefinition(ctx, file, 'Options file')) as unknown as Record<string, unknown> };
}

function appIdOf(ctx: CommandContext): { appId?: string } {
  return ctx.opts.appId !== undefined ? { appId: String(ctx.opts.appId) } : {};
}

function describePackage(p: PackageDescription, versions: string[]): string {
  const fields: Array<[string, string]> = [
    ['Name', p.name],
    ['Version', `${p.version} (release ${p.releaseVersion})`],
    ['Versions', versions.join(', ')],
    ['Description', p.description],
    ['Maintainer', p.maintainer],
    ['Tags', p.tags.join(', ')],
  ];
  if (p.website) fields.push(['Website', p.website]);
  const commands = p.corral?.requires?.commands ?? [];
  if (commands.length > 0) fields.push(['Needs', commands.join(', ')]);
  fields.push(['Installs', [p.marathon ? 'an app' : '', p.chronos ? 'a job' : ''].filter(Boolean).join(' and ')]);
  let out = renderFields(fields);
  if (p.preInstallNotes) out += `\nBefore installing: ${p.preInstallNotes.trim()}\n`;
  if (p.postInstallNotes) out += `\nAfter installing: ${p.postInstallNotes.trim()}\n`;
  out += `\nOptions: corral package describe ${p.name} --config\n`;
  return out;
}

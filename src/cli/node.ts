// `corral node ...`: the machines of the cluster and how much of each is in use.
import type { Command } from 'commander';
import { defineAction, type CliDeps } from './context';
import { formatNumber, renderTable } from './table';

/** Node ids are 64-hex public keys; 12 characters tell them apart in practice (as git does). */
const SHORT_ID = 12;

export function registerNodeCommands(program: Command, deps: CliDeps): void {
  const node = program.command('node').description('list the machines of the cluster');

  node
    .command('list')
    .description('list nodes with their roles and resource use')
    .action(
      defineAction(deps, async (ctx) => {
        const res = await (await ctx.client()).listNodes();
        if (await ctx.printJson(res)) return;
        if (res.nodes.length === 0) return ctx.print('No nodes.\n');
        const rows = res.nodes.map((n) => [
          n.id.slice(0, SHORT_ID),
          n.hostname,
          n.roles.join(',') || '-',
          `${formatNumber(n.used?.cpus ?? 0)}/${formatNumber(n.resources?.cpus)}`,
          `${formatNumber(n.used?.mem ?? 0)}/${formatNumber(n.resources?.mem)}`,
          n.isolation ?? '-',
          n.status,
        ]);
        await ctx.print(renderTable(['ID', 'HOSTNAME', 'ROLES', 'CPUS', 'MEM (MiB)', 'ISOLATION', 'STATUS'], rows));
      }),
    );
}

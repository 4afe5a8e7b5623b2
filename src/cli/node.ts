// `corral node ...`: the machines of the cluster, how much of each is in use, and draining them.
import type { Command } from 'commander';
import type { Node } from '../client';
import { CorralError } from '../shared/errors';
import { parseDuration } from '../shared/duration';
import { defineAction, type CliDeps, type CommandContext } from './context';
import { formatAge, formatNumber, renderTable, toMillis } from './table';

/** Node ids are 64-hex public keys; 12 characters tell them apart in practice (as git does). */
const SHORT_ID = 12;

/** The node `name` designates: its id, its hostname, or a prefix of its id that only it has. */
export function resolveNode(nodes: readonly Node[], name: string): Node {
  const exact = nodes.find((n) => n.id === name);
  if (exact) return exact;
  const byHost = nodes.filter((n) => n.hostname === name);
  const matches = byHost.length > 0 ? byHost : nodes.filter((n) => n.id.startsWith(name));
  if (matches.length === 1) return matches[0]!;
  if (matches.length === 0) throw new CorralError('AGENT_NOT_FOUND', `No node has the id, id prefix or hostname '${name}'; \`corral node list\` shows them`);
  const which = matches.map((n) => `${n.id.slice(0, SHORT_ID)} (${n.hostname})`).join(', ');
  throw new CorralError('NODE_AMBIGUOUS', `'${name}' matches ${matches.length} nodes: ${which}; give more of the id`);
}

const nodeName = (n: Node) => `${n.id.slice(0, SHORT_ID)} (${n.hostname})`;

async function findNode(ctx: CommandContext, name: string): Promise<Node> {
  return resolveNode((await (await ctx.client()).listNodes()).nodes, name);
}

export function registerNodeCommands(program: Command, deps: CliDeps): void {
  const node = program.command('node').description('list the machines of the cluster; drain and undrain them');

  node
    .command('list')
    .description('list nodes with their status, roles, resource use, version and last contact')
    .action(
      defineAction(deps, async (ctx) => {
        const res = await (await ctx.client()).listNodes();
        if (await ctx.printJson(res)) return;
        if (res.nodes.length === 0) return ctx.print('No nodes.\n');
        const now = ctx.deps.clock.now();
        const rows = res.nodes.map((n) => {
          const contact = toMillis(n.lastContact);
          return [
            n.id.slice(0, SHORT_ID),
            n.hostname,
            n.status,
            n.roles.join(',') || '-',
            `${formatNumber(n.used?.cpus ?? 0)}/${formatNumber(n.resources?.cpus)}`,
            `${formatNumber(n.used?.mem ?? 0)}/${formatNumber(n.resources?.mem)}`,
            n.version ?? '-',
            contact === undefined ? '-' : `${formatAge(contact, now)} ago`,
          ];
        });
        await ctx.print(renderTable(['ID', 'HOSTNAME', 'STATUS', 'ROLES', 'CPUS', 'MEM (MiB)', 'VERSION', 'LAST CONTACT'], rows));
      }),
    );

  node
    .command('drain')
    .description('stop placing work on a node: service tasks move elsewhere, batch tasks may finish; at the deadline the rest is killed')
    .argument('<node>', 'node id, unique id prefix, or hostname')
    .option('--deadline <duration>', 'kill what still runs there after this long, e.g. 90s, 5m, 1h (default: no deadline)')
    .action(
      defineAction(deps, async (ctx, [name]) => {
        const raw = ctx.opts.deadline as string | undefined;
        const deadlineSeconds = raw === undefined ? undefined : parseDuration(raw, '--deadline') / 1000;
        const target = await findNode(ctx, name!);
        const res = await (await ctx.client()).drainNode(target.id, deadlineSeconds === undefined ? {} : { deadlineSeconds });
        if (await ctx.printJson(res)) return;
        const deadline = toMillis(res.node?.drainDeadline);
        const until = deadline === undefined ? 'no deadline: they may run until they finish' : `tasks still there at ${new Date(deadline).toISOString()} are killed`;
        await ctx.print(`Draining node ${nodeName(target)}: nothing new is placed there, service tasks move elsewhere; ${until}.\n`);
      }),
    );

  node
    .command('undrain')
    .description('end a drain: the node takes work again')
    .argument('<node>', 'node id, unique id prefix, or hostname')
    .action(
      defineAction(deps, async (ctx, [name]) => {
        const target = await findNode(ctx, name!);
        const res = await (await ctx.client()).undrainNode(target.id);
        if (await ctx.printJson(res)) return;
        await ctx.print(`Node ${nodeName(target)} is no longer draining; it takes work again.\n`);
      }),
    );
}

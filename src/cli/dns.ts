// `corral dns lookup NAME [--type SRV]`: what Corral's DNS answers for a name, asked through the API
// (the same answerer the DNS server uses), printed like `dig +short`.
import type { Command } from 'commander';
import type { CorralClient } from '../client';
import { CorralError } from '../shared/errors';
import { defineAction, type CliDeps, type CommandContext } from './context';

/** The client methods of discovery's commands (picked here, so other commands' test fakes need not carry them). */
export type DiscoveryClient = Pick<CorralClient, 'dnsLookup' | 'listServices'>;

export const discoveryClient = async (ctx: CommandContext): Promise<DiscoveryClient> => ctx.client();

const TYPES = ['A', 'SRV', 'NS', 'SOA', 'AAAA', 'ANY'];

/** One record as `dig +short` prints it. */
export function formatRecord(rr: { type: string; data: unknown }): string {
  const d = rr.data as Record<string, unknown> | string;
  if (typeof d === 'string') return rr.type === 'A' || rr.type === 'AAAA' ? d : `${d}.`;
  if (rr.type === 'SRV') return `${String(d.priority)} ${String(d.weight)} ${String(d.port)} ${String(d.target)}.`;
  if (rr.type === 'SOA') return `${String(d.mname)}. ${String(d.rname)}. ${String(d.serial)} ${String(d.refresh)} ${String(d.retry)} ${String(d.expire)} ${String(d.minimum)}`;
  return JSON.stringify(d);
}

export function registerDnsCommands(program: Command, deps: CliDeps): void {
  const dns = program.command('dns').description("ask Corral's service discovery DNS");
  dns
    .command('lookup')
    .description('resolve a name of the zone (e.g. hello.corral-init.corral, _hello._tcp.corral-init.corral --type SRV)')
    .argument('<name>', 'DNS name')
    .option('--type <type>', `record type: ${TYPES.join(', ')}`, 'A')
    .action(
      defineAction(deps, async (ctx, [name]) => {
        const type = String(ctx.opts.type ?? 'A').toUpperCase();
        if (!TYPES.includes(type)) throw new CorralError('INVALID_REQUEST', `--type must be one of ${TYPES.join(', ')}, got '${String(ctx.opts.type)}'`);
        const res = await (await discoveryClient(ctx)).dnsLookup(name!, type);
        if (await ctx.printJson(res)) return;
        if (!res.inZone) return ctx.print(`${res.name}: outside the zone (Corral's DNS forwards it to its upstreams, or refuses it)\n`);
        if (res.answers.length === 0) return ctx.print(`${res.name}: ${res.rcode === 'NXDOMAIN' ? 'no such name (NXDOMAIN)' : `no ${type} records (${res.rcode})`}\n`);
        await ctx.print(res.answers.map((rr) => `${formatRecord(rr)}\n`).join(''));
      }),
    );
}

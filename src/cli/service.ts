// `corral service list`: every service with running tasks, its DNS name, and how many of its tasks
// DNS publishes (healthy, or without health checks) — with the reason for the others.
import type { Command } from 'commander';
import { defineAction, type CliDeps } from './context';
import { discoveryClient } from './dns';
import { renderTable } from './table';

export function registerServiceCommands(program: Command, deps: CliDeps): void {
  const service = program.command('service').description('services as discovery publishes them (DNS names, health, ports)');
  service
    .command('list')
    .description('list services with their DNS names, published/running tasks and ports')
    .action(
      defineAction(deps, async (ctx) => {
        const res = await (await discoveryClient(ctx)).listServices();
        if (await ctx.printJson(res)) return;
        if (res.services.length === 0) return ctx.print('No services with running tasks.\n');
        const rows = res.services.map((s) => {
          const hidden = [...new Set(s.tasks.filter((t) => !t.published).map((t) => t.reason ?? '?'))];
          const endpoints = s.tasks.filter((t) => t.published).map((t) => `${t.ip ?? t.host}:${t.ports.join(',') || '-'}`);
          return [s.name, s.appId ?? '-', `${s.published}/${s.instances}${hidden.length > 0 ? ` (${hidden.join(', ')})` : ''}`, endpoints.join(' ') || '-'];
        });
        await ctx.print(renderTable(['NAME', 'APP', 'PUBLISHED', 'ENDPOINTS'], rows));
      }),
    );
}

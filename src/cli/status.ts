// `corral status`: one screen on the cluster this CLI points at — the API and its leader, the nodes
// and what they hold, apps, deployments, tasks and jobs — plus this CLI's own build. The nodes must
// answer (else the cluster is not reachable and the command fails); a part whose role does not run
// there (no init: no apps; no cron: no jobs) is shown as such, never as an error.
import type { Command } from 'commander';
import type { CorralClient, Node } from '../client';
import { isCorralError } from '../shared/errors';
import { defineAction, type CliDeps, type CommandContext } from './context';
import { formatNumber, renderFields, shortState } from './table';
import { buildFacts, versionLine } from './version';

/** The client methods `corral status` uses (picked here, so other commands' test fakes need not carry them). */
export type StatusClient = Pick<CorralClient, 'info' | 'listNodes' | 'listApps' | 'listTasks' | 'listDeployments' | 'listJobs'> & { url?: string };

/** A part of the summary, or why it is missing: the role does not run there (`absent`) or it failed. */
export type Part<T> = { ok: true; value: T } | { ok: false; absent: boolean; reason: string };

export interface StatusInputs {
  url: string | undefined;
  info: Part<{ version: string; leader?: string | null }>;
  nodes: Node[];
  apps: Part<Array<{ instances: number; tasksRunning?: number }>>;
  deployments: Part<unknown[]>;
  tasks: Part<Array<{ state: string }>>;
  jobs: Part<Array<{ state: string; status: string }>>;
}

export interface ClusterStatus {
  api: { url: string | null; version: string | null; leader: string | null };
  /** The node running the master role (hostname and short id), when it also runs an agent and so is listed. */
  master: string | null;
  nodes: { total: number; byStatus: Record<string, number>; byRole: Record<string, number>; versions: string[]; cpus: { used: number; total: number }; memMb: { used: number; total: number } };
  apps: { total: number; instancesRunning: number; instancesWanted: number } | { unavailable: string };
  deployments: { inProgress: number } | { unavailable: string };
  tasks: { byState: Record<string, number> } | { unavailable: string };
  jobs: { total: number; running: number; failing: number } | { unavailable: string };
  cli: { version: string; commit: string };
}

const ENDED = new Set(['FINISHED', 'FAILED', 'KILLED', 'ERROR', 'LOST', 'DROPPED', 'GONE', 'GONE_BY_OPERATOR']);

function count<T>(items: readonly T[], key: (item: T) => string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const item of items) out[key(item)] = (out[key(item)] ?? 0) + 1;
  return out;
}

function masterNode(nodes: readonly Node[]): string | null {
  const masters = nodes.filter((n) => n.roles.includes('master'));
  return masters.length === 1 ? `${masters[0]!.hostname} (${masters[0]!.id.slice(0, 12)})` : null;
}

const unavailable = (p: { absent: boolean; reason: string }) => ({ unavailable: p.absent ? 'not running on this cluster' : p.reason });

/** The summary, a pure function of what the API answered. */
export function summarizeStatus(input: StatusInputs, cli: { version: string; commit: string }): ClusterStatus {
  const nodes = input.nodes;
  const sum = (f: (n: Node) => number | undefined) => nodes.reduce((acc, n) => acc + (f(n) ?? 0), 0);
  const roles: Record<string, number> = {};
  for (const n of nodes) for (const r of n.roles) roles[r] = (roles[r] ?? 0) + 1;
  const versions = [...new Set(nodes.map((n) => n.version).filter((v): v is string => typeof v === 'string'))].sort();
  const apps = input.apps;
  const tasks = input.tasks;
  const jobs = input.jobs;
  return {
    api: {
      url: input.url ?? null,
      version: input.info.ok ? input.info.value.version : (versions[0] ?? null),
      leader: input.info.ok ? (input.info.value.leader ?? null) : null,
    },
    master: masterNode(nodes),
    nodes: {
      total: nodes.length,
      byStatus: count(nodes, (n) => n.status),
      byRole: roles,
      versions,
      cpus: { used: sum((n) => n.used?.cpus), total: sum((n) => n.resources?.cpus) },
      memMb: { used: sum((n) => n.used?.mem), total: sum((n) => n.resources?.mem) },
    },
    apps: apps.ok
      ? { total: apps.value.length, instancesRunning: apps.value.reduce((a, x) => a + (x.tasksRunning ?? 0), 0), instancesWanted: apps.value.reduce((a, x) => a + x.instances, 0) }
      : unavailable(apps),
    deployments: input.deployments.ok ? { inProgress: input.deployments.value.length } : unavailable(input.deployments),
    tasks: tasks.ok ? { byState: count(tasks.value, (x) => shortState(x.state)) } : unavailable(tasks),
    jobs: jobs.ok
      ? { total: jobs.value.length, running: jobs.value.filter((j) => /running/.test(j.state)).length, failing: jobs.value.filter((j) => j.status === 'failure').length }
      : unavailable(jobs),
    cli,
  };
}

const list = (counts: Record<string, number>, order: readonly string[] = []) =>
  Object.entries(counts)
    .sort(([a], [b]) => (order.indexOf(a) + 1 || order.length + 1) - (order.indexOf(b) + 1 || order.length + 1) || a.localeCompare(b))
    .map(([k, n]) => `${n} ${k.toLowerCase()}`)
    .join(', ');

/** The human view: `label:  value` lines. */
export function formatStatus(s: ClusterStatus): string {
  const fields: Array<[string, string]> = [];
  const api = [s.api.url ?? 'the API', s.api.version ? `corral ${s.api.version}` : undefined].filter(Boolean).join(', ');
  fields.push(['Cluster', api]);
  if (s.api.leader) fields.push(['Leader', s.api.leader]);
  if (s.master) fields.push(['Master node', s.master]);
  const n = s.nodes;
  fields.push(['Nodes', n.total === 0 ? 'none registered' : `${n.total} (${list(n.byStatus, ['alive', 'suspect', 'draining', 'drained', 'unreachable'])})`]);
  if (n.total > 0) {
    fields.push(['Roles', list(n.byRole, ['master', 'agent', 'init', 'cron', 'discovery'])]);
    fields.push(['CPUs', `${formatNumber(n.cpus.used)} of ${formatNumber(n.cpus.total)} in use`]);
    fields.push(['Memory', `${formatNumber(n.memMb.used)} of ${formatNumber(n.memMb.total)} MiB in use`]);
    if (n.versions.length > 1) fields.push(['Versions', `${n.versions.join(', ')} (mixed)`]);
  }
  const section = <T extends object>(label: string, p: T | { unavailable: string }, text: (v: T) => string) =>
    fields.push([label, 'unavailable' in p ? p.unavailable : text(p as T)]);
  section('Apps', s.apps, (a) => (a.total === 0 ? 'none' : `${a.total}, ${a.instancesRunning} of ${a.instancesWanted} instances running`));
  section('Deployments', s.deployments, (d) => (d.inProgress === 0 ? 'none in progress' : `${d.inProgress} in progress`));
  section('Tasks', s.tasks, (t) => {
    const live = Object.fromEntries(Object.entries(t.byState).filter(([k]) => !ENDED.has(k)));
    const ended = Object.fromEntries(Object.entries(t.byState).filter(([k]) => ENDED.has(k)));
    const endedTotal = Object.values(ended).reduce((a, b) => a + b, 0);
    const head = Object.keys(live).length === 0 ? 'none live' : list(live, ['RUNNING', 'STAGING', 'STARTING', 'KILLING', 'UNREACHABLE']);
    return endedTotal === 0 ? head : `${head}; ${endedTotal} ended recently (${list(ended, ['FINISHED', 'FAILED', 'KILLED'])})`;
  });
  section('Jobs', s.jobs, (j) => (j.total === 0 ? 'none' : `${j.total}, ${j.running} running, ${j.failing} failing`));
  fields.push(['This CLI', `corral ${versionLine(s.cli)}`]);
  return renderFields(fields);
}

/** A part that may be missing: a 404 means its role does not run there. */
async function part<T>(call: () => Promise<T>): Promise<Part<T>> {
  try {
    return { ok: true, value: await call() };
  } catch (err) {
    if (isCorralError(err) && err.code === 'NOT_FOUND') return { ok: false, absent: true, reason: err.message };
    if (isCorralError(err) && err.code === 'API_UNREACHABLE') throw err;
    return { ok: false, absent: false, reason: isCorralError(err) ? `${err.message} (${err.code})` : String(err) };
  }
}

export async function gatherStatus(client: StatusClient): Promise<StatusInputs> {
  const [nodes, info, apps, deployments, tasks, jobs] = await Promise.all([
    client.listNodes(),
    part(() => client.info()),
    part(async () => (await client.listApps()).apps),
    part(() => client.listDeployments()),
    part(async () => (await client.listTasks()).tasks),
    part(async () => (await client.listJobs()).jobs),
  ]);
  return { url: client.url, info, nodes: nodes.nodes, apps, deployments, tasks, jobs };
}

export function registerStatusCommand(program: Command, deps: CliDeps): void {
  program
    .command('status')
    .description('summarise the cluster: API and leader, nodes and their resources, apps, deployments, tasks, jobs')
    .action(
      defineAction(deps, async (ctx: CommandContext) => {
        const client: StatusClient = await ctx.client();
        const { version, commit } = buildFacts();
        const status = summarizeStatus(await gatherStatus(client), { version, commit });
        if (await ctx.printJson(status)) return;
        await ctx.print(formatStatus(status));
      }),
    );
}

// The catalog: a pure function from DiscoveryState to the names discovery publishes. Only RUNNING
// tasks that are healthy (or have no health check) on reachable nodes with a known address are
// published; the rest are listed with the reason (for /api/v1/services).
import type { PortRange } from '../kernel/types';
import { isIpv4, nodeLabel, taskLabel, toLabel, zoneNames } from './names';
import type { Catalog, CatalogNode, CatalogTask, DiscoverySettings, DiscoveryState, NameRecords, TrackedTask, UnpublishedReason } from './types';

/** Host ports in order: the framework's own order when it told, else the task's ranges ascending. */
export function taskPorts(task: TrackedTask): number[] {
  if (task.hint?.ports) return [...task.hint.ports];
  return expandRanges(task.view.resources.ports);
}

function expandRanges(ranges: readonly PortRange[]): number[] {
  const out: number[] = [];
  for (const r of ranges) for (let p = r.begin; p <= r.end && out.length < 1024; p++) out.push(p);
  return out;
}

function addressOf(state: DiscoveryState, host: string): string | undefined {
  return isIpv4(host) ? host : state.hostAddresses.get(host);
}

function unpublishedReason(task: TrackedTask, name: string, reachable: boolean, ip: string | undefined): UnpublishedReason | undefined {
  if (name === '') return 'no_name';
  if (!reachable) return 'agent_unreachable';
  if (task.view.healthy === false) return 'unhealthy';
  // Held back until the first result when either the master's view or the framework says it is checked.
  if (task.view.healthy === undefined && (task.view.healthChecked || task.hint?.healthChecked)) return 'health_unknown';
  if (ip === undefined) return 'no_address';
  return undefined;
}

class RecordTable {
  readonly records = new Map<string, NameRecords>();
  constructor(private readonly domain: string) {}

  /** The name's records, created with every empty ancestor up to the zone (those answer NOERROR, no data). */
  at(name: string): NameRecords {
    let entry = this.records.get(name);
    if (entry) return entry;
    entry = { a: [], srv: [], ns: [], soa: false };
    this.records.set(name, entry);
    for (let parent = name; parent !== this.domain; ) {
      const dot = parent.indexOf('.');
      if (dot < 0) break;
      parent = parent.slice(dot + 1);
      if (this.records.has(parent)) break;
      this.records.set(parent, { a: [], srv: [], ns: [], soa: false });
    }
    return entry;
  }

  addA(name: string, ip: string): void {
    const entry = this.at(name);
    if (!entry.a.includes(ip)) entry.a.push(ip);
  }
}

export function buildCatalog(state: DiscoveryState, settings: DiscoverySettings, serial: number): Catalog {
  const { domain } = settings;
  const names = zoneNames(domain);
  const table = new RecordTable(domain);
  const apex = table.at(domain);
  apex.soa = true;
  apex.ns.push(names.ns);

  const nodes: CatalogNode[] = [...state.agents.values()]
    .map((a) => ({ id: a.id, hostname: a.hostname, label: nodeLabel(a.hostname), ip: addressOf(state, a.hostname), reachable: a.reachable }))
    .sort((x, y) => x.label.localeCompare(y.label) || x.id.localeCompare(y.id));
  const nodeById = new Map(nodes.map((n) => [n.id, n]));
  for (const n of nodes) {
    if (!n.reachable || n.ip === undefined) continue;
    if (n.label !== '') table.addA(names.node(n.label), n.ip);
    table.addA(names.node(n.id.slice(0, 12).toLowerCase()), n.ip);
    table.addA(names.agent, n.ip);
    table.addA(names.slave, n.ip);
  }

  const leader = state.leader;
  if (leader) {
    for (const name of [names.leader, names.master, names.master0, names.ns]) table.addA(name, leader.ip);
    const label = nodeLabel(leader.hostname);
    if (label !== '' && !table.records.has(names.node(label))) table.addA(names.node(label), leader.ip);
    if (leader.apiPort !== undefined) table.at(names.leaderSrv).srv.push({ priority: 0, weight: 0, port: leader.apiPort, target: names.leader });
  }

  const tasks: CatalogTask[] = [];
  for (const tracked of state.tasks.values()) {
    const view = tracked.view;
    if (view.state !== 'TASK_RUNNING') continue;
    const framework = state.frameworks.get(view.frameworkId) ?? view.frameworkId;
    const frameworkLabel = toLabel(framework);
    const name = taskLabel(view.name);
    const node = nodeById.get(view.agentId);
    const ip = addressOf(state, view.host);
    const reason = unpublishedReason(tracked, name === '' || frameworkLabel === '' ? '' : name, node?.reachable ?? false, ip);
    tasks.push({
      id: view.id,
      name,
      appId: tracked.hint?.appId,
      frameworkId: view.frameworkId,
      framework,
      frameworkLabel,
      agentId: view.agentId,
      host: view.host,
      node: node?.label || nodeLabel(view.host),
      ip,
      ports: taskPorts(tracked),
      healthy: view.healthy,
      labels: view.labels,
      published: reason === undefined,
      reason,
    });
  }
  tasks.sort((x, y) => x.name.localeCompare(y.name) || x.id.localeCompare(y.id));

  for (const task of tasks) {
    if (!task.published) continue;
    table.addA(names.task(task.name, task.frameworkLabel), task.ip!);
    // The SRV target is the task's node, which has its own A record (as in Consul).
    const target = task.node !== '' ? names.node(task.node) : names.node(task.agentId.slice(0, 12).toLowerCase());
    table.addA(target, task.ip!);
    const srv = table.at(names.srv(task.name, task.frameworkLabel)).srv;
    for (const port of task.ports) srv.push({ priority: 0, weight: 0, port, target });
  }
  for (const entry of table.records.values()) entry.a.sort(compareIpv4);

  return { domain, ttl: settings.ttl, serial, records: table.records, tasks, nodes, leader };
}

function compareIpv4(x: string, y: string): number {
  const a = x.split('.').map(Number);
  const b = y.split('.').map(Number);
  for (let i = 0; i < 4; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return 0;
}

// Pure views of the catalog for the HTTP API: Mesos-DNS's /v1 lookup answers, Corral's service
// list, and Prometheus's HTTP service discovery target groups.
import { canonicalName } from './names';
import type { Catalog, CatalogTask } from './types';

/** Mesos-DNS's `/v1/hosts/{host}`: one entry per address; `[{host: "", ip: ""}]` when there is none. */
export function hostLookup(catalog: Catalog, host: string): Array<{ host: string; ip: string }> {
  const name = canonicalName(host);
  const a = catalog.records.get(name)?.a ?? [];
  return a.length === 0 ? [{ host: '', ip: '' }] : a.map((ip) => ({ host: `${name}.`, ip }));
}

/** Mesos-DNS's `/v1/services/{service}`: one entry per SRV record, the port as text as Mesos-DNS sends it. */
export function serviceLookup(catalog: Catalog, service: string): Array<{ service: string; host: string; ip: string; port: string }> {
  const name = canonicalName(service);
  const srv = catalog.records.get(name)?.srv ?? [];
  if (srv.length === 0) return [{ service: '', host: '', ip: '', port: '' }];
  return srv.map((s) => ({ service: `${name}.`, host: `${s.target}.`, ip: catalog.records.get(s.target)?.a[0] ?? '', port: String(s.port) }));
}

/** Mesos-DNS's `/v1/enumerate`: frameworks, their published tasks and each task's records. */
export function enumerate(catalog: Catalog) {
  const frameworks = new Map<string, Array<{ name: string; id: string; records: Array<{ name: string; host: string; rtype: string }> }>>();
  for (const task of catalog.tasks) {
    if (!task.published) continue;
    const list = frameworks.get(task.framework) ?? [];
    frameworks.set(task.framework, list);
    const a = `${task.name}.${task.frameworkLabel}.${catalog.domain}.`;
    const srv = `_${task.name}._tcp.${task.frameworkLabel}.${catalog.domain}.`;
    list.push({
      name: task.name,
      id: task.id,
      records: [{ name: a, host: task.ip!, rtype: 'A' }, ...task.ports.map((p) => ({ name: srv, host: `${task.node}.node.${catalog.domain}.:${p}`, rtype: 'SRV' }))],
    });
  }
  return { frameworks: [...frameworks].map(([name, tasks]) => ({ name, tasks })) };
}

function taskJson(t: CatalogTask) {
  return {
    id: t.id,
    host: t.host,
    node: t.node,
    ip: t.ip ?? null,
    ports: t.ports,
    healthy: t.healthy ?? null,
    published: t.published,
    ...(t.reason ? { reason: t.reason } : {}),
  };
}

/** Corral's `/api/v1/services`: every service with a RUNNING task, its DNS names, and each task with its health and whether it is published. */
export function serviceList(catalog: Catalog) {
  const byName = new Map<string, CatalogTask[]>();
  for (const t of catalog.tasks) {
    const key = `${t.name}.${t.frameworkLabel}`;
    byName.set(key, [...(byName.get(key) ?? []), t]);
  }
  const services = [...byName].map(([key, tasks]) => ({
    name: `${key}.${catalog.domain}`,
    srv: `_${tasks[0]!.name}._tcp.${tasks[0]!.frameworkLabel}.${catalog.domain}`,
    appId: tasks[0]!.appId ?? null,
    framework: tasks[0]!.framework,
    instances: tasks.length,
    published: tasks.filter((t) => t.published).length,
    tasks: tasks.map(taskJson),
  }));
  return { domain: catalog.domain, services };
}

/** A Corral node whose own `/metrics` Prometheus should scrape. */
export interface MetricsNode {
  /** host:port of its HTTP API. */
  address: string;
  hostname: string;
  id: string;
}

/** The label a task sets to be scraped: the index of the port its metrics are served on. */
export const METRICS_PORT_LABEL = 'CORRAL_METRICS_PORT_INDEX';
/** Optional: the path of its metrics (default /metrics). */
export const METRICS_PATH_LABEL = 'CORRAL_METRICS_PATH';

export interface TargetGroup {
  targets: string[];
  labels: Record<string, string>;
}

/**
 * Prometheus's http_sd_configs format: every RUNNING task that opts in with CORRAL_METRICS_PORT_INDEX
 * (healthy or not: an unhealthy task's metrics tell why) and every Corral node's own /metrics.
 * `kind` keeps only tasks or only nodes (nodes need the API token to be scraped, tasks must not get it).
 */
export function prometheusTargets(catalog: Catalog, nodes: readonly MetricsNode[], kind?: 'task' | 'node'): TargetGroup[] {
  const out: TargetGroup[] = [];
  if (kind !== 'task') {
    for (const n of nodes) out.push({ targets: [n.address], labels: { __metrics_path__: '/metrics', corral_kind: 'node', node: n.hostname, node_id: n.id } });
  }
  if (kind !== 'node') {
    for (const t of catalog.tasks) {
      const raw = t.labels[METRICS_PORT_LABEL];
      if (raw === undefined || t.ip === undefined || !/^\d+$/.test(raw)) continue;
      const port = t.ports[Number(raw)];
      if (port === undefined) continue;
      const path = t.labels[METRICS_PATH_LABEL];
      out.push({
        targets: [`${t.ip}:${port}`],
        labels: { __metrics_path__: path && path.startsWith('/') ? path : '/metrics', corral_kind: 'task', app: t.appId ?? t.name, task: t.id, node: t.host, framework: t.framework },
      });
    }
  }
  return out;
}

// Domain types of discovery: what it tracks of the cluster (folded from operator events) and the
// catalog of names it publishes (a pure function of that state). Times in ms since the epoch,
// TTLs in seconds.
import type { TaskView } from '../kernel/sdk/operator';

/** What the framework that launched a task knows and the operator's TaskView does not carry. */
export interface TaskHint {
  /** The app the task is an instance of (init's app id, e.g. `/shop/web`). */
  appId?: string;
  /**
   * The task has health checks. Its `healthy` is then undefined until the first result arrives,
   * and a task whose health is not known yet is not published.
   */
  healthChecked: boolean;
  /** Host ports in the app's port order (TaskView only has them as sorted ranges). */
  ports?: readonly number[];
}

export interface TrackedTask {
  view: TaskView;
  hint: TaskHint | undefined;
}

export interface TrackedAgent {
  id: string;
  hostname: string;
  /** False once the master has lost the agent (AGENT_REMOVED, or a view of status `unreachable`). */
  reachable: boolean;
}

/** The master this node's DNS names `leader.`, `master.` and `ns1.` after. */
export interface MasterEndpoint {
  hostname: string;
  /** IPv4 address clients reach it at. */
  ip: string;
  /** Port of its HTTP API (for `_leader._tcp.`), if it serves one. */
  apiPort?: number;
}

/** Everything discovery knows of the cluster; folded from the master's snapshot and events (state.ts). */
export interface DiscoveryState {
  /** Tasks that have not ended, by id. */
  tasks: Map<string, TrackedTask>;
  agents: Map<string, TrackedAgent>;
  /** Framework id → name. */
  frameworks: Map<string, string>;
  /** Hostname → IPv4 address, as the shell resolved it (IPv4 literals need no entry). */
  hostAddresses: Map<string, string>;
  leader: MasterEndpoint | undefined;
}

export interface DiscoverySettings {
  /** The zone, lower case without a trailing dot (default `corral`). */
  domain: string;
  /** TTL of every record and of negative answers (seconds). */
  ttl: number;
}

export interface SrvRecord {
  priority: number;
  weight: number;
  port: number;
  /** A name of the zone that has an A record (the task's node). */
  target: string;
}

/** The records of one name; a name with none of them exists (NOERROR, no data) but answers nothing. */
export interface NameRecords {
  a: string[];
  srv: SrvRecord[];
  ns: string[];
  soa: boolean;
}

/** Why a running task is not in DNS (undefined: it is). */
export type UnpublishedReason = 'unhealthy' | 'health_unknown' | 'agent_unreachable' | 'no_address' | 'no_name';

/** A running task as the catalog sees it: published or, with the reason, not. */
export interface CatalogTask {
  id: string;
  /** DNS label of the task's app (`<name>` in `<name>.<framework>.<domain>`). */
  name: string;
  appId: string | undefined;
  frameworkId: string;
  framework: string;
  /** DNS label of the framework. */
  frameworkLabel: string;
  agentId: string;
  host: string;
  /** DNS label of the node (`<node>.node.<domain>`). */
  node: string;
  ip: string | undefined;
  ports: number[];
  healthy: boolean | undefined;
  labels: Record<string, string>;
  published: boolean;
  reason: UnpublishedReason | undefined;
}

export interface CatalogNode {
  id: string;
  hostname: string;
  /** DNS label (`<label>.node.<domain>`). */
  label: string;
  ip: string | undefined;
  reachable: boolean;
}

/** The published names, built from a DiscoveryState in one pass (catalog.ts). */
export interface Catalog {
  domain: string;
  ttl: number;
  /** SOA serial: increases with every rebuild. */
  serial: number;
  /** Fully qualified lower-case name without the trailing dot → its records. */
  records: Map<string, NameRecords>;
  /** Every RUNNING task, published or not, sorted by name then id. */
  tasks: CatalogTask[];
  nodes: CatalogNode[];
  leader: MasterEndpoint | undefined;
}

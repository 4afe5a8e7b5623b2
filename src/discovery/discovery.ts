// The discovery role's shell: follows the master's operator events (pushed, not polled), folds them
// into the state (state.ts), rebuilds the catalog a few milliseconds after a change (catalog.ts),
// hands it to the DNS answerer, resolves agent host names to addresses, and runs the DNS server.
//
// Under task churn an event costs O(1) besides the rebuild it schedules: it resolves only the host
// it brings; every agent and task is scanned for a new snapshot, or when a host that failed may be
// tried again (at most once per RESOLVE_RETRY_MS). A rebuild is O(live tasks), so after one that
// took B ms (injected clock) the next comes no sooner than max(rebuildDelayMs, min(10 × B, 250)) ms
// after it ended (nextRebuildDelay): rebuilding stays under ~10 % of the thread, DNS lags a change
// by at most 250 ms, and catalog() (HTTP lookups) rebuilds at once when a change is pending.
import { lookup } from 'node:dns/promises';
import type { FrameworkView, OperatorEvent, OperatorEventListener, TaskView } from '../kernel/sdk/operator';
import type { Clock, TimerHandle } from '../shared/clock';
import type { Logger } from '../shared/logger';
import { DnsAnswerer } from './answer';
import { buildCatalog } from './catalog';
import { parseUpstream, UpstreamForwarder } from './forward';
import { isIpv4 } from './names';
import { DnsServer } from './server';
import { applyHostAddress, applyOperatorEvent, newHostsOf, stateFromSnapshot, unresolvedHosts } from './state';
import type { Catalog, DiscoverySettings, DiscoveryState, MasterEndpoint, TaskHint } from './types';

/** What discovery reads of the master: its operator view and event stream. */
export interface DiscoveryMaster {
  onEvent(listener: OperatorEventListener): () => void;
  taskViews(): TaskView[];
  agentViews(): Array<{ id: string; hostname: string; status?: string }>;
  frameworkViews(): FrameworkView[];
  /**
   * Where the view can be replaced wholesale (a node's copy of the master's view, after a new
   * snapshot): the listener reads the views again. An in-process master has none.
   */
  onReset?(listener: () => void): () => void;
}

export interface DiscoveryOptions {
  master: DiscoveryMaster;
  settings: DiscoverySettings;
  /** DNS server address; undefined runs no DNS server (the catalog and HTTP lookup only). */
  listen: { host: string; port: number } | undefined;
  /** IP[:PORT] of resolvers for names outside the zone; empty: such names are REFUSED. */
  upstreams: readonly string[];
  leader: MasterEndpoint | undefined;
  /** What the launching framework knows of a task (its app, whether it has health checks, port order). */
  hint?: (taskId: string) => TaskHint | undefined;
  /** A host name's IPv4 address; the system resolver by default. */
  resolveHost?: (host: string) => Promise<string | undefined>;
  clock: Clock;
  logger: Logger;
  /** Changes within this many ms are folded into one rebuild (more after a slow rebuild: nextRebuildDelay). */
  rebuildDelayMs?: number;
}

const REBUILD_DELAY_MS = 10;
/** Rebuilds are spaced at least this many times their own duration (≤ 1/11 of the thread)… */
const REBUILD_COST_FACTOR = 10;
/** …but never more than this many ms apart, whatever a rebuild costs (how stale DNS may get). */
const MAX_REBUILD_DELAY_MS = 250;
/** A host name that did not resolve is tried again after this long (ms). */
const RESOLVE_RETRY_MS = 30_000;

export async function systemResolveHost(host: string): Promise<string | undefined> {
  if (host === 'localhost') return '127.0.0.1';
  try {
    return (await lookup(host, { family: 4 })).address;
  } catch {
    return undefined;
  }
}

/**
 * How long (ms) to wait before rebuilding after a change: the last rebuild took `lastBuildMs` and
 * ended `sinceBuildMs` ago; rebuilds are at least max(minDelayMs, min(10 × lastBuildMs, 250)) ms
 * apart, and a change always waits `minDelayMs` so that a burst is folded into one rebuild.
 */
export function nextRebuildDelay(lastBuildMs: number, minDelayMs: number, sinceBuildMs = 0): number {
  const spacing = Math.min(REBUILD_COST_FACTOR * Math.max(0, lastBuildMs), MAX_REBUILD_DELAY_MS);
  return Math.max(minDelayMs, spacing - sinceBuildMs);
}

export class Discovery {
  private state: DiscoveryState;
  private current: Catalog;
  readonly answerer: DnsAnswerer;
  private readonly forwarder: UpstreamForwarder;
  private server: DnsServer | undefined;
  private unsubscribe: (() => void) | undefined;
  private unsubscribeReset: (() => void) | undefined;
  private timer: TimerHandle | undefined;
  private dirty = false;
  private serial = 0;
  /** The last rebuild's duration (ms) and when it ended (clock ms). */
  private lastBuildMs = 0;
  private lastBuiltAt = -Infinity;
  private readonly resolving = new Set<string>();
  /** Host names that did not resolve → when; an entry older than RESOLVE_RETRY_MS is as good as none. */
  private readonly failedAt = new Map<string, number>();
  /** When the first of failedAt's hosts may be tried again (clock ms). */
  private retryDueAt = Infinity;
  private running = false;

  constructor(private readonly opts: DiscoveryOptions) {
    this.state = stateFromSnapshot({ tasks: [], agents: [], frameworks: [] }, () => undefined, opts.leader);
    this.current = this.build();
    const upstreams = opts.upstreams.map(parseUpstream).filter((u) => u !== undefined);
    this.forwarder = new UpstreamForwarder({ upstreams, clock: opts.clock, logger: opts.logger });
    this.answerer = new DnsAnswerer(this.current, { forwardOutside: this.forwarder.enabled });
  }

  /** The DNS server's bound address (undefined when it runs none or before start). */
  get dnsAddress(): { host: string; port: number } | undefined {
    return this.server?.address;
  }

  get settings(): DiscoverySettings {
    return this.opts.settings;
  }

  get upstreams(): readonly string[] {
    return this.opts.upstreams;
  }

  /** The catalog as of now (rebuilt first if a change is still pending). */
  catalog(): Catalog {
    if (this.dirty) this.rebuild();
    return this.current;
  }

  /** The leading master moved or its API port became known. */
  setLeader(leader: MasterEndpoint): void {
    this.state.leader = leader;
    this.changed();
  }

  /** Subscribes to the master, reads its snapshot, builds the first catalog and binds the DNS server. Idempotent. */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    const hint = (id: string) => this.opts.hint?.(id);
    // Subscribe before reading the snapshot: an event in between is folded twice, never lost.
    this.unsubscribe = this.opts.master.onEvent((e) => this.onEvent(e));
    this.unsubscribeReset = this.opts.master.onReset?.(() => this.reload());
    const m = this.opts.master;
    this.state = stateFromSnapshot({ tasks: m.taskViews(), agents: m.agentViews(), frameworks: m.frameworkViews() }, hint, this.state.leader ?? this.opts.leader);
    this.resolveAllHosts();
    this.rebuild();
    if (this.opts.listen) {
      this.server = new DnsServer({ host: this.opts.listen.host, port: this.opts.listen.port, answerer: this.answerer, forwarder: this.forwarder, logger: this.opts.logger });
      try {
        await this.server.start();
      } catch (err) {
        await this.stop();
        throw err;
      }
      this.opts.logger.info({ event: 'dns_started', address: this.server.address, domain: this.opts.settings.domain }, 'DNS server up');
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    this.unsubscribeReset?.();
    this.unsubscribeReset = undefined;
    this.timer?.cancel();
    this.timer = undefined;
    this.forwarder.stop();
    await this.server?.stop();
    this.server = undefined;
  }

  /** The master's view was replaced: state from it again, keeping the leader and the resolved addresses. */
  private reload(): void {
    const m = this.opts.master;
    const { leader, hostAddresses } = this.state;
    this.state = stateFromSnapshot({ tasks: m.taskViews(), agents: m.agentViews(), frameworks: m.frameworkViews() }, (id) => this.opts.hint?.(id), leader);
    this.state.hostAddresses = hostAddresses;
    this.resolveAllHosts();
    this.changed();
  }

  private onEvent(event: OperatorEvent): void {
    const hint = event.type === 'TASK_ADDED' || event.type === 'TASK_UPDATED' ? this.opts.hint?.(event.task.id) : undefined;
    if (applyOperatorEvent(this.state, event, hint)) this.changed();
    if (event.type !== 'AGENT_ADDED' && event.type !== 'TASK_ADDED') return;
    // A host that failed may be tried again: scan everything once, as for a snapshot.
    if (this.opts.clock.now() >= this.retryDueAt) this.resolveAllHosts();
    else this.resolveHosts(newHostsOf(this.state, event, isIpv4));
  }

  private changed(): void {
    this.dirty = true;
    if (this.timer || !this.running) return;
    const delay = nextRebuildDelay(this.lastBuildMs, this.opts.rebuildDelayMs ?? REBUILD_DELAY_MS, this.opts.clock.now() - this.lastBuiltAt);
    this.timer = this.opts.clock.setTimeout(() => {
      this.timer = undefined;
      if (this.dirty) this.rebuild();
    }, delay);
  }

  private build(): Catalog {
    // SOA serial: seconds since the epoch, but always one more than the last.
    this.serial = Math.max(this.serial + 1, Math.floor(this.opts.clock.now() / 1000));
    return buildCatalog(this.state, this.opts.settings, this.serial);
  }

  private rebuild(): void {
    const started = this.opts.clock.now();
    this.dirty = false;
    this.current = this.build();
    this.answerer.setCatalog(this.current);
    this.lastBuiltAt = this.opts.clock.now();
    this.lastBuildMs = this.lastBuiltAt - started;
  }

  /** Resolves every host name in the state without an address: O(live tasks), for a snapshot or a due retry. */
  private resolveAllHosts(): void {
    const now = this.opts.clock.now();
    this.retryDueAt = Infinity;
    for (const [host, at] of this.failedAt) {
      if (now - at >= RESOLVE_RETRY_MS) this.failedAt.delete(host);
      else this.retryDueAt = Math.min(this.retryDueAt, at + RESOLVE_RETRY_MS);
    }
    this.resolveHosts(unresolvedHosts(this.state, isIpv4));
  }

  /** Starts resolving `hosts` (each needs an address), but not one in flight or that failed less than RESOLVE_RETRY_MS ago. */
  private resolveHosts(hosts: readonly string[]): void {
    const now = this.opts.clock.now();
    const resolve = this.opts.resolveHost ?? systemResolveHost;
    for (const host of hosts) {
      if (this.resolving.has(host) || now - (this.failedAt.get(host) ?? -Infinity) < RESOLVE_RETRY_MS) continue;
      this.resolving.add(host);
      void resolve(host)
        .catch(() => undefined)
        .then((ip) => {
          this.resolving.delete(host);
          if (ip === undefined) {
            const failed = this.opts.clock.now();
            this.failedAt.set(host, failed);
            this.retryDueAt = Math.min(this.retryDueAt, failed + RESOLVE_RETRY_MS);
            this.opts.logger.warn({ event: 'dns_host_unresolved', host }, 'a node name does not resolve to an IPv4 address: its tasks are not in DNS (give the agent --hostname with a resolvable name or its IP)');
          } else this.failedAt.delete(host);
          if (this.running && applyHostAddress(this.state, host, ip)) this.changed();
        });
    }
  }
}

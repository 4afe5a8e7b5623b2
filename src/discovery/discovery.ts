// The discovery role's shell: follows the master's operator events (pushed, not polled), folds them
// into the state (state.ts), rebuilds the catalog a few milliseconds after a change (catalog.ts),
// hands it to the DNS answerer, resolves agent host names to addresses, and runs the DNS server.
import { lookup } from 'node:dns/promises';
import type { FrameworkView, OperatorEvent, OperatorEventListener, TaskView } from '../kernel/sdk/operator';
import type { Clock, TimerHandle } from '../shared/clock';
import type { Logger } from '../shared/logger';
import { DnsAnswerer } from './answer';
import { buildCatalog } from './catalog';
import { parseUpstream, UpstreamForwarder } from './forward';
import { isIpv4 } from './names';
import { DnsServer } from './server';
import { applyHostAddress, applyOperatorEvent, stateFromSnapshot, unresolvedHosts } from './state';
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
  /** Changes within this many ms are folded into one rebuild. */
  rebuildDelayMs?: number;
}

const REBUILD_DELAY_MS = 10;
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
  private readonly resolving = new Set<string>();
  private readonly failedAt = new Map<string, number>();
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
    this.resolveHosts();
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
    this.resolveHosts();
    this.changed();
  }

  private onEvent(event: OperatorEvent): void {
    const hint = event.type === 'TASK_ADDED' || event.type === 'TASK_UPDATED' ? this.opts.hint?.(event.task.id) : undefined;
    if (applyOperatorEvent(this.state, event, hint)) this.changed();
    if (event.type === 'AGENT_ADDED' || event.type === 'TASK_ADDED') this.resolveHosts();
  }

  private changed(): void {
    this.dirty = true;
    if (this.timer || !this.running) return;
    this.timer = this.opts.clock.setTimeout(() => {
      this.timer = undefined;
      if (this.dirty) this.rebuild();
    }, this.opts.rebuildDelayMs ?? REBUILD_DELAY_MS);
  }

  private build(): Catalog {
    // SOA serial: seconds since the epoch, but always one more than the last.
    this.serial = Math.max(this.serial + 1, Math.floor(this.opts.clock.now() / 1000));
    return buildCatalog(this.state, this.opts.settings, this.serial);
  }

  private rebuild(): void {
    this.dirty = false;
    this.current = this.build();
    this.answerer.setCatalog(this.current);
  }

  private resolveHosts(): void {
    const now = this.opts.clock.now();
    const resolve = this.opts.resolveHost ?? systemResolveHost;
    for (const host of unresolvedHosts(this.state, isIpv4)) {
      if (this.resolving.has(host) || now - (this.failedAt.get(host) ?? -Infinity) < RESOLVE_RETRY_MS) continue;
      this.resolving.add(host);
      void resolve(host)
        .catch(() => undefined)
        .then((ip) => {
          this.resolving.delete(host);
          if (ip === undefined) {
            this.failedAt.set(host, this.opts.clock.now());
            this.opts.logger.warn({ event: 'dns_host_unresolved', host }, 'a node name does not resolve to an IPv4 address: its tasks are not in DNS (give the agent --hostname with a resolvable name or its IP)');
          } else this.failedAt.delete(host);
          if (this.running && applyHostAddress(this.state, host, ip)) this.changed();
        });
    }
  }
}

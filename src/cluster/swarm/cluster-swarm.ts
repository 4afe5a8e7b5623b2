// The node's place in the cluster swarm: its DHT node (dht.ts), a hyperswarm on the topic derived
// from the cluster token, and one authenticated PeerLink per peer. Only peers that proved the token
// are surfaced ('peer'); the rest are dropped and banned (bans.ts), and hyperswarm's firewall hook
// refuses banned keys before any handshake.
//
// Discovery: every node announces and looks up the topic, on the schedule of refresh-schedule.ts
// (fast while warming up or alone, every refreshMs after). A lost peer is redialed by key for
// redialForMs. Masters also dial the peers that announced to them (see locallyAnnounced).
import { EventEmitter } from 'node:events';
import Hyperswarm from 'hyperswarm';
import type HyperDHT from 'hyperdht';
import { systemClock, type Clock, type TimerHandle } from '../../shared/clock';
import { silentLogger, type Logger } from '../../shared/logger';
import { BanList, type BanEntry } from './bans';
import { agentAddress, bindDht, checkUdpPortFree, createDhtNode, locallyAnnounced, masterAddress } from './dht';
import { HandlerRegistry } from './handlers';
import { PeerLink } from './peer-link';
import { PeerSet } from './peer-set';
import { RefreshSchedule } from './refresh-schedule';
import {
  DEFAULT_SWARM_TUNING,
  type AuthFailure,
  type ClusterAddress,
  type ClusterSwarmEvents,
  type ClusterSwarmOptions,
  type ClusterSwarmStatus,
  type DatagramChannel,
  type PeerConnection,
  type SwarmMessageHandler,
  type SwarmRequestHandler,
  type SwarmTuning,
} from './types';

/** Longest wait for a graceful leave (unannounce) before the swarm is torn down anyway, in ms. */
const STOP_GRACE_MS = 1000;
/** Longest pause between refreshes during warm-up or while the node has no peer, in ms. */
const WARM_REFRESH_MAX_MS = 5000;

export class ClusterSwarm extends EventEmitter<ClusterSwarmEvents> {
  readonly nodeId: string;
  readonly role: 'master' | 'agent';
  private readonly tuning: SwarmTuning;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly topic: Buffer;
  private readonly authKey: Buffer;
  private readonly handlers: HandlerRegistry;
  private readonly bans = new BanList();
  private readonly peerSet = new PeerSet();
  /** Peers being redialed by key → when the dialing started (ms). */
  private readonly dialing = new Map<string, number>();
  /** Keys found in this master's own record store → when last dialed for that reason (ms). */
  private readonly localDials = new Map<string, number>();
  private swarm: Hyperswarm | undefined;
  private discovery: Hyperswarm.Discovery | undefined;
  private ticker: TimerHandle | undefined;
  private schedule: RefreshSchedule | undefined;
  private state: 'new' | 'running' | 'stopping' | 'stopped' = 'new';
  private starting: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;

  constructor(private readonly opts: ClusterSwarmOptions) {
    super();
    this.nodeId = opts.identity.nodeId;
    this.role = opts.role;
    this.tuning = Object.freeze({ ...DEFAULT_SWARM_TUNING, ...opts.tuning });
    this.clock = opts.clock ?? systemClock;
    this.log = (opts.logger ?? silentLogger()).child({ component: 'cluster-swarm' });
    this.topic = opts.token.topic();
    this.authKey = opts.token.authKey();
    this.handlers = new HandlerRegistry(this.log);
  }

  /** Binds the DHT node and joins the topic. Resolves before any peer is found. Idempotent. */
  start(): Promise<void> {
    this.starting ??= this.doStart();
    return this.starting;
  }

  /** Leaves the topic and closes every connection and the DHT node. Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  /** The authenticated peers. */
  peers(): PeerConnection[] {
    return this.peerSet.list();
  }

  isConnected(nodeId: string): boolean {
    return this.peerSet.has(nodeId);
  }

  /** When anything last arrived from the peer over its open connection (ms, the swarm's clock); undefined when not connected. */
  lastHeard(nodeId: string): number | undefined {
    return this.peerSet.lastHeard(nodeId);
  }

  /** Sends a best-effort datagram; false when the peer is not connected. */
  send(nodeId: string, channel: DatagramChannel, payload: Uint8Array): boolean {
    return this.peerSet.send(nodeId, channel, payload);
  }

  onMessage(channel: DatagramChannel, handler: SwarmMessageHandler): () => void {
    return this.handlers.onDatagram(channel, handler);
  }

  /** Asks `nodeId`; rejects with a SwarmRequestError ('unreachable', 'timeout', 'no-responder', 'remote-error', 'closed'). */
  request(nodeId: string, method: string, payload: Uint8Array, timeoutMs = this.tuning.requestTimeoutMs): Promise<Buffer> {
    return this.peerSet.request(nodeId, method, payload, timeoutMs);
  }

  /** Registers the responder to `method` (one per method). */
  handle(method: string, handler: SwarmRequestHandler): () => void {
    return this.handlers.onRequest(method, handler);
  }

  /** Sends a one-way message; false when the peer is not connected. */
  notify(nodeId: string, method: string, payload: Uint8Array): boolean {
    return this.peerSet.notify(nodeId, method, payload);
  }

  onNotify(method: string, handler: SwarmMessageHandler): () => void {
    return this.handlers.onNotify(method, handler);
  }

  /** Dials a peer by node id (e.g. one membership told us about) and keeps redialing for redialForMs. */
  connect(nodeId: string): void {
    if (!/^[0-9a-f]{64}$/.test(nodeId) || nodeId === this.nodeId) return;
    if (this.state !== 'running' || this.isConnected(nodeId) || this.bans.has(nodeId, this.clock.now())) return;
    if (this.dialing.has(nodeId)) return;
    this.dialing.set(nodeId, this.clock.now());
    this.swarm?.joinPeer(Buffer.from(nodeId, 'hex'));
  }

  /** Stops redialing a peer (membership declared it dead or gone). An open connection stays. */
  forget(nodeId: string): void {
    if (this.dialing.delete(nodeId)) this.swarm?.leavePeer(Buffer.from(nodeId, 'hex'));
  }

  /** Refuses `nodeId` for `ms` (default: until restart) and drops its connections. */
  ban(nodeId: string, reason: string, ms = Infinity): void {
    this.addBan(nodeId, reason, ms);
    for (const conn of this.swarm?.connections ?? []) {
      if (conn.remotePublicKey.toString('hex') === nodeId) conn.destroy();
    }
  }

  /** Records a ban and drops the peer's authenticated link; unproven connections close themselves. */
  private addBan(nodeId: string, reason: string, ms: number): void {
    this.bans.add(nodeId, ms === Infinity ? Infinity : this.clock.now() + ms, reason);
    this.forget(nodeId);
    this.peerSet.close(nodeId);
    this.log.warn({ event: 'cluster.peer.banned', nodeId, reason, ms }, `refusing peer ${nodeId.slice(0, 12)}: ${reason}`);
  }

  banned(): BanEntry[] {
    return this.bans.list(this.clock.now());
  }

  status(): ClusterSwarmStatus {
    const dht = this.swarm?.dht;
    return {
      nodeId: this.nodeId,
      role: this.role,
      peers: this.peerSet.size,
      dialing: this.dialing.size,
      banned: this.bans.list(this.clock.now()).length,
      persistent: dht !== undefined && !dht.ephemeral,
      dhtNodes: dht?.toArray().map((a) => ({ host: a.host, port: a.port })) ?? [],
    };
  }

  /** The UDP address the DHT node is bound to, once started. */
  address(): ClusterAddress | null {
    const addr = this.swarm?.dht.address();
    return addr ? { host: addr.host, port: addr.port } : null;
  }

  private async doStart(): Promise<void> {
    if (this.state !== 'new') throw new Error('a ClusterSwarm cannot be started after stop()');
    const { role, join, host, bindHost, port, identity } = this.opts;
    const self = role === 'master' ? masterAddress(host, port) : agentAddress(host, port);
    // Checked first because a failed bind inside hyperdht leaves it half torn down.
    if (self !== undefined) await checkUdpPortFree(bindHost ?? self.host, self.port);
    const dht = createDhtNode({ role, join, host, bindHost, port, keyPair: identity.keyPair, keepAliveMs: this.tuning.keepAliveMs });
    await bindDht(dht, self !== undefined ? `${bindHost ?? self.host}:${self.port}` : (bindHost ?? host ?? '0.0.0.0'));
    if (this.stopping) {
      await dht.destroy();
      return;
    }
    // Retries of a dropped connection: hyperswarm's defaults (1 s, 5 s, 15 s, 10 min) suit the
    // internet; a datacenter peer that went away briefly should be back within seconds.
    const swarm = new Hyperswarm({ keyPair: identity.keyPair, dht, maxPeers: this.tuning.maxPeers, firewall: (key) => this.refuses(key), backoffs: [1000, 2000, 5000, 15_000] });
    this.swarm = swarm;
    swarm.on('connection', (conn) => void this.onConnection(conn));
    this.discovery = swarm.join(this.topic, { server: true, client: true });
    this.state = 'running';
    this.schedule = new RefreshSchedule({ firstMs: this.tuning.isolatedRefreshMs, warmMaxMs: WARM_REFRESH_MAX_MS, steadyMs: this.tuning.refreshMs }, this.clock.now());
    this.ticker = this.clock.setInterval(() => this.tick(), this.tuning.isolatedRefreshMs);
    const addr = dht.address();
    this.log.info({ event: 'cluster.swarm.started', nodeId: this.nodeId, role, address: addr && `${addr.host}:${addr.port}`, join: join.map((a) => `${a.host}:${a.port}`) }, 'joined the cluster swarm');
  }

  private async doStop(): Promise<void> {
    if (this.starting) await this.starting.catch(() => undefined);
    this.state = 'stopping';
    this.ticker?.cancel();
    this.peerSet.closeAll();
    const swarm = this.swarm;
    if (swarm !== undefined) {
      // A graceful destroy unannounces from the masters; if they are gone that only times out, so
      // after the grace the DHT's sockets are closed under it, which fails what is still pending.
      const graceful = swarm.destroy().catch(() => undefined);
      if (!(await this.within(graceful, STOP_GRACE_MS))) {
        await swarm.dht.destroy({ force: true }).catch(() => undefined);
        await this.within(graceful, STOP_GRACE_MS);
      }
    }
    this.state = 'stopped';
    this.log.info({ event: 'cluster.swarm.stopped', nodeId: this.nodeId }, 'left the cluster swarm');
  }

  /** hyperswarm's firewall hook: true refuses the key (hyperswarm then remembers it as banned). */
  private refuses(remotePublicKey: Buffer): boolean {
    const nodeId = remotePublicKey.toString('hex');
    if (!this.bans.has(nodeId, this.clock.now())) return false;
    this.log.debug({ event: 'cluster.peer.refused', nodeId }, `firewall refused banned peer ${nodeId.slice(0, 12)}`);
    this.emit('refused', nodeId);
    return true;
  }

  /** True if `promise` settles within `ms` of real time: stop() must end even under a fake clock. */
  private within(promise: Promise<unknown>, ms: number): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      const timer = systemClock.setTimeout(() => resolve(false), ms);
      void promise.then(() => {
        timer.cancel();
        resolve(true);
      });
    });
  }

  private async onConnection(conn: HyperDHT.SecretStream): Promise<void> {
    const nodeId = conn.remotePublicKey.toString('hex');
    conn.on('error', (err: Error) => this.log.debug({ event: 'cluster.connection.error', nodeId, err: err.message }, 'connection error'));
    conn.setKeepAlive(this.tuning.keepAliveMs);
    conn.setTimeout(this.tuning.streamTimeoutMs);
    const handshakeHash = conn.handshakeHash ?? ((await conn.opened) ? conn.handshakeHash : null);
    if (handshakeHash === null || this.state !== 'running') {
      conn.destroy();
      return;
    }
    const link = new PeerLink({
      stream: conn,
      authKey: this.authKey,
      handshakeHash,
      localPublicKey: this.opts.identity.keyPair.publicKey,
      remotePublicKey: conn.remotePublicKey,
      clock: this.clock,
      authTimeoutMs: this.tuning.authTimeoutMs,
      handlers: this.handlers.forPeer(nodeId),
    });
    link.on('authenticated', () => this.onAuthenticated(link, conn.isInitiator));
    link.on('rejected', (reason, detail) => this.onRejected(nodeId, reason, detail));
    link.on('close', () => this.onLinkClosed(link));
  }

  private onAuthenticated(link: PeerLink, initiator: boolean): void {
    if (this.state !== 'running') return link.close();
    const nodeId = link.remoteNodeId;
    const wasIsolated = this.peerSet.size === 0;
    const conn = this.peerSet.add(link, initiator, this.clock.now());
    this.forget(nodeId);
    // The first peer means the DHT works now: announce again at once, as the last announce may
    // have gone nowhere, and look for the others.
    if (wasIsolated) this.refresh();
    this.log.info({ event: 'cluster.peer.up', nodeId, initiator, version: link.version }, `peer ${nodeId.slice(0, 12)} authenticated`);
    this.emit('peer', conn);
  }

  private onRejected(nodeId: string, reason: AuthFailure, detail: string): void {
    if (reason === 'closed') {
      this.log.debug({ event: 'cluster.peer.unproven', nodeId }, detail);
      return;
    }
    this.log.warn({ event: 'cluster.peer.rejected', nodeId, reason }, `refused peer ${nodeId.slice(0, 12)}: ${detail}`);
    // The rejected link itself lingers a moment so our hello still reaches the peer (peer-link.ts).
    if (reason === 'bad-proof' || reason === 'protocol') this.addBan(nodeId, reason, Infinity);
    // A stall on a second connection of a peer that is up is no reason to cut the first one.
    else if (!this.isConnected(nodeId)) this.addBan(nodeId, reason, this.tuning.softBanMs);
    this.emit('rejected', nodeId, reason, detail);
  }

  private onLinkClosed(link: PeerLink): void {
    const nodeId = link.remoteNodeId;
    if (!this.peerSet.remove(link)) return;
    this.log.info({ event: 'cluster.peer.down', nodeId }, `peer ${nodeId.slice(0, 12)} disconnected`);
    this.emit('peer-down', nodeId);
    if (this.state === 'running') {
      if (this.peerSet.size === 0) this.schedule?.isolated(this.clock.now());
      this.connect(nodeId);
    }
  }

  /** Housekeeping every isolatedRefreshMs: ban expiry, redial expiry, masters' local records, refresh. */
  private tick(): void {
    const swarm = this.swarm;
    if (this.state !== 'running' || swarm === undefined) return;
    const now = this.clock.now();
    for (const nodeId of this.bans.expire(now)) swarm.peers.get(nodeId)?.ban(false);
    for (const [nodeId, since] of this.dialing) {
      if (now - since >= this.tuning.redialForMs) this.forget(nodeId);
    }
    if (this.role === 'master') {
      // A record outlives its node by minutes: dial each key once, and again only after a while.
      for (const key of locallyAnnounced(swarm.dht, this.topic)) {
        const nodeId = key.toString('hex');
        const last = this.localDials.get(nodeId);
        if (this.isConnected(nodeId) || (last !== undefined && now - last < this.tuning.redialForMs)) continue;
        this.localDials.set(nodeId, now);
        this.connect(nodeId);
      }
    }
    if (this.schedule?.isDue(now)) this.refresh();
  }

  /** Looks the topic up and announces again (and the node's own key while warming up). */
  private refresh(): void {
    const swarm = this.swarm;
    if (this.state !== 'running' || swarm === undefined || this.schedule === undefined) return;
    if (this.schedule.refreshed(this.clock.now(), this.peerSet.size).reannounce) swarm.server.refresh();
    this.discovery?.refresh().catch((err: Error) => this.log.debug({ event: 'cluster.discovery.failed', err: err.message }, 'topic refresh failed'));
  }
}

// The cluster's own DHT, which never touches hyperdht's public bootstrap nodes: every node is given
// the --join list as its bootstrap, always explicitly.
//
// A master runs a persistent node (ephemeral: false, firewalled: false) on host:port built with
// hyperdht's bootstrapper, which knows its own address up front; so it becomes persistent even when
// it is the first node up and nobody can tell it its address, and its DHT id (derived from
// host:port) survives a restart. An agent runs an ephemeral node: it routes nothing and stores
// nothing, and finds everything through the masters.
//
// Two agents reach each other either directly or by holepunching through a master. An agent given
// the address other machines reach it at (--cluster-host) binds there with firewalled: false, so
// hyperdht tells peers it is open and they connect straight to it. Without it, the agent is
// firewalled (reachability unknown) and hyperdht holepunches, which needs each side to classify
// its NAT from at least 3 address samples, taken by pinging DHT nodes (lib/nat.js): an agent's
// routing table holds only the masters, so with fewer than 3 masters the punch aborts, and on a
// flat network it may abort after a fast-open packet already "connected" the other side to a
// socket that is then closed (the stream times out). On one machine (127.0.0.1) hyperdht's LAN
// shortcut connects them anyway.
import { randomInt } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { isIPv4 } from 'node:net';
import HyperDHT from 'hyperdht';
import { CorralError } from '../../shared/errors';
import { DEFAULT_CLUSTER_PORT, type ClusterAddress } from './types';

/** Agents pick a random port in the dynamic range; hyperdht moves on if it is taken. */
const AGENT_PORTS: readonly [number, number] = [49152, 65529];
const HOSTNAME = /^(?=.{1,253}$)[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$/;

/** Parses `host:port` or `host` (port 49737). Hosts are IPv4 addresses or DNS names. */
export function parseClusterAddress(text: string, defaultPort = DEFAULT_CLUSTER_PORT): ClusterAddress {
  const trimmed = text.trim();
  const colon = trimmed.lastIndexOf(':');
  const host = colon < 0 ? trimmed : trimmed.slice(0, colon);
  const portText = colon < 0 ? String(defaultPort) : trimmed.slice(colon + 1);
  const port = /^\d{1,5}$/.test(portText) ? Number(portText) : NaN;
  if (!(port >= 1 && port <= 65535)) throw new CorralError('CLUSTER_ADDRESS_INVALID', `'${text}' has no valid port (1..65535): write host:port, e.g. 10.0.0.5:${DEFAULT_CLUSTER_PORT}`);
  if (!isIPv4(host) && !(HOSTNAME.test(host) && !/^[\d.]+$/.test(host))) {
    throw new CorralError('CLUSTER_ADDRESS_INVALID', `'${text}' is not an IPv4 address or host name with a port (IPv6 is not supported by the cluster DHT)`);
  }
  return { host, port };
}

/** Parses a --join list: entries separated by commas or whitespace, duplicates dropped. */
export function parseJoinList(entries: readonly string[] | string): ClusterAddress[] {
  const list = typeof entries === 'string' ? [entries] : entries;
  const seen = new Set<string>();
  const out: ClusterAddress[] = [];
  for (const entry of list.flatMap((e) => e.split(/[\s,]+/)).filter((e) => e !== '')) {
    const addr = parseClusterAddress(entry);
    const key = `${addr.host}:${addr.port}`;
    if (!seen.has(key)) {
      seen.add(key);
      out.push(addr);
    }
  }
  return out;
}

export interface DhtNodeOptions {
  readonly role: 'master' | 'agent';
  readonly join: readonly ClusterAddress[];
  readonly host: string | undefined;
  readonly bindHost: string | undefined;
  readonly port: number | undefined;
  readonly keyPair: HyperDHT.KeyPair;
  readonly keepAliveMs: number;
}

/** The bootstrap list of a node: the join list without the node's own address. */
export function bootstrapFor(join: readonly ClusterAddress[], self: ClusterAddress | undefined): ClusterAddress[] {
  return join.filter((a) => self === undefined || a.host !== self.host || a.port !== self.port).map((a) => ({ host: a.host, port: a.port }));
}

/** A master's own cluster address: an IPv4 address others reach it at, and a port (default 49737). */
export function masterAddress(host: string | undefined, port: number | undefined): ClusterAddress {
  return ownAddress('a master', host, port ?? DEFAULT_CLUSTER_PORT);
}

/**
 * An agent's fixed cluster address: given both the address others reach it at and a port. Undefined
 * when it has no --cluster-host (firewalled, see the header) or no port (a random one, taken by
 * hyperdht at bind).
 */
export function agentAddress(host: string | undefined, port: number | undefined): ClusterAddress | undefined {
  if (host === undefined) return undefined;
  if (port === undefined) {
    checkHost('an agent', host);
    return undefined;
  }
  return ownAddress('an agent', host, port);
}

function ownAddress(who: string, host: string | undefined, port: number): ClusterAddress {
  const h = checkHost(who, host);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new CorralError('CLUSTER_ADDRESS_INVALID', `${who}'s cluster port must be 1..65535, got ${port}`);
  return { host: h, port };
}

function checkHost(who: string, host: string | undefined): string {
  if (host === undefined || !isIPv4(host) || host === '0.0.0.0') {
    throw new CorralError('CLUSTER_ADDRESS_INVALID', `${who} needs the IPv4 address other nodes reach it at (got '${host ?? ''}'); 0.0.0.0 is not one`);
  }
  return host;
}

/** Creates (does not wait for) the node's DHT. Throws CLUSTER_ADDRESS_INVALID on a bad master host. */
export function createDhtNode(opts: DhtNodeOptions): HyperDHT {
  if (opts.role === 'master') {
    const { host, port } = masterAddress(opts.host, opts.port);
    return HyperDHT.bootstrapper(port, host, {
      bootstrap: bootstrapFor(opts.join, { host, port }),
      host: opts.bindHost ?? host,
      keyPair: opts.keyPair,
      connectionKeepAlive: opts.keepAliveMs,
    });
  }
  if (opts.join.length === 0) throw new CorralError('CLUSTER_ADDRESS_INVALID', 'an agent needs at least one master address to join (--join host:port)');
  agentAddress(opts.host, opts.port); // validates a given host and port
  const reachable = opts.host !== undefined;
  return new HyperDHT({
    bootstrap: bootstrapFor(opts.join, undefined),
    host: opts.bindHost ?? opts.host ?? '0.0.0.0',
    port: opts.port ?? randomInt(AGENT_PORTS[0], AGENT_PORTS[1]),
    // A port given is the agent's (like a master's): fail if taken rather than move on.
    anyPort: opts.port === undefined,
    ephemeral: true,
    // Reachable at its own address: peers connect to it directly (see the header).
    firewalled: !reachable,
    keyPair: opts.keyPair,
    connectionKeepAlive: opts.keepAliveMs,
  });
}

/** Fails with CLUSTER_PORT_UNAVAILABLE unless `host:port` can be bound (UDP), then frees it again. */
export async function checkUdpPortFree(host: string, port: number): Promise<void> {
  const socket = createSocket({ type: 'udp4', reuseAddr: false });
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind({ address: host, port, exclusive: true }, () => resolve());
    });
  } catch (err) {
    throw new CorralError('CLUSTER_PORT_UNAVAILABLE', `cannot bind the cluster port ${host}:${port} (UDP): ${(err as Error).message}`);
  } finally {
    await new Promise<void>((resolve) => {
      try {
        socket.close(() => resolve());
      } catch {
        resolve(); // never bound
      }
    });
  }
}

/**
 * Binds the node's UDP sockets, so a master whose port is taken fails at start. It does not wait
 * for the bootstrap: the masters in the join list may not be up yet (any start order works).
 */
export async function bindDht(dht: HyperDHT, what: string): Promise<void> {
  try {
    await dht.bind();
  } catch (err) {
    // dht-rpc's destroy waits for the failed bind and so never gets to stop its network-interface
    // watcher, which would keep the process alive: stop it here (private, hence the guard).
    dht.io?.networkInterfaces?.destroy?.();
    await dht.destroy().catch(() => undefined);
    throw new CorralError('CLUSTER_PORT_UNAVAILABLE', `cannot bind the cluster DHT to ${what}: ${(err as Error).message}`);
  }
}

/**
 * Public keys of the peers that announced `topic` to this persistent node. A node never queries
 * itself, so with two masters each holds the other's record but never finds it by lookup; reading
 * the local store closes that gap. This is hyperdht's private record cache (lib/persistent.js,
 * checked against the pinned 6.32.0); an empty list if its shape ever changes.
 */
export function locallyAnnounced(dht: HyperDHT, topic: Buffer): Buffer[] {
  const store = dht._persistent;
  if (store === null || store === undefined || typeof store.records?.get !== 'function') return [];
  const records = store.records.get(topic.toString('hex'), 64);
  return Array.isArray(records) ? records.filter((r) => Buffer.isBuffer(r) && r.length >= 32).map((r) => Buffer.from(r.subarray(0, 32))) : [];
}

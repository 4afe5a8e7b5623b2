// The discovery role as `corral up` composes it: the catalog following the in-process master, the
// DNS server on --dns-listen, and the HTTP routes; on an agent-only node of a cluster, the DNS
// server alone, following the master's operator feed (startResolverRole). The daemon passes what the
// framework knows of its tasks (`hint`: init's app id and port order; whether a task has health
// checks the TaskView says too).
import type { FastifyInstance } from 'fastify';
import { isIP } from 'node:net';
import type { Clock } from '../shared/clock';
import type { Logger } from '../shared/logger';
import { Discovery, systemResolveHost, type DiscoveryMaster } from './discovery';
import type { MetricsNode } from './lookup';
import { registerDiscoveryRoutes } from './routes';
import type { MasterEndpoint, TaskHint } from './types';

export { Discovery } from './discovery';
export type { DiscoveryMaster } from './discovery';
export type { MasterEndpoint, TaskHint } from './types';

export interface DiscoveryRoleOptions {
  master: DiscoveryMaster;
  dnsListen: { host: string; port: number };
  dnsDomain: string;
  dnsTtl: number;
  dnsUpstreams: readonly string[];
  /** This node's name and the addresses it may be reached at (cluster host first). */
  hostname: string;
  nodeId: string;
  clusterHost: string | undefined;
  listenHost: string;
  hint: (taskId: string) => TaskHint | undefined;
  version: string;
  clock: Clock;
  logger: Logger;
}

export interface DiscoveryRole {
  discovery: Discovery;
  /** `HOST:PORT` the DNS server answers on. */
  dnsAddress: string | undefined;
  routes: (server: FastifyInstance) => void;
  stop(): Promise<void>;
}

/** The address `leader.`/`master.` resolve to: the cluster host, the API's own address, else this host's name resolved, else loopback. */
async function masterAddress(opts: DiscoveryRoleOptions): Promise<string> {
  if (opts.clusterHost && isIP(opts.clusterHost) === 4) return opts.clusterHost;
  if (isIP(opts.listenHost) === 4 && opts.listenHost !== '0.0.0.0') return opts.listenHost;
  return (await systemResolveHost(opts.hostname)) ?? '127.0.0.1';
}

export interface ResolverRoleOptions {
  /** A copy of the master's view on this node (the operator feed's mirror), with its hints. */
  master: DiscoveryMaster;
  hint: (taskId: string) => TaskHint | undefined;
  dnsListen: { host: string; port: number };
  dnsDomain: string;
  dnsTtl: number;
  dnsUpstreams: readonly string[];
  clock: Clock;
  logger: Logger;
}

export interface ResolverRole {
  discovery: Discovery;
  /** `HOST:PORT` the DNS server answers on. */
  dnsAddress: string | undefined;
  /** The master `leader.`/`master.` resolve to (as the master's feed says). */
  setLeader(leader: MasterEndpoint): void;
  stop(): Promise<void>;
}

/**
 * The discovery role on a node of a cluster that is not the master (an agent-only machine): the DNS
 * server answering from the copy of the master's view the daemon feeds it. No HTTP lookup routes:
 * such a node serves no API. The leader's names appear once the master's endpoint is known.
 */
export async function startResolverRole(opts: ResolverRoleOptions): Promise<ResolverRole> {
  const discovery = new Discovery({
    master: opts.master,
    settings: { domain: opts.dnsDomain, ttl: opts.dnsTtl },
    listen: opts.dnsListen,
    upstreams: opts.dnsUpstreams,
    leader: undefined,
    hint: opts.hint,
    clock: opts.clock,
    logger: opts.logger,
  });
  await discovery.start();
  const bound = discovery.dnsAddress;
  return {
    discovery,
    dnsAddress: bound && `${bound.host.includes(':') ? `[${bound.host}]` : bound.host}:${bound.port}`,
    setLeader: (leader) => discovery.setLeader(leader),
    stop: () => discovery.stop(),
  };
}

export async function startDiscoveryRole(opts: DiscoveryRoleOptions): Promise<DiscoveryRole> {
  const ip = await masterAddress(opts);
  const discovery = new Discovery({
    master: opts.master,
    settings: { domain: opts.dnsDomain, ttl: opts.dnsTtl },
    listen: opts.dnsListen,
    upstreams: opts.dnsUpstreams,
    leader: { hostname: opts.hostname, ip },
    hint: opts.hint,
    clock: opts.clock,
    logger: opts.logger,
  });
  await discovery.start();
  const bound = discovery.dnsAddress;
  let apiPort: number | undefined;
  // Where the API (and so /metrics) is reached: its listen address, unless that is a wildcard.
  const apiHost = opts.listenHost === '0.0.0.0' || opts.listenHost === '::' ? ip : opts.listenHost;
  const metricsNodes = (): MetricsNode[] => (apiPort === undefined ? [] : [{ address: `${apiHost.includes(':') ? `[${apiHost}]` : apiHost}:${apiPort}`, hostname: opts.hostname, id: opts.nodeId }]);
  return {
    discovery,
    dnsAddress: bound && `${bound.host.includes(':') ? `[${bound.host}]` : bound.host}:${bound.port}`,
    routes: (server) => {
      registerDiscoveryRoutes(server, { discovery, version: opts.version, metricsNodes });
      // The API's port is known once it listens (--listen HOST:0 picks one): `_leader._tcp` and the node's /metrics target need it.
      server.addHook('onListen', async () => {
        const address = server.server.address();
        if (typeof address === 'object' && address) {
          apiPort = address.port;
          discovery.setLeader({ hostname: opts.hostname, ip, apiPort });
        }
      });
    },
    stop: () => discovery.stop(),
  };
}

// `corral up`: starts the enabled roles in order (store, master, agent, init, cron, discovery, packages, API) and stops them
// in reverse. One object owns the roles, as Nomad's agent does; in-process roles talk through the
// same interfaces their remote versions will use.
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { registerNativeRoutes } from '../api/native-routes';
import { registerOperatorRoutes } from '../api/operator-routes';
import { registerSchedulerRoutes } from '../api/scheduler-routes';
import { createApiServer } from '../api/server';
import { startCron, type JobService } from '../cron';
import { composePackages, type JobInstaller } from '../pkg';
import { Agent, detectResources, pidNamespaceAvailable } from '../kernel/agent';
import { selectIsolator } from '../kernel/agent/isolation';
import type { MasterLink } from '../kernel/agent-link';
import { storedDrains } from '../kernel/master/drain';
import { Master } from '../kernel/master/master';
import { RemoteMasterLink } from '../kernel/remote/agent-side';
import type { FeedEndpoint } from '../kernel/remote/protocol';
import { inProcessTransport } from '../kernel/sdk/in-process';
import { systemClock, type Clock } from '../shared/clock';
import { taskBaseEnv, type DaemonConfig, type Role } from '../shared/config';
import { CorralError } from '../shared/errors';
import { startDiscoveryRole, type TaskHint } from '../discovery';
import type { Logger } from '../shared/logger';
import { createMetrics } from '../shared/metrics';
import { openStore, STORE_FILE } from '../store';
import type { Store } from '../store/types';
import { adminToken, nodeId, prepareDataDir, restrictStoreFiles, removeEndpoint, writeEndpoint } from './files';
import { startAgentResolver, type AgentResolver } from './agent-resolver';
import type { ClusterPlane, ClusterPlaneOptions } from './cluster';
import { startInitRole } from './init-role';
import { VERSION } from './version';

export interface Daemon {
  /** Base URL of the HTTP API; undefined on an agent of a cluster (it serves none). */
  url: string | undefined;
  /** The admin token file; undefined on an agent of a cluster. */
  tokenFile: string | undefined;
  /** How another machine joins, on a master of a cluster. */
  joinHint: string | undefined;
  dataDir: string;
  /** `HOST:PORT` of the DNS server (discovery role); undefined when it runs none. */
  dnsAddress?: string | undefined;
  stop(): Promise<void>;
}

export interface DaemonDeps {
  logger: Logger;
  clock?: Clock;
  /** The store to use instead of `<data-dir>/corral.db` (tests pass a MemoryStore). */
  store?: Store;
}

/** The roles of one node, composed and started but not yet serving HTTP. */
export interface Node {
  server: FastifyInstance;
  store: Store;
  master: Master;
  /** Set when the node runs the cluster plane. */
  cluster: ClusterPlane | undefined;
  token: { token: string; path: string };
  dataDir: string;
  /** `HOST:PORT` of the DNS server (discovery role); undefined when it runs none. */
  dnsAddress?: string | undefined;
  /** Stops every started role in reverse order; idempotent. */
  stop(): Promise<void>;
}

export async function composeNode(config: Readonly<DaemonConfig>, deps: DaemonDeps): Promise<Node> {
  const has = (r: DaemonConfig['roles'][number]) => config.roles.includes(r);
  if (config.roles.length === 0) throw new CorralError('NO_ROLES', 'corral up needs at least one role (--master, --agent, --init)');
  if (!has('master')) {
    throw new CorralError('CONFIG_INVALID', has('init') ? 'The init framework runs beside the master: add --master' : 'An agent without a master here must join one: --join HOST:PORT with CORRAL_TOKEN or --token-file');
  }
  const clock = deps.clock ?? systemClock;
  const logger = deps.logger;
  const dataDir = resolve(config.dataDir);
  prepareDataDir(dataDir);
  const token = adminToken(dataDir);
  const metrics = createMetrics();
  const stops: Array<() => Promise<void> | void> = [];
  const stop = async () => {
    for (const step of stops.reverse().splice(0)) {
      try {
        await step();
      } catch (err) {
        logger.error({ event: 'daemon_stop_error', err }, 'a role failed to stop cleanly');
      }
    }
  };

  try {
    const store: Store = deps.store ?? (await openStore(dataDir));
    if (!deps.store) restrictStoreFiles(dataDir, STORE_FILE);
    stops.push(() => store.close());

    const drainStore = storedDrains(store);
    const drains = { store: drainStore, restored: await drainStore.load() };
    const master = new Master({ clock, logger: logger.child({ role: 'master' }), metrics, allocationIntervalMs: config.allocationIntervalMs, roles: config.frameworkRoles, drains });
    master.start();
    stops.push(() => master.stop());
    let cluster: ClusterPlane | undefined;
    // What init knows of its tasks, for discovery here and for the operator feed of other nodes (init starts later).
    let taskHint: ((taskId: string) => TaskHint | undefined) | undefined;
    if (clusterPlaneWanted(config)) {
      const operatorFeed = { source: master, hint: (taskId: string) => taskHint?.(taskId), endpoint: feedEndpoint(config, undefined) };
      cluster = await startClusterPlane({ config, dataDir, logger, clock, master, operatorFeed });
      stops.push(() => cluster!.stop());
    }

    let localAgent: Agent | undefined;
    if (has('agent')) {
      localAgent = await startAgent(config, { clock, logger, dataDir, master });
      stops.push(() => localAgent!.stop());
    }

    const routes: Array<(s: FastifyInstance) => void> = [];
    let dnsAddress: string | undefined;
    const init = has('init') ? await startInitRole({ store, master, clock, logger, version: VERSION, leaderUrl: apiUrl(config), stops }) : undefined;
    if (init) routes.push(...init.routes);
    if (init) taskHint = (taskId) => init.taskHint(taskId);
    // Nodes following the operator feed name `_leader._tcp` after the API port, known once it listens.
    routes.push((s) =>
      s.addHook('onListen', async () => {
        const address = s.server.address();
        const endpoint = feedEndpoint(config, typeof address === 'object' && address ? address.port : undefined);
        if (endpoint) cluster?.feed?.setEndpoint(endpoint);
      }),
    );
    let cronJobs: JobService | undefined;
    if (has('cron')) {
      const cron = await startCron({ store, transport: inProcessTransport(master), clock, logger: logger.child({ role: 'cron' }), leaderUrl: apiUrl(config) });
      stops.push(() => cron.stop());
      routes.push(cron.routes);
      cronJobs = cron.jobs;
    }
    if (has('discovery')) {
      const discovery = await startDiscoveryRole({
        master,
        dnsListen: config.dnsListen,
        dnsDomain: config.dnsDomain,
        dnsTtl: config.dnsTtl,
        dnsUpstreams: config.dnsUpstreams,
        hostname: config.hostname,
        nodeId: nodeId(dataDir),
        clusterHost: config.clusterHost,
        listenHost: config.listenHost,
        hint: (taskId) => taskHint?.(taskId),
        version: VERSION,
        clock,
        logger: logger.child({ role: 'discovery' }),
      });
      stops.push(() => discovery.stop());
      routes.push(discovery.routes);
      dnsAddress = discovery.dnsAddress;
    }
    // Packages install through init's apps (and cron's jobs, when cron runs here).
    if (init) {
      const agents = () => master.agentViews().map((a) => ({ hostname: a.hostname, commands: a.commands, available: a.status === 'alive' }));
      // The API's real port is known once it listens (--listen HOST:0 picks one).
      const listening = () => {
        const address = server.server.address();
        return apiUrl({ ...config, listenPort: typeof address === 'object' && address ? address.port : config.listenPort });
      };
      const jobs: JobInstaller | undefined = cronJobs && { add: async (job) => void (await cronJobs!.upsert(job)), remove: (name: string) => cronJobs!.remove(name) };
      routes.push(composePackages({ store, clock, apps: init.apps, agents, apiUrl: listening, jobs: () => jobs }).routes);
    }
    // Statistics of a task come from its agent, here or on another machine (through node RPC).
    const agentFor = (taskId: string) => master.agentLinkOf(taskId);
    routes.push((s) => registerNativeRoutes(s, { master, clock, roles: config.roles, initFrameworkId: () => init?.frameworkId(), agentFor, localAgent: () => localAgent, memberStatus: (agentId) => cluster?.memberStatus(agentId), ...(localAgent ? { localAgentId: nodeId(dataDir) } : {}) }));
    routes.push((s) => registerSchedulerRoutes(s, { master, clock, logger: logger.child({ role: 'scheduler-api' }) }));
    routes.push((s) => registerOperatorRoutes(s, { master, clock, initFrameworkId: () => init?.frameworkId() }));

    const server = createApiServer({ token: token.token, logger: logger.child({ role: 'api' }), metrics, routes });
    stops.push(() => server.close());
    return { server, store, master, cluster, token, dataDir, dnsAddress, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

interface Parts {
  clock: Clock;
  logger: Logger;
  dataDir: string;
}

async function startAgent(config: Readonly<DaemonConfig>, parts: Parts & { master: MasterLink }): Promise<Agent> {
  const { clock, logger, dataDir, master } = parts;
  const resources = await detectResources({
    cpus: config.agentCpus,
    memMb: config.agentMemMb,
    diskMb: config.agentDiskMb,
    portRange: { begin: config.portRangeStart, end: config.portRangeEnd },
    dataDir,
  });
  const agentLogger = logger.child({ role: 'agent' });
  // Each agent keeps its task cgroups under its own parent (`corral/<node id prefix>`): at start an
  // agent removes the containers no checkpoint of its own knows, and other agents on the machine
  // (several `corral up` of a test suite, or agents with distinct --hostname) are not its leftovers.
  // The task's side makes its own cgroups (the launcher does that work, not this event loop).
  const isolator = await selectIsolator({ force: config.isolation, logger: agentLogger, clock, parent: `corral/${nodeId(dataDir).slice(0, 16)}`, setupInTask: true });
  const agent = new Agent({
    id: nodeId(dataDir),
    hostname: config.hostname,
    dataDir,
    resources,
    attributes: { ...config.agentAttributes },
    reservations: Object.fromEntries(Object.entries(config.agentReservations).map(([role, r]) => [role, { ...r, ports: [] }])),
    version: VERSION,
    killGraceSeconds: config.killGraceSeconds,
    clock,
    logger: agentLogger,
    master,
    env: taskBaseEnv(),
    isolator,
    pidNamespace: pidNamespaceAvailable(),
    taskUser: config.taskUser,
    taskPidsLimit: config.taskPidsLimit,
    logMaxBytes: config.logMaxBytes,
    logKeepFiles: config.logKeepFiles,
    fetchCacheBytes: config.fetchCacheBytes,
  });
  await agent.start();
  return agent;
}

/**
 * An agent whose master is on another machine: no store, no API port; its tasks keep running
 * while no master answers, and it registers again with whichever master it finds. With the
 * discovery role it also runs a local resolver: a DNS server answering from a copy of the
 * master's view that the master's operator feed keeps current (no HTTP lookup routes: no API here).
 */
async function startRemoteAgent(config: Readonly<DaemonConfig>, deps: DaemonDeps): Promise<Daemon> {
  refuseRolesWithoutMaster(config.roles);
  const logger = deps.logger;
  const clock = deps.clock ?? systemClock;
  const dataDir = resolve(config.dataDir);
  prepareDataDir(dataDir);
  const link = new RemoteMasterLink(() => logger.warn({ event: 'agent_master_lost' }, 'lost the master; tasks keep running, looking for it again'));
  const agent = await startAgent(config, { clock, logger, dataDir, master: link });
  let resolver: AgentResolver | undefined;
  let cluster: ClusterPlane;
  try {
    if (config.roles.includes('discovery')) resolver = await startAgentResolver(config, { clock, logger });
    const onMasterFound = resolver?.onMasterFound;
    cluster = await startClusterPlane({ config, dataDir, logger, clock, agentLink: link, ...(onMasterFound ? { onMasterFound } : {}) });
  } catch (err) {
    await resolver?.stop();
    await agent.stop();
    throw err;
  }
  logger.info({ event: 'daemon_started', roles: config.roles, dataDir, nodeId: cluster.nodeId, dns: resolver?.dnsAddress }, 'corral is up (an agent of a cluster: no API port here)');
  return {
    url: undefined,
    tokenFile: undefined,
    dataDir,
    joinHint: undefined,
    dnsAddress: resolver?.dnsAddress,
    stop: async () => {
      await cluster.stop();
      await resolver?.stop();
      await agent.stop();
    },
  };
}

/**
 * A node that joins a cluster without the master is an agent (with DNS when it has the discovery
 * role); any other role needs the master here. Checked before anything starts: naming a role that
 * would not run, or leaving out the agent, is an error rather than a different node.
 */
function refuseRolesWithoutMaster(roles: readonly Role[]): void {
  const needMaster = roles.filter((r) => r !== 'agent' && r !== 'discovery');
  if (needMaster.length > 0) throw new CorralError('CONFIG_INVALID', `${needMaster.map((r) => `--${r}`).join(' and ')} runs beside the master: add --master, or leave it out on a node that joins as an agent`);
  if (!roles.includes('agent')) throw new CorralError('CONFIG_INVALID', 'A node that joins a cluster without --master runs the agent: add --agent (a DNS-only node, --discovery without --agent, is not supported yet)');
}

/**
 * The master as nodes following its operator feed name it (`leader.`, `master.`): its cluster
 * address, else its API's address when that is an IPv4 literal other than the wildcard.
 */
function feedEndpoint(config: Readonly<DaemonConfig>, apiPort: number | undefined): FeedEndpoint | undefined {
  const ip = [config.clusterHost, config.listenHost].find((h) => h !== undefined && isIP(h) === 4 && h !== '0.0.0.0');
  if (ip === undefined) return undefined;
  return { hostname: config.hostname, ip, ...(apiPort !== undefined ? { apiPort } : {}) };
}

/** `corral up`: composes the node, serves the API and writes the endpoint file for the CLI. */
export async function startDaemon(config: Readonly<DaemonConfig>, deps: DaemonDeps): Promise<Daemon> {
  if (!config.roles.includes('master') && !config.roles.includes('init') && clusterPlaneWanted(config)) return startRemoteAgent(config, deps);
  const node = await composeNode(config, deps);
  try {
    await node.server.listen({ host: config.listenHost, port: config.listenPort });
  } catch (err) {
    await node.stop();
    throw new CorralError('CONFIG_INVALID', `Cannot listen on ${config.listenHost}:${config.listenPort}: ${(err as Error).message}`);
  }
  const address = node.server.server.address();
  const port = typeof address === 'object' && address ? address.port : config.listenPort;
  const url = apiUrl({ ...config, listenPort: port });
  writeEndpoint(node.dataDir, url);
  deps.logger.info({ event: 'daemon_started', url, roles: config.roles, dataDir: node.dataDir }, 'corral is up');
  return {
    url,
    tokenFile: node.token.path,
    dataDir: node.dataDir,
    joinHint: node.cluster?.joinHint,
    dnsAddress: node.dnsAddress,
    stop: async () => {
      removeEndpoint(node.dataDir);
      await node.stop();
    },
  };
}

function apiUrl(config: Pick<DaemonConfig, 'listenHost' | 'listenPort'>): string {
  const host = config.listenHost === '0.0.0.0' || config.listenHost === '::' ? '127.0.0.1' : config.listenHost;
  return `http://${host.includes(':') ? `[${host}]` : host}:${config.listenPort}`;
}


/** Whether this node runs the cluster plane at all: without --join or --cluster-host it is one machine, with no cluster port. */
export function clusterPlaneWanted(config: Pick<DaemonConfig, 'join' | 'clusterHost'>): boolean {
  return config.join.length > 0 || config.clusterHost !== undefined;
}

/** Loaded only when wanted: hyperswarm and its DHT cost a single-machine node ~4 MB of memory. */
async function startClusterPlane(opts: ClusterPlaneOptions): Promise<ClusterPlane> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- a lazy load, bundled by esbuild
  const cluster = require('./cluster') as typeof import('./cluster');
  return cluster.startClusterPlane(opts);
}

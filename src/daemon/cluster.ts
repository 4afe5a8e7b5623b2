// The cluster plane of one node: its identity, the cluster token, the swarm, gossip membership and
// node RPC between agents and the master. A master with --cluster-host serves agents of other
// machines (their tasks become TASK_UNREACHABLE when their connection dies, and are re-adopted when
// they come back); it publishes `leader: true` in its membership metadata, and an agent with --join
// registers with the member that leads — and again whenever it loses it. A master also serves its
// operator feed (kernel/remote/operator-feed.ts) on the same channels to any node that subscribes;
// an agent with a local resolver subscribes each time it registers. Without either flag there
// is no cluster plane: one machine, no port.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadOrCreateIdentity } from '../cluster/identity';
import { NodeMembership, type NodeMeta } from '../cluster/node-membership';
import { ClusterSwarm, DEFAULT_CLUSTER_PORT, parseJoinList } from '../cluster/swarm';
import { createClusterToken, parseClusterToken, readClusterToken, type ClusterToken } from '../cluster/token';
import type { MasterLink } from '../kernel/agent-link';
import type { RemoteMasterLink } from '../kernel/remote/agent-side';
import type { NodeChannel } from '../kernel/remote/channel';
import { serveAgent } from '../kernel/remote/master-side';
import { OperatorFeed, type OperatorSource } from '../kernel/remote/operator-feed';
import { PeerChannels } from '../kernel/remote/peer-channels';
import { SERVED_BY, type FeedEndpoint, type FeedTaskHint } from '../kernel/remote/protocol';
import { routedChannel } from '../kernel/remote/router';
import type { Clock } from '../shared/clock';
import type { DaemonConfig } from '../shared/config';
import { CorralError } from '../shared/errors';
import type { Logger } from '../shared/logger';
import { VERSION } from './version';

export const TOKEN_FILE = 'cluster.token';

export interface ClusterPlane {
  nodeId: string;
  /** For the operator: how another machine joins (on a master). */
  joinHint: string | undefined;
  /** On a master: what gossip says of the node an agent registered from ('suspect' before the link times out). */
  memberStatus(agentId: string): 'alive' | 'suspect' | undefined;
  membership: NodeMembership;
  /** On a master: the operator feed it serves to any node of the cluster that subscribes. */
  feed: OperatorFeed | undefined;
  stop(): Promise<void>;
}

/** How often an agent without a master looks again for the leader (besides every membership change), and a master refreshes its agents' last contact, ms. */
const FIND_MASTER_EVERY_MS = 1000;

/**
 * The token: given (CORRAL_TOKEN, --token-file), else the data dir's (a master that ran before),
 * else — on a master only — a new one, written to the data dir. A master that was given one keeps
 * a copy, so it restarts without being told again.
 */
async function resolveToken(config: Readonly<DaemonConfig>, dataDir: string, isMaster: boolean): Promise<{ token: ClusterToken; created: boolean }> {
  const own = join(dataDir, TOKEN_FILE);
  let given: ClusterToken | undefined;
  if (config.clusterToken !== undefined) given = parseClusterToken(config.clusterToken, 'CORRAL_TOKEN');
  else if (config.tokenFile !== undefined) given = await readClusterToken(config.tokenFile);
  if (given) {
    if (isMaster && !existsSync(own)) await createClusterToken(dataDir, given);
    return { token: given, created: false };
  }
  if (existsSync(own)) return { token: await readClusterToken(own), created: false };
  if (!isMaster) throw new CorralError('CLUSTER_TOKEN_MISSING', `Joining a cluster needs its token: set CORRAL_TOKEN or --token-file (the first master wrote it to its ${TOKEN_FILE})`);
  const { token } = await createClusterToken(dataDir);
  return { token, created: true };
}

export interface ClusterPlaneOptions {
  config: Readonly<DaemonConfig>;
  dataDir: string;
  logger: Logger;
  clock: Clock;
  /** On a master: the master agents of other machines register with. */
  master?: MasterLink & { agentUnreachable(agentId: string): void; agentContact(agentId: string, at?: number): void };
  /** On an agent without a local master: the link its Agent talks through. */
  agentLink?: RemoteMasterLink;
  /** On a master: what its operator feed sends (the master's views, its framework's hints, its endpoint). */
  operatorFeed?: { source: OperatorSource; hint: (taskId: string) => FeedTaskHint | undefined; endpoint: FeedEndpoint | undefined };
  /** On an agent: it registered with a master (again); `channel` carries that master's operator feed. */
  onMasterFound?: (channel: NodeChannel) => void;
}

export async function startClusterPlane(opts: ClusterPlaneOptions): Promise<ClusterPlane> {
  const { config, dataDir, logger, master, agentLink } = opts;
  const isMaster = master !== undefined;
  if (isMaster && config.clusterHost === undefined) {
    throw new CorralError('CONFIG_INVALID', 'A master in a cluster needs --cluster-host (the IPv4 address other machines reach it at)');
  }
  const identity = await loadOrCreateIdentity(dataDir);
  const { token, created } = await resolveToken(config, dataDir, isMaster);
  const joinList = parseJoinList([...config.join]);
  const swarm = new ClusterSwarm({
    identity,
    token,
    role: isMaster ? 'master' : 'agent',
    join: joinList.map((a) => ({ host: a.host, port: a.port })),
    // An agent with --cluster-host takes direct connections from the other agents (swarm/dht.ts).
    host: config.clusterHost,
    port: config.clusterPort,
    clock: opts.clock,
    logger: logger.child({ role: 'cluster' }),
  });
  await swarm.start();
  const meta: NodeMeta = { roles: [...config.roles], version: VERSION, hostname: config.hostname, ...(isMaster ? { leader: true } : {}) };
  const membership = new NodeMembership({ swarm, nodeId: identity.nodeId, clock: opts.clock, logger: logger.child({ role: 'membership' }), meta });
  membership.start();

  let channels: PeerChannels;
  // Which agent each peer registered, and back: losing the peer makes the agent unreachable.
  const agentOf = new Map<string, string>();
  const peerOf = new Map<string, string>();
  const feed = master && opts.operatorFeed ? new OperatorFeed({ ...opts.operatorFeed, logger: logger.child({ role: 'operator-feed' }) }) : undefined;
  if (master) {
    // Agent RPC and the operator feed share each peer's channel (router.ts).
    channels = new PeerChannels(swarm, (channel, nodeId) => {
      serveAgent(routedChannel(channel, SERVED_BY.master), master, (agentId) => {
        agentOf.set(nodeId, agentId);
        peerOf.set(agentId, nodeId);
      });
      feed?.serve(routedChannel(channel, SERVED_BY.feedMaster), nodeId);
    });
    swarm.on('peer-down', (nodeId) => {
      const agentId = agentOf.get(nodeId);
      if (agentId === undefined) return;
      agentOf.delete(nodeId);
      peerOf.delete(agentId);
      master.agentUnreachable(agentId);
    });
  } else {
    channels = new PeerChannels(swarm);
  }
  let finder: { cancel(): void } | undefined;
  // Last contact in the node list: when anything (gossip, keep-alive traffic) last came from the agent's machine.
  const contact = master ? opts.clock.setInterval(() => {
    for (const [peer, agentId] of agentOf) {
      const heard = swarm.lastHeard(peer);
      if (heard !== undefined) master.agentContact(agentId, heard);
    }
  }, FIND_MASTER_EVERY_MS) : undefined;
  if (agentLink) {
    let registering = false;
    // The leader as membership sees it: dial it if the swarm has no connection yet, else register.
    const findMaster = () => {
      if (agentLink.connected || registering) return;
      const leader = membership.leader();
      if (!leader) return;
      if (!swarm.isConnected(leader.id)) return swarm.connect(leader.id);
      registering = true;
      const channel = channels.channel(leader.id);
      agentLink.connect(routedChannel(channel, SERVED_BY.agent)).then(
        () => {
          logger.info({ event: 'agent_master_found', master: leader.id }, 'registered with the master');
          opts.onMasterFound?.(routedChannel(channel, SERVED_BY.feedNode));
        },
        (err: unknown) => logger.debug({ event: 'agent_register_failed', master: leader.id, err }, 'the leader did not accept the registration yet'),
      ).finally(() => (registering = false));
    };
    swarm.on('peer', findMaster);
    membership.onEvent(findMaster);
    finder = opts.clock.setInterval(findMaster, FIND_MASTER_EVERY_MS);
    findMaster();
  }

  const address = isMaster ? `${config.clusterHost}:${config.clusterPort ?? DEFAULT_CLUSTER_PORT}` : undefined;
  const joinHint = address
    ? `copy ${join(dataDir, TOKEN_FILE)} to the new machine, then run there: corral up --agent --join ${address} --token-file cluster.token (adding --cluster-host with that machine's IPv4 address, so agents connect to each other directly)`
    : undefined;
  logger.info({ event: 'cluster_started', nodeId: identity.nodeId, role: isMaster ? 'master' : 'agent', join: config.join, tokenCreated: created }, 'cluster plane started');
  return {
    nodeId: identity.nodeId,
    joinHint,
    membership,
    feed,
    memberStatus: (agentId) => {
      const peer = peerOf.get(agentId);
      const status = peer === undefined ? undefined : membership.status(peer);
      return status === 'alive' || status === 'suspect' ? status : undefined;
    },
    stop: async () => {
      finder?.cancel();
      contact?.cancel();
      feed?.close();
      await membership.stop();
      channels.close();
      await swarm.stop();
    },
  };
}

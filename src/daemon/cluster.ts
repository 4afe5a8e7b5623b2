// The cluster plane of one node: its identity, the cluster token, the swarm, and node RPC between
// agents and the master. A master with --cluster-host serves agents of other machines (their tasks
// become TASK_UNREACHABLE when their connection dies, and are re-adopted when they come back); an
// agent with --join registers with whichever peer accepts its registration — the master — and
// again whenever it loses it. Without either flag there is no cluster plane: one machine, no port.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadOrCreateIdentity } from '../cluster/identity';
import { ClusterSwarm, parseJoinList } from '../cluster/swarm';
import { createClusterToken, parseClusterToken, readClusterToken, type ClusterToken } from '../cluster/token';
import type { MasterLink } from '../kernel/agent-link';
import type { RemoteMasterLink } from '../kernel/remote/agent-side';
import { serveAgent } from '../kernel/remote/master-side';
import { PeerChannels } from '../kernel/remote/peer-channels';
import type { Clock } from '../shared/clock';
import type { DaemonConfig } from '../shared/config';
import { CorralError } from '../shared/errors';
import type { Logger } from '../shared/logger';

export const TOKEN_FILE = 'cluster.token';

export interface ClusterPlane {
  nodeId: string;
  /** For the operator: how another machine joins (on a master). */
  joinHint: string | undefined;
  stop(): Promise<void>;
}

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
  master?: MasterLink & { agentUnreachable(agentId: string): void };
  /** On an agent without a local master: the link its Agent talks through. */
  agentLink?: RemoteMasterLink;
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
    ...(isMaster ? { host: config.clusterHost, port: config.clusterPort } : {}),
    clock: opts.clock,
    logger: logger.child({ role: 'cluster' }),
  });
  await swarm.start();

  let channels: PeerChannels;
  if (master) {
    // Which agent each peer registered: losing the peer makes the agent unreachable.
    const agentOf = new Map<string, string>();
    channels = new PeerChannels(swarm, (channel, nodeId) => serveAgent(channel, master, (agentId) => agentOf.set(nodeId, agentId)));
    swarm.on('peer-down', (nodeId) => {
      const agentId = agentOf.get(nodeId);
      if (agentId === undefined) return;
      agentOf.delete(nodeId);
      master.agentUnreachable(agentId);
    });
  } else {
    channels = new PeerChannels(swarm);
  }
  if (agentLink) {
    const tryPeer = (nodeId: string) => {
      if (agentLink.connected) return;
      agentLink.connect(channels.channel(nodeId)).then(
        () => logger.info({ event: 'agent_master_found', master: nodeId }, 'registered with the master'),
        () => undefined, // not a master, or it did not answer: another peer may be
      );
    };
    swarm.on('peer', (conn) => tryPeer(conn.nodeId));
    for (const peer of swarm.peers()) tryPeer(peer.nodeId);
  }

  const address = isMaster ? `${config.clusterHost}:${config.clusterPort}` : undefined;
  const joinHint = address
    ? `copy ${join(dataDir, TOKEN_FILE)} to the new machine, then run there: corral up --agent --join ${address} --token-file cluster.token`
    : undefined;
  logger.info({ event: 'cluster_started', nodeId: identity.nodeId, role: isMaster ? 'master' : 'agent', join: config.join, tokenCreated: created }, 'cluster plane started');
  return {
    nodeId: identity.nodeId,
    joinHint,
    stop: async () => {
      channels.close();
      await swarm.stop();
    },
  };
}

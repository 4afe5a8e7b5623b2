// The discovery role of an agent-only node of a cluster: a local resolver. The DNS server answers
// from an OperatorMirror — a copy of the master's operator view that the master's feed keeps
// current over node RPC — and names `leader.`/`master.` after the endpoint the feed reports. The
// cluster plane hands the mirror the master's channel each time the agent registers (again).
import { startResolverRole } from '../discovery';
import type { NodeChannel } from '../kernel/remote/channel';
import { OperatorMirror } from '../kernel/remote/operator-mirror';
import type { Clock } from '../shared/clock';
import type { DaemonConfig } from '../shared/config';
import type { Logger } from '../shared/logger';

export interface AgentResolver {
  /** `HOST:PORT` the DNS server answers on. */
  dnsAddress: string | undefined;
  /** For the cluster plane: the agent registered; `channel` carries the master's operator feed. */
  onMasterFound(channel: NodeChannel): void;
  stop(): Promise<void>;
}

export async function startAgentResolver(config: Readonly<DaemonConfig>, parts: { clock: Clock; logger: Logger }): Promise<AgentResolver> {
  const logger = parts.logger.child({ role: 'discovery' });
  const mirror = new OperatorMirror({ clock: parts.clock, logger });
  const resolver = await startResolverRole({
    master: mirror,
    hint: (taskId) => mirror.hint(taskId),
    dnsListen: config.dnsListen,
    dnsDomain: config.dnsDomain,
    dnsTtl: config.dnsTtl,
    dnsUpstreams: config.dnsUpstreams,
    clock: parts.clock,
    logger,
  });
  mirror.onEndpoint((endpoint) => resolver.setLeader(endpoint));
  logger.info({ event: 'resolver_started', dns: resolver.dnsAddress }, 'local resolver up, following the master (DNS only: an agent of a cluster serves no HTTP lookup routes)');
  return {
    dnsAddress: resolver.dnsAddress,
    onMasterFound: (channel) => mirror.follow(channel),
    stop: async () => {
      mirror.stop();
      await resolver.stop();
    },
  };
}

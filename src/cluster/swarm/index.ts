// The hyperswarm side of the cluster plane: authenticated, framed peer connections over the
// cluster's own DHT. See cluster-swarm.ts.
export { ClusterSwarm } from './cluster-swarm';
export { parseClusterAddress, parseJoinList } from './dht';
export { PROTOCOL_VERSION, MIN_PROTOCOL_VERSION, MAX_FRAME_BYTES, DATAGRAM_CHANNELS } from './wire';
export type { BanEntry } from './bans';
export {
  DEFAULT_CLUSTER_PORT,
  DEFAULT_SWARM_TUNING,
  SwarmRequestError,
  type AuthFailure,
  type ClusterAddress,
  type ClusterSwarmEvents,
  type ClusterSwarmOptions,
  type ClusterSwarmStatus,
  type DatagramChannel,
  type PeerConnection,
  type RequestFailure,
  type SwarmMessageHandler,
  type SwarmRequestHandler,
  type SwarmTuning,
} from './types';

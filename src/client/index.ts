// The typed client of Corral's public HTTP API, plus endpoint discovery for a local cluster.
export { CorralClient, appPath, type CorralClientOptions } from './client';
export { discoverEndpoint, DEFAULT_DATA_DIRS, type Endpoint, type EndpointSources, type DiscoverOptions } from './discover';
export type * from './types';

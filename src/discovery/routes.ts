// Discovery's HTTP routes: Mesos-DNS's lookup API (/v1/version, /v1/config, /v1/hosts, /v1/services,
// /v1/enumerate), Corral's /api/v1/services and /api/v1/dns/lookup, and Prometheus's HTTP service
// discovery (/api/v1/discovery/prometheus). All need the API token, like every route but /ping.
import type { FastifyInstance } from 'fastify';
import { CorralError } from '../shared/errors';
import type { Discovery } from './discovery';
import { enumerate, hostLookup, prometheusTargets, serviceList, serviceLookup, type MetricsNode } from './lookup';
import { canonicalName } from './names';
import { QCLASS, QTYPE, RCODE, resolveInZone } from './resolve';

export interface DiscoveryRoutesOptions {
  discovery: Discovery;
  version: string;
  /** Corral nodes serving their own /metrics (this node's API). */
  metricsNodes: () => MetricsNode[];
}

const RCODE_NAMES = Object.fromEntries(Object.entries(RCODE).map(([k, v]) => [v, k]));
const LOOKUP_TYPES = ['A', 'SRV', 'NS', 'SOA', 'AAAA', 'ANY'] as const;

export function registerDiscoveryRoutes(server: FastifyInstance, opts: DiscoveryRoutesOptions): void {
  const { discovery } = opts;

  server.get('/v1/version', async () => ({ Service: 'Corral DNS (Mesos-DNS compatible)', URL: 'https://github.com/corral/corral/blob/main/docs/discovery.md', Version: opts.version }));

  server.get('/v1/config', async () => {
    const address = discovery.dnsAddress;
    const { domain, ttl } = discovery.settings;
    return {
      Domain: domain,
      TTL: ttl,
      Port: address?.port ?? null,
      Listener: address?.host ?? null,
      Resolvers: discovery.upstreams,
      // Records follow the task event stream; nothing is polled.
      RefreshSeconds: 0,
      SOAMname: `ns1.${domain}.`,
      SOARname: `hostmaster.${domain}.`,
      DNSOn: address !== undefined,
      HTTPOn: true,
      ExternalOn: discovery.upstreams.length > 0,
    };
  });

  server.get<{ Params: { host: string } }>('/v1/hosts/:host', async (req) => hostLookup(discovery.catalog(), req.params.host));
  server.get<{ Params: { service: string } }>('/v1/services/:service', async (req) => serviceLookup(discovery.catalog(), req.params.service));
  server.get('/v1/enumerate', async () => enumerate(discovery.catalog()));

  server.get('/api/v1/services', async () => serviceList(discovery.catalog()));

  server.get<{ Querystring: { name?: string; type?: string } }>('/api/v1/dns/lookup', async (req) => {
    const name = req.query.name?.trim();
    if (!name) throw new CorralError('INVALID_REQUEST', 'name is required, e.g. /api/v1/dns/lookup?name=hello.corral-init.corral&type=A');
    const type = (req.query.type ?? 'A').toUpperCase();
    if (!(LOOKUP_TYPES as readonly string[]).includes(type)) throw new CorralError('INVALID_REQUEST', `type must be one of ${LOOKUP_TYPES.join(', ')}, got '${req.query.type}'`);
    const catalog = discovery.catalog();
    const answer = resolveInZone(catalog, name, QTYPE[type as keyof typeof QTYPE], QCLASS.IN);
    const records = (list: NonNullable<typeof answer>['answers']) => list.map((rr) => ({ name: rr.name, type: rr.type, ttl: 'ttl' in rr ? rr.ttl : undefined, data: 'data' in rr ? rr.data : undefined }));
    if (!answer) return { name: canonicalName(name), type, rcode: 'REFUSED', inZone: false, answers: [], authorities: [], additionals: [] };
    return { name: canonicalName(name), type, rcode: RCODE_NAMES[answer.rcode], inZone: true, answers: records(answer.answers), authorities: records(answer.authorities), additionals: records(answer.additionals) };
  });

  server.get<{ Querystring: { kind?: string } }>('/api/v1/discovery/prometheus', async (req) => {
    const kind = req.query.kind;
    if (kind !== undefined && kind !== 'task' && kind !== 'node') throw new CorralError('INVALID_REQUEST', `kind must be task or node, got '${kind}'`);
    return prometheusTargets(discovery.catalog(), opts.metricsNodes(), kind);
  });
}

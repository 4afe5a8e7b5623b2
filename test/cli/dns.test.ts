// `corral dns lookup` and `corral service list` against a fake client: what they ask, what they print.
import t from 'tap';
import { buildProgram, runProgram, type CliClient } from '../../src/cli/program';
import { fakeCliDeps } from './helpers/fake-deps';
import type { DiscoveryClient } from '../../src/cli/dns';

type Lookup = Awaited<ReturnType<DiscoveryClient['dnsLookup']>>;
type Services = Awaited<ReturnType<DiscoveryClient['listServices']>>;

const srvAnswer: Lookup = {
  name: '_web._tcp.corral-init.corral',
  type: 'SRV',
  rcode: 'NOERROR',
  inZone: true,
  answers: [
    { name: '_web._tcp.corral-init.corral', type: 'SRV', ttl: 5, data: { priority: 0, weight: 0, port: 10000, target: 'vm.node.corral' } },
    { name: '_web._tcp.corral-init.corral', type: 'SRV', ttl: 5, data: { priority: 0, weight: 0, port: 10001, target: 'vm.node.corral' } },
  ],
  authorities: [],
  additionals: [],
};

const services: Services = {
  domain: 'corral',
  services: [
    {
      name: 'web.corral-init.corral',
      srv: '_web._tcp.corral-init.corral',
      appId: '/web',
      framework: 'corral-init',
      instances: 2,
      published: 1,
      tasks: [
        { id: 'web.1', host: 'vm', node: 'vm', ip: '127.0.0.1', ports: [10000], healthy: true, published: true },
        { id: 'web.2', host: 'vm', node: 'vm', ip: '127.0.0.1', ports: [10001], healthy: false, published: false, reason: 'unhealthy' },
      ],
    },
  ],
};

function harness(lookup: (name: string, type: string) => Lookup) {
  const h = { stdout: '', stderr: '', calls: [] as unknown[][] };
  const client = {
    dnsLookup: async (name: string, type: string) => {
      h.calls.push(['dnsLookup', name, type]);
      return lookup(name, type);
    },
    listServices: async () => services,
  } as unknown as CliClient;
  const deps = fakeCliDeps(h, client);
  return { h, run: (...args: string[]) => runProgram(buildProgram(deps), args, deps) };
}

t.test('dns lookup prints records like dig +short; --json the API answer', async (t) => {
  const { h, run } = harness(() => srvAnswer);
  t.equal(await run('dns', 'lookup', '_web._tcp.corral-init.corral', '--type', 'srv'), 0);
  t.same(h.calls, [['dnsLookup', '_web._tcp.corral-init.corral', 'SRV']]);
  t.equal(h.stdout, '0 0 10000 vm.node.corral.\n0 0 10001 vm.node.corral.\n');
  const json = harness(() => srvAnswer);
  await json.run('--json', 'dns', 'lookup', 'x.corral');
  t.same(JSON.parse(json.h.stdout), srvAnswer);
});

t.test('dns lookup: NXDOMAIN, no data, outside the zone, a bad type', async (t) => {
  const answer = (rcode: string, inZone = true): Lookup => ({ name: 'n.corral', type: 'A', rcode, inZone, answers: [], authorities: [], additionals: [] });
  let r = harness(() => answer('NXDOMAIN'));
  await r.run('dns', 'lookup', 'n.corral');
  t.equal(r.h.stdout, 'n.corral: no such name (NXDOMAIN)\n');
  r = harness(() => answer('NOERROR'));
  await r.run('dns', 'lookup', 'n.corral', '--type', 'AAAA');
  t.equal(r.h.stdout, 'n.corral: no AAAA records (NOERROR)\n');
  r = harness(() => answer('REFUSED', false));
  await r.run('dns', 'lookup', 'example.com');
  t.match(r.h.stdout, /outside the zone/);
  r = harness(() => answer('NOERROR'));
  t.equal(await r.run('dns', 'lookup', 'n.corral', '--type', 'MX'), 1);
  t.match(r.h.stderr, /--type must be one of .* \(INVALID_REQUEST\)/);
  t.same(r.h.calls, [], 'nothing asked');
});

t.test('service list: names, app, published of running with reasons, endpoints', async (t) => {
  const { h, run } = harness(() => srvAnswer);
  t.equal(await run('service', 'list'), 0);
  t.match(h.stdout, /NAME\s+APP\s+PUBLISHED\s+ENDPOINTS/);
  t.match(h.stdout, /web\.corral-init\.corral\s+\/web\s+1\/2 \(unhealthy\)\s+127\.0\.0\.1:10000/);
});

// The discovery shell against a fake master (events pushed, catalog rebuilt after the coalescing
// delay of the fake clock) and its HTTP routes through fastify's inject: Mesos-DNS's /v1 lookup,
// /api/v1/services, /api/v1/dns/lookup and Prometheus HTTP SD.
import Fastify from 'fastify';
import t from 'tap';
import { Discovery, type DiscoveryMaster } from '../../src/discovery/discovery';
import { registerDiscoveryRoutes } from '../../src/discovery/routes';
import type { OperatorEventListener } from '../../src/kernel/sdk/operator';
import { FakeClock } from '../../src/shared/clock';
import { silentLogger } from '../../src/shared/logger';
import { INIT, taskView } from './helpers/state';

function fakeMaster() {
  const listeners: OperatorEventListener[] = [];
  const master: DiscoveryMaster = {
    onEvent: (l) => {
      listeners.push(l);
      return () => listeners.splice(listeners.indexOf(l), 1);
    },
    taskViews: () => [taskView({ id: 'web.1', name: 'web', host: 'node-a', labels: { CORRAL_METRICS_PORT_INDEX: '0' } })],
    agentViews: () => [{ id: 'agent-a', hostname: 'node-a', status: 'alive' }],
    frameworkViews: () => [{ id: INIT, name: 'corral-init', role: '*', user: undefined, connected: true, failoverTimeoutSeconds: 1, registeredAt: 0, disconnectedAt: undefined, activeTasks: 1 }],
  };
  return { master, emit: (e: Parameters<OperatorEventListener>[0]) => listeners.forEach((l) => l(e)), listeners };
}

async function setup() {
  const clock = new FakeClock();
  const m = fakeMaster();
  const discovery = new Discovery({
    master: m.master,
    settings: { domain: 'corral', ttl: 5 },
    listen: undefined,
    upstreams: [],
    leader: { hostname: 'master-1', ip: '10.0.0.9', apiPort: 5050 },
    hint: (id) => (id === 'web.1' ? { healthChecked: false, appId: '/web', ports: [31000] } : undefined),
    resolveHost: async (host) => (host === 'node-a' ? '10.0.0.1' : undefined),
    clock,
    logger: silentLogger(),
  });
  await discovery.start();
  await new Promise((r) => setImmediate(r)); // the host name resolves
  const server = Fastify();
  registerDiscoveryRoutes(server, { discovery, version: '9.9.9', metricsNodes: () => [{ address: '10.0.0.9:5050', hostname: 'master-1', id: 'n1' }] });
  t.teardown(async () => {
    await server.close();
    await discovery.stop();
  });
  const get = async (url: string) => {
    const res = await server.inject({ method: 'GET', url });
    return { status: res.statusCode, body: res.json() };
  };
  return { clock, m, discovery, get };
}

t.test('events are pushed into the catalog after the coalescing delay; the routes read it', async (t) => {
  const { clock, m, discovery, get } = await setup();
  t.same(discovery.catalog().records.get('web.corral-init.corral')?.a, ['10.0.0.1'], 'the snapshot, once the host resolved');
  m.emit({ type: 'TASK_UPDATED', task: taskView({ id: 'web.1', name: 'web', host: 'node-a', state: 'TASK_KILLED' }), status: { taskId: 'web.1', agentId: 'agent-a', frameworkId: INIT, state: 'TASK_KILLED', source: 'SOURCE_EXECUTOR', timestamp: 1 } });
  t.ok(discovery.answerer.catalog.records.has('web.corral-init.corral'), 'DNS still has it within the coalescing delay');
  clock.advance(10);
  t.notOk(discovery.answerer.catalog.records.has('web.corral-init.corral'), 'gone 10 ms later');
  m.emit({ type: 'TASK_ADDED', task: taskView({ id: 'web.1', name: 'web', host: 'node-a', labels: { CORRAL_METRICS_PORT_INDEX: '0' } }) });
  t.ok(discovery.catalog().records.has('web.corral-init.corral'), 'an HTTP read rebuilds at once');
  await discovery.stop();
  t.equal(m.listeners.length, 0, 'unsubscribed on stop');
});

t.test('Mesos-DNS /v1 lookup', async (t) => {
  const { get } = await setup();
  t.match((await get('/v1/version')).body, { Version: '9.9.9' });
  t.match((await get('/v1/config')).body, { Domain: 'corral', TTL: 5, DNSOn: false, Resolvers: [] });
  t.same((await get('/v1/hosts/web.corral-init.corral.')).body, [{ host: 'web.corral-init.corral.', ip: '10.0.0.1' }]);
  t.same((await get('/v1/hosts/nope.corral')).body, [{ host: '', ip: '' }]);
  t.same((await get('/v1/services/_web._tcp.corral-init.corral.')).body, [{ service: '_web._tcp.corral-init.corral.', host: 'node-a.node.corral.', ip: '10.0.0.1', port: '31000' }]);
  t.same((await get('/v1/services/_nope._tcp.corral')).body, [{ service: '', host: '', ip: '', port: '' }]);
  t.same((await get('/v1/enumerate')).body, {
    frameworks: [{ name: 'corral-init', tasks: [{ name: 'web', id: 'web.1', records: [{ name: 'web.corral-init.corral.', host: '10.0.0.1', rtype: 'A' }, { name: '_web._tcp.corral-init.corral.', host: 'node-a.node.corral.:31000', rtype: 'SRV' }] }] }],
  });
});

t.test('/api/v1/services and /api/v1/dns/lookup', async (t) => {
  const { get } = await setup();
  const { body } = await get('/api/v1/services');
  t.match(body, { domain: 'corral', services: [{ name: 'web.corral-init.corral', srv: '_web._tcp.corral-init.corral', appId: '/web', instances: 1, published: 1, tasks: [{ id: 'web.1', ip: '10.0.0.1', ports: [31000], healthy: null, published: true }] }] });
  const srv = await get('/api/v1/dns/lookup?name=_web._tcp.corral-init.corral&type=srv');
  t.match(srv.body, { rcode: 'NOERROR', inZone: true, answers: [{ type: 'SRV', data: { port: 31000, target: 'node-a.node.corral' } }], additionals: [{ type: 'A', data: '10.0.0.1' }] });
  t.match((await get('/api/v1/dns/lookup?name=nope.corral')).body, { rcode: 'NXDOMAIN', answers: [] });
  t.match((await get('/api/v1/dns/lookup?name=example.com')).body, { rcode: 'REFUSED', inZone: false });
  t.equal((await get('/api/v1/dns/lookup')).status, 400);
  t.equal((await get('/api/v1/dns/lookup?name=x.corral&type=MX')).status, 400);
});

t.test('Prometheus HTTP SD: nodes and opted-in tasks, filtered by kind', async (t) => {
  const { get } = await setup();
  const all = (await get('/api/v1/discovery/prometheus')).body;
  t.same(all, [
    { targets: ['10.0.0.9:5050'], labels: { __metrics_path__: '/metrics', corral_kind: 'node', node: 'master-1', node_id: 'n1' } },
    { targets: ['10.0.0.1:31000'], labels: { __metrics_path__: '/metrics', corral_kind: 'task', app: '/web', task: 'web.1', node: 'node-a', framework: 'corral-init' } },
  ]);
  t.equal((await get('/api/v1/discovery/prometheus?kind=task')).body.length, 1);
  t.equal((await get('/api/v1/discovery/prometheus?kind=node')).body[0].labels.corral_kind, 'node');
  t.equal((await get('/api/v1/discovery/prometheus?kind=x')).status, 400);
});

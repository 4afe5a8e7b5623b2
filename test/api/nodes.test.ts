// The node routes: GET /api/v1/nodes (status, drain times, version, last contact, the 'suspect'
// hook for gossip membership), POST /api/v1/nodes/{id}/drain and /undrain with their errors, and
// the AGENT_DRAINING / AGENT_UNDRAINED events a framework gets over the HTTP scheduler API.
import t, { type Test } from 'tap';
import { registerNativeRoutes } from '../../src/api/native-routes';
import { registerSchedulerRoutes } from '../../src/api/scheduler-routes';
import { createApiServer } from '../../src/api/server';
import { Master } from '../../src/kernel/master/master';
import { httpTransport, type AgentDraining } from '../../src/kernel/sdk';
import { FakeClock } from '../../src/shared/clock';
import { silentLogger } from '../../src/shared/logger';
import { createMetrics } from '../../src/shared/metrics';
import { FakeAgent, TOKEN } from './helpers/fake-kernel';
import { Feed } from './helpers/streams';

const START = Date.UTC(2026, 0, 1);

async function nodesHarness(t: Test) {
  const clock = new FakeClock(START);
  const master = new Master({ clock, logger: silentLogger(), allocationIntervalMs: 3_600_000 });
  master.start();
  const agent = (id: string) => new FakeAgent({ id, hostname: `${id}.test`, resources: { cpus: 4, mem: 4096, disk: 0, ports: [] }, attributes: {}, registeredAt: clock.now(), version: '0.1.0' });
  master.registerAgent(agent('local').info, agent('local'));
  master.registerAgent(agent('a1').info, agent('a1'));
  const suspects = new Set<string>();
  const server = createApiServer({
    token: TOKEN,
    logger: silentLogger(),
    metrics: createMetrics({ processMetrics: false }),
    routes: [
      (s) => registerNativeRoutes(s, { master, clock, roles: ['master', 'agent'], initFrameworkId: () => undefined, localAgentId: 'local', memberStatus: (id) => (suspects.has(id) ? 'suspect' : 'alive') }),
      (s) => registerSchedulerRoutes(s, { master, clock, logger: silentLogger() }),
    ],
  });
  await server.listen({ host: '127.0.0.1', port: 0 });
  const address = server.server.address();
  const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  t.teardown(async () => {
    master.stop();
    await server.close();
  });
  const call = (method: 'GET' | 'POST', path: string, body?: unknown, token = TOKEN) =>
    server.inject({ method, url: path, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, ...(body === undefined ? {} : { payload: typeof body === 'string' ? body : JSON.stringify(body) }) });
  const node = async (id: string) => (await call('GET', '/api/v1/nodes')).json().nodes.find((n: { id: string }) => n.id === id);
  return { clock, master, url, suspects, call, node };
}

t.test('GET /api/v1/nodes: status words, version, last contact; suspect comes from membership', async (t) => {
  const h = await nodesHarness(t);
  h.clock.advance(5000);
  t.match(await h.node('a1'), { status: 'alive', version: '0.1.0', lastContact: new Date(START).toISOString(), roles: ['agent'] });
  t.match(await h.node('local'), { status: 'alive', lastContact: new Date(START + 5000).toISOString(), roles: ['master', 'agent'] }, 'the agent in this process is always in touch');
  t.notOk('drainingSince' in (await h.node('a1')), 'no drain fields while not draining');
  h.suspects.add('a1');
  t.equal((await h.node('a1')).status, 'suspect');
  h.master.agentUnreachable('a1');
  t.match(await h.node('a1'), { status: 'unreachable', unreachableSince: new Date(START + 5000).toISOString() }, 'unreachable wins over suspect');
});

t.test('POST drain and undrain: the node JSON says so; bad input and unknown nodes get codes', async (t) => {
  const h = await nodesHarness(t);
  const drained = await h.call('POST', '/api/v1/nodes/a1/drain', { deadlineSeconds: 300 });
  t.equal(drained.statusCode, 200);
  t.match(drained.json().node, { id: 'a1', status: 'drained', drainingSince: new Date(START).toISOString(), drainDeadline: new Date(START + 300_000).toISOString() });
  h.suspects.add('a1');
  t.equal((await h.node('a1')).status, 'drained', 'suspect only replaces alive');

  const noDeadline = await h.call('POST', '/api/v1/nodes/local/drain');
  t.match(noDeadline.json().node, { id: 'local', status: 'drained', drainDeadline: null }, 'an empty body drains without deadline');

  const undrained = await h.call('POST', '/api/v1/nodes/local/undrain');
  t.equal(undrained.statusCode, 200);
  t.match(undrained.json().node, { id: 'local', status: 'alive' });
  t.notOk('drainingSince' in undrained.json().node);

  const bad: Array<[string, unknown, number, string, string?]> = [
    ['negative deadline', { deadlineSeconds: -1 }, 422, 'VALIDATION_FAILED', '/deadlineSeconds'],
    ['string deadline', { deadlineSeconds: '5m' }, 422, 'VALIDATION_FAILED', '/deadlineSeconds'],
    ['array body', [], 422, 'VALIDATION_FAILED', '/'],
    ['broken JSON', '{"deadlineSeconds":', 400, 'INVALID_JSON'],
  ];
  for (const [name, body, status, code, path] of bad) {
    const res = await h.call('POST', '/api/v1/nodes/local/drain', body);
    t.equal(res.statusCode, status, name);
    t.match(res.json(), { code, ...(path ? { details: [{ path }] } : {}) }, name);
  }
  t.equal((await h.node('local')).status, 'alive', 'refused drains change nothing');
  for (const action of ['drain', 'undrain']) t.match((await h.call('POST', `/api/v1/nodes/nope/${action}`)).json(), { code: 'AGENT_NOT_FOUND' }, `${action} of an unknown node`);
  t.equal((await h.call('POST', '/api/v1/nodes/a1/drain', {}, 'wrong')).statusCode, 401, 'the admin token is required');
});

t.test('an HTTP framework hears AGENT_DRAINING and AGENT_UNDRAINED, and of drains older than its subscription', async (t) => {
  const h = await nodesHarness(t);
  const feed = new Feed<string>();
  const events = (name: string) => ({
    offers: () => undefined,
    rescind: () => undefined,
    update: () => undefined,
    agentDraining: (d: AgentDraining) => feed.push(`${name} draining ${d.agentId} ${d.deadline ?? 'none'}`),
    agentUndrained: (agentId: string) => feed.push(`${name} undrained ${agentId}`),
  });
  const transport = httpTransport({ url: h.url, token: TOKEN });
  const early = await transport.subscribe({ name: 'early' }, events('early'));
  t.teardown(() => early.disconnect());
  await h.call('POST', '/api/v1/nodes/a1/drain', { deadlineSeconds: 60 });
  t.equal(await feed.next('drain event'), `early draining a1 ${START + 60_000}`);
  const late = await transport.subscribe({ name: 'late' }, events('late'));
  t.teardown(() => late.disconnect());
  t.equal(await feed.next('drain event on subscribe'), `late draining a1 ${START + 60_000}`);
  await h.call('POST', '/api/v1/nodes/a1/undrain');
  t.same([await feed.next('undrain'), await feed.next('undrain')].sort(), ['early undrained a1', 'late undrained a1']);
});

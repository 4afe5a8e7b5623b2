// The catalog core: naming rules, which tasks are published, the records of every name, and the
// fold of operator events into discovery's state.
import t from 'tap';
import { buildCatalog } from '../../src/discovery/catalog';
import { canonicalName, inZone, normalizeDomain, toLabel } from '../../src/discovery/names';
import { applyHostAddress, applyOperatorEvent, emptyState, stateFromSnapshot, unresolvedHosts } from '../../src/discovery/state';
import { isIpv4 } from '../../src/discovery/names';
import { baseState, catalogOf, INIT, taskView, withTasks } from './helpers/state';

t.test('labels: lower case, a-z 0-9 -, no edge dashes, 63 characters', async (t) => {
  const cases: Array<[string, string]> = [
    ['hello', 'hello'],
    ['Shop.Web.API', 'shop-web-api'],
    ['a_b c', 'a-b-c'],
    ['--x--', 'x'],
    ['a..b', 'a-b'],
    ['x'.repeat(70), 'x'.repeat(63)],
    ['a'.repeat(62) + '-b', 'a'.repeat(62)],
    ['10.0.0.6', '10-0-0-6'],
    ['***', ''],
  ];
  for (const [raw, want] of cases) t.equal(toLabel(raw), want, raw);
  t.equal(normalizeDomain('Corral.'), 'corral');
  t.equal(normalizeDomain('dc1.corral'), 'dc1.corral');
  t.equal(normalizeDomain('bad_domain'), undefined);
  t.equal(normalizeDomain(''), undefined);
  t.ok(inZone('a.corral', 'corral'));
  t.ok(inZone('corral', 'corral'));
  t.notOk(inZone('xcorral', 'corral'));
  t.notOk(inZone('example.com', 'corral'));
  t.equal(canonicalName('A.Corral.'), 'a.corral');
});

t.test('running tasks: A per distinct address, SRV per task port with the node as target', async (t) => {
  const state = withTasks(baseState(), [
    taskView({ id: 't1', agentId: 'agent-a', host: 'node-a', resources: { cpus: 1, mem: 1, disk: 0, ports: [{ begin: 31000, end: 31001 }] } }),
    taskView({ id: 't2', agentId: 'agent-a', host: 'node-a', resources: { cpus: 1, mem: 1, disk: 0, ports: [{ begin: 31002, end: 31003 }] } }),
    taskView({ id: 't3', agentId: 'agent-b', host: 'node-b', resources: { cpus: 1, mem: 1, disk: 0, ports: [{ begin: 31000, end: 31001 }] } }),
  ]);
  const c = catalogOf(state);
  t.same(c.records.get('hello.corral-init.corral')!.a, ['10.0.0.1', '10.0.0.2']);
  const srv = c.records.get('_hello._tcp.corral-init.corral')!.srv;
  t.same(
    srv.map((s) => `${s.target}:${s.port}`).sort(),
    ['node-a.node.corral:31000', 'node-a.node.corral:31001', 'node-a.node.corral:31002', 'node-a.node.corral:31003', 'node-b.node.corral:31000', 'node-b.node.corral:31001'],
  );
  t.same(c.records.get('node-a.node.corral')!.a, ['10.0.0.1']);
  t.same(c.records.get('agent-a.node.corral')!.a, ['10.0.0.1'], 'the node id (first 12 characters) names it too');
  t.same(c.records.get('agent.corral')!.a, ['10.0.0.1', '10.0.0.2']);
  t.same(c.records.get('slave.corral')!.a, ['10.0.0.1', '10.0.0.2'], "Mesos-DNS's name for agents");
  t.same(c.tasks.map((x) => [x.id, x.published]), [['t1', true], ['t2', true], ['t3', true]]);
});

t.test('the zone: SOA and NS at the apex, leader/master/ns1, _leader._tcp, empty non-terminals', async (t) => {
  const c = catalogOf(withTasks(baseState(), [taskView({ id: 't1', name: 'shop.web', host: 'node-a' })]));
  const apex = c.records.get('corral')!;
  t.ok(apex.soa);
  t.same(apex.ns, ['ns1.corral']);
  for (const n of ['leader.corral', 'master.corral', 'master0.corral', 'ns1.corral', 'master-1.node.corral']) t.same(c.records.get(n)!.a, ['10.0.0.9'], n);
  t.same(c.records.get('_leader._tcp.corral')!.srv, [{ priority: 0, weight: 0, port: 5050, target: 'leader.corral' }]);
  t.ok(c.records.get('shop-web.corral-init.corral'), "an app's nested path is its segments joined with -");
  for (const n of ['corral-init.corral', '_tcp.corral-init.corral', 'node.corral']) t.same(c.records.get(n), { a: [], srv: [], ns: [], soa: false }, `${n} exists without records`);
  t.equal(c.serial, 1000);
  t.equal(c.ttl, 5);
});

t.test('only RUNNING, healthy (or unchecked) tasks on reachable nodes with an address are published', async (t) => {
  const state = withTasks(baseState(), [
    taskView({ id: 'ok-unchecked', host: 'node-a' }),
    taskView({ id: 'ok-healthy', host: 'node-a', healthy: true }),
    [taskView({ id: 'ok-checked', host: 'node-a', healthy: true }), { healthChecked: true }],
    taskView({ id: 'sick', host: 'node-a', healthy: false }),
    [taskView({ id: 'unknown', host: 'node-a' }), { healthChecked: true }],
    taskView({ id: 'staging', host: 'node-a', state: 'TASK_STAGING' }),
    taskView({ id: 'killing', host: 'node-a', state: 'TASK_KILLING' }),
    taskView({ id: 'lost-node', agentId: 'agent-b', host: 'node-b' }),
    taskView({ id: 'no-ip', agentId: 'agent-c', host: 'nowhere' }),
    taskView({ id: 'no-name', name: '***', host: 'node-a' }),
  ]);
  state.agents.set('agent-b', { id: 'agent-b', hostname: 'node-b', reachable: false });
  state.agents.set('agent-c', { id: 'agent-c', hostname: 'nowhere', reachable: true });
  const c = catalogOf(state);
  const byId = Object.fromEntries(c.tasks.map((x) => [x.id, x.reason ?? 'published']));
  t.same(byId, {
    'ok-unchecked': 'published',
    'ok-healthy': 'published',
    'ok-checked': 'published',
    sick: 'unhealthy',
    unknown: 'health_unknown',
    'lost-node': 'agent_unreachable',
    'no-ip': 'no_address',
    'no-name': 'no_name',
  });
  t.same(c.records.get('hello.corral-init.corral')!.a, ['10.0.0.1'], 'only node-a serves hello');
  t.notOk(c.records.has('node-b.node.corral'), 'an unreachable node has no records');
  t.same(c.records.get('agent.corral')!.a, ['10.0.0.1']);
});

t.test('ports come in the framework order when it told them, else ascending from the ranges', async (t) => {
  const c = catalogOf(withTasks(baseState(), [[taskView({ id: 't', host: 'node-a', resources: { cpus: 1, mem: 1, disk: 0, ports: [{ begin: 100, end: 101 }] } }), { healthChecked: false, ports: [101, 100], appId: '/hello' }]]));
  t.same(c.tasks[0]!.ports, [101, 100]);
  t.equal(c.tasks[0]!.appId, '/hello');
  t.same(c.records.get('_hello._tcp.corral-init.corral')!.srv.map((s) => s.port), [101, 100]);
});

t.test('another domain, and a framework id stands in for a name not known yet', async (t) => {
  const state = withTasks(baseState(), [taskView({ id: 't', host: 'node-a', frameworkId: 'FW-X' })]);
  const c = buildCatalog(state, { domain: 'dc1.example', ttl: 60 }, 7);
  t.same(c.records.get('hello.fw-x.dc1.example')!.a, ['10.0.0.1']);
  t.ok(c.records.get('dc1.example')!.soa);
  t.notOk(c.records.has('corral'));
});

t.test('state: a snapshot, then operator events', async (t) => {
  const hints = new Map([['t1', { healthChecked: true, appId: '/hello' }]]);
  const state = stateFromSnapshot(
    {
      tasks: [taskView({ id: 't1', host: 'node-a' }), taskView({ id: 'done', state: 'TASK_FINISHED' })],
      agents: [{ id: 'agent-a', hostname: 'node-a', status: 'alive' }, { id: 'agent-b', hostname: 'node-b', status: 'unreachable' }],
      frameworks: [{ id: INIT, name: 'corral-init', role: '*', user: undefined, connected: true, failoverTimeoutSeconds: 1, registeredAt: 0, disconnectedAt: undefined, activeTasks: 1 }],
    },
    (id) => hints.get(id),
  );
  t.same([...state.tasks.keys()], ['t1'], 'ended tasks are not tracked');
  t.same(state.tasks.get('t1')!.hint, { healthChecked: true, appId: '/hello' });
  t.equal(state.agents.get('agent-b')!.reachable, false);
  t.same(unresolvedHosts(state, isIpv4), ['node-a', 'node-b']);
  t.ok(applyHostAddress(state, 'node-a', '10.0.0.1'));
  t.notOk(applyHostAddress(state, 'node-a', '10.0.0.1'), 'the same address again changes nothing');

  t.ok(applyOperatorEvent(state, { type: 'TASK_UPDATED', task: taskView({ id: 't1', host: 'node-a', healthy: true }), status: { taskId: 't1', agentId: 'agent-a', frameworkId: INIT, state: 'TASK_RUNNING', source: 'SOURCE_EXECUTOR', timestamp: 1 } }));
  t.same(state.tasks.get('t1')!.hint, { healthChecked: true, appId: '/hello' }, 'an update without a hint keeps the one known');
  t.equal(state.tasks.get('t1')!.view.healthy, true);
  t.ok(applyOperatorEvent(state, { type: 'TASK_UPDATED', task: taskView({ id: 't1', state: 'TASK_KILLED' }), status: { taskId: 't1', agentId: 'agent-a', frameworkId: INIT, state: 'TASK_KILLED', source: 'SOURCE_EXECUTOR', timestamp: 2 } }));
  t.equal(state.tasks.size, 0, 'a terminal update removes the task');
  t.ok(applyOperatorEvent(state, { type: 'AGENT_REMOVED', agentId: 'agent-a' }));
  t.notOk(applyOperatorEvent(state, { type: 'AGENT_REMOVED', agentId: 'agent-a' }), 'removed twice is no change');
  t.equal(state.agents.get('agent-a')!.reachable, false);
  t.ok(applyOperatorEvent(state, { type: 'AGENT_ADDED', agent: { id: 'agent-a', hostname: 'node-a', resources: { cpus: 1, mem: 1, disk: 1, ports: [] }, attributes: {}, registeredAt: 0, version: 'x' } }));
  t.equal(state.agents.get('agent-a')!.reachable, true, 'registering again makes it reachable');
  t.notOk(applyOperatorEvent(state, { type: 'AGENT_DRAINING', agentId: 'agent-a', since: 0, deadline: undefined }), 'draining keeps the names');
  const fw = { id: 'fw2', name: 'mine', role: '*', user: undefined, connected: true, failoverTimeoutSeconds: 1, registeredAt: 0, disconnectedAt: undefined, activeTasks: 0 };
  t.ok(applyOperatorEvent(state, { type: 'FRAMEWORK_ADDED', framework: fw }));
  t.notOk(applyOperatorEvent(state, { type: 'FRAMEWORK_UPDATED', framework: fw }), 'same name: no change');
  t.ok(applyOperatorEvent(state, { type: 'FRAMEWORK_REMOVED', frameworkId: 'fw2' }));
  t.equal(emptyState().leader, undefined);
});

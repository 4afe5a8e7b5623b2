// End to end on loopback: one master and two agents as separate `corral up` processes joined over
// the cluster plane (hyperswarm on 127.0.0.1, the master's DHT node as the only bootstrap). An agent
// killed with SIGKILL is marked unreachable, its instances are replaced on the other agent, and when
// it comes back the surplus is killed so the app ends at exactly its instance count. An agent with
// the wrong token never appears. (Network namespaces for separate "machines": see issue 4's notes.)
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { removeEmptyCorralCgroups, startCorral, startCorralAgent, waitFor, type RunningAgent, type RunningCorral } from '../helpers/corral-process';
import { freeUdpPort } from '../helpers/ports';

const root = mkdtempSync(join(tmpdir(), 'corral-cluster-'));
const running: Array<RunningCorral | RunningAgent> = [];

t.teardown(async () => {
  // Agents first: a clean stop kills their tasks.
  for (const p of running.reverse()) await p.stop();
  rmSync(root, { recursive: true, force: true });
  removeEmptyCorralCgroups();
});


interface Task {
  id: string;
  host: string;
  state: string;
}

t.test('a master and two agents on loopback: spread, loss, replacement, return, wrong token', async (t) => {
  const clusterPort = await freeUdpPort();
  const master = await startCorral(join(root, 'master'), ['--master', '--init', '--cluster-host', '127.0.0.1', '--cluster-port', String(clusterPort)]);
  running.push(master);
  t.match(master.output(), /Join another machine: copy .*cluster\.token .* corral up --agent --join 127\.0\.0\.1:\d+ --token-file cluster\.token/, 'the first master prints how to join');
  const token = readFileSync(join(root, 'master', 'cluster.token'), 'utf8').trim();
  const join_ = ['--join', `127.0.0.1:${clusterPort}`];
  const agent = (name: string, range: string, env = { CORRAL_TOKEN: token }) => startCorralAgent(join(root, name), [...join_, '--hostname', name, '--port-range', range, '--agent-cpus', '2', '--agent-mem', '1024'], env);
  const api = async <T>(path: string, init: RequestInit = {}): Promise<T> => {
    const res = await fetch(`${master.url}${path}`, { ...init, headers: { authorization: `Bearer ${master.token}`, 'content-type': 'application/json', ...(init.headers ?? {}) } });
    return (await res.json()) as T;
  };
  const nodes = async () => (await api<{ nodes: Array<{ hostname: string }> }>('/api/v1/nodes')).nodes.map((n) => n.hostname).sort();
  const tasks = async () => (await api<{ tasks: Task[] }>('/v2/apps/cluster/web/tasks')).tasks;
  // The master's view: init forgets an unreachable instance once replaced (expungeAfterSeconds 0), the master keeps it.
  const kernelTasks = async () => (await api<{ tasks: Task[] }>('/api/v1/tasks?app=/cluster/web')).tasks;
  const count = (list: Task[], host: string, state: string) => list.filter((x) => x.host === host && x.state === state).length;

  let a1 = await agent('agent1', '31000-31099');
  running.push(a1);
  const a2 = await agent('agent2', '32000-32099');
  running.push(a2);
  await waitFor('both agents to register', 15_000, async () => ((await nodes()).length === 2 ? true : undefined));
  t.same(await nodes(), ['agent1', 'agent2']);

  const intruder = await agent('intruder', '33000-33099', { CORRAL_TOKEN: 'ab'.repeat(32) });
  running.push(intruder);

  // Each agent offers 2 cpus; 6 × 0.5 cpus cannot fit on one of them.
  await api('/v2/apps', { method: 'POST', body: JSON.stringify({ id: '/cluster/web', cmd: 'sleep 600', cpus: 0.5, mem: 32, instances: 6 }) });
  const spread = await waitFor('6 instances running', 20_000, async () => {
    const list = await tasks();
    return list.filter((x) => x.state === 'TASK_RUNNING').length === 6 ? list : undefined;
  });
  t.ok(count(spread, 'agent1', 'TASK_RUNNING') > 0 && count(spread, 'agent2', 'TASK_RUNNING') > 0, 'instances run on both agents');
  t.same(await nodes(), ['agent1', 'agent2'], 'the agent with the wrong token never appears');

  // agent1 dies (its tasks keep running on its machine, supervised): unreachable within 5 s.
  const onA1 = count(spread, 'agent1', 'TASK_RUNNING');
  a1.proc.kill('SIGKILL');
  const killedAt = Date.now();
  await waitFor("agent1's tasks to go unreachable", 10_000, async () => (count(await kernelTasks(), 'agent1', 'TASK_UNREACHABLE') === onA1 ? true : undefined));
  const detected = Date.now() - killedAt;
  t.ok(detected < 5_000, `agent1 marked unreachable in ${detected} ms`);
  const listed = (await api<{ nodes: Array<{ hostname: string; status: string; roles: string[] }> }>('/api/v1/nodes')).nodes;
  t.match(listed.find((n) => n.hostname === 'agent1'), { status: 'unreachable', roles: ['agent'] }, 'node list shows it unreachable');
  t.match(listed.find((n) => n.hostname === 'agent2'), { status: 'alive' });

  // Free room on agent2 for the replacements: the app is scaled so they fit (4 × 0.5 on agent2).
  await api('/v2/apps/cluster/web', { method: 'PUT', body: JSON.stringify({ instances: 4 }) });
  await waitFor('4 running on agent2', 20_000, async () => (count(await tasks(), 'agent2', 'TASK_RUNNING') === 4 ? true : undefined));

  // agent1 comes back with its old tasks still running: the surplus is killed, exactly 4 remain.
  await a1.stop();
  a1 = await agent('agent1', '31000-31099');
  running.push(a1);
  const settled = await waitFor('exactly 4 running and nothing unreachable', 20_000, async () => {
    const list = await tasks();
    const live = list.filter((x) => x.state === 'TASK_RUNNING');
    return live.length === 4 && !list.some((x) => x.state === 'TASK_UNREACHABLE' || x.state === 'TASK_KILLING') ? list : undefined;
  });
  t.equal(settled.length, 4, `app ends at its instance count: ${settled.map((x) => `${x.host}:${x.state}`).join(' ')}`);
  t.same(await nodes(), ['agent1', 'agent2']);
  t.match(intruder.output(), /is up/, 'the intruder runs, unregistered');
});

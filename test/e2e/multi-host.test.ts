// Issue 4's multi-host test: one master and three agents, each a separate `corral up` in its own
// network namespace ("machine") on a bridge the test creates, plus a fifth machine whose agent has
// the wrong token. An app of 6 instances spreads over the agents; killing every process of one
// machine gets it marked unreachable within 5 s and its instances replaced; cutting another
// machine's link for 30 s and restoring it ends with exactly 6 instances; a restart of the master
// replaces nothing; the intruder never appears; and no packet tried to leave any namespace for an
// address outside the lab. Agents are started as the README says (with --cluster-host).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { removeTaskCgroups, startCorral, startCorralAgent, waitFor } from '../helpers/corral-process';
import { labSuite, noPacketLeft } from '../helpers/lab-suite';
import type { LabHost } from '../helpers/netns';

const APP = '/multihost/web';
const TASK_PREFIX = 'multihost_web.';

const TERMINAL = new Set(['TASK_FINISHED', 'TASK_FAILED', 'TASK_KILLED', 'TASK_ERROR', 'TASK_LOST', 'TASK_DROPPED', 'TASK_GONE', 'TASK_GONE_BY_OPERATOR']);

/** The app's processes (`sleep 600`) running in a lab host's namespace. */
async function sleepersIn(host: LabHost): Promise<number> {
  let n = 0;
  for (const pid of await host.pids()) {
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim() === 'sleep 600') n++;
    } catch {
      // gone meanwhile
    }
  }
  return n;
}

interface Task {
  id: string;
  host: string;
  state: string;
}
interface NodeJson {
  hostname: string;
  status: string;
  roles: string[];
}

labSuite('corral-multihost-', ({ root, started: track, lab: createLab }) => {
  t.test('one master and three agents on separate machines', async (t) => {
    const lab = await createLab(['master', 'agent1', 'agent2', 'agent3', 'intruder']);
    const [m, h1, h2, h3, hx] = (['master', 'agent1', 'agent2', 'agent3', 'intruder'] as const).map((name) => lab.host(name)) as [LabHost, LabHost, LabHost, LabHost, LabHost];

    const master = track(await startCorral(join(root, 'master'), ['--master', '--init', '--cluster-host', m.address], { exec: m.exec, listen: `${m.address}:0` }));
    const token = readFileSync(join(root, 'master', 'cluster.token'), 'utf8').trim();
    t.match(master.output(), new RegExp(`corral up --agent --join ${m.address.replace(/\./g, '\\.')}:49737`), 'the master prints the join command with its address');
    const agent = (host: LabHost, env = { CORRAL_TOKEN: token }) =>
      startCorralAgent(join(root, host.name), ['--join', `${m.address}:49737`, '--cluster-host', host.address, '--hostname', host.name, '--agent-cpus', '2', '--agent-mem', '1024'], env, { exec: host.exec });

    const api = async <T>(path: string, init: RequestInit = {}): Promise<T> => {
      const res = await fetch(`${master.url}${path}`, { ...init, headers: { authorization: `Bearer ${master.token}`, 'content-type': 'application/json', ...(init.headers ?? {}) } });
      return (await res.json()) as T;
    };
    const nodes = async () => (await api<{ nodes: NodeJson[] }>('/api/v1/nodes')).nodes;
    const hostnames = async () => (await nodes()).map((n) => n.hostname).sort();
    // Init's instances (an unreachable one is forgotten once replaced: expungeAfterSeconds 0), and the master's tasks.
    const tasks = async () => (await api<{ tasks: Task[] }>(`/v2/apps${APP}/tasks`)).tasks;
    const kernelTasks = async () => (await api<{ tasks: Task[] }>(`/api/v1/tasks?app=${APP}`)).tasks;
    const count = (list: Task[], host: string, state = 'TASK_RUNNING') => list.filter((x) => x.host === host && x.state === state).length;
    const where = (list: Task[]) => list.map((x) => `${x.host}:${x.state}`).sort().join(' ');

    // All three agents (and the intruder) start at once.
    const started = await Promise.all([agent(h1), agent(h2), agent(h3), agent(hx, { CORRAL_TOKEN: 'cd'.repeat(32) })]);
    started.forEach(track);
    const [a1, , , intruder] = started;
    await waitFor('three agents to register', 20_000, async () => ((await hostnames()).length === 3 ? true : undefined));
    t.same(await hostnames(), ['agent1', 'agent2', 'agent3']);

    await api('/v2/apps', { method: 'POST', body: JSON.stringify({ id: APP, cmd: 'sleep 600', cpus: 0.1, mem: 16, instances: 6 }) });
    const first = await waitFor('6 instances running', 30_000, async () => {
      const list = await tasks();
      return count(list, 'agent1') + count(list, 'agent2') + count(list, 'agent3') === 6 ? list : undefined;
    });
    t.same([count(first, 'agent1'), count(first, 'agent2'), count(first, 'agent3')], [2, 2, 2], `the app spreads over the agents: ${where(first)}`);

    // Machine 1 dies: every process in its namespace (the agent and its tasks) is SIGKILLed.
    await h1.killAll('SIGKILL');
    const killedAt = Date.now();
    await waitFor("agent1's instances to go unreachable", 10_000, async () => (count(await kernelTasks(), 'agent1', 'TASK_UNREACHABLE') === 2 ? true : undefined));
    const detected = Date.now() - killedAt;
    t.ok(detected < 5_000, `agent1 marked unreachable in ${detected} ms`);
    t.match((await nodes()).find((n) => n.hostname === 'agent1'), { status: /unreachable/i, roles: ['agent'] }, 'node list shows agent1 unreachable');
    const replaced = await waitFor('replacements on agent2 and agent3', 20_000, async () => {
      const list = await tasks();
      return count(list, 'agent2') + count(list, 'agent3') === 6 ? list : undefined;
    });
    t.same([count(replaced, 'agent2'), count(replaced, 'agent3')], [3, 3], `replacements spread over the survivors: ${where(replaced)}`);
    await a1.stop();

    // Machine 2's link is cut for 30 s: its tasks keep running there, the master replaces them.
    await h2.linkDown();
    const cutAt = Date.now();
    await waitFor("agent2's instances to go unreachable", 10_000, async () => (count(await kernelTasks(), 'agent2', 'TASK_UNREACHABLE') === 3 ? true : undefined));
    await waitFor('6 instances running on agent3', 20_000, async () => (count(await tasks(), 'agent3') === 6 ? true : undefined));
    await new Promise((r) => setTimeout(r, Math.max(0, 30_000 - (Date.now() - cutAt))));
    // An agent whose master is gone keeps its tasks running: all three are still alive on its machine.
    t.equal(await sleepersIn(h2), 3, "agent2's tasks kept running through the cut");
    await h2.linkUp();
    await waitFor('agent2 to come back', 30_000, async () => ((await nodes()).find((n) => n.hostname === 'agent2')?.status === 'alive' ? true : undefined));
    let last: Task[] = [];
    // (agent1's machine stays dead: the master keeps its two tasks as unreachable.)
    const settled = await waitFor('exactly 6 running, nothing unreachable or being killed', 30_000, async () => {
      const list = (last = (await kernelTasks()).filter((x) => !TERMINAL.has(x.state) && x.host !== 'agent1'));
      return list.length === 6 && list.every((x) => x.state === 'TASK_RUNNING') ? list : undefined;
    }).catch((err: Error) => {
      throw new Error(`${err.message}\ntasks: ${where(last)}\nagent2:\n${started[1]!.output().slice(-3000)}`);
    });
    t.equal(settled.length, 6, `the app ends at exactly its instance count: ${where(settled)}`);
    t.equal((await tasks()).filter((x) => x.state === 'TASK_RUNNING').length, 6, 'and init agrees');
    t.equal(await sleepersIn(h2), settled.filter((x) => x.host === 'agent2').length, "what agent2's machine runs is what the master counts");

    // The master restarts: the agents find it again, and every instance is still the same task.
    const ids = settled.map((x) => x.id).sort();
    await master.stop();
    const again = track(await startCorral(join(root, 'master'), ['--master', '--init', '--cluster-host', m.address], { exec: m.exec, listen: `${m.address}:0` }));
    master.url = again.url;
    await waitFor('agent2 and agent3 to register with the restarted master', 30_000, async () => {
      const up = (await nodes()).filter((n) => n.status === 'alive').map((n) => n.hostname).sort();
      return up.join() === 'agent2,agent3' ? true : undefined;
    });
    const after = await waitFor('the same 6 instances running', 30_000, async () => {
      const list = (await tasks()).filter((x) => x.state === 'TASK_RUNNING');
      return list.length === 6 ? list : undefined;
    });
    t.same(after.map((x) => x.id).sort(), ids, 'a master restart keeps every instance: same tasks, none replaced');

    // The intruder never appeared, and ran nothing.
    t.notOk((await nodes()).some((n) => n.hostname === 'intruder'), 'the node with the wrong token never appears');
    t.equal((await tasks()).filter((x) => x.host === 'intruder').length, 0, 'and receives no tasks');
    t.match(intruder.output(), /is up/, 'the intruder runs, unregistered');

    await noPacketLeft(t, lab);
  });
}, { cleanup: () => removeTaskCgroups(TASK_PREFIX) });

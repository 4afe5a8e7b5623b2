// End to end on loopback: a master and two agents as separate `corral up` processes. Draining an
// agent with the CLI moves every instance of an app to the other agent — each replacement runs
// before its old instance is stopped, so the operator event stream never shows fewer running
// instances than the app asks for — while a plain task of another framework (which ignores the
// drain) keeps running there until it finishes by itself. Then the agent is drained; undrain
// puts it back to work.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { httpTransport, type Offer, type TaskStatus } from '../../src/kernel/sdk';
import { openSse } from '../api/helpers/streams';
import { corralCli, removeEmptyCorralCgroups, startCorral, startCorralAgent, waitFor, type RunningAgent, type RunningCorral } from '../helpers/corral-process';
import { freeUdpPort } from '../helpers/ports';

const INSTANCES = 4;
const root = mkdtempSync(join(tmpdir(), 'corral-drain-'));
const running: Array<RunningCorral | RunningAgent> = [];

t.teardown(async () => {
  for (const p of running.reverse()) await p.stop();
  rmSync(root, { recursive: true, force: true });
  removeEmptyCorralCgroups();
});


interface Task {
  id: string;
  host: string;
  state: string;
}
interface NodeJson {
  id: string;
  hostname: string;
  status: string;
  drainDeadline?: string | null;
}

t.test('drain: app instances move replace-first, a plain task finishes where it runs', async (t) => {
  const clusterPort = await freeUdpPort();
  const master = await startCorral(join(root, 'master'), ['--master', '--init', '--cluster-host', '127.0.0.1', '--cluster-port', String(clusterPort)]);
  running.push(master);
  const token = readFileSync(join(root, 'master', 'cluster.token'), 'utf8').trim();
  for (const [name, range] of [['agent1', '31000-31099'], ['agent2', '32000-32099']] as const) {
    running.push(await startCorralAgent(join(root, name), ['--join', `127.0.0.1:${clusterPort}`, '--hostname', name, '--port-range', range, '--agent-cpus', '2', '--agent-mem', '1024'], { CORRAL_TOKEN: token }));
  }
  const api = async <T>(path: string, init: RequestInit = {}): Promise<T> => {
    const res = await fetch(`${master.url}${path}`, { ...init, headers: { authorization: `Bearer ${master.token}`, 'content-type': 'application/json', ...(init.headers ?? {}) } });
    return (await res.json()) as T;
  };
  const cli = (...args: string[]) => corralCli(['--url', master.url, '--token', master.token, ...args]);
  const nodes = async () => JSON.parse((await cli('--json', 'node', 'list')).stdout).nodes as NodeJson[];
  const node = async (hostname: string) => (await nodes()).find((n) => n.hostname === hostname);
  const tasks = async () => (await api<{ tasks: Task[] }>('/v2/apps/drain/web/tasks')).tasks;
  const live = (list: Task[], host: string) => list.filter((x) => x.host === host && ['TASK_STAGING', 'TASK_STARTING', 'TASK_RUNNING', 'TASK_KILLING'].includes(x.state));
  await waitFor('both agents to register', 15_000, async () => ((await nodes()).length === 2 ? true : undefined));

  await api('/v2/apps', { method: 'POST', body: JSON.stringify({ id: '/drain/web', cmd: 'sleep 600', cpus: 0.25, mem: 32, instances: INSTANCES }) });
  const spread = await waitFor(`${INSTANCES} instances running`, 20_000, async () => {
    const list = await tasks();
    return list.filter((x) => x.state === 'TASK_RUNNING').length === INSTANCES ? list : undefined;
  });
  const onAgent1 = live(spread, 'agent1').length;
  t.ok(onAgent1 > 0, `${onAgent1} instance(s) on agent1 to move`);

  // A framework that ignores drains runs one plain task on agent1; it ends by itself.
  const agent1Id = (await node('agent1'))!.id;
  const updates: TaskStatus[] = [];
  let launched = false;
  const framework = await httpTransport({ url: master.url, token: master.token }).subscribe(
    { name: 'plain', failoverTimeoutSeconds: 0 },
    {
      offers: (offers: Offer[]) => {
        for (const o of offers) {
          if (o.agentId !== agent1Id || launched) {
            void framework.decline([o.id], { refuseSeconds: 3600 });
            continue;
          }
          launched = true;
          const task = { taskId: 'plain-1', name: 'plain-1', resources: { cpus: 0.1, mem: 16, disk: 0, ports: [] }, command: { shell: true, value: 'sleep 12', environment: {} }, labels: {} };
          void framework.accept([o.id], [{ type: 'LAUNCH', tasks: [task] }], { refuseSeconds: 3600 });
        }
      },
      rescind: () => undefined,
      update: (s: TaskStatus) => {
        updates.push(s);
        void framework.acknowledge(s);
      },
    },
  );
  t.teardown(() => framework.disconnect());
  await waitFor('the plain task to run on agent1', 15_000, () => (updates.some((s) => s.state === 'TASK_RUNNING') ? true : undefined));

  // Watch every task change of the app from here on; the running count must never drop below INSTANCES.
  const sse = await openSse(`${master.url}/api/v1/events?type=TASK_ADDED,TASK_UPDATED`, master.token);
  t.teardown(() => sse.close());
  const first = await sse.feed.next('SUBSCRIBED', (e) => e.event === 'SUBSCRIBED');
  const runningIds = new Set<string>(first.data.state.tasks.filter((x: { appId: string; state: string }) => x.appId === '/drain/web' && x.state === 'TASK_RUNNING').map((x: { id: string }) => x.id));
  let lowest = runningIds.size;
  let observed = 0;
  const watch = (async () => {
    for (;;) {
      const e = await sse.feed.next('task event', (x) => x.event === 'TASK_UPDATED' || x.event === 'TASK_ADDED', 60_000).catch(() => undefined);
      if (!e) return;
      if (e.data.task.appId !== '/drain/web') continue;
      observed++;
      if (e.data.task.state === 'TASK_RUNNING') runningIds.add(e.data.task.id);
      else runningIds.delete(e.data.task.id);
      lowest = Math.min(lowest, runningIds.size);
    }
  })();

  const drained = await cli('node', 'drain', 'agent1', '--deadline', '2m');
  t.equal(drained.code, 0, drained.stderr);
  t.match(drained.stdout, /^Draining node \S+ \(agent1\): .*tasks still there at .* are killed\.\n$/);

  const moved = await waitFor('every instance to run on agent2 and none on agent1', 30_000, async () => {
    const list = await tasks();
    return live(list, 'agent1').length === 0 && list.filter((x) => x.host === 'agent2' && x.state === 'TASK_RUNNING').length === INSTANCES ? list : undefined;
  });
  t.equal(moved.length, INSTANCES, `exactly ${INSTANCES} instances: ${moved.map((x) => `${x.host}:${x.state}`).join(' ')}`);
  t.equal(updates.at(-1)?.state, 'TASK_RUNNING', 'the plain task still runs on agent1 after the move');
  t.match(await node('agent1'), { status: 'draining', drainDeadline: String });

  const ended = await waitFor('the plain task to finish', 20_000, () => updates.find((s) => s.taskId === 'plain-1' && s.state !== 'TASK_RUNNING' && s.state !== 'TASK_STARTING' && s.state !== 'TASK_STAGING'));
  t.match(ended, { state: 'TASK_FINISHED', exitCode: 0 }, 'it ended by itself, not killed by the drain');
  await waitFor('agent1 to be drained', 10_000, async () => ((await node('agent1'))?.status === 'drained' ? true : undefined));

  sse.close();
  await watch;
  t.ok(observed >= 2 * onAgent1, `the stream showed the move (${observed} app task events)`);
  t.ok(lowest >= INSTANCES, `never fewer than ${INSTANCES} instances running on the event stream (lowest ${lowest})`);

  const undrained = await cli('node', 'undrain', 'agent1');
  t.equal(undrained.code, 0, undrained.stderr);
  t.equal((await node('agent1'))?.status, 'alive');
  const table = (await cli('node', 'list')).stdout;
  t.match(table, /^ID\s+HOSTNAME\s+STATUS\s+ROLES\s+CPUS\s+MEM \(MiB\)\s+VERSION\s+LAST CONTACT\n/);
  t.match(table, /\bagent2\s+alive\s+agent\s+1\/2\s+128\/1024\s+\S+\s+\d+[smhd] ago\n/);
});

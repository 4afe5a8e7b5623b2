// Marathon constraints end to end: a master and three agents (separate `corral up` processes on
// loopback, distinct --hostname and --attributes) and one app per operator. Where an app cannot be
// placed in full, the rest waits: it is never put where a constraint forbids it.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { removeEmptyCorralCgroups, startCorral, startCorralAgent, waitFor, type RunningAgent, type RunningCorral } from '../helpers/corral-process';
import { freeUdpPort } from '../helpers/ports';

const root = mkdtempSync(join(tmpdir(), 'corral-constraints-'));
const running: Array<RunningCorral | RunningAgent> = [];

t.teardown(async () => {
  for (const p of running.reverse()) await p.stop();
  rmSync(root, { recursive: true, force: true });
  removeEmptyCorralCgroups();
});


/** The agents: hostname → attributes. */
const AGENTS: Record<string, string> = { a1: 'rack=r1,zone=a', a2: 'rack=r1,zone=b', a3: 'rack=r2,zone=b' };

t.test('constraints place instances on a three-agent cluster', async (t) => {
  const clusterPort = await freeUdpPort();
  const master = await startCorral(join(root, 'master'), ['--master', '--init', '--cluster-host', '127.0.0.1', '--cluster-port', String(clusterPort)]);
  running.push(master);
  const token = readFileSync(join(root, 'master', 'cluster.token'), 'utf8').trim();
  let range = 31000;
  for (const [name, attributes] of Object.entries(AGENTS)) {
    const ports = `${range}-${range + 99}`;
    range += 1000;
    running.push(await startCorralAgent(join(root, name), ['--join', `127.0.0.1:${clusterPort}`, '--hostname', name, '--attributes', attributes, '--port-range', ports, '--agent-cpus', '2', '--agent-mem', '1024'], { CORRAL_TOKEN: token }));
  }
  const api = async <T>(path: string, init: RequestInit = {}): Promise<{ status: number; body: T }> => {
    const res = await fetch(`${master.url}${path}`, { ...init, headers: { authorization: `Bearer ${master.token}`, 'content-type': 'application/json' } });
    return { status: res.status, body: (await res.json()) as T };
  };
  await waitFor('three agents', 20_000, async () => ((await api<{ nodes: unknown[] }>('/api/v1/nodes')).body.nodes.length === 3 ? true : undefined));

  const deploy = async (id: string, instances: number, constraints: string[][]) => {
    const res = await api('/v2/apps', { method: 'POST', body: JSON.stringify({ id, cmd: 'sleep 600', cpus: 0.05, mem: 16, instances, constraints }) });
    t.equal(res.status, 201, `${id} accepted`);
  };
  const hosts = async (id: string) => (await api<{ tasks: Array<{ host: string; state: string }> }>(`/v2/apps${id}/tasks`)).body.tasks.filter((x) => x.state === 'TASK_RUNNING').map((x) => x.host).sort();
  const settle = (id: string, count: number) => waitFor(`${count} instances of ${id}`, 20_000, async () => {
    const list = await hosts(id);
    return list.length === count ? list : undefined;
  });
  /** After it reached `count`, nothing more is placed for a while (the rest waits). */
  const stays = async (id: string, count: number) => {
    await new Promise((r) => setTimeout(r, 2500));
    t.equal((await hosts(id)).length, count, `${id}: still ${count} running, the rest waits`);
  };

  await deploy('/c/unique', 4, [['hostname', 'UNIQUE']]);
  await deploy('/c/group', 4, [['rack', 'GROUP_BY']]);
  await deploy('/c/like', 4, [['zone', 'LIKE', 'b']]);
  await deploy('/c/unlike', 2, [['rack', 'UNLIKE', 'r1']]);
  await deploy('/c/maxper', 3, [['rack', 'MAX_PER', '1']]);
  await deploy('/c/is', 2, [['@zone', 'IS', 'a']]);

  t.same(await settle('/c/unique', 3), ['a1', 'a2', 'a3'], 'UNIQUE hostname: one per agent');
  await stays('/c/unique', 3);
  const group = await settle('/c/group', 4);
  t.equal(group.filter((h) => h === 'a3').length, 2, `GROUP_BY rack: 2 on r2 (a3), 2 on r1 (a1, a2): ${group.join(' ')}`);
  t.ok((await settle('/c/like', 4)).every((h) => h === 'a2' || h === 'a3'), 'LIKE zone b: only a2 and a3');
  t.same(await settle('/c/unlike', 2), ['a3', 'a3'], 'UNLIKE rack r1: only a3');
  const maxper = await settle('/c/maxper', 2);
  t.ok(maxper.includes('a3') && (maxper.includes('a1') || maxper.includes('a2')), `MAX_PER rack 1: one per rack: ${maxper.join(' ')}`);
  await stays('/c/maxper', 2);
  t.same(await settle('/c/is', 2), ['a1', 'a1'], '@zone IS a: only a1');

  const bad = await api<{ message: string; details: Array<{ path: string }> }>('/v2/apps', { method: 'POST', body: JSON.stringify({ id: '/c/bad', cmd: 'sleep 1', constraints: [['rack', 'MAX_PER']] }) });
  t.equal(bad.status, 422, 'MAX_PER without a value is refused');
  t.match(JSON.stringify(bad.body), /constraints/, 'naming the constraint');
});

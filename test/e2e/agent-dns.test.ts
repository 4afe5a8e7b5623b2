// Issue 7's local resolver on an agent-only node: a master (master + init, no agent, no discovery)
// in one network namespace and an agent with `--discovery` in another, each a real `corral up`.
// The agent's DNS server follows the master's operator feed over node RPC: an app of 2 instances
// resolves there (A and SRV, dig against the agent's address), `leader.corral` is the master, and a
// killed task's record leaves the agent's resolver within 2 s.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { removeTaskCgroups, startCorral, startCorralAgent, waitFor } from '../helpers/corral-process';
import { labSuite, noPacketLeft } from '../helpers/lab-suite';
import type { LabHost } from '../helpers/netns';

const APP = '/agentdns/web';
const TASK_PREFIX = 'agentdns_web.';
const NAME = 'agentdns-web.corral-init.corral';
const SRV = `_agentdns-web._tcp.corral-init.corral`;

interface Task {
  id: string;
  state: string;
  ports: number[];
}

function dig(server: string, port: number, name: string, type = 'A'): Promise<string[]> {
  return new Promise((resolve, reject) =>
    execFile('dig', [`@${server}`, '-p', String(port), '+tries=1', '+time=1', '+short', name, type], { timeout: 10_000 }, (err, stdout) =>
      err ? reject(err) : resolve(stdout.split('\n').filter(Boolean)),
    ),
  );
}
const srvPorts = (lines: string[]) => lines.map((l) => Number(l.split(' ')[2])).sort((a, b) => a - b);

labSuite('corral-agentdns-', ({ root, started, lab: createLab }) => {
  t.test('an agent-only node resolves the cluster’s names from the master’s feed', async (t) => {
    const lab = await createLab(['master', 'agent1']);
    const [m, h1] = (['master', 'agent1'] as const).map((name) => lab.host(name)) as [LabHost, LabHost];

    const master = started(await startCorral(join(root, 'master'), ['--master', '--init', '--cluster-host', m.address], { exec: m.exec, listen: `${m.address}:0` }));
    const token = readFileSync(join(root, 'master', 'cluster.token'), 'utf8').trim();
    const agent = started(
      await startCorralAgent(
        join(root, 'agent1'),
        ['--discovery', '--dns-listen', `${h1.address}:0`, '--join', `${m.address}:49737`, '--cluster-host', h1.address, '--hostname', h1.address, '--agent-cpus', '2', '--agent-mem', '1024'],
        { CORRAL_TOKEN: token },
        { exec: h1.exec },
      ),
    );
    const dnsLine = await waitFor('the agent to print its DNS address', 5_000, () => new RegExp(`DNS:\\s+${h1.address.replace(/\./g, '\\.')}:(\\d+)(.*)`).exec(agent.output()) ?? undefined);
    const port = Number(dnsLine[1]);
    t.match(dnsLine[2], /no HTTP lookup/, 'the printout says the agent serves DNS only');

    const api = async <T>(path: string, init: RequestInit = {}): Promise<T> => {
      const res = await fetch(`${master.url}${path}`, { ...init, headers: { authorization: `Bearer ${master.token}`, 'content-type': 'application/json' } });
      if (!res.ok) throw new Error(`${init.method ?? 'GET'} ${path}: ${res.status} ${await res.text()}`);
      return (await res.json()) as T;
    };
    await waitFor('the agent to register', 20_000, async () => ((await api<{ nodes: unknown[] }>('/api/v1/nodes')).nodes.length === 1 ? true : undefined));
    t.same(await waitFor('leader.corral on the agent', 10_000, async () => {
      const a = await dig(h1.address, port, 'leader.corral');
      return a.length > 0 ? a : undefined;
    }), [m.address], 'leader.corral is the master (from the feed’s endpoint)');

    await api('/v2/apps', { method: 'POST', body: JSON.stringify({ id: APP, cmd: 'sleep 600', cpus: 0.05, mem: 16, instances: 2, portDefinitions: [{ port: 0 }] }) });
    const running2 = async () => (await api<{ tasks: Task[] }>(`/api/v1/tasks?app=${APP}`)).tasks.filter((x) => x.state === 'TASK_RUNNING');
    const tasks = await waitFor('2 running instances', 30_000, async () => {
      const list = await running2();
      return list.length === 2 ? list : undefined;
    });
    const ports = tasks.map((x) => x.ports[0]!).sort((a, b) => a - b);

    const srv = await waitFor('2 SRV records on the agent’s resolver', 5_000, async () => {
      const lines = await dig(h1.address, port, SRV, 'SRV');
      return lines.length === 2 ? lines : undefined;
    });
    t.same(srvPorts(srv), ports, 'one SRV record per instance, with its port');
    t.same(await dig(h1.address, port, NAME), [h1.address], 'A: the node the instances run on');

    // Kill one instance (scaling down, so nothing replaces it): its record leaves the agent's resolver.
    const victim = tasks[0]!;
    const killedAt = Date.now();
    await api('/v2/tasks/delete?scale=true', { method: 'POST', body: JSON.stringify({ ids: [victim.id] }) });
    const left = await waitFor('the killed task to leave the agent’s DNS', 5_000, async () => {
      const lines = await dig(h1.address, port, SRV, 'SRV');
      return lines.length === 1 && !srvPorts(lines).includes(victim.ports[0]!) ? lines : undefined;
    });
    const tookMs = Date.now() - killedAt;
    t.ok(tookMs < 2000, `record gone from the agent's resolver ${tookMs} ms after the kill`);
    t.same(srvPorts(left), ports.filter((p) => p !== victim.ports[0]));

    // The master goes away: the agent's resolver keeps answering from what it had (stale, not empty).
    await master.stop();
    await new Promise((r) => setTimeout(r, 1500));
    t.same(srvPorts(await dig(h1.address, port, SRV, 'SRV')), srvPorts(left), 'the master stopped: the agent still answers its last known records');
    // It comes back (same data dir and address): the agent registers again, its resolver subscribes anew.
    const again = started(await startCorral(join(root, 'master'), ['--master', '--init', '--cluster-host', m.address], { exec: m.exec, listen: `${m.address}:0` }));
    master.url = again.url;
    const apiPort = Number(new URL(again.url).port);
    await waitFor('the agent’s resolver to follow the restarted master', 30_000, async () => {
      const lines = await dig(h1.address, port, '_leader._tcp.corral', 'SRV');
      return lines.some((l) => Number(l.split(' ')[2]) === apiPort) ? true : undefined;
    });
    await api(`/v2/apps${APP}`, { method: 'DELETE' });
    await waitFor('the app to leave the agent’s DNS', 10_000, async () => ((await dig(h1.address, port, SRV, 'SRV')).length === 0 ? true : undefined));
    t.pass('events from the restarted master reach the agent’s resolver');

    await noPacketLeft(t, lab);
  });
}, { cleanup: () => removeTaskCgroups(TASK_PREFIX) });

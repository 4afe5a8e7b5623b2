// Discovery end to end with dig (bind9-dnsutils) against the DNS server of a real `corral up`:
// an app of 3 instances resolves to its address (A) and its 3 ports (SRV); a killed task's record
// is gone within a second; a task whose health check fails (or has not passed yet) is not
// published; an unknown name in the zone is NXDOMAIN; the HTTP lookup agrees.
import { execFile } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { removeEmptyCorralCgroups, startCorral, waitFor, type RunningCorral } from '../helpers/corral-process';

const dataDir = mkdtempSync(join(tmpdir(), 'corral-dns-'));
let corral: RunningCorral | undefined;
t.teardown(async () => {
  await corral?.stop();
  rmSync(dataDir, { recursive: true, force: true });
  removeEmptyCorralCgroups();
});

function dig(port: number, name: string, type = 'A', extra: string[] = []): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile('dig', ['@127.0.0.1', '-p', String(port), '+tries=1', '+time=2', ...extra, name, type], { timeout: 10_000 }, (err, stdout) => (err ? reject(err) : resolve(stdout))),
  );
}
const short = async (port: number, name: string, type = 'A') => (await dig(port, name, type, ['+short'])).split('\n').filter(Boolean);
const status = async (port: number, name: string, type = 'A') => /status: (\w+)/.exec(await dig(port, name, type))?.[1];

interface Task {
  id: string;
  state: string;
  ports: number[];
}

t.test('A and SRV of a 3-instance app, a kill, health, NXDOMAIN', async (t) => {
  corral = await startCorral(dataDir);
  const port = Number(/DNS:\s+127\.0\.0\.1:(\d+)/.exec(corral.output())![1]);
  const api = async <T>(path: string, init: RequestInit = {}): Promise<T> => {
    const res = await fetch(`${corral!.url}${path}`, { ...init, headers: { authorization: `Bearer ${corral!.token}`, 'content-type': 'application/json' } });
    if (!res.ok) throw new Error(`${init.method ?? 'GET'} ${path}: ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  };

  await api('/v2/apps', { method: 'POST', body: JSON.stringify({ id: '/web', cmd: 'sleep 600', cpus: 0.05, mem: 16, instances: 3, portDefinitions: [{ port: 0 }] }) });
  const running = async () => (await api<{ tasks: Task[] }>('/api/v1/tasks?app=/web')).tasks.filter((x) => x.state === 'TASK_RUNNING');
  const tasks = await waitFor('3 running instances', 30_000, async () => ((await running()).length === 3 ? running() : undefined));
  const ports = tasks.map((x) => x.ports[0]!).sort();

  const srv = await waitFor('3 SRV records', 5_000, async () => {
    const lines = await short(port, '_web._tcp.corral-init.corral', 'SRV');
    return lines.length === 3 ? lines : undefined;
  });
  t.same(srv.map((l) => Number(l.split(' ')[2])).sort(), ports, 'one SRV record per task port');
  t.ok(srv.every((l) => /^0 0 \d+ \S+\.node\.corral\.$/.test(l)), `targets are node names: ${srv.join(' | ')}`);
  const target = srv[0]!.split(' ')[3]!;
  const a = await short(port, 'web.corral-init.corral');
  t.ok(a.length >= 1 && a.every((ip) => /^\d+\.\d+\.\d+\.\d+$/.test(ip)), `A: the tasks' node addresses (${a.join(', ')}; one node here)`);
  t.same(await short(port, target), a, 'the SRV target resolves to the same address');
  t.equal(await status(port, 'WEB.Corral-Init.CORRAL'), 'NOERROR', 'names are case-insensitive');

  // The HTTP lookup (Mesos-DNS's) says the same.
  const services = await api<Array<{ port: string }>>('/v1/services/_web._tcp.corral-init.corral.');
  t.same(services.map((s) => Number(s.port)).sort(), ports);

  // Kill one task (scaling down, so nothing replaces it): its record goes within a second.
  const victim = tasks[0]!;
  const killedAt = Date.now();
  await api('/v2/tasks/delete?scale=true', { method: 'POST', body: JSON.stringify({ ids: [victim.id] }) });
  await waitFor('the killed task to leave DNS', 5_000, async () => {
    const lines = await short(port, '_web._tcp.corral-init.corral', 'SRV');
    return lines.length === 2 && !lines.some((l) => Number(l.split(' ')[2]) === victim.ports[0]) ? true : undefined;
  });
  const tookMs = Date.now() - killedAt;
  t.ok(tookMs < 1000, `record gone ${tookMs} ms after the kill`);

  // Health: a check that always fails, one that passes, and one not run yet.
  const check = (command: string, delaySeconds: number) => [{ protocol: 'COMMAND', command: { value: command }, delaySeconds, intervalSeconds: 2, timeoutSeconds: 1, gracePeriodSeconds: 0, maxConsecutiveFailures: 0 }];
  for (const [id, command, delay] of [['/sick', 'false', 0], ['/fine', 'true', 0], ['/later', 'true', 600]] as const) {
    await api('/v2/apps', { method: 'POST', body: JSON.stringify({ id, cmd: 'sleep 600', cpus: 0.05, mem: 16, instances: 1, healthChecks: check(command, delay) }) });
  }
  interface Service {
    name: string;
    tasks: Array<{ published: boolean; healthy: boolean | null; reason?: string }>;
  }
  const service = async (name: string) => (await api<{ services: Service[] }>('/api/v1/services')).services.find((s) => s.name === `${name}.corral-init.corral`);
  await waitFor('/fine healthy and published', 30_000, async () => ((await service('fine'))?.tasks[0]?.published ? true : undefined));
  t.equal((await short(port, 'fine.corral-init.corral')).length, 1, 'a healthy task is published');
  const sick = await waitFor('/sick reported unhealthy', 30_000, async () => ((await service('sick'))?.tasks[0]?.healthy === false ? service('sick') : undefined));
  t.match(sick!.tasks[0], { published: false, reason: 'unhealthy' });
  t.equal(await status(port, 'sick.corral-init.corral'), 'NXDOMAIN', 'an unhealthy task is not published');
  const later = await waitFor('/later running', 30_000, async () => ((await service('later'))?.tasks.length === 1 ? service('later') : undefined));
  t.match(later!.tasks[0], { published: false, reason: 'health_unknown' }, 'running, its first check not run yet');
  t.equal(await status(port, 'later.corral-init.corral'), 'NXDOMAIN', 'health not known yet: not published');

  t.equal(await status(port, 'nope.corral-init.corral'), 'NXDOMAIN', 'an unknown name in the zone');
  t.equal(await status(port, 'example.com'), 'REFUSED', 'outside the zone, no upstreams: refused');
  t.same(await short(port, 'leader.corral'), ['127.0.0.1']);
});

t.test('a DNS port already in use: corral up stops with DNS_PORT_UNAVAILABLE', async (t) => {
  const holder = createSocket('udp4');
  await new Promise<void>((r) => holder.bind(0, '127.0.0.1', () => r()));
  t.teardown(() => holder.close());
  const dir = mkdtempSync(join(tmpdir(), 'corral-dns-busy-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const err = await startCorral(dir, ['--dns-listen', `127.0.0.1:${holder.address().port}`]).then(
    async (c) => {
      await c.stop();
      return undefined;
    },
    (e: Error) => e,
  );
  t.match(err?.message, /DNS_PORT_UNAVAILABLE/);
  t.match(err?.message, /--dns-listen/);
});

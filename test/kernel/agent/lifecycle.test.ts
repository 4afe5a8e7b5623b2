// The integrated task lifecycle against real processes, cgroups and files: memory limits (cgroup v1
// and posix), fetching before the start, health checks while running, log rotation, statistics
// (and their HTTP routes).
import t from 'tap';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { registerNativeRoutes } from '../../../src/api/native-routes';
import { createApiServer } from '../../../src/api/server';
import type { Master } from '../../../src/kernel/master/master';
import { systemClock } from '../../../src/shared/clock';
import { silentLogger } from '../../../src/shared/logger';
import { createMetrics } from '../../../src/shared/metrics';
import type { HealthCheck, TaskInfo } from '../../../src/kernel/types';
import { newTaskId, shellTask, startAgent, testIsolator, waitUntil } from './helpers/harness';

const root = process.getuid?.() === 0;
/** Holds about 100 MB in a shell variable, then sleeps: over any small memory limit. */
const HOG = 'x=$(head -c 100000000 /dev/zero | tr "\\0" a); echo allocated; sleep 60';

t.test('a task over its memory limit ends TASK_FAILED with REASON_CONTAINER_LIMITATION_MEMORY (cgroup v1)', { skip: !root && 'needs root' }, async (t) => {
  const { agent, master } = await startAgent(t);
  const id = newTaskId('oom');
  agent.launch(shellTask(id, HOG, { resources: { cpus: 0.5, mem: 32, disk: 0, ports: [] } }));
  const failed = await master.waitFor(id, 'TASK_FAILED');
  t.match(failed, { reason: 'REASON_CONTAINER_LIMITATION_MEMORY', source: 'SOURCE_AGENT', message: /Memory limit of 32 MiB exceeded/ });
});

t.test('posix isolation samples memory and kills a task over its limit', async (t) => {
  const isolator = await testIsolator(t, 'posix');
  const { agent, master } = await startAgent(t, { isolator });
  const id = newTaskId('posix-oom');
  agent.launch(shellTask(id, HOG, { resources: { cpus: 0.5, mem: 32, disk: 0, ports: [] } }));
  const failed = await master.waitFor(id, 'TASK_FAILED');
  t.match(failed, { reason: 'REASON_CONTAINER_LIMITATION_MEMORY', message: /32 MiB.*SIGKILL/ });
  const ok = newTaskId('posix-ok');
  agent.launch(shellTask(ok, 'exit 4'));
  t.match(await master.waitFor(ok, 'TASK_FAILED'), { reason: 'REASON_COMMAND_EXECUTOR_FAILED', exitCode: 4 }, 'and otherwise runs tasks as usual');
});

t.test('artifacts are fetched before the start; a failed fetch fails the launch; a kill aborts a fetch', async (t) => {
  const { agent, master, dataDir } = await startAgent(t);
  const files = mkdtempSync(join(tmpdir(), 'corral-artifacts-'));
  t.teardown(() => rmSync(files, { recursive: true, force: true }));
  writeFileSync(join(files, 'hello.sh'), '#!/bin/sh\necho "hello from $(id -un)"\n');
  // file:// artifacts are read as the task user.
  chmodSync(files, 0o755);

  const ok = newTaskId('fetched');
  agent.launch({ ...shellTask(ok, ''), command: { shell: false, value: './hello.sh', environment: {} }, fetch: [{ uri: `file://${join(files, 'hello.sh')}`, executable: true }] });
  await master.waitFor(ok, 'TASK_FINISHED');
  t.equal(readFileSync(join(dataDir, 'sandboxes', ok, 'stdout'), 'utf8'), `hello from ${root ? 'nobody' : userInfo().username}\n`);
  t.equal(statSync(join(dataDir, 'sandboxes', ok, 'hello.sh')).uid, root ? 65534 : process.getuid!(), 'the artifact belongs to the task user');

  const bad = newTaskId('nofetch');
  agent.launch({ ...shellTask(bad, 'exit 0'), fetch: [{ uri: 'file:///corral/no/such/artifact.tgz' }] });
  const failed = await master.waitFor(bad, 'TASK_FAILED');
  t.match(failed, { reason: 'REASON_CONTAINER_LAUNCH_FAILED', source: 'SOURCE_AGENT', message: /file:\/\/\/corral\/no\/such\/artifact\.tgz/ });
  t.same(master.statesOf(bad), ['TASK_STARTING', 'TASK_FAILED'], 'nothing ran');

  // A server that accepts the download and never answers.
  const hang = createServer(() => undefined);
  await new Promise<void>((resolve) => hang.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    hang.closeAllConnections();
    hang.close();
  });
  const slow = newTaskId('slowfetch');
  agent.launch({ ...shellTask(slow, 'exit 0'), fetch: [{ uri: `http://127.0.0.1:${(hang.address() as AddressInfo).port}/big.bin` }] });
  await master.waitFor(slow, 'TASK_STARTING');
  agent.kill(slow);
  t.match(await master.waitFor(slow, 'TASK_KILLED'), { reason: 'REASON_TASK_KILLED_DURING_LAUNCH' });
  t.notOk(master.statesOf(slow).includes('TASK_RUNNING'));
});

t.test('health checks: an HTTP task whose check flips sends RUNNING updates with healthy true, then false', async (t) => {
  const { agent, master, dataDir } = await startAgent(t);
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const port = (probe.address() as AddressInfo).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  // 200 while the file `healthy` exists in the sandbox, 503 otherwise.
  const server = `require('http').createServer((q, s) => { s.statusCode = require('fs').existsSync('healthy') ? 200 : 503; s.end(); }).listen(${port}, '127.0.0.1')`;
  const check: HealthCheck = { protocol: 'HTTP', port, path: '/', gracePeriodSeconds: 0, intervalSeconds: 0.05, timeoutSeconds: 2, maxConsecutiveFailures: 1, delaySeconds: 0 };
  const id = newTaskId('health');
  const task: TaskInfo = { ...shellTask(id, ''), command: { shell: false, value: process.execPath, arguments: ['-e', server], environment: {} }, healthChecks: [check] };
  const sandbox = join(dataDir, 'sandboxes', id);
  agent.launch(task);
  await master.waitFor(id, 'TASK_RUNNING');
  writeFileSync(join(sandbox, 'healthy'), '');
  // (Before the server listens the check may already fail: connection refused.)
  const healthUpdates = () => master.of(id).filter((s) => s.reason === 'REASON_TASK_HEALTH_CHECK_STATUS_UPDATED');
  await waitUntil('a healthy update', () => healthUpdates().some((s) => s.healthy === true));
  unlinkSync(join(sandbox, 'healthy'));
  await waitUntil('an unhealthy update after it', () => healthUpdates().at(-1)?.healthy === false);
  const updates = healthUpdates();
  t.ok(updates.every((s) => s.state === 'TASK_RUNNING' && typeof s.uuid === 'string' && s.healthCheckResults?.length === 1), 'RUNNING updates with a uuid (delivered at least once) and one result per check');
  t.match(updates.at(-1)?.healthCheckResults?.[0], { alive: false, lastFailureCause: /503/ });
  agent.kill(id);
  await master.waitFor(id, 'TASK_KILLED');
});

t.test('a chatty task: its logs rotate, at most keep + 1 files per stream, and a follower keeps reading', async (t) => {
  const { agent, master, dataDir } = await startAgent(t, { logMaxBytes: 20_000, logKeepFiles: 2, logCheckIntervalMs: 20 });
  const id = newTaskId('chatty');
  const line = 'x'.repeat(99);
  agent.launch(shellTask(id, `i=0; while :; do i=$((i+1)); echo "$i ${line}"; done`));
  await master.waitFor(id, 'TASK_RUNNING');
  const sandbox = join(dataDir, 'sandboxes', id);
  // Follow stdout as `corral task logs -f` does: continue from the end of each chunk.
  let at = 0;
  let restarts = 0;
  let read = 0;
  const deadline = Date.now() + 30_000;
  async function follow(): Promise<void> {
    while (Date.now() < deadline) {
      const chunk = await agent.readLog(id, 'stdout', at, 64 * 1024);
      if (chunk.offset < at) restarts++;
      at = chunk.offset + chunk.data.length;
      read += chunk.data.length;
      if (restarts >= 3) return;
      await systemClock.sleep(5);
    }
  }
  await follow();
  t.ok(restarts >= 3, `the follower started over after rotations (${restarts}) and read ${read} bytes`);
  const logs = readdirSync(sandbox).filter((f) => f.startsWith('stdout'));
  t.same(logs.sort(), ['stdout', 'stdout.1', 'stdout.2'], 'stdout plus keep (2) rotated files');
  t.ok(statSync(join(sandbox, 'stdout.1')).size >= 20_000, 'a rotated file holds a whole rotation');
  t.notOk(existsSync(join(sandbox, 'stdout.3')));
  agent.kill(id);
  await master.waitFor(id, 'TASK_KILLED');
});

t.test('statistics of a running task, per task and Mesos-style for the node, also over HTTP', async (t) => {
  const { agent, master } = await startAgent(t);
  const id = newTaskId('stats');
  agent.launch(shellTask(id, 'sleep 60', { resources: { cpus: 0.5, mem: 48, disk: 0, ports: [] } }));
  await master.waitFor(id, 'TASK_RUNNING');
  const stats = await agent.taskStats(id);
  t.ok(stats.timestamp > 0 && (stats.processes ?? 0) >= 1, `stats: ${JSON.stringify(stats)}`);
  if (root) t.equal(stats.mem_limit_bytes, 48 * 1024 * 1024, 'the memory limit is the task\'s mem');
  const all = await agent.statistics();
  t.match(all, [{ executor_id: id, framework_id: 'fw-1', source: id, statistics: { timestamp: Number } }]);
  await t.rejects(agent.taskStats('nope'), { code: 'TASK_NOT_FOUND' });

  const fakeMaster = { taskView: (taskId: string) => ({ id: taskId, agentId: 'agent-1' }) } as unknown as Master;
  const server = createApiServer({
    token: 'tok',
    logger: silentLogger(),
    metrics: createMetrics(),
    routes: [(s) => registerNativeRoutes(s, { master: fakeMaster, clock: systemClock, roles: ['agent'], initFrameworkId: () => undefined, agentFor: () => agent, localAgent: () => agent })],
  });
  t.teardown(() => server.close());
  const get = (url: string) => server.inject({ method: 'GET', url, headers: { authorization: 'Bearer tok' } });
  const one = await get(`/api/v1/tasks/${id}/stats`);
  t.equal(one.statusCode, 200);
  t.match(one.json(), { statistics: { timestamp: Number } });
  const node = await get('/monitor/statistics');
  t.equal(node.statusCode, 200);
  t.match(node.json(), [{ executor_id: id, statistics: { timestamp: Number } }]);
  t.equal((await get('/api/v1/tasks/nope/stats')).statusCode, 404);
  agent.kill(id);
  await master.waitFor(id, 'TASK_KILLED');
  t.equal((await get(`/api/v1/tasks/${id}/stats`)).statusCode, 404, 'an ended task has no statistics');
});

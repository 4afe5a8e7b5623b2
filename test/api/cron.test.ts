// Chronos's /v1/scheduler and the native /api/v1/jobs over the real cron framework, a real master,
// one fake agent and a fake clock: job JSON posts unchanged, runs launch as tasks, dependencies,
// the graph, search, stats, kills and every error code the job API can answer.
import t from 'tap';
import { cronStack } from '../cron/helpers/cron-stack';

const scheduled = {
  name: 'backup',
  command: 'echo backing up',
  shell: true,
  epsilon: 'PT30S',
  executor: '',
  executorFlags: '',
  retries: 2,
  owner: 'ops@example.com',
  async: false,
  successCount: 190,
  errorCount: 3,
  lastSuccess: '2014-03-08T16:57:17.507Z',
  lastError: '2014-03-01T00:10:15.957Z',
  cpus: 0.5,
  disk: 10,
  mem: 64,
  disabled: false,
  uris: [],
  schedule: 'R/2026-01-01T00:00:10.000Z/PT2S',
};
const dependent = { name: 'report', command: 'echo report', parents: ['backup'], epsilon: 'PT30S', cpus: 0.1, mem: 32, disk: 10 };

t.test('Chronos job JSON posts unchanged: scheduled and dependent jobs run, graph/csv shows them', async (t) => {
  const s = await cronStack(t);
  t.equal((await s.call('POST', '/v1/scheduler/iso8601', scheduled)).statusCode, 204);
  t.equal((await s.call('POST', '/v1/scheduler/dependency', dependent)).statusCode, 204);

  const jobs = (await s.call('GET', '/v1/scheduler/jobs')).json() as Array<Record<string, unknown>>;
  t.same(jobs.map((j) => j.name), ['backup', 'report']);
  t.match(jobs[0], { schedule: 'R/2026-01-01T00:00:10.000Z/PT2S', successCount: 0, errorCount: 0, lastSuccess: '', executor: '', owner: 'ops@example.com', retries: 2, concurrent: false });
  t.match(jobs[1], { parents: ['backup'], retries: 2, shell: true });

  await s.settle(10_000);
  t.equal(s.agent.launched.length, 1, 'the first occurrence launched');
  const task = s.agent.launched[0]!;
  t.equal(task.taskId, `ct:${Date.UTC(2026, 0, 1, 0, 0, 10)}:0:backup:`, "Chronos's task id shape");
  t.match(task, { resources: { cpus: 0.5, mem: 64, disk: 10 }, command: { shell: true, value: 'echo backing up' } });
  t.equal(task.command.environment.CHRONOS_JOB_NAME, 'backup');
  let csv = (await s.call('GET', '/v1/scheduler/graph/csv')).body;
  t.equal(csv, 'node,backup,fresh,1 running\nnode,report,fresh,idle\nlink,backup,report\n', 'launched counts as running');
  await s.runAll();
  t.match((await s.call('GET', '/v1/scheduler/jobs/summary')).json(), { jobs: [{ name: 'backup', status: 'fresh', state: '1 running', schedule: 'R/2026-01-01T00:00:12.000Z/PT2S' }, { name: 'report', state: 'idle', schedule: '', parents: ['backup'] }] });

  await s.finish(task.taskId, 0);
  t.equal(s.agent.launched.length, 2, 'the dependent job launched after its parent succeeded');
  const child = s.agent.launched[1]!;
  t.equal(child.taskId, `ct:${Date.UTC(2026, 0, 1, 0, 0, 10)}:0:report:`, 'for the same upstream run (its scheduled time)');
  await s.runAll();
  await s.finish(child.taskId, 0);
  csv = (await s.call('GET', '/v1/scheduler/graph/csv')).body;
  t.equal(csv, 'node,backup,success,idle\nnode,report,success,idle\nlink,backup,report\n');
  t.equal((await s.call('GET', '/v1/scheduler/graph/dot')).body, 'digraph G {\n  "backup";\n  "report";\n  "backup" -> "report";\n}\n');

  const native = (await s.call('GET', '/api/v1/jobs/report')).json() as { job: Record<string, unknown>; runs: Array<Record<string, unknown>> };
  t.match(native.job, { successCount: 1, status: 'success', state: 'idle', nextRunAt: null });
  t.match(native.runs, [{ id: `report:${Date.UTC(2026, 0, 1, 0, 0, 10)}`, trigger: 'dependency', status: 'succeeded', exitCode: 0, attempt: 1, scheduledAt: '2026-01-01T00:00:10.000Z' }]);
  const stat = (await s.call('GET', '/v1/scheduler/job/stat/backup')).json() as { histogram: { count: number }; taskStatHistory: unknown[] };
  t.equal(stat.histogram.count, 1);
  t.equal(stat.taskStatHistory.length, 1);
});

t.test('search, run now with arguments, kill, delete', async (t) => {
  const s = await cronStack(t);
  await s.call('POST', '/v1/scheduler/iso8601', { name: 'nightly', command: 'sleep', shell: false, arguments: ['100'], schedule: 'R/2027-01-01T00:00:00Z/P1D', description: 'the big one', mem: 32, disk: 1 });
  await s.call('POST', '/v1/scheduler/iso8601', { name: 'hourly', command: 'date', schedule: '0 30 * * * *', scheduleTimeZone: 'Europe/Berlin', mem: 32, disk: 1 });
  const names = async (q: string) => ((await s.call('GET', `/v1/scheduler/jobs/search?${q}`)).json() as Array<{ name: string }>).map((j) => j.name);
  t.same(await names('name=NIGHT'), ['nightly']);
  t.same(await names('command=date'), ['hourly']);
  t.same(await names('any=big'), ['nightly']);
  t.same(await names('any=ly&limit=1&offset=1'), ['nightly']);
  t.equal((await s.call('GET', '/v1/scheduler/jobs/search?limit=x')).json().code, 'INVALID_REQUEST');

  t.equal((await s.call('PUT', '/v1/scheduler/job/nightly?arguments=7%208')).statusCode, 204, 'run now');
  await s.settle();
  t.match(s.agent.launched.at(-1), { command: { shell: false, value: 'sleep', arguments: ['7', '8'] } });
  t.match(s.agent.launched.at(-1)!.taskId, /^ct:\d+:0:nightly:manual$/);
  await s.runAll();
  const created = (await s.call('POST', '/api/v1/jobs/nightly/runs', { arguments: ['1'] })).json() as { run: { id: string; trigger: string } };
  t.match(created.run, { trigger: 'manual' });
  await s.settle();
  t.equal(s.cron.framework.activeRunsOf('nightly').length, 2, 'manual runs are not held back by FORBID');

  t.equal((await s.call('DELETE', '/v1/scheduler/task/kill/nightly')).statusCode, 204);
  t.equal(s.agent.killed.length, 2, 'both tasks are killed');
  for (const k of s.agent.killed) await s.report(k.taskId, 'TASK_KILLED');
  const runs = (await s.call('GET', '/api/v1/jobs/nightly/runs')).json() as { runs: Array<{ status: string; message: string }> };
  t.same(runs.runs.map((r) => r.status), ['killed', 'killed']);
  t.equal(runs.runs[0]!.message, 'killed on request');

  t.equal((await s.call('DELETE', '/v1/scheduler/job/nightly')).statusCode, 204);
  t.equal((await s.call('GET', '/api/v1/jobs/nightly')).json().code, 'JOB_NOT_FOUND');
  t.equal((await s.call('GET', '/api/v1/jobs/nightly/runs')).statusCode, 404);
  t.same(((await s.call('GET', '/api/v1/jobs')).json() as { jobs: Array<{ name: string; nextRunAt: string }> }).jobs.map((j) => [j.name, j.nextRunAt]), [['hourly', '2026-01-01T00:30:00.000Z']]);
});

t.test('native API: create, update, run history entries, 201/200', async (t) => {
  const s = await cronStack(t);
  const created = await s.call('POST', '/api/v1/jobs', { name: 'tick', command: 'true', schedule: '*/5 * * * * *', concurrencyPolicy: 'ALLOW', mem: 16, disk: 1 });
  t.equal(created.statusCode, 201);
  t.match(created.json(), { job: { name: 'tick', concurrencyPolicy: 'ALLOW', concurrent: false, nextRunAt: '2026-01-01T00:00:00.000Z', cpus: 0.1, retries: 2, epsilon: 'PT60S' } });
  const updated = await s.call('PUT', '/api/v1/jobs/tick', { command: 'false', schedule: '*/5 * * * * *', mem: 16, disk: 1 });
  t.equal(updated.statusCode, 200);
  t.match(updated.json(), { job: { command: 'false', concurrencyPolicy: 'FORBID' } });
  await s.settle(1);
  await s.runAll();
  const run = ((await s.call('GET', '/api/v1/jobs/tick/runs')).json() as { runs: Array<{ id: string }> }).runs[0]!;
  const one = (await s.call('GET', `/api/v1/jobs/tick/runs/${encodeURIComponent(run.id)}`)).json() as { run: Record<string, unknown> };
  t.match(one.run, { id: 'tick:1767225600000', status: 'running', attempt: 1, taskId: 'ct:1767225600000:0:tick:', attempts: [{ attempt: 1, agentId: 'a1', host: 'a1.test', state: null }] });
  t.equal((await s.call('GET', '/api/v1/jobs/tick/runs/tick:1')).json().code, 'JOB_RUN_NOT_FOUND');
  t.equal((await s.call('GET', '/api/v1/jobs/tick/runs/other:1')).json().code, 'JOB_RUN_NOT_FOUND');
});

t.test('bad input: 4xx with stable codes, nothing written', async (t) => {
  const s = await cronStack(t);
  const post = async (url: string, body: unknown) => {
    const res = await s.call('POST', url, body);
    return { status: res.statusCode, ...((res.body === '' ? {} : res.json()) as { code: string; details?: Array<{ path: string }>; message: string }) };
  };
  t.match(await post('/v1/scheduler/iso8601', { name: 'x y', command: 'true', schedule: 'R//PT1S' }), { status: 422, code: 'VALIDATION_FAILED', details: [{ path: '/name' }] });
  t.match(await post('/v1/scheduler/iso8601', { name: 'x', command: 'true' }), { status: 422, details: [{ path: '/schedule' }] });
  t.match(await post('/v1/scheduler/iso8601', { name: 'x', command: 'true', parents: ['a'] }), { status: 422, details: [{ path: '/schedule' }] }, 'a dependent job sent to /iso8601');
  t.match(await post('/v1/scheduler/dependency', { name: 'x', command: 'true', schedule: 'R//PT1S' }), { status: 422, details: [{ path: '/parents' }] });
  t.match(await post('/v1/scheduler/iso8601', { name: 'x', command: 'true', schedule: 'R//PT1S', parents: ['a'] }), { status: 422 }, 'schedule xor parents');
  t.match(await post('/v1/scheduler/iso8601', { name: 'x', command: 'true', schedule: 'R//PT1S', epsilon: 'soon' }), { status: 422, details: [{ path: '/epsilon' }] });
  t.match(await post('/v1/scheduler/iso8601', { name: 'x', command: 'true', schedule: '* * * * *', scheduleTimeZone: 'Nowhere/City' }), { status: 422, details: [{ path: '/scheduleTimeZone' }] });
  t.match(await post('/v1/scheduler/iso8601', { name: 'x', command: 'true', schedule: 'R//PT1S', constraints: [['rack', 'NEAR', 'r1']] }), { status: 422 });
  t.match(await post('/v1/scheduler/iso8601', { name: 'x', command: 'true', schedule: 'R//PT1S', retries: -1 }), { status: 422, details: [{ path: '/retries' }] });
  t.match(await post('/v1/scheduler/iso8601', [1]), { status: 422 });
  const raw = await s.call('POST', '/v1/scheduler/iso8601');
  t.equal(raw.statusCode, 422, 'no body');
  t.match(await post('/v1/scheduler/dependency', { name: 'c', command: 'true', parents: ['missing'] }), { status: 422, code: 'JOB_PARENT_NOT_FOUND' });
  t.match(await post('/v1/scheduler/dependency', { name: 'c', command: 'true', parents: ['c'] }), { status: 422, code: 'VALIDATION_FAILED' });

  await post('/v1/scheduler/iso8601', { name: 'a', command: 'true', schedule: 'R//PT1H' });
  await post('/v1/scheduler/dependency', { name: 'b', command: 'true', parents: ['a'] });
  await post('/v1/scheduler/dependency', { name: 'c', command: 'true', parents: ['b'] });
  const cycle = await post('/api/v1/jobs', { name: 'a', command: 'true', parents: ['c'] });
  t.match(cycle, { status: 422, code: 'JOB_DEPENDENCY_CYCLE', message: /a -> c -> b -> a/ }, 'a cycle is rejected with its path');
  t.match((await s.call('GET', '/api/v1/jobs/a')).json(), { job: { schedule: /^R\/.*PT1H$/ } }, 'and nothing changed');
  const del = await s.call('DELETE', '/v1/scheduler/job/a');
  t.match({ status: del.statusCode, ...del.json() }, { status: 409, code: 'JOB_HAS_DEPENDENTS', message: /\bb\b/ });
  t.match((await s.call('DELETE', '/v1/scheduler/job/nope')).json(), { code: 'JOB_NOT_FOUND', message: "Job 'nope' not found" });
  t.match((await s.call('PUT', '/v1/scheduler/job/nope')).json(), { code: 'JOB_NOT_FOUND' });
  t.match((await s.call('DELETE', '/v1/scheduler/task/kill/nope')).json(), { code: 'JOB_NOT_FOUND' });
  t.match((await s.call('POST', '/api/v1/jobs/a/runs', { arguments: 'x' })).json(), { code: 'VALIDATION_FAILED' }, 'native arguments must be an array');
  t.same(((await s.call('GET', '/v1/scheduler/jobs')).json() as Array<{ name: string }>).map((j) => j.name), ['a', 'b', 'c']);
  t.equal((await s.call('GET', '/v1/scheduler/leader')).json().leader, '127.0.0.1:5050');
});

// Chronos job JSON against a real `corral up`: the example scheduled job and its dependent job
// post unchanged to /v1/scheduler, run as isolated kernel tasks, and graph/csv shows both with
// their last result; `corral job` reads the same state.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { corralCli, removeEmptyCorralCgroups, ROOT, startCorral, waitFor, type RunningCorral } from '../helpers/corral-process';

const dataDir = mkdtempSync(join(tmpdir(), 'corral-cron-chronos-'));
let corral: RunningCorral | undefined;
t.teardown(async () => {
  await corral?.stop();
  rmSync(dataDir, { recursive: true, force: true });
  removeEmptyCorralCgroups();
});

t.test('a scheduled and a dependent Chronos job post unchanged, run, and show in graph/csv', async (t) => {
  corral = await startCorral(dataDir);
  const api = async (method: string, path: string, body?: string) => {
    const res = await fetch(corral!.url + path, { method, headers: { authorization: `Bearer ${corral!.token}`, 'content-type': 'application/json' }, ...(body ? { body } : {}) });
    return { status: res.status, text: await res.text() };
  };
  const scheduled = readFileSync(join(ROOT, 'examples', 'chronos-job.json'), 'utf8');
  const dependent = readFileSync(join(ROOT, 'examples', 'chronos-dependent-job.json'), 'utf8');
  t.equal((await api('POST', '/v1/scheduler/iso8601', scheduled)).status, 204, 'scheduled job accepted as written');
  t.equal((await api('POST', '/v1/scheduler/dependency', dependent)).status, 204, 'dependent job accepted as written');

  const csv = await waitFor('both jobs to succeed once', 30_000, async () => {
    const text = (await api('GET', '/v1/scheduler/graph/csv')).text;
    return text.includes('node,hello-job,success') && text.includes('node,hello-report,success') ? text : undefined;
  });
  t.match(csv, /^node,hello-job,success,(idle|queued|\d+ running)\nnode,hello-report,success,(idle|queued|\d+ running)\nlink,hello-job,hello-report\n$/);

  const jobs = JSON.parse((await api('GET', '/v1/scheduler/jobs')).text) as Array<Record<string, unknown>>;
  t.match(jobs.find((j) => j.name === 'hello-job'), { successCount: 1, errorCount: 0, schedule: /^R\/.+\/PT10S$/, owner: 'ops@example.com', executor: '' });
  t.match(jobs.find((j) => j.name === 'hello-report'), { successCount: 1, parents: ['hello-job'] });

  const runs = JSON.parse((await api('GET', '/api/v1/jobs/hello-report/runs')).text) as { runs: Array<Record<string, unknown>> };
  const parentRuns = JSON.parse((await api('GET', '/api/v1/jobs/hello-job/runs')).text) as { runs: Array<Record<string, unknown>> };
  t.equal(runs.runs.at(-1)!.scheduledAt, parentRuns.runs.at(-1)!.scheduledAt, 'the dependent run belongs to the same upstream run');
  t.match(runs.runs.at(-1), { status: 'succeeded', exitCode: 0, trigger: 'dependency', taskId: /^ct:\d+:0:hello-report:$/ });

  // The task really ran as a kernel task: its log has the command's output.
  const taskId = parentRuns.runs.at(-1)!.taskId as string;
  const log = await api('GET', `/api/v1/tasks/${encodeURIComponent(taskId)}/logs`);
  t.match(log.text, /hello from corral cron at \d\d:\d\d:\d\d/);

  const list = await corralCli(['--data-dir', dataDir, 'job', 'list']);
  t.equal(list.code, 0, list.stderr);
  t.match(list.stdout, /hello-job\s+R\/.+\/PT10S\s+\S+\s+success/);
  t.match(list.stdout, /hello-report\s+after hello-job/);
  const graph = await corralCli(['--data-dir', dataDir, 'job', 'graph']);
  t.match(graph.stdout, /"hello-job" -> "hello-report";/);
  t.equal((await corralCli(['--data-dir', dataDir, 'job', 'remove', 'hello-job'])).code, 1, 'a parent cannot be removed before its child');
  t.equal((await corralCli(['--data-dir', dataDir, 'job', 'remove', 'hello-report'])).code, 0);
  t.equal((await corralCli(['--data-dir', dataDir, 'job', 'remove', 'hello-job'])).code, 0);
});

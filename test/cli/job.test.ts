// `corral job ...` against a fake client: what each command asks the API, what it prints (tables,
// --json), and how bad input fails.
import t from 'tap';
import type { JobRun, NativeJob } from '../../src/client/cron-types';
import { buildProgram, runProgram, type CliClient } from '../../src/cli/program';
import { fakeCliDeps } from './helpers/fake-deps';
import type { JobClient } from '../../src/cli/job';
import { CorralError } from '../../src/shared/errors';

const NOW = Date.parse('2026-01-01T10:00:00.000Z');
const job = (over: Partial<NativeJob> = {}): NativeJob =>
  ({
    name: 'backup',
    command: 'tar',
    arguments: ['-c', '/data'],
    shell: true,
    schedule: 'R/2026-01-01T11:00:00.000Z/PT1H',
    scheduleTimeZone: '',
    epsilon: 'PT60S',
    owner: '',
    description: '',
    retries: 2,
    disabled: false,
    concurrent: false,
    concurrencyPolicy: 'FORBID',
    missedRuns: 'RUN_ONCE',
    cpus: 0.1,
    mem: 128,
    disk: 256,
    maxCompletionTime: 0,
    successCount: 3,
    errorCount: 1,
    lastSuccess: '2026-01-01T09:00:05.000Z',
    lastError: '',
    nextRunAt: '2026-01-01T11:00:00.000Z',
    state: 'idle',
    status: 'success',
    activeRuns: [],
    ...over,
  }) as NativeJob;
const run: JobRun = {
  id: 'backup:1767258000000',
  job: 'backup',
  trigger: 'schedule',
  status: 'succeeded',
  scheduledAt: '2026-01-01T09:00:00.000Z',
  createdAt: '2026-01-01T09:00:00.000Z',
  startedAt: '2026-01-01T09:00:00.100Z',
  endedAt: '2026-01-01T09:00:05.000Z',
  exitCode: 0,
  attempt: 1,
  taskId: 'ct:1767258000000:0:backup:',
  message: null,
  attempts: [],
};

function harness(over: Partial<JobClient> = {}) {
  const h = { stdout: '', stderr: '', calls: [] as unknown[][] };
  const record = <T>(name: string, value: T) => (...args: unknown[]) => {
    h.calls.push([name, ...args]);
    return Promise.resolve(value);
  };
  const client: JobClient = {
    putJob: record('putJob', { job: job() }),
    listJobs: record('listJobs', { jobs: [job(), job({ name: 'report', schedule: undefined, parents: ['backup'], nextRunAt: null, state: '1 running', successCount: 0, errorCount: 0 })] }),
    getJob: record('getJob', { job: job(), runs: [run] }),
    runJob: record('runJob', { run: { ...run, id: 'backup:1767261600000:manual', trigger: 'manual', status: 'queued' } }),
    jobRuns: record('jobRuns', { runs: [run] }),
    killJob: record('killJob', { killed: 2 }),
    deleteJob: record('deleteJob', { name: 'backup', deleted: true }),
    jobGraph: record('jobGraph', 'node,backup,success,idle\n'),
    ...over,
  };
  const deps = fakeCliDeps(h, client as unknown as CliClient, { files: { 'job.json': JSON.stringify({ name: 'backup', command: 'tar', schedule: 'R//PT1H' }), 'bad.json': '{nope' }, stdin: '{"name": "x", "command": "true", "parents": ["backup"]}', now: NOW });
  const runCli = (...args: string[]) => runProgram(buildProgram(deps), args, deps);
  return { h, run: runCli };
}

t.test('job add, list, show', async (t) => {
  let h = harness();
  t.equal(await h.run('job', 'add', 'job.json'), 0);
  t.same(h.h.calls, [['putJob', { name: 'backup', command: 'tar', schedule: 'R//PT1H' }]]);
  t.equal(h.h.stdout, 'Saved job backup (R/2026-01-01T11:00:00.000Z/PT1H; next run 2026-01-01T11:00:00.000Z).\n');
  h = harness();
  t.equal(await h.run('job', 'add', '-'), 0, 'standard input');
  t.match(h.h.calls[0], ['putJob', { parents: ['backup'] }]);

  h = harness();
  t.equal(await h.run('job', 'list'), 0);
  t.match(h.h.stdout, /^NAME\s+SCHEDULE\s+STATE\s+LAST\s+NEXT RUN\s+OK\/ERR\n/);
  t.match(h.h.stdout, /backup\s+R\/2026-01-01T11:00:00.000Z\/PT1H\s+idle\s+success\s+2026-01-01T11:00:00.000Z\s+3\/1/);
  t.match(h.h.stdout, /report\s+after backup\s+1 running\s+success\s+-\s+0\/0/);
  h = harness({ listJobs: async () => ({ jobs: [] }) });
  await h.run('job', 'list');
  t.equal(h.h.stdout, 'No jobs. Create one with `corral job add FILE`.\n');

  h = harness();
  t.equal(await h.run('job', 'show', 'backup'), 0);
  t.same(h.h.calls, [['getJob', 'backup', { limit: 10 }]]);
  t.match(h.h.stdout, /COMMAND:\s+tar -c \/data/);
  t.match(h.h.stdout, /SUCCESSES:\s+3 \(last 2026-01-01T09:00:05.000Z\)/);
  t.match(h.h.stdout, /backup:1767258000000\s+succeeded\s+2026-01-01T09:00:00.000Z\s+59m\s+0\s+1\s+ct:1767258000000:0:backup:/);
});

t.test('job run, history, kill, remove, graph, --json', async (t) => {
  let h = harness();
  t.equal(await h.run('job', 'run', 'backup', 'a', 'b'), 0);
  t.same(h.h.calls, [['runJob', 'backup', ['a', 'b']]]);
  t.equal(h.h.stdout, 'Started run backup:1767261600000:manual.\n');
  h = harness();
  await h.run('job', 'run', 'backup');
  t.same(h.h.calls, [['runJob', 'backup', undefined]], "no arguments: the job's own");

  h = harness();
  t.equal(await h.run('job', 'history', 'backup', '--limit', '5'), 0);
  t.same(h.h.calls, [['jobRuns', 'backup', { limit: 5 }]]);
  t.match(h.h.stdout, /^RUN\s+STATUS\s+SCHEDULED\s+STARTED\s+EXIT\s+ATTEMPT\s+TASK\n/);
  h = harness();
  t.equal(await h.run('job', 'history', 'backup', '--limit', '0'), 2, 'a bad limit is a usage error');

  h = harness();
  await h.run('job', 'kill', 'backup');
  t.equal(h.h.stdout, 'Killing 2 runs of backup.\n');
  h = harness({ killJob: async () => ({ killed: 0 }) });
  await h.run('job', 'kill', 'backup');
  t.equal(h.h.stdout, 'Job backup has no unfinished runs.\n');

  h = harness();
  await h.run('job', 'remove', 'backup');
  t.equal(h.h.stdout, 'Removed job backup.\n');
  h = harness();
  await h.run('job', 'graph', '--csv');
  t.same(h.h.calls, [['jobGraph', 'csv']]);
  t.equal(h.h.stdout, 'node,backup,success,idle\n');
  h = harness();
  await h.run('--json', 'job', 'history', 'backup');
  t.same(JSON.parse(h.h.stdout), { runs: [run] });
});

t.test('failures: the API code, unreadable and invalid files', async (t) => {
  let h = harness({ getJob: async () => Promise.reject(new CorralError('JOB_NOT_FOUND', "Job 'nope' not found")) });
  t.equal(await h.run('job', 'show', 'nope'), 1);
  t.equal(h.h.stderr, "error: Job 'nope' not found (JOB_NOT_FOUND)\n");
  h = harness();
  t.equal(await h.run('job', 'add', 'missing.json'), 1);
  t.match(h.h.stderr, /FILE_UNREADABLE/);
  h = harness();
  t.equal(await h.run('job', 'add', 'bad.json'), 1);
  t.match(h.h.stderr, /INVALID_JSON/);
  h = harness({ putJob: async () => Promise.reject(new CorralError('JOB_DEPENDENCY_CYCLE', "Job 'a' would close a dependency cycle: a -> b -> a")) });
  t.equal(await h.run('job', 'add', 'job.json'), 1);
  t.equal(h.h.stderr, "error: Job 'a' would close a dependency cycle: a -> b -> a (JOB_DEPENDENCY_CYCLE)\n");
});

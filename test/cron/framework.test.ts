// The cron framework's shell on a fake clock: retries with backoff, concurrency policies,
// maxCompletionTime, history retention, Rn counting down through real runs, and a crash and
// restart that neither skips nor repeats an occurrence.
import t from 'tap';
import type { JobRun } from '../../src/cron/types';
import { MemoryStore } from '../../src/store/memory';
import { cronStack, START } from './helpers/cron-stack';

const job = (name: string, more: Record<string, unknown> = {}) => ({ name, command: 'work', mem: 16, disk: 1, cpus: 0.1, ...more });
const runsOf = async (s: Awaited<ReturnType<typeof cronStack>>, name: string) => ((await s.call('GET', `/api/v1/jobs/${name}/runs`)).json() as { runs: Array<Record<string, unknown>> }).runs;

t.test('a failing run retries with backoff (1 s, 2 s), then fails once; counters follow Chronos', async (t) => {
  const s = await cronStack(t);
  await s.call('POST', '/v1/scheduler/iso8601', job('flaky', { schedule: 'R1//PT1H', retries: 2 }));
  await s.settle(0);
  t.equal(s.agent.launched.length, 1);
  await s.runAll();
  await s.finish(s.agent.launched[0]!.taskId, 3);
  await s.settle(900);
  t.equal(s.agent.launched.length, 1, 'no new attempt before the 1 s backoff');
  await s.settle(300);
  t.equal(s.agent.launched.length, 2, 'attempt 2 after 1 s');
  t.equal(s.agent.launched[1]!.taskId, `ct:${START}:1:flaky:`);
  await s.runAll();
  await s.finish(s.agent.launched[1]!.taskId, 3);
  await s.settle(1500);
  t.equal(s.agent.launched.length, 2, 'attempt 3 waits 2 s');
  await s.settle(700);
  t.equal(s.agent.launched.length, 3);
  await s.runAll();
  await s.finish(s.agent.launched[2]!.taskId, 4);
  await s.settle(10_000);
  t.equal(s.agent.launched.length, 3, 'retries 2: three attempts in all');
  const [run] = await runsOf(s, 'flaky');
  t.match(run, { status: 'failed', attempt: 3, exitCode: 4, attempts: [{ exitCode: 3, state: 'TASK_FAILED' }, { exitCode: 3 }, { exitCode: 4 }] });
  const chronos = ((await s.call('GET', '/v1/scheduler/jobs')).json() as Array<Record<string, unknown>>)[0]!;
  t.match(chronos, { errorCount: 1, successCount: 0, errorsSinceLastSuccess: 1, lastError: /^2026-01-01T00:00:0/, schedule: /^R0\// }, 'one failed run is one error; R1 counted down to R0');
});

t.test('concurrency: FORBID skips and records, ALLOW overlaps, REPLACE kills the older run', async (t) => {
  const s = await cronStack(t);
  await s.call('POST', '/api/v1/jobs', job('forbid', { schedule: '*/2 * * * * *' }));
  await s.call('POST', '/api/v1/jobs', job('allow', { schedule: '*/2 * * * * *', concurrent: true }));
  await s.call('POST', '/api/v1/jobs', job('replace', { schedule: '*/2 * * * * *', concurrencyPolicy: 'REPLACE' }));
  await s.settle(0);
  await s.runAll();
  t.equal(s.agent.launched.length, 3, 'one run each at 0 s');
  await s.settle(2000);
  t.equal(s.agent.killed.length, 1, 'REPLACE kills the run still going');
  t.match(s.agent.killed[0]!.taskId, /:replace:$/);
  await s.report(s.agent.killed[0]!.taskId, 'TASK_KILLED');
  await s.runAll();
  const forbid = await runsOf(s, 'forbid');
  t.match(forbid, [{ id: `forbid:${START + 2000}`, status: 'skipped', message: /still active/ }, { status: 'running' }], 'FORBID: the occurrence at 2 s is recorded skipped');
  t.same((await runsOf(s, 'allow')).map((r) => r.status), ['running', 'running'], 'ALLOW: two runs at once');
  t.match(await runsOf(s, 'replace'), [{ status: 'running' }, { status: 'killed', message: /replaced by a newer run/ }]);
});

t.test('maxCompletionTime kills an overdue run: it fails without retry', async (t) => {
  const s = await cronStack(t);
  await s.call('POST', '/api/v1/jobs', job('slow', { schedule: 'R1//PT1H', maxCompletionTime: 1500 }));
  await s.settle(0);
  await s.runAll();
  await s.settle(1000);
  t.equal(s.agent.killed.length, 0);
  await s.settle(800);
  t.equal(s.agent.killed.length, 1, 'killed past 1.5 s');
  await s.report(s.agent.killed[0]!.taskId, 'TASK_KILLED');
  await s.settle(5000);
  t.equal(s.agent.launched.length, 1, 'no retry');
  t.match(await runsOf(s, 'slow'), [{ status: 'failed', message: /maxCompletionTime/ }]);
});

t.test('history keeps the newest runs per job; disabled jobs do not run', async (t) => {
  const s = await cronStack(t, { historyLimit: 3 });
  await s.call('POST', '/api/v1/jobs', job('often', { schedule: '* * * * * *', concurrent: true }));
  for (let i = 0; i < 6; i++) {
    await s.settle(i === 0 ? 0 : 1000);
    await s.runAll();
    for (const l of s.agent.launched) if (!s.agent.reported.some((r) => r.task.taskId === l.taskId && r.status.state === 'TASK_FINISHED')) await s.finish(l.taskId, 0);
  }
  const kept = await runsOf(s, 'often');
  t.equal(kept.length, 3, 'three kept');
  t.equal(kept[0]!.scheduledAt, new Date(START + 5000).toISOString(), 'the newest');
  await s.call('PUT', '/api/v1/jobs/often', job('often', { schedule: '* * * * * *', disabled: true }));
  const before = s.agent.launched.length;
  await s.settle(5000);
  t.equal(s.agent.launched.length, before, 'disabled: nothing launches');
  t.equal(((await s.call('GET', '/api/v1/jobs/often')).json() as { job: { nextRunAt: unknown } }).job.nextRunAt, null);
});

t.test('crash and restart: the interrupted run is followed to its end, every occurrence is run once or recorded', async (t) => {
  const s = await cronStack(t);
  await s.call('POST', '/v1/scheduler/iso8601', job('every2', { schedule: 'R/2026-01-01T00:00:00Z/PT2S' }));
  await s.settle(0);
  await s.runAll();
  const first = s.agent.launched[0]!;
  // Down from 0.5 s to 5.5 s: occurrences at 2 and 4 s pass while no scheduler runs.
  await s.settle(500);
  await s.restart(5000);
  await s.settle(0);
  t.equal(s.agent.launched.length, 1, 'nothing launched twice, and FORBID holds the occurrence back while the first runs');
  await s.finish(first.taskId, 0);
  await s.settle(500);
  await s.runAll();
  await s.settle(0);
  const runs = (await runsOf(s, 'every2')).reverse() as unknown as JobRun[];
  const summary = runs.map((r) => [new Date(r.scheduledAt).getTime() - START, r.status]);
  t.same(summary.slice(0, 4), [[0, 'succeeded'], [2000, 'missed'], [4000, 'skipped'], [6000, 'running']], 'each occurrence once: run, missed (older than the latest), skipped (FORBID), run');
  t.equal(new Set(runs.map((r) => r.id)).size, runs.length, 'no run id twice');
  t.equal(s.agent.launched.filter((l) => l.taskId === first.taskId).length, 1, 'the interrupted task was never relaunched');
  t.match(((await s.call('GET', '/v1/scheduler/jobs')).json() as Array<Record<string, unknown>>)[0], { successCount: 1 });
});

t.test('restart: a run written as launching whose launch never reached the kernel launches again', async (t) => {
  const s = await cronStack(t);
  await s.call('POST', '/api/v1/jobs', job('lost', { schedule: 'R1//PT1H' }));
  await s.settle(0);
  t.equal(s.agent.launched.length, 1);
  // The agent forgets the task (as if the launch had been lost): nothing to report on re-register.
  s.agent.launched.length = 0;
  await s.restart(1000);
  await s.settle(61_000);
  t.equal(s.agent.launched.length, 1, 'launched again under a new attempt');
  t.equal(s.agent.launched[0]!.taskId, `ct:${START}:1:lost:`);
  t.match(await runsOf(s, 'lost'), [{ status: 'launching', attempt: 2 }]);
});

t.test('dependencies: a child waits for every parent of the same upstream run, also across a restart', async (t) => {
  const s = await cronStack(t);
  await s.call('POST', '/v1/scheduler/iso8601', job('a', { schedule: 'R/2026-01-01T00:00:00Z/PT1H' }));
  await s.call('POST', '/v1/scheduler/iso8601', job('b', { schedule: 'R/2026-01-01T00:00:00Z/PT1H' }));
  await s.call('POST', '/v1/scheduler/dependency', job('c', { parents: ['a', 'b'] }));
  await s.settle(0);
  await s.runAll();
  const [a, b] = s.agent.launched;
  await s.finish(a!.taskId, 0);
  t.equal(s.agent.launched.length, 2, 'c waits for b');
  await s.finish(b!.taskId, 0);
  t.equal(s.agent.launched.length, 3, 'c runs once both succeeded');
  t.equal(s.agent.launched[2]!.taskId, `ct:${START}:0:c:`);
  await s.runAll();
  await s.restart(1000);
  await s.settle(0);
  t.equal(s.agent.launched.filter((l) => l.taskId.includes(':c:')).length, 1, 'a restart does not start c again for the same upstream run');
});

t.test('scale: occurrences due together launch at their time in one accept, one step writes once, offers go back between', async (t) => {
  const store = new MemoryStore();
  let txns = 0;
  const txn = store.txn.bind(store);
  store.txn = (req) => (txns++, txn(req));
  const s = await cronStack(t, { store });
  let accepts = 0;
  const accept = s.master.accept.bind(s.master);
  s.master.accept = (...args) => (accepts++, accept(...args));
  const N = 300;
  for (let i = 0; i < N; i++) await s.call('POST', '/api/v1/jobs', job(`j${i}`, { schedule: 'R/2026-01-01T00:00:02Z/PT2S', concurrent: true, cpus: 0.001, mem: 1, disk: 0 }));
  await s.settle(1500);
  t.equal(s.master.outstandingOffers(), 0, 'nothing due within the lead: no offer held');
  await s.settle(350);
  t.equal(s.master.outstandingOffers(), 1, 'the lead before the occurrence: an offer is at hand');
  [txns, accepts] = [0, 0];
  await s.settle(150);
  t.equal(s.agent.launched.length, N, 'every occurrence launched');
  t.equal(accepts, 1, 'in one accept');
  t.equal(txns, 2, 'two transactions: the runs with their cursors, then their placement');
  const runs = [...s.cron.framework.active.values()];
  t.ok(runs.every((r) => r.attempts[0]!.launchedAt === r.scheduledAt), 'launched at the scheduled time: no wait for an allocation cycle');
  txns = 0;
  for (const task of s.agent.launched) s.master.statusUpdate({ taskId: task.taskId, agentId: 'a1', frameworkId: task.frameworkId, state: 'TASK_FINISHED', source: 'SOURCE_EXECUTOR', timestamp: s.clock.now(), uuid: `${task.taskId}-f`, exitCode: 0 });
  await s.settle(0);
  t.equal(txns, 1, `${N} updates arriving together: one transaction`);
  t.equal(s.cron.framework.active.size, 0, 'all ended');
  await s.settle(1000);
  t.equal(s.master.outstandingOffers(), 0, 'offers went back after the occurrence');
  await s.settle(1000);
  t.equal(s.agent.launched.length, 2 * N, 'the next occurrence, on time');
});

// Runs staged ahead of their scheduled time (launchAheadMs) on a fake clock: the task is launched
// early with startAt = the scheduled time; a job whose policy is not ALLOW is staged early only
// while none of its runs is active; a run staged for an occurrence that no longer comes (the job
// was disabled) is killed before it starts; maxCompletionTime counts from the scheduled time.
import t from 'tap';
import { DueQueue, spreadOf } from '../../src/cron/due-queue';
import { cronStack, START } from './helpers/cron-stack';

const job = (name: string, more: Record<string, unknown> = {}) => ({ name, command: 'work', mem: 16, disk: 1, cpus: 0.1, schedule: '*/2 * * * * *', ...more });
type Stack = Awaited<ReturnType<typeof cronStack>>;
const runsOf = async (s: Stack, name: string) => ((await s.call('GET', `/api/v1/jobs/${name}/runs`)).json() as { runs: Array<Record<string, unknown>> }).runs;

t.test('ALLOW: the next run is launched 1 s early, its program to start at the scheduled time', async (t) => {
  const s = await cronStack(t, { launchAheadMs: 1000 });
  await s.call('POST', '/api/v1/jobs', job('tick', { concurrencyPolicy: 'ALLOW' }));
  await s.settle(0);
  t.equal(s.agent.launched.length, 1, 'the occurrence at 0 s, now');
  t.equal(s.agent.launched[0]!.startAt, undefined, 'due now: no startAt');
  await s.runAll();
  await s.settle(999);
  t.equal(s.agent.launched.length, 1, 'nothing before the lead');
  await s.settle(1);
  t.equal(s.agent.launched.length, 2, 'the occurrence at 2 s is launched at 1 s');
  t.equal(s.agent.launched[1]!.startAt, START + 2000);
  t.equal(s.agent.launched[1]!.taskId, `ct:${START + 2000}:0:tick:`);
  t.match((await runsOf(s, 'tick'))[0], { id: `tick:${START + 2000}`, status: 'launching' });
  await s.settle(1000);
  await s.report(s.agent.launched[1]!.taskId, 'TASK_RUNNING');
  t.match((await runsOf(s, 'tick'))[0], { status: 'running', startedAt: new Date(START + 2000).toISOString() });
  t.equal(s.agent.launched.length, 2);
  await s.settle(1000);
  t.equal(s.agent.launched.length, 3, 'the one at 4 s is staged at 3 s');
});

t.test('FORBID: staged early only while no run is active; otherwise decided at the scheduled time', async (t) => {
  const s = await cronStack(t, { launchAheadMs: 1000 });
  await s.call('POST', '/api/v1/jobs', job('one'));
  await s.settle(0);
  await s.runAll();
  await s.settle(1000);
  t.equal(s.agent.launched.length, 1, 'run 1 is active at 1 s: the 2 s occurrence waits for its time');
  await s.settle(1000);
  t.match((await runsOf(s, 'one'))[0], { id: `one:${START + 2000}`, status: 'skipped' }, 'still active at 2 s: skipped as before');
  await s.finish(s.agent.launched[0]!.taskId);
  await s.settle(1000);
  t.equal(s.agent.launched.length, 2, 'none active at 3 s: the 4 s occurrence is staged');
  t.equal(s.agent.launched[1]!.startAt, START + 4000);
});

t.test('FORBID: a run that ends before the scheduled time lets the waiting occurrence launch at its time', async (t) => {
  const s = await cronStack(t, { launchAheadMs: 1000 });
  await s.call('POST', '/api/v1/jobs', job('late'));
  await s.settle(0);
  await s.runAll();
  await s.settle(1500);
  await s.finish(s.agent.launched[0]!.taskId);
  t.equal(s.agent.launched.length, 1);
  await s.settle(500);
  t.equal(s.agent.launched.length, 2, 'launched at 2 s');
  t.equal(s.agent.launched[1]!.startAt, undefined, 'at its time: no startAt');
});

t.test('a run staged for an occurrence of a job disabled meanwhile is killed before it starts', async (t) => {
  const s = await cronStack(t, { launchAheadMs: 1000 });
  await s.call('POST', '/api/v1/jobs', job('off', { concurrencyPolicy: 'ALLOW' }));
  await s.settle(0);
  await s.runAll();
  await s.settle(1000);
  t.equal(s.agent.launched.length, 2);
  await s.call('POST', '/api/v1/jobs', job('off', { concurrencyPolicy: 'ALLOW', disabled: true }));
  await s.settle(0);
  t.same(
    s.agent.killed.map((k) => k.taskId),
    [s.agent.launched[1]!.taskId],
    'the staged run is killed; the running one is left alone',
  );
  await s.report(s.agent.launched[1]!.taskId, 'TASK_KILLED');
  t.match((await runsOf(s, 'off')).find((r) => r.id === `off:${START + 2000}`), { status: 'killed', message: /not started: the job was disabled/ });
  await s.settle(5000);
  t.equal(s.agent.launched.length, 2, 'nothing more runs');
});

t.test('maxCompletionTime counts from the scheduled time, not from an early launch', async (t) => {
  const s = await cronStack(t, { launchAheadMs: 1000 });
  await s.call('POST', '/api/v1/jobs', job('slow', { schedule: `R1/${new Date(START + 2000).toISOString()}/PT1H`, maxCompletionTime: 1500 }));
  await s.settle(1000);
  t.equal(s.agent.launched.length, 1, 'staged at 1 s');
  await s.settle(1000);
  await s.runAll();
  await s.settle(1400);
  t.equal(s.agent.killed.length, 0, 'not killed 2.4 s after launch: 1.4 s after its time');
  await s.settle(200);
  t.equal(s.agent.killed.length, 1, 'killed past 1.5 s after its time');
});

t.test('DueQueue: jobs due at one time are taken over the spread window, each at its own fixed place', async (t) => {
  const q = new DueQueue(2000, 1000);
  const names = Array.from({ length: 200 }, (_, i) => `job-${i}`);
  for (const n of names) q.set(n, 10_000);
  t.same(q.takeDue(6_999), [], 'nothing before ahead + spread');
  const takenAt = new Map<string, number>();
  for (let now = 7_000; now <= 8_000; now += 100) for (const n of q.takeDue(now)) takenAt.set(n, now);
  t.equal(takenAt.size, 200, 'all taken by ahead');
  const perSlice = new Map<number, number>();
  for (const at of takenAt.values()) perSlice.set(at, (perSlice.get(at) ?? 0) + 1);
  t.ok(Math.max(...perSlice.values()) < 60, `spread out: at most ${Math.max(...perSlice.values())} of 200 in one 100 ms slice`);
  for (const n of names) t.equal(spreadOf(n, 1000), spreadOf(n, 1000));
  q.set('held', 10_000, 0);
  t.same(q.takeDue(9_999), [], 'a job set without a lead is taken at its time');
  t.same(q.takeDue(10_000), ['held']);
});

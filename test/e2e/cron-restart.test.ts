// SIGKILL of `corral up` while a job scheduled every 2 s is mid-run; restart 5 s later. The
// interrupted run must be followed to its real end (its task kept running meanwhile), every
// scheduled time in the window must be run exactly once or recorded (missed, or skipped by the
// job's FORBID policy), and no run id may appear twice.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { removeEmptyCorralCgroups, waitFor } from '../helpers/corral-process';
import { CrashableCorral } from '../helpers/crashable-corral';

interface Run {
  id: string;
  status: string;
  scheduledAt: string;
  startedAt: string | null;
  endedAt: string | null;
  exitCode: number | null;
  taskId: string | null;
  attempts: Array<{ taskId: string; startedAt: string | null }>;
}

const dataDir = mkdtempSync(join(tmpdir(), 'corral-cron-restart-'));
const corral = new CrashableCorral(dataDir);
t.teardown(async () => {
  await corral.stop();
  rmSync(dataDir, { recursive: true, force: true });
  removeEmptyCorralCgroups();
});

const PERIOD = 2000;

t.test('kill -9 mid-run and restart 5 s later: no occurrence skipped silently, none run twice', async (t) => {
  await corral.start();
  const { api } = corral;
  // Each run takes 6 s; FORBID (Chronos's concurrent: false) skips occurrences while one runs.
  const start = new Date(Math.ceil((Date.now() + 1500) / PERIOD) * PERIOD).toISOString();
  await api('POST', '/v1/scheduler/iso8601', { name: 'every2', command: 'sleep 6', schedule: `R/${start}/PT2S`, epsilon: 'PT30S', cpus: 0.1, mem: 32, disk: 0 });
  const runs = async () => (await api<{ runs: Run[] }>('GET', '/api/v1/jobs/every2/runs?limit=1000')).runs;

  const interrupted = await waitFor('a run in progress', 30_000, async () => (await runs()).find((r) => r.status === 'running' && r.startedAt !== null && Date.now() - Date.parse(r.startedAt) > 1000));
  const { downAt, restartAt, upAt } = await corral.killAndRestart(5000);

  const ended = await waitFor('the interrupted run to end', 30_000, async () => (await runs()).find((r) => r.id === interrupted.id && r.endedAt !== null));
  t.equal(ended.status, 'succeeded', 'the interrupted run succeeded');
  t.equal(ended.exitCode, 0);
  t.equal(ended.taskId, interrupted.taskId, 'with the task it had before the crash');
  t.same(ended.attempts.map((a) => a.taskId), [interrupted.taskId], 'never relaunched');
  t.ok(Date.parse(ended.endedAt!) - Date.parse(ended.startedAt!) >= 5500, 'it ran its full 6 s: the task kept running while corral was down');

  // Let a few more occurrences pass after the restart, then look at the whole window.
  await waitFor('two runs after the restart', 40_000, async () => ((await runs()).filter((r) => r.startedAt !== null && Date.parse(r.startedAt) > upAt).length >= 2 ? true : undefined));
  const all = (await runs()).reverse();
  const ids = all.map((r) => r.id);
  t.equal(new Set(ids).size, ids.length, 'no run id appears twice');
  const times = all.map((r) => Date.parse(r.scheduledAt));
  const first = times[0]!;
  const last = times.at(-1)!;
  const expected: number[] = [];
  for (let at = first; at <= last; at += PERIOD) expected.push(at);
  t.same(times, expected, 'every scheduled time from the first to the last appears exactly once');
  // Nothing ran between the kill and the restart. On recovery only the latest of those occurrences
  // may run (missedRuns RUN_ONCE within epsilon; FORBID skips it if the interrupted run still runs);
  // the older ones are recorded missed.
  const down = all.filter((r) => Date.parse(r.scheduledAt) > downAt && Date.parse(r.scheduledAt) < restartAt);
  t.ok(down.length >= 2, `occurrences while down are recorded (${down.map((r) => r.status).join(', ')})`);
  t.ok(down.slice(0, -1).every((r) => r.status === 'missed'), 'all but the latest: missed');
  t.ok(['missed', 'skipped', 'succeeded', 'running'].includes(down.at(-1)!.status), 'the latest: run once on recovery, or skipped by FORBID');
  // A run has one task that ran. A second attempt is only allowed for a task the kill cut off before
  // the agent had it: recorded as launching, never started, answered lost by reconciliation.
  const launched = all.filter((r) => r.attempts.length > 0);
  const ranTwice = launched.filter((r) => r.attempts.filter((a) => a.startedAt !== null).length > 1);
  t.same(ranTwice.map((r) => r.id), [], 'no run had two tasks that ran');
  const relaunched = launched.filter((r) => r.attempts.length > 1);
  t.ok(relaunched.length <= 1, `at most the run cut off by the kill was relaunched (${relaunched.map((r) => r.id).join(', ')})`);
  t.ok(all.every((r) => ['succeeded', 'running', 'launching', 'queued', 'missed', 'skipped'].includes(r.status)), `statuses: ${[...new Set(all.map((r) => r.status))].join(', ')}`);
  await api('DELETE', '/api/v1/jobs/every2');
});

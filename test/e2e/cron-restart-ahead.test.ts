// SIGKILL of `corral up` while runs of a job firing every second are staged ahead of their time
// (launched with startAt), restart 5 s later. The staged runs start at their scheduled time while
// corral is down (their supervisors outlive it) and are followed to their end after the restart;
// every scheduled time is run exactly once or recorded, and no run id appears twice.
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { removeEmptyCorralCgroups, waitFor } from '../helpers/corral-process';
import { CrashableCorral } from '../helpers/crashable-corral';

interface Run {
  id: string;
  status: string;
  scheduledAt: string;
  endedAt: string | null;
  attempts: Array<{ taskId: string; launchedAt: string; startedAt: string | null }>;
}

const dataDir = mkdtempSync(join(tmpdir(), 'corral-cron-ahead-'));
// Where each run's program writes when it ran (tasks run as nobody).
const ranDir = mkdtempSync(join(tmpdir(), 'corral-cron-ahead-ran-'));
chmodSync(ranDir, 0o777);
const corral = new CrashableCorral(dataDir);
t.teardown(async () => {
  await corral.stop();
  rmSync(dataDir, { recursive: true, force: true });
  rmSync(ranDir, { recursive: true, force: true });
  removeEmptyCorralCgroups();
});

/** Adds job `name` firing every second (ALLOW), whose program writes when it ran to ranDir; its runs' reader. */
async function everySecond(name: string): Promise<() => Promise<Run[]>> {
  const command = `date +%s%3N > ${ranDir}/$CORRAL_JOB_RUN_ID`;
  await corral.api('POST', '/api/v1/jobs', { name, command, schedule: '* * * * * *', concurrencyPolicy: 'ALLOW', epsilon: 'PT30S', cpus: 0.05, mem: 16, disk: 0 });
  return async () => (await corral.api<{ runs: Run[] }>('GET', `/api/v1/jobs/${name}/runs?limit=1000`)).runs;
}

t.test('kill -9 while runs are staged ahead: they start on time while corral is down, none twice', async (t) => {
  await corral.start();
  const { api } = corral;
  const runs = await everySecond('tick');

  // A run launched for a time still to come (staged ahead); its supervisor is started a few ms later.
  await waitFor('runs staged ahead', 30_000, async () => ((await runs()).filter((r) => r.status === 'launching' && Date.parse(r.scheduledAt) > Date.now() + 1500).length >= 1 ? true : undefined));
  await new Promise((r) => setTimeout(r, 300));
  const { downAt, restartAt, upAt } = await corral.killAndRestart(5000);

  await waitFor('runs after the restart', 40_000, async () => ((await runs()).filter((r) => r.status === 'succeeded' && Date.parse(r.scheduledAt) > upAt).length >= 2 ? true : undefined));
  const all = (await runs()).reverse();
  const ids = all.map((r) => r.id);
  t.equal(new Set(ids).size, ids.length, 'no run id appears twice');
  const times = all.map((r) => Date.parse(r.scheduledAt));
  const expected: number[] = [];
  for (let at = times[0]!; at <= times.at(-1)!; at += 1000) expected.push(at);
  t.same(times, expected, 'every scheduled time from the first to the last appears exactly once');

  // Staged well before the kill, due while corral was down: run at their time by their own
  // supervisors. (A run launched just before the kill may have been cut off before its supervisor
  // started; recovery reports it lost and it is retried, as any launch the kill cuts off.)
  const stagedWhileDown = all.filter((r) => Date.parse(r.scheduledAt) > downAt && Date.parse(r.scheduledAt) < restartAt && r.attempts.length > 0 && Date.parse(r.attempts[0]!.launchedAt) < downAt - 250);
  t.ok(stagedWhileDown.length >= 1, `runs staged ahead were due while corral was down (${stagedWhileDown.map((r) => r.id).join(', ')})`);
  for (const r of stagedWhileDown) {
    await waitFor(`run ${r.id} to be followed to its end`, 20_000, async () => ((await runs()).find((x) => x.id === r.id)?.endedAt ? true : undefined));
    const now = (await runs()).find((x) => x.id === r.id)!;
    t.equal(now.status, 'succeeded', `${r.id}: succeeded`);
    t.equal(now.attempts.length, 1, `${r.id}: one attempt, never relaunched`);
    const file = join(ranDir, r.id);
    t.ok(existsSync(file), `${r.id}: its program ran`);
    const late = Number(readFileSync(file, 'utf8')) - Date.parse(r.scheduledAt);
    t.ok(late >= -5 && late < 1000, `${r.id}: ran ${late} ms after its time, while corral was down`);
  }
  // Occurrences not staged before the kill: the older ones missed, the latest run once on recovery.
  const notStaged = all.filter((r) => Date.parse(r.scheduledAt) > downAt && Date.parse(r.scheduledAt) < restartAt && !stagedWhileDown.includes(r));
  t.ok(notStaged.every((r) => r.status === 'missed' || r.attempts.length === 1), `the rest recorded missed or run once (${notStaged.map((r) => r.status).join(', ')})`);
  const ranTwice = all.filter((r) => r.attempts.filter((a) => a.startedAt !== null).length > 1);
  t.same(ranTwice.map((r) => r.id), [], 'no run had two tasks that ran');
  for (const r of all) if (r.status === 'succeeded') t.ok(existsSync(join(ranDir, r.id)), `${r.id} left its mark`);
  await api('DELETE', '/api/v1/jobs/tick');
});

t.test('kill -9 and an immediate restart while a run is still held: it is reported running at its time, not at the restart', async (t) => {
  await corral.start();
  const { api } = corral;
  const runs = await everySecond('soon');
  // A run staged at least 2.2 s ahead, so that it is still held when the new process has started.
  const held = await waitFor('a run staged well ahead', 30_000, async () => (await runs()).find((r) => r.status === 'launching' && Date.parse(r.scheduledAt) > Date.now() + 2200));
  await new Promise((r) => setTimeout(r, 200));
  const { upAt } = await corral.killAndRestart(0);
  if (upAt >= Date.parse(held.scheduledAt)) t.comment(`the restart took until after ${held.id} was due; the held case was not reached`);
  const ended = await waitFor(`run ${held.id} to end`, 20_000, async () => (await runs()).find((r) => r.id === held.id && r.endedAt !== null));
  t.equal(ended.status, 'succeeded');
  t.equal(ended.attempts.length, 1, 'one attempt');
  const started = ended.attempts[0]!.startedAt;
  t.ok(started !== null && Date.parse(started) >= Date.parse(held.scheduledAt) - 5, `TASK_RUNNING at ${started === null ? 'never' : Date.parse(started) - Date.parse(held.scheduledAt)} ms after its time, not at the restart`);
  const ran = Number(readFileSync(join(ranDir, held.id), 'utf8')) - Date.parse(held.scheduledAt);
  t.ok(ran >= -5 && ran < 1000, `its program ran ${ran} ms after its time`);
  await api('DELETE', '/api/v1/jobs/soon');
});

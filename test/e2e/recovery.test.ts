// Kill -9 of a whole `corral up` while 20 tasks run, some of them ending while it is down; then
// restart it. A framework on the HTTP SDK must find: no task lost, none duplicated, every exit
// code reported, and each ended task's terminal update recognisable by one uuid.
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { httpTransport } from '../../src/kernel/sdk/http';
import type { SchedulerConnection } from '../../src/kernel/sdk/types';
import { isTerminal, type Offer, type TaskLaunch, type TaskStatus } from '../../src/kernel/types';
import { isAlive, removeEmptyCorralCgroups, startCorral, waitFor, type RunningCorral } from '../helpers/corral-process';

const dataDir = mkdtempSync(join(tmpdir(), 'corral-recovery-'));
let corral: RunningCorral | undefined;
let conn: SchedulerConnection | undefined;
t.teardown(async () => {
  await conn?.teardown().catch(() => undefined);
  await conn?.disconnect().catch(() => undefined);
  if (corral && corral.proc.exitCode === null) await corral.stop();
  for (const pid of taskPids(() => true)) process.kill(pid, 'SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
  removeEmptyCorralCgroups();
});

const RUN = `rec${process.pid}`;
/** Host pids of task processes (the `sleep` of each task), by CORRAL_TASK_ID. */
function taskPids(match: (taskId: string) => boolean): number[] {
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      if (!readFileSync(`/proc/${e}/cmdline`, 'utf8').startsWith('sleep')) continue;
      const id = readFileSync(`/proc/${e}/environ`, 'utf8').split('\0').find((v) => v.startsWith('CORRAL_TASK_ID='))?.slice(15);
      if (id?.startsWith(RUN) && match(id)) out.push(Number(e));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

// 10 long tasks; 10 that exit with code i: 5 of them soon, 5 while corral is down.
const specs = Array.from({ length: 20 }, (_, i) => {
  const long = i < 10;
  const code = i - 10;
  const script = long ? 'exec sleep 300' : `sleep ${i < 15 ? 0.5 : 4}; exit ${code}`;
  return { taskId: `${RUN}-${i}`, long, code, script };
});

class Recorder {
  readonly updates: TaskStatus[] = [];
  offers: Offer[] = [];
  latest(taskId: string): TaskStatus | undefined {
    return this.updates.filter((u) => u.taskId === taskId).at(-1);
  }
}

async function subscribe(url: string, token: string, rec: Recorder, id?: string): Promise<SchedulerConnection> {
  let c: SchedulerConnection | undefined;
  c = await httpTransport({ url, token }).subscribe(
    { name: 'recovery-test', failoverTimeoutSeconds: 600, ...(id ? { id } : {}) },
    {
      offers: (o) => rec.offers.push(...o),
      rescind: () => undefined,
      update: (s) => {
        rec.updates.push(s);
        if (s.uuid) void c?.acknowledge(s).catch(() => undefined);
      },
    },
  );
  return c;
}

t.test('kill -9 of corral up: tasks survive, ended ones are reported once with their exit codes', async (t) => {
  corral = await startCorral(dataDir);
  const rec = new Recorder();
  conn = await subscribe(corral.url, corral.token, rec);
  const frameworkId = conn.frameworkId;

  const offer = await waitFor('an offer', 10_000, () => rec.offers[0]);
  const launches: TaskLaunch[] = specs.map((s) => ({
    taskId: s.taskId,
    name: s.taskId,
    resources: { cpus: 0.01, mem: 16, disk: 0, ports: [] },
    command: { shell: true, value: s.script, environment: {} },
    labels: {},
  }));
  await conn.accept([offer.id], [{ type: 'LAUNCH', tasks: launches }], { refuseSeconds: 3600 });
  await waitFor('the long tasks to run and the first short ones to end', 20_000, () =>
    specs.every((s) => (s.long ? rec.latest(s.taskId)?.state === 'TASK_RUNNING' : s.code >= 5 || isTerminal(rec.latest(s.taskId)?.state ?? 'TASK_STAGING'))) ? true : undefined,
  );
  const longIds = specs.filter((s) => s.long).map((s) => s.taskId);
  const pidsBefore = new Map(longIds.map((id) => [id, taskPids((x) => x === id)]));
  for (const [id, pids] of pidsBefore) t.equal(pids.length, 1, `${id} runs once before the crash`);

  // Crash: no clean stop of anything.
  corral.proc.kill('SIGKILL');
  await new Promise((r) => corral!.proc.once('exit', r));
  await conn.disconnect().catch(() => undefined);
  await waitFor('the late short tasks to end while corral is down', 15_000, () =>
    specs.filter((s) => !s.long && s.code >= 5).every((s) => taskPids((x) => x === s.taskId).length === 0) ? true : undefined,
  );
  t.ok(longIds.every((id) => pidsBefore.get(id)!.every(isAlive)), 'long tasks kept running while corral was down');

  corral = await startCorral(dataDir);
  conn = await subscribe(corral.url, corral.token, rec, frameworkId);
  t.equal(conn.frameworkId, frameworkId, 're-subscribed under the same framework id');
  await conn.reconcile(specs.map((s) => ({ taskId: s.taskId })));

  await waitFor('every short task to be reported ended', 40_000, () =>
    specs.filter((s) => !s.long).every((s) => rec.updates.some((u) => u.taskId === s.taskId && u.uuid && isTerminal(u.state))) ? true : undefined,
  );
  for (const s of specs.filter((x) => !x.long)) {
    const terminal = rec.updates.filter((u) => u.taskId === s.taskId && u.uuid && isTerminal(u.state));
    const uuids = new Set(terminal.map((u) => u.uuid));
    t.equal(uuids.size, 1, `${s.taskId}: one terminal update (resends share its uuid)`);
    t.match(terminal[0], s.code === 0 ? { state: 'TASK_FINISHED', exitCode: 0 } : { state: 'TASK_FAILED', exitCode: s.code }, `${s.taskId}: exit code ${s.code}`);
  }
  for (const id of longIds) {
    t.equal(rec.latest(id)?.state, 'TASK_RUNNING', `${id} is RUNNING after the restart`);
    t.same(taskPids((x) => x === id), pidsBefore.get(id), `${id} was re-adopted (same pid, no duplicate)`);
  }
  const tasks = (await (await fetch(`${corral.url}/api/v1/tasks`, { headers: { authorization: `Bearer ${corral.token}` } })).json()) as { tasks: Array<{ id: string; state: string }> };
  t.equal(tasks.tasks.filter((x) => x.id.startsWith(RUN) && x.state === 'TASK_RUNNING').length, 10, 'the master sees exactly the 10 long tasks running');
});

// End to end: the example framework (examples/frameworks/fanout.mjs) runs as its own process
// against a real `corral up`, the way its README tells a user to run it, and its tasks end
// FINISHED with the results it prints. Pins issue 3's "the example framework runs against a real
// corral up from its own process".
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { ROOT, removeEmptyCorralCgroups, startCorral, type RunningCorral } from '../helpers/corral-process';

const ITEMS = 6;
const dataDir = mkdtempSync(join(tmpdir(), 'corral-fanout-'));
let corral: RunningCorral | undefined;

t.teardown(async () => {
  await corral?.stop();
  rmSync(dataDir, { recursive: true, force: true });
  removeEmptyCorralCgroups();
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runExample(env: Record<string, string>, cwd = ROOT): Promise<Run> {
  return new Promise((resolve) => {
    const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CORRAL_')));
    execFile(process.execPath, [join(ROOT, 'examples', 'frameworks', 'fanout.mjs'), String(ITEMS)], { cwd, env: { ...clean, ...env }, timeout: 150_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : null) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

const sumOfSquares = (n: number) => (n * (n + 1) * (2 * n + 1)) / 6;

t.test('the fanout example subscribes over HTTP, runs its tasks and prints their results', async (t) => {
  corral = await startCorral(dataDir);
  const run = await runExample({ CORRAL_URL: corral.url, CORRAL_TOKEN: corral.token });
  t.equal(run.code, 0, `the example exits 0\n${run.stderr}`);
  const expected = Array.from({ length: ITEMS }, (_, k) => `item ${k + 1}: sum of squares 1..${(k + 1) * 100} = ${sumOfSquares((k + 1) * 100)}`);
  t.same(run.stdout.trim().split('\n'), expected, 'one correct result line per item, in order');
  t.match(run.stderr, new RegExp(`${ITEMS} of ${ITEMS} item\\(s\\) finished`));

  const res = await fetch(`${corral.url}/api/v1/tasks`, { headers: { authorization: `Bearer ${corral.token}` } });
  const tasks = ((await res.json()) as { tasks: Array<{ id: string; state: string; exitCode: number | null; labels: Record<string, string> }> }).tasks.filter((x) => x.labels.example === 'fanout');
  t.equal(tasks.length, ITEMS, 'the master knows every task it launched');
  t.same([...new Set(tasks.map((x) => `${x.state}/${x.exitCode}`))], ['TASK_FINISHED/0'], 'every task ended FINISHED with exit code 0');

  const state = (await (await fetch(`${corral.url}/api/v1/state`, { headers: { authorization: `Bearer ${corral.token}` } })).json()) as { frameworks: Array<{ name: string }> };
  t.notOk(state.frameworks.some((f) => f.name === 'fanout'), 'the example tore its framework down');
});

t.test('without CORRAL_URL/CORRAL_TOKEN the example finds the API through ./.corral', async (t) => {
  // startCorral wrote <dataDir>/api.json and admin.token; the example reads them from ./.corral.
  const cwd = mkdtempSync(join(tmpdir(), 'corral-fanout-cwd-'));
  t.teardown(() => rmSync(cwd, { recursive: true, force: true }));
  symlinkSync(dataDir, join(cwd, '.corral'));
  const run = await runExample({}, cwd);
  t.equal(run.code, 0, run.stderr);
  t.equal(run.stdout.trim().split('\n').length, ITEMS);
});

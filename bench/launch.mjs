#!/usr/bin/env node
// Launch benchmark: how long Corral takes to bring N tasks to TASK_RUNNING, compared with a bare
// child_process.spawn loop of the same command, and how much memory the node uses.
//
//   node scripts/bundle.mjs && node bench/launch.mjs [--instances 500] [--rounds 1] [--timeout 120] [--corral dist/corral.js]
//        [--corral-node-args="--cpu-prof --cpu-prof-dir=/tmp/prof"] [--keep-data]
//
// Plain ESM, no dependencies beyond Node. One run does:
//   1. baseline: spawn N × `/bin/sh -c 'sleep 3600'` (what the agent runs for a Marathon `cmd`),
//      each detached in its own process group with stdout/stderr appended to files in its own
//      directory (as the agent's sandbox does); time from the first spawn() call until all N
//      'spawn' events fired; then SIGKILL the groups and wait for every exit.
//   2. corral: `corral up` in a fresh temp data dir; idle RSS; POST /v2/apps with N instances and
//      time until GET /v2/apps/<id> reports tasksRunning = N (polled every 20 ms); RSS with N tasks;
//      DELETE the app, wait until no task is live and check that no task process is left; SIGTERM.
//   3. a table with PASS/FAIL per target and, on the last line, the figures as JSON.
// --rounds K repeats baseline + launch + DELETE K times against the same node and judges the
// WORST round's ratio (the times shown are medians): later rounds run on a kernel still tidying up
// the earlier rounds' cgroups, which slows the bare baseline as much as corral and flatters the
// ratio, so a median would hide the honest first round.
// Every process this script starts carries a random marker in its environment, so leftovers are
// found in /proc even after re-parenting; they are killed (by process group) on any exit path.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir, release } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { values: args } = parseArgs({
  options: {
    instances: { type: 'string', default: '500' },
    timeout: { type: 'string', default: '120' },
    // Extra rounds of (baseline, launch, DELETE) against the same corral node; figures are medians.
    rounds: { type: 'string', default: '1' },
    corral: { type: 'string', default: join(root, 'dist', 'corral.js') },
    'keep-data': { type: 'boolean', default: false },
    // Extra node flags for the corral process, e.g. --corral-node-args="--cpu-prof --cpu-prof-dir=/tmp/prof" (note the =).
    'corral-node-args': { type: 'string', default: '' },
  },
});
const N = Number(args.instances);
if (!Number.isInteger(N) || N < 1) throw new Error(`--instances must be a positive integer, got ${args.instances}`);
const LAUNCH_TIMEOUT_MS = Number(args.timeout) * 1000;
const CORRAL = resolve(args.corral);
const ROUNDS = Number(args.rounds);
if (!Number.isInteger(ROUNDS) || ROUNDS < 1) throw new Error(`--rounds must be a positive integer, got ${args.rounds}`);

const TARGET_RATIO = 2.0;
const TARGET_IDLE_RSS_MB = 80;
const CMD = 'sleep 3600';
const APP_ID = '/bench/sleep';
const MARKER_VAR = 'CORRAL_BENCH_MARKER';
const RUN_ID = randomBytes(6).toString('hex');
const BASELINE_MARKER = `baseline-${RUN_ID}`;
const CORRAL_MARKER = `corral-${RUN_ID}`;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const mb = (kb) => kb / 1024;
const log = (...a) => console.error('[bench]', ...a);

// ---------------------------------------------------------------------------------------------
// Process bookkeeping and cleanup (runs on success, failure, timeout and Ctrl-C).

const tempDirs = [];
let corralChild;

function tempDir(prefix) {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

/** pids of live (non-zombie) processes whose environment carries exactly MARKER_VAR=value. */
function markedPids(value) {
  const needle = `${MARKER_VAR}=${value}`;
  const found = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z') continue; // zombie: already dead
      const env = readFileSync(`/proc/${name}/environ`, 'latin1');
      if (env.split('\0').includes(needle)) found.push(Number(name));
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return found;
}

/** Process group id of a pid (field 5 of /proc/<pid>/stat), or undefined when it is gone. */
function pgidOf(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
  } catch {
    return undefined;
  }
}

/**
 * SIGKILLs each pid and its process group. Our own group is never signalled as a whole (the corral
 * daemon runs in it): only task processes are group leaders of their own groups.
 */
function killGroupsOf(pids, signal = 'SIGKILL') {
  const own = pgidOf(process.pid);
  const groups = new Set(pids.map(pgidOf).filter((g) => g !== undefined && g > 1 && g !== own));
  for (const g of groups) {
    try {
      process.kill(-g, signal);
    } catch {}
  }
  for (const p of pids) {
    try {
      process.kill(p, signal);
    } catch {}
  }
}

let cleaned = false;
async function cleanup() {
  if (cleaned) return;
  cleaned = true;
  if (corralChild && corralChild.exitCode === null && corralChild.signalCode === null) {
    try {
      process.kill(corralChild.pid, 'SIGKILL');
    } catch {}
  }
  const left = [...markedPids(BASELINE_MARKER), ...markedPids(CORRAL_MARKER), ...markedPids(`${CORRAL_MARKER}-daemon`)];
  if (left.length > 0) {
    log(`cleanup: killing ${left.length} leftover process(es)`);
    killGroupsOf(left);
  }
  if (!args['keep-data']) for (const d of tempDirs) rmSync(d, { recursive: true, force: true, maxRetries: 3 });
  else log('kept temp dirs:', tempDirs.join(' '));
}

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.once(sig, () => {
    log(`${sig}: cleaning up`);
    void cleanup().finally(() => process.exit(130));
  });
}

// ---------------------------------------------------------------------------------------------
// /proc helpers

function procStatusKb(pid, field) {
  const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm'));
  return m ? Number(m[1]) : NaN;
}

/** Max VmRSS (kB) over a few samples after a settle period. */
async function settledRssKb(pid, settleMs = 2000, samples = 5, everyMs = 200) {
  await sleep(settleMs);
  let max = 0;
  for (let i = 0; i < samples; i++) {
    max = Math.max(max, procStatusKb(pid, 'VmRSS'));
    if (i < samples - 1) await sleep(everyMs);
  }
  return max;
}

// ---------------------------------------------------------------------------------------------
// 1. Baseline

async function baseline() {
  const dir = tempDir('corral-bench-baseline-');
  // The same small environment the agent gives a task (taskBaseEnv), plus the marker.
  const env = { [MARKER_VAR]: BASELINE_MARKER };
  for (const k of ['PATH', 'HOME', 'LANG', 'LC_ALL', 'TZ', 'TMPDIR', 'USER', 'LOGNAME', 'SHELL']) if (process.env[k] !== undefined) env[k] = process.env[k];
  const children = [];
  let spawned = 0;
  let failed;
  let allSpawned;
  const done = new Promise((res, rej) => {
    allSpawned = res;
    failed = rej;
  });
  const t0 = performance.now();
  for (let i = 0; i < N; i++) {
    const sandbox = join(dir, `task-${i}`);
    mkdirSync(sandbox);
    const out = openSync(join(sandbox, 'stdout'), 'a');
    const err = openSync(join(sandbox, 'stderr'), 'a');
    try {
      const child = spawn('/bin/sh', ['-c', CMD], { cwd: sandbox, env, stdio: ['ignore', out, err], detached: true });
      children.push(child);
      child.once('spawn', () => {
        if (++spawned === N) allSpawned(performance.now());
      });
      child.once('error', failed);
    } finally {
      closeSync(out);
      closeSync(err);
    }
  }
  const loopEnd = performance.now();
  const tEnd = await Promise.race([done, sleep(LAUNCH_TIMEOUT_MS).then(() => Promise.reject(new Error('baseline: spawn events timed out')))]);
  const spawnMs = tEnd - t0;

  // Kill every group and wait for every exit.
  const exited = Promise.all(children.map((c) => (c.exitCode !== null || c.signalCode !== null ? null : new Promise((r) => c.once('exit', r)))));
  const k0 = performance.now();
  for (const c of children) {
    try {
      process.kill(-c.pid, 'SIGKILL');
    } catch {}
  }
  await Promise.race([exited, sleep(30_000).then(() => Promise.reject(new Error('baseline: children did not exit')))]);
  const killMs = performance.now() - k0;
  const leftover = markedPids(BASELINE_MARKER).length;
  return { spawnMs, loopMs: loopEnd - t0, killMs, leftover };
}

// ---------------------------------------------------------------------------------------------
// 2. Corral

async function startCorral(dataDir) {
  const nodeArgs = args['corral-node-args'].split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, CORRAL, 'up', '--data-dir', dataDir, '--listen', '127.0.0.1:0', '--log-level', 'warn'], {
    cwd: root,
    env: { ...process.env, [MARKER_VAR]: `${CORRAL_MARKER}-daemon` },
    stdio: ['ignore', 'pipe', openSync(join(dataDir, '..', 'corral.stderr'), 'w')],
  });
  corralChild = child;
  const exited = new Promise((r) => child.once('exit', (code, signal) => r({ code, signal })));
  const url = await new Promise((res, rej) => {
    let buf = '';
    const timer = setTimeout(() => rej(new Error(`corral printed no API line within 30 s; stdout so far: ${buf}`)), 30_000);
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d) => {
      buf += d;
      const m = buf.match(/API:\s+(http:\/\/\S+)/);
      if (m) {
        clearTimeout(timer);
        res(m[1]);
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      rej(new Error(`corral exited early (code ${code}, signal ${signal}); stdout: ${buf}`));
    });
  });
  return { child, url, exited };
}

async function waitForPing(url, timeoutMs = 30_000) {
  const until = performance.now() + timeoutMs;
  while (performance.now() < until) {
    try {
      const r = await fetch(`${url}/ping`);
      if (r.ok) return;
    } catch {}
    await sleep(50);
  }
  throw new Error(`corral did not answer ${url}/ping within ${timeoutMs} ms`);
}

function api(url, token) {
  return async (method, path, body) => {
    const r = await fetch(url + path, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await r.text();
    let json;
    try {
      json = JSON.parse(text);
    } catch {
      json = text;
    }
    return { status: r.status, json };
  };
}

function stats(nums) {
  const s = [...nums].sort((a, b) => a - b);
  return { min: s[0], max: s[s.length - 1], median: s[Math.floor(s.length / 2)] };
}

const TERMINAL = ['TASK_FINISHED', 'TASK_FAILED', 'TASK_KILLED', 'TASK_ERROR', 'TASK_LOST', 'TASK_GONE', 'TASK_DROPPED'];

/** Starts `corral up` in a fresh data dir; resolves once /ping answers, with its idle RSS. */
async function corralUp() {
  const base = tempDir('corral-bench-node-');
  const dataDir = join(base, 'data');
  const t0 = performance.now();
  const { child, url, exited } = await startCorral(dataDir);
  await waitForPing(url);
  const startupMs = performance.now() - t0;
  const call = api(url, readFileSync(join(dataDir, 'admin.token'), 'utf8').trim());
  const idleRssKb = await settledRssKb(child.pid);
  log(`corral up at ${url} (pid ${child.pid}), idle RSS ${mb(idleRssKb).toFixed(1)} MB`);
  return { child, url, exited, call, startupMs, idleRssKb };
}

/** One launch round: POST N instances, time to N × TASK_RUNNING, RSS, DELETE, leftover check. */
async function corralRound(node) {
  const { child, call } = node;
  const res = {};
  const app = { id: APP_ID, cmd: CMD, instances: N, cpus: 0.001, mem: 1, disk: 0, env: { [MARKER_VAR]: CORRAL_MARKER } };
  // Ended tasks of earlier rounds stay listed (the master keeps the last 1000); leave them out.
  const earlier = new Set(((await call('GET', `/api/v1/tasks?app=${encodeURIComponent(APP_ID)}`)).json.tasks ?? []).map((t) => t.id));
  const postWall = Date.now();
  const p0 = performance.now();
  const posted = await call('POST', '/v2/apps', app);
  res.postMs = performance.now() - p0;
  if (posted.status !== 201) throw new Error(`POST /v2/apps answered ${posted.status}: ${JSON.stringify(posted.json)}`);
  const pollMs = [];
  for (;;) {
    const q0 = performance.now();
    const r = await call('GET', `/v2/apps${APP_ID}`);
    const q1 = performance.now();
    pollMs.push(q1 - q0);
    const running = r.json?.app?.tasksRunning ?? 0;
    if (running >= N) {
      res.launchMs = q1 - p0;
      break;
    }
    if (q1 - p0 > LAUNCH_TIMEOUT_MS) {
      throw Object.assign(new Error(`timeout: only ${running}/${N} tasks running ${LAUNCH_TIMEOUT_MS / 1000} s after POST`), {
        partial: { ...res, running, idleRssKb: node.idleRssKb },
      });
    }
    await sleep(Math.max(0, 20 - (q1 - q0)));
  }
  res.polls = pollMs.length;
  res.pollMs = stats(pollMs);

  // Phase breakdown from the master's own timestamps (same machine clock as Date.now here):
  // stagedAt is set as the master hands each task to the agent, startedAt when its 'spawn' fired.
  const tasks = ((await call('GET', `/api/v1/tasks?app=${encodeURIComponent(APP_ID)}`)).json.tasks ?? []).filter((t) => !earlier.has(t.id));
  const staged = tasks.map((t) => Date.parse(t.stagedAt)).filter(Number.isFinite);
  const started = tasks.map((t) => Date.parse(t.startedAt)).filter(Number.isFinite);
  res.phases = {
    firstStagedMs: Math.min(...staged) - postWall,
    lastStagedMs: Math.max(...staged) - postWall,
    firstStartedMs: Math.min(...started) - postWall,
    lastStartedMs: Math.max(...started) - postWall,
  };
  res.taskProcesses = markedPids(CORRAL_MARKER).length;

  res.rssWithTasksKb = await settledRssKb(child.pid);
  res.hwmKb = procStatusKb(child.pid, 'VmHWM');
  log(`corral: ${N} tasks running ${res.launchMs.toFixed(0)} ms after POST, RSS ${mb(res.rssWithTasksKb).toFixed(1)} MB`);

  const d0 = performance.now();
  const del = await call('DELETE', `/v2/apps${APP_ID}`);
  if (del.status !== 200) throw new Error(`DELETE answered ${del.status}: ${JSON.stringify(del.json)}`);
  for (;;) {
    const list = (await call('GET', `/api/v1/tasks?app=${encodeURIComponent(APP_ID)}`)).json.tasks ?? [];
    const live = list.filter((t) => !TERMINAL.includes(t.state));
    if (live.length === 0) break;
    if (performance.now() - d0 > 60_000) throw new Error(`${live.length} tasks still live 60 s after DELETE`);
    await sleep(50);
  }
  res.teardownMs = performance.now() - d0;
  // The API says every task ended; give the kernel up to 2 s to finish reaping, then count.
  let left = markedPids(CORRAL_MARKER);
  for (let i = 0; i < 20 && left.length > 0; i++) {
    await sleep(100);
    left = markedPids(CORRAL_MARKER);
  }
  res.leftover = left.length;
  if (left.length) {
    log(`corral: ${left.length} task process(es) still alive after DELETE: ${left.slice(0, 10).join(' ')}…`);
    killGroupsOf(left);
  }
  return res;
}

async function corralDown(node) {
  const s0 = performance.now();
  node.child.kill('SIGTERM');
  const how = await Promise.race([node.exited, sleep(30_000).then(() => null)]);
  if (!how) throw new Error('corral did not exit within 30 s of SIGTERM');
  return { stopMs: performance.now() - s0, exit: how };
}

// ---------------------------------------------------------------------------------------------
// 3. Report

function table(rows) {
  const w = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
  const line = (r) => '| ' + r.map((c, i) => String(c).padEnd(w[i])).join(' | ') + ' |';
  return [line(rows[0]), '|' + w.map((n) => '-'.repeat(n + 2)).join('|') + '|', ...rows.slice(1).map(line)].join('\n');
}

/** Load average and CPU pressure (PSI avg10), to judge how noisy the machine was. */
function machineLoad() {
  const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  let psi = 'n/a';
  try {
    psi = readFileSync('/proc/pressure/cpu', 'utf8').match(/^some avg10=([\d.]+)/)?.[1] ?? 'n/a';
  } catch {}
  return { load, cpuPressureAvg10: psi };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** CPU ticks (user + system) a process has used. */
function cpuTicks(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]);
}

/** Waits until `pid` used no CPU for 500 ms (at most 30 s); resolves to the time waited, in ms. */
async function waitIdle(pid) {
  const start = performance.now();
  let last = cpuTicks(pid);
  while (performance.now() - start < 30_000) {
    await sleep(500);
    const now = cpuTicks(pid);
    if (now === last) break;
    last = now;
  }
  return performance.now() - start;
}

async function main() {
  const date = new Date().toISOString();
  const loadBefore = machineLoad();
  const machine = `${cpus()[0]?.model ?? '?'} ×${cpus().length}, Linux ${release()}`;
  log(`instances ${N}, rounds ${ROUNDS}, node ${process.version}, ${machine}`);

  // Round 1 is exactly: baseline, then corral up (idle RSS), then the launch. Further rounds
  // (--rounds) repeat baseline + launch against the same, by then idle, corral node.
  const rounds = [];
  let node;
  for (let i = 0; i < ROUNDS; i++) {
    // After a DELETE the node still tidies up (sandboxes, checkpoints, cgroups); a baseline taken
    // meanwhile would be slowed by it and flatter the ratio.
    if (node) log(`round ${i + 1}: corral idle after ${(await waitIdle(node.child.pid)).toFixed(0)} ms`);
    log(`round ${i + 1}: baseline spawning ${N}…`);
    const b = await baseline();
    log(`round ${i + 1}: baseline ${b.spawnMs.toFixed(0)} ms to spawn ${N}, killed in ${b.killMs.toFixed(0)} ms, leftover ${b.leftover}`);
    node ??= await corralUp();
    const c = await corralRound(node);
    rounds.push({ b, c, ratio: c.launchMs / b.spawnMs });
  }
  const down = await corralDown(node);
  const loadAfter = machineLoad();

  const baselineMs = median(rounds.map((r) => r.b.spawnMs));
  const launchMs = median(rounds.map((r) => r.c.launchMs));
  const ratio = Math.max(...rounds.map((r) => r.ratio));
  const idleMb = mb(node.idleRssKb);
  const withTasksMb = Math.max(...rounds.map((r) => mb(r.c.rssWithTasksKb)));
  const leftover = rounds.reduce((n, r) => n + r.b.leftover + r.c.leftover, 0);
  const checks = { ratio: ratio <= TARGET_RATIO, idleRss: idleMb < TARGET_IDLE_RSS_MB, noLeftovers: leftover === 0 };
  const pf = (ok) => (ok ? 'PASS' : 'FAIL');
  const ms = (v) => `${v.toFixed(0)} ms`;
  const med = ROUNDS > 1 ? ` (median of ${ROUNDS})` : '';
  console.log(
    '\n' +
      table([
        ['metric', 'value', 'target', 'result'],
        [`baseline: spawn ${N} × sh -c '${CMD}'${med}`, ms(baselineMs), '', ''],
        [`corral: POST → ${N} TASK_RUNNING${med}`, ms(launchMs), '', ''],
        [`ratio corral / baseline${ROUNDS > 1 ? ` (worst of ${ROUNDS})` : ''}`, `${ratio.toFixed(2)}×`, `≤ ${TARGET_RATIO.toFixed(1)}×`, pf(checks.ratio)],
        ['corral idle RSS (no tasks)', `${idleMb.toFixed(1)} MB`, `< ${TARGET_IDLE_RSS_MB} MB`, pf(checks.idleRss)],
        [`corral RSS with ${N} tasks`, `${withTasksMb.toFixed(1)} MB`, '', ''],
        ['task processes left after kill/DELETE', String(leftover), '0', pf(checks.noLeftovers)],
        ['node', process.version, '', ''],
        ['date', date, '', ''],
      ]) +
      '\n',
  );
  const detail = [['detail', ...rounds.map((_, i) => `round ${i + 1}`)]];
  const row = (name, f) => detail.push([name, ...rounds.map(f)]);
  row('baseline: spawn loop (synchronous part)', (r) => ms(r.b.loopMs));
  row('baseline: per spawn', (r) => `${(r.b.spawnMs / N).toFixed(2)} ms`);
  row('baseline: SIGKILL groups → all exited', (r) => ms(r.b.killMs));
  row('corral: POST /v2/apps answered', (r) => ms(r.c.postMs));
  row('corral: POST → first task staged', (r) => ms(r.c.phases.firstStagedMs));
  row('corral: POST → last task staged', (r) => ms(r.c.phases.lastStagedMs));
  row('corral: per spawn (first → last staged)', (r) => `${((r.c.phases.lastStagedMs - r.c.phases.firstStagedMs) / Math.max(1, N - 1)).toFixed(2)} ms`);
  row('corral: POST → first TASK_RUNNING', (r) => ms(r.c.phases.firstStartedMs));
  row('corral: POST → last TASK_RUNNING', (r) => ms(r.c.phases.lastStartedMs));
  row('corral: POST → seen by poller', (r) => ms(r.c.launchMs));
  row('corral: polls (slowest answer)', (r) => `${r.c.polls} (${r.c.pollMs.max.toFixed(0)} ms)`);
  row('corral: task processes (sh + sleep)', (r) => String(r.c.taskProcesses));
  row('corral: RSS with tasks / VmHWM', (r) => `${mb(r.c.rssWithTasksKb).toFixed(1)} / ${mb(r.c.hwmKb).toFixed(1)} MB`);
  row('corral: DELETE → no live task', (r) => ms(r.c.teardownMs));
  row('ratio', (r) => `${r.ratio.toFixed(2)}×`);
  console.log(table(detail) + '\n');
  console.log(
    table([
      ['context', 'value'],
      ['machine', machine],
      ['load avg / CPU PSI some avg10 (before → after)', `${loadBefore.load} / ${loadBefore.cpuPressureAvg10}% → ${loadAfter.load} / ${loadAfter.cpuPressureAvg10}%`],
      ['corral start → /ping', ms(node.startupMs)],
      ['corral SIGTERM → exit', `${ms(down.stopMs)} (code ${down.exit.code}, signal ${down.exit.signal})`],
    ]) + '\n',
  );
  const ok = Object.values(checks).every(Boolean);
  const r1 = (x) => +x.toFixed(1);
  console.log(
    JSON.stringify({
      bench: 'launch',
      date,
      node: process.version,
      machine,
      instances: N,
      rounds: rounds.map((r) => ({
        baselineSpawnMs: r1(r.b.spawnMs),
        corralLaunchMs: r1(r.c.launchMs),
        ratio: +r.ratio.toFixed(3),
        rssWithTasksMb: r1(mb(r.c.rssWithTasksKb)),
        phases: r.c.phases,
      })),
      baselineSpawnMs: r1(baselineMs),
      corralLaunchMs: r1(launchMs),
      ratio: +ratio.toFixed(3),
      idleRssMb: r1(idleMb),
      rssWithTasksMb: r1(withTasksMb),
      leftover,
      load: { before: loadBefore, after: loadAfter },
      targets: { ratio: TARGET_RATIO, idleRssMb: TARGET_IDLE_RSS_MB },
      pass: checks,
      ok,
    }),
  );
  return ok;
}

let exitCode = 1;
try {
  exitCode = (await main()) ? 0 : 1;
} catch (err) {
  log('FAILED:', err?.stack ?? err);
  console.log(JSON.stringify({ bench: 'launch', date: new Date().toISOString(), node: process.version, instances: N, error: String(err?.message ?? err), partial: err?.partial }));
  exitCode = 2;
} finally {
  await cleanup();
}
process.exit(exitCode);

#!/usr/bin/env node
// Launch benchmark: how long Corral takes to bring N tasks to TASK_RUNNING, compared with a bare
// child_process.spawn loop of the same command, and how much memory the node uses.
//
//   node scripts/bundle.mjs && node bench/launch.mjs [--instances 500] [--timeout 120] [--corral dist/corral.js]
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
// Every process this script starts carries a random marker in its environment, so leftovers are
// found in /proc even after re-parenting; they are killed (by process group) on any exit path.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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

function killGroupsOf(pids, signal = 'SIGKILL') {
  const groups = new Set(pids.map(pgidOf).filter((g) => g !== undefined && g > 1));
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

async function corral() {
  const base = tempDir('corral-bench-node-');
  const dataDir = join(base, 'data');
  const res = { leftover: 0 };
  const t0 = performance.now();
  const { child, url, exited } = await startCorral(dataDir);
  await waitForPing(url);
  res.startupMs = performance.now() - t0;
  res.pid = child.pid;
  const call = api(url, readFileSync(join(dataDir, 'admin.token'), 'utf8').trim());

  res.idleRssKb = await settledRssKb(child.pid);
  log(`corral up at ${url} (pid ${child.pid}), idle RSS ${mb(res.idleRssKb).toFixed(1)} MB`);

  // --- launch ---
  const app = { id: APP_ID, cmd: CMD, instances: N, cpus: 0.001, mem: 1, disk: 0, env: { [MARKER_VAR]: CORRAL_MARKER } };
  const postWall = Date.now();
  const p0 = performance.now();
  const posted = await call('POST', '/v2/apps', app);
  res.postMs = performance.now() - p0;
  if (posted.status !== 201) throw new Error(`POST /v2/apps answered ${posted.status}: ${JSON.stringify(posted.json)}`);
  let running = 0;
  let polls = 0;
  const pollMs = [];
  for (;;) {
    const q0 = performance.now();
    const r = await call('GET', `/v2/apps${APP_ID}`);
    const q1 = performance.now();
    polls++;
    pollMs.push(q1 - q0);
    running = r.json?.app?.tasksRunning ?? 0;
    if (running >= N) {
      res.launchMs = q1 - p0;
      break;
    }
    if (q1 - p0 > LAUNCH_TIMEOUT_MS) {
      res.launchMs = null;
      res.timedOutAt = running;
      throw Object.assign(new Error(`timeout: only ${running}/${N} tasks running after ${LAUNCH_TIMEOUT_MS / 1000} s`), { partial: res });
    }
    await sleep(Math.max(0, 20 - (q1 - q0)));
  }
  res.polls = polls;
  res.pollMs = stats(pollMs);

  // Phase breakdown from the master's own timestamps (same machine clock as Date.now here).
  const tasks = (await call('GET', `/api/v1/tasks?app=${encodeURIComponent(APP_ID)}`)).json.tasks ?? [];
  const staged = tasks.map((t) => Date.parse(t.stagedAt)).filter(Number.isFinite);
  const started = tasks.map((t) => Date.parse(t.startedAt)).filter(Number.isFinite);
  res.phases = {
    firstStagedMs: Math.min(...staged) - postWall,
    lastStagedMs: Math.max(...staged) - postWall,
    firstStartedMs: Math.min(...started) - postWall,
    lastStartedMs: Math.max(...started) - postWall,
    tasksListed: tasks.length,
    running: tasks.filter((t) => t.state === 'TASK_RUNNING').length,
  };

  // Task processes: children of corral, each its own group leader.
  const marked = markedPids(CORRAL_MARKER).filter((p) => p !== child.pid);
  res.taskProcesses = marked.length;

  res.rssWithTasksKb = await settledRssKb(child.pid);
  res.hwmKb = procStatusKb(child.pid, 'VmHWM');
  log(`${N} tasks running after ${res.launchMs.toFixed(0)} ms, RSS ${mb(res.rssWithTasksKb).toFixed(1)} MB`);

  // --- teardown ---
  const d0 = performance.now();
  const del = await call('DELETE', `/v2/apps${APP_ID}`);
  if (del.status !== 200) throw new Error(`DELETE answered ${del.status}: ${JSON.stringify(del.json)}`);
  for (;;) {
    const live = ((await call('GET', `/api/v1/tasks?app=${encodeURIComponent(APP_ID)}`)).json.tasks ?? []).filter(
      (t) => !['TASK_FINISHED', 'TASK_FAILED', 'TASK_KILLED', 'TASK_ERROR', 'TASK_LOST', 'TASK_GONE', 'TASK_DROPPED'].includes(t.state),
    );
    if (live.length === 0) break;
    if (performance.now() - d0 > 60_000) throw new Error(`${live.length} tasks still live 60 s after DELETE`);
    await sleep(50);
  }
  res.teardownMs = performance.now() - d0;
  // Give the kernel a moment to reap, then look for any task process still alive.
  let left = markedPids(CORRAL_MARKER).filter((p) => p !== child.pid);
  for (let i = 0; i < 20 && left.length > 0; i++) {
    await sleep(100);
    left = markedPids(CORRAL_MARKER).filter((p) => p !== child.pid);
  }
  res.leftover = left.length;
  if (left.length) killGroupsOf(left);

  // --- stop ---
  const s0 = performance.now();
  child.kill('SIGTERM');
  const how = await Promise.race([exited, sleep(30_000).then(() => null)]);
  if (!how) throw new Error('corral did not exit within 30 s of SIGTERM');
  res.stopMs = performance.now() - s0;
  res.exit = how;
  return res;
}

// ---------------------------------------------------------------------------------------------
// 3. Report

function table(rows) {
  const w = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
  const line = (r) => '| ' + r.map((c, i) => String(c).padEnd(w[i])).join(' | ') + ' |';
  return [line(rows[0]), '|' + w.map((n) => '-'.repeat(n + 2)).join('|') + '|', ...rows.slice(1).map(line)].join('\n');
}

async function main() {
  const date = new Date().toISOString();
  const machine = `${cpus()[0]?.model ?? '?'} ×${cpus().length}, Linux ${release()}`;
  log(`instances ${N}, node ${process.version}, ${machine}`);
  log('baseline: spawning…');
  const b = await baseline();
  log(`baseline: ${b.spawnMs.toFixed(0)} ms to spawn ${N}, killed in ${b.killMs.toFixed(0)} ms, leftover ${b.leftover}`);
  const c = await corral();

  const ratio = c.launchMs / b.spawnMs;
  const idleMb = mb(c.idleRssKb);
  const checks = {
    ratio: ratio <= TARGET_RATIO,
    idleRss: idleMb < TARGET_IDLE_RSS_MB,
    noLeftovers: b.leftover === 0 && c.leftover === 0,
  };
  const pf = (ok) => (ok ? 'PASS' : 'FAIL');
  const ms = (v) => `${v.toFixed(0)} ms`;
  console.log(
    '\n' +
      table([
        ['metric', 'value', 'target', 'result'],
        [`baseline: spawn ${N} × sh -c '${CMD}'`, ms(b.spawnMs), '', ''],
        [`corral: POST → ${N} TASK_RUNNING`, ms(c.launchMs), '', ''],
        ['ratio corral / baseline', `${ratio.toFixed(2)}×`, `≤ ${TARGET_RATIO.toFixed(1)}×`, pf(checks.ratio)],
        ['corral idle RSS (no tasks)', `${idleMb.toFixed(1)} MB`, `< ${TARGET_IDLE_RSS_MB} MB`, pf(checks.idleRss)],
        [`corral RSS with ${N} tasks`, `${mb(c.rssWithTasksKb).toFixed(1)} MB`, '', ''],
        ['task processes left after DELETE', String(b.leftover + c.leftover), '0', pf(checks.noLeftovers)],
        ['node', process.version, '', ''],
        ['date', date, '', ''],
      ]) +
      '\n',
  );
  console.log(
    table([
      ['detail', 'value'],
      ['machine', machine],
      ['baseline spawn loop (sync part)', ms(b.loopMs)],
      ['baseline kill + reap', ms(b.killMs)],
      ['corral start → /ping', ms(c.startupMs)],
      ['POST /v2/apps response', ms(c.postMs)],
      ['POST → first task staged (master)', ms(c.phases.firstStagedMs)],
      ['POST → last task staged (master)', ms(c.phases.lastStagedMs)],
      ['POST → first TASK_RUNNING (agent clock)', ms(c.phases.firstStartedMs)],
      ['POST → last TASK_RUNNING (agent clock)', ms(c.phases.lastStartedMs)],
      ['POST → seen by poller', ms(c.launchMs)],
      ['polls (GET /v2/apps/…, median / max)', `${c.polls} (${c.pollMs.median.toFixed(1)} / ${c.pollMs.max.toFixed(1)} ms)`],
      ['task processes found (env marker; sh + sleep each)', String(c.taskProcesses)],
      ['corral VmHWM after launch', `${mb(c.hwmKb).toFixed(1)} MB`],
      ['DELETE → no live task', ms(c.teardownMs)],
      ['SIGTERM → exit', `${ms(c.stopMs)} (code ${c.exit.code}, signal ${c.exit.signal})`],
    ]) + '\n',
  );
  const ok = Object.values(checks).every(Boolean);
  console.log(
    JSON.stringify({
      bench: 'launch',
      date,
      node: process.version,
      machine,
      instances: N,
      baselineSpawnMs: +b.spawnMs.toFixed(1),
      corralLaunchMs: +c.launchMs.toFixed(1),
      ratio: +ratio.toFixed(3),
      idleRssMb: +idleMb.toFixed(1),
      rssWithTasksMb: +mb(c.rssWithTasksKb).toFixed(1),
      phases: c.phases,
      leftover: b.leftover + c.leftover,
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

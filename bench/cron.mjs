#!/usr/bin/env node
// Cron benchmark: N jobs firing every second for D seconds on one node (`corral up`, every role),
// each run a real kernel task (`true`). Reports lateness from the scheduled time to TASK_RUNNING
// (run.startedAt, the status timestamp) at p50/p99, and missed and duplicate runs, next to
// node-cron firing bare callbacks for the same N schedules in this process during the same window.
//
//   node scripts/bundle.mjs && node bench/cron.mjs [--jobs 1000] [--seconds 60] [--corral dist/corral.js] [--keep-data]
//     [--corral-node-args="--cpu-prof --cpu-prof-dir=/tmp/prof"]
//
// Jobs use concurrencyPolicy ALLOW, so a slow launch never turns the next occurrence into a FORBID
// skip. Plain ESM, no dependencies beyond Node and node-cron. Targets: p99 < 100 ms, zero missed, zero
// duplicates. Missed: an expected occurrence (every second from a job's first run to the end of
// the window) with no run, or a run recorded `missed`/`skipped`. Duplicates: a run id or task id
// that appears twice. The last line is the figures as JSON.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(root, 'package.json'));
const cron = require('node-cron');
const { values: args } = parseArgs({
  options: {
    jobs: { type: 'string', default: '1000' },
    seconds: { type: 'string', default: '60' },
    corral: { type: 'string', default: join(root, 'dist', 'corral.js') },
    'keep-data': { type: 'boolean', default: false },
    // Extra node flags for the corral process, e.g. --corral-node-args="--cpu-prof --cpu-prof-dir=/tmp/prof".
    'corral-node-args': { type: 'string', default: '' },
  },
});
const N = Number(args.jobs);
const SECONDS = Number(args.seconds);
const dataDir = mkdtempSync(join(tmpdir(), 'corral-bench-cron-'));

const pct = (sorted, p) => (sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// CPU in ms: the whole machine's busy time (/proc/stat: every CPU, every process and kernel thread),
// one process's own (utime + stime of all its threads) and its main thread's (the event loop, what
// limits the node first), and this bench process's (node-cron's part).
const TICK_MS = 10; // USER_HZ is 100 on Linux
const machineBusyMs = () => {
  const [user, nice, system, , , irq, softirq, steal] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  return (user + nice + system + irq + softirq + steal) * TICK_MS;
};
const processCpuMs = (pid, statFile = `/proc/${pid}/stat`) => {
  const fields = readFileSync(statFile, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
};
const benchCpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const cpuSample = (pid) => ({ machine: machineBusyMs(), corral: processCpuMs(pid), corralMain: processCpuMs(pid, `/proc/${pid}/task/${pid}/stat`), bench: benchCpuMs() });

async function startCorral() {
  const proc = spawn(process.execPath, [...args['corral-node-args'].split(' ').filter(Boolean), resolve(args.corral), 'up', '--data-dir', dataDir, '--listen', '127.0.0.1:0', '--log-level', 'warn', '--agent-cpus', '64', '--agent-mem', '65536', '--agent-disk', '65536'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout.on('data', (d) => (out += d));
  proc.stderr.on('data', (d) => (out += d));
  const url = await new Promise((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`corral up did not start:\n${out}`)), 30_000);
    proc.stdout.on('data', () => {
      const m = /API:\s+(http:\/\/\S+)/.exec(out);
      if (m) (clearTimeout(timer), res(m[1]));
    });
    proc.on('exit', (code) => rej(new Error(`corral up exited ${code}:\n${out}`)));
  });
  const token = readFileSync(join(dataDir, 'admin.token'), 'utf8').trim();
  return { proc, url, token, output: () => out };
}

async function main() {
  console.log(`bench/cron: ${N} jobs every second for ${SECONDS} s; ${cpus().length} CPUs, load ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  const corral = await startCorral();
  const api = async (method, path, body) => {
    const res = await fetch(corral.url + path, { method, headers: { authorization: `Bearer ${corral.token}`, 'content-type': 'application/json' }, ...(body ? { body: JSON.stringify(body) } : {}) });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
    return text ? JSON.parse(text) : undefined;
  };
  try {
    // Jobs are created disabled, then enabled together, so all start on the same second.
    const names = Array.from({ length: N }, (_, i) => `bench-${String(i).padStart(4, '0')}`);
    const def = (name, disabled) => ({ name, command: 'true', shell: false, schedule: '* * * * * *', concurrencyPolicy: 'ALLOW', cpus: 0.01, mem: 8, disk: 0, retries: 0, disabled });
    for (let i = 0; i < N; i += 50) await Promise.all(names.slice(i, i + 50).map((n) => api('POST', '/api/v1/jobs', def(n, true))));
    const windowStart = Math.ceil((Date.now() + 1500) / 1000) * 1000;
    await sleep(windowStart - Date.now() - 1000);
    // A job counts from its first second after it was enabled (enabling N jobs can take longer than 1 s).
    const enabledAt = new Map();
    for (let i = 0; i < N; i += 50) await Promise.all(names.slice(i, i + 50).map(async (n) => (await api('POST', '/api/v1/jobs', def(n, false)), enabledAt.set(n, Date.now()))));
    const windowEnd = windowStart + SECONDS * 1000;

    // node-cron, same schedules, same window, this process: lateness of a bare callback.
    const nodeCronLate = [];
    const tasks = names.map(() =>
      cron.schedule('* * * * * *', () => {
        const now = Date.now();
        if (now >= windowStart && now < windowEnd + 500) nodeCronLate.push(now - Math.floor(now / 1000) * 1000);
      }),
    );
    await sleep(windowStart - Date.now());
    const cpuAtStart = cpuSample(corral.proc.pid);
    await sleep(windowEnd - Date.now());
    const cpuAtEnd = cpuSample(corral.proc.pid);
    await sleep(3000);
    for (const t of tasks) t.stop();
    // Stop new runs, let the last ones report.
    for (let i = 0; i < N; i += 50) await Promise.all(names.slice(i, i + 50).map((n) => api('POST', '/api/v1/jobs', def(n, true))));
    await sleep(5000);

    const late = [];
    // Where the lateness goes: scheduled → run created (the cron timer), created → launched (waiting
    // for an offer and the accept), launched → TASK_RUNNING (the kernel: agent staging and spawn).
    const phases = { created: [], launched: [], running: [] };
    let missed = 0;
    let recordedMissed = 0;
    let notRunning = 0;
    const runIds = new Set();
    const taskIds = new Set();
    let duplicates = 0;
    let runningInWindow = 0;
    // Where the tail is: per scheduled second, how many runs were over 100 ms late, and the worst.
    const bySecond = new Map();
    for (const name of names) {
      const { runs } = await api('GET', `/api/v1/jobs/${name}/runs?limit=1000`);
      const inWindow = runs.filter((r) => Date.parse(r.scheduledAt) >= windowStart && Date.parse(r.scheduledAt) < windowEnd);
      const seen = new Set(inWindow.map((r) => Date.parse(r.scheduledAt)));
      for (let at = Math.max(windowStart, Math.ceil(enabledAt.get(name) / 1000) * 1000); at < windowEnd; at += 1000) if (!seen.has(at)) missed++;
      for (const r of inWindow) {
        if (runIds.has(r.id)) duplicates++;
        runIds.add(r.id);
        for (const a of r.attempts) {
          if (taskIds.has(a.taskId)) duplicates++;
          taskIds.add(a.taskId);
        }
        if (r.status === 'missed' || r.status === 'skipped') recordedMissed++;
        else if (r.startedAt) {
          late.push(Date.parse(r.startedAt) - Date.parse(r.scheduledAt));
          const second = bySecond.get(r.scheduledAt) ?? { over100: 0, max: 0 };
          second.over100 += late.at(-1) > 100 ? 1 : 0;
          second.max = Math.max(second.max, late.at(-1));
          bySecond.set(r.scheduledAt, second);
          if (Date.parse(r.startedAt) >= windowStart && Date.parse(r.startedAt) < windowEnd) runningInWindow++;
          const a = r.attempts[0];
          phases.created.push(Date.parse(r.createdAt) - Date.parse(r.scheduledAt));
          if (a?.launchedAt) phases.launched.push(Date.parse(a.launchedAt) - Date.parse(r.createdAt));
          if (a?.launchedAt && a.startedAt) phases.running.push(Date.parse(a.startedAt) - Date.parse(a.launchedAt));
        } else notRunning++;
      }
    }
    late.sort((a, b) => a - b);
    nodeCronLate.sort((a, b) => a - b);
    const spread = (xs) => (xs.sort((a, b) => a - b), { p50: pct(xs, 50), p99: pct(xs, 99), max: xs.at(-1) });
    // Where the CPU went in the window, per run that reached TASK_RUNNING in it: the corral process
    // (every role, all its threads), and the rest of the machine without this bench (the launcher,
    // supervisors, tasks and the kernel's work for them). At that cost, the machine's cores carry at
    // most `cores * 1000 / total` runs a second: the ceiling for this machine, whatever the lateness.
    const cpuMs = (k) => cpuAtEnd[k] - cpuAtStart[k];
    const perRun = (ms) => Number((ms / Math.max(1, runningInWindow)).toFixed(2));
    const cores = cpus().length;
    const cpuPerRunMs = {
      corral: perRun(cpuMs('corral')),
      corralMainThread: perRun(cpuMs('corralMain')),
      rest: perRun(cpuMs('machine') - cpuMs('corral') - cpuMs('bench')),
      total: perRun(cpuMs('machine') - cpuMs('bench')),
    };
    const machineBusy = Number((cpuMs('machine') / (cores * SECONDS * 1000)).toFixed(2));
    const figures = {
      jobs: N,
      seconds: SECONDS,
      windowStart: new Date(windowStart).toISOString(),
      expectedRuns: N * SECONDS,
      lateEnabledJobs: names.filter((n) => enabledAt.get(n) > windowStart).length,
      runsStarted: late.length,
      latenessMs: { p50: pct(late, 50), p99: pct(late, 99), max: late.at(-1) },
      phasesMs: { scheduledToCreated: spread(phases.created), createdToLaunched: spread(phases.launched), launchedToRunning: spread(phases.running) },
      // What the node sustained: runs that reached TASK_RUNNING within the window, per second.
      runningPerSecond: Number((runningInWindow / SECONDS).toFixed(1)),
      cpuPerRunMs,
      machineBusy,
      runsPerSecondTheCoresCarry: Math.floor((cores * 1000) / cpuPerRunMs.total),
      // Seconds of the window with any run over 100 ms late, and the worst three (s after the window opened).
      secondsWithLateRuns: [...bySecond.values()].filter((v) => v.over100 > 0).length,
      worstSeconds: [...bySecond]
        .sort((a, b) => b[1].over100 - a[1].over100 || b[1].max - a[1].max)
        .slice(0, 3)
        .map(([at, v]) => ({ second: (Date.parse(at) - windowStart) / 1000, over100ms: v.over100, maxMs: v.max })),
      missed: missed + recordedMissed,
      missedNoRecord: missed,
      recordedMissedOrSkipped: recordedMissed,
      neverRunning: notRunning,
      duplicates,
      nodeCron: { callbacks: nodeCronLate.length, latenessMs: { p50: pct(nodeCronLate, 50), p99: pct(nodeCronLate, 99), max: nodeCronLate.at(-1) } },
      load: loadavg().map((l) => Number(l.toFixed(2))),
    };
    const row = (what, value, ok) => console.log(`${what.padEnd(42)} ${String(value).padEnd(14)} ${ok === undefined ? '' : ok ? 'PASS' : 'FAIL'}`);
    row('corral runs started / expected', `${late.length}/${N * SECONDS}`);
    row('lateness to TASK_RUNNING p50 (ms)', figures.latenessMs.p50);
    row('lateness to TASK_RUNNING p99 (ms)', figures.latenessMs.p99, figures.latenessMs.p99 < 100);
    row('runs reaching TASK_RUNNING per second in the window', figures.runningPerSecond);
    row('CPU ms per run: corral / rest / total', `${cpuPerRunMs.corral} / ${cpuPerRunMs.rest} / ${cpuPerRunMs.total}`);
    row('  of corral: its main thread (ms per run)', cpuPerRunMs.corralMainThread);
    row(`machine busy in the window (${cores} CPUs)`, `${Math.round(machineBusy * 100)} %`);
    row('runs/s the CPUs carry at that cost (ceiling)', `${figures.runsPerSecondTheCoresCarry} (of ${N} asked)`);
    for (const [what, v] of Object.entries(figures.phasesMs)) row(`  ${what} p50 / p99 / max (ms)`, `${v.p50} / ${v.p99} / ${v.max}`);
    row('seconds with a run over 100 ms late', `${figures.secondsWithLateRuns}/${SECONDS}`);
    row('  worst seconds (s: runs over 100 ms, max ms)', figures.worstSeconds.map((w) => `${w.second}: ${w.over100ms}, ${w.maxMs}`).join('; '));
    row('missed (absent + recorded missed/skipped)', figures.missed, figures.missed === 0);
    row('duplicate run or task ids', duplicates, duplicates === 0);
    row('node-cron callback lateness p50 (ms)', figures.nodeCron.latenessMs.p50);
    row('node-cron callback lateness p99 (ms)', figures.nodeCron.latenessMs.p99);
    console.log(JSON.stringify(figures));
    for (let i = 0; i < N; i += 50) await Promise.all(names.slice(i, i + 50).map((n) => api('DELETE', `/api/v1/jobs/${n}`).catch(() => undefined)));
  } finally {
    corral.proc.kill('SIGTERM');
    await new Promise((r) => corral.proc.once('exit', r));
    if (!args['keep-data']) rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

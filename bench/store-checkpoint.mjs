#!/usr/bin/env node
// Store benchmark: what SQLite's WAL checkpoints cost the thread that writes (issue 6; see
// bench/README.md). The cron framework writes 3 keys per run (the run, its active marker, the job's
// cursor) in one transaction per batch; at 1,000 runs a second the node's main thread is full, and
// every ~1,000 WAL pages SQLite checkpoints inside a commit on that thread (copy + fsync).
//
//   node bench/store-checkpoint.mjs [--runs 60000] [--batch 100]
//
// Writes `--runs` cron-shaped runs in transactions of `--batch` runs through the real SqliteStore
// (src/store/sqlite.ts, bundled with esbuild into a temp dir), in a fresh store file each time:
//   default      the store as Corral opens it (WAL, synchronous NORMAL, autocheckpoint 1,000 pages)
//   no-ckpt      the same with wal_autocheckpoint = 0: nothing checkpoints, the floor for moving
//                checkpoints off the writing thread (a checkpointer elsewhere still does the I/O)
// and prints per mode the writer's CPU and wall time, and the transaction latency p50 / p99 / max.
// The last line is the figures as JSON.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { values: args } = parseArgs({ options: { runs: { type: 'string', default: '60000' }, batch: { type: 'string', default: '100' } } });
const esbuild = createRequire(join(root, 'package.json'))('esbuild');

// One mode in a fresh process (argv: mode runs batch dir): prints one JSON line.
const WRITER = `
import { join } from 'node:path';
import { SqliteStore } from ${JSON.stringify(join(root, 'src/store/sqlite.ts'))};
const [mode, runs, batch, dir] = process.argv.slice(2);
(async () => {
  const store = await SqliteStore.open(join(dir, 'store.db'));
  // The store's own connection (a private field: the product has no such knob).
  if (mode === 'no-ckpt') store['db'].pragma('wal_autocheckpoint = 0');
  const latencies = [];
  const cpu0 = process.cpuUsage();
  const wall0 = process.hrtime.bigint();
  for (let n = 0; n < Number(runs); ) {
    const success = [], compare = [];
    for (let k = 0; k < Number(batch); k++, n++) {
      const job = 'job-' + (n % 1000), at = 1763700000000 + n, key = 'cron/runs/' + job + '/' + String(at).padStart(15, '0');
      success.push({ type: 'put', key, value: { id: job + ':' + at, job, scheduledAt: at, trigger: 'schedule', state: 'queued', attempt: 1, createdAt: at - 2000, history: [{ at: at - 2000, state: 'queued', message: 'created ahead of its time' }] } });
      success.push({ type: 'put', key: 'cron/active/' + job + ':' + at, value: job });
      success.push({ type: 'put', key: 'cron/cursors/' + job, value: { next: at + 1000, at } });
      compare.push({ key, target: 'exists', value: false });
    }
    const t0 = process.hrtime.bigint();
    await store.txn({ compare, success });
    latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  const cpu = process.cpuUsage(cpu0);
  const wallMs = Number(process.hrtime.bigint() - wall0) / 1e6;
  latencies.sort((a, b) => a - b);
  const pct = (p) => latencies[Math.min(latencies.length - 1, Math.ceil((p / 100) * latencies.length) - 1)];
  await store.close();
  console.log(JSON.stringify({ mode, cpuMs: (cpu.user + cpu.system) / 1000, wallMs, txnMs: { p50: pct(50), p99: pct(99), max: latencies[latencies.length - 1] } }));
})();
`;

const work = mkdtempSync(join(tmpdir(), 'corral-bench-store-'));
try {
  esbuild.buildSync({ stdin: { contents: WRITER, resolveDir: root, loader: 'ts' }, bundle: true, platform: 'node', format: 'cjs', outfile: join(work, 'writer.cjs'), external: ['better-sqlite3'], logLevel: 'error' });
  console.log(`bench/store-checkpoint: ${args.runs} cron runs (3 puts each) in transactions of ${args.batch}; ${cpus().length} CPUs, load ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  const results = [];
  for (const mode of ['default', 'no-ckpt', 'default', 'no-ckpt']) {
    const dir = mkdtempSync(join(work, `${mode}-`));
    const run = spawnSync(process.execPath, [join(work, 'writer.cjs'), mode, args.runs, args.batch, dir], { encoding: 'utf8', env: { ...process.env, NODE_PATH: join(root, 'node_modules') } });
    if (run.status !== 0) throw new Error(`${mode}: ${run.stderr}`);
    const r = JSON.parse(run.stdout.trim().split('\n').pop());
    results.push(r);
    const perRun = (ms) => ((ms / Number(args.runs)) * 1000).toFixed(0);
    console.log(`${mode.padEnd(8)} CPU ${r.cpuMs.toFixed(0)} ms (${perRun(r.cpuMs)} µs a run), wall ${r.wallMs.toFixed(0)} ms (${perRun(r.wallMs)} µs a run); transaction p50 ${r.txnMs.p50.toFixed(1)} / p99 ${r.txnMs.p99.toFixed(1)} / max ${r.txnMs.max.toFixed(1)} ms`);
  }
  console.log(JSON.stringify({ runs: Number(args.runs), batch: Number(args.batch), results }));
} catch (err) {
  console.error(`bench/store-checkpoint: ${err.message}`);
  process.exitCode = 2;
} finally {
  rmSync(work, { recursive: true, force: true });
}

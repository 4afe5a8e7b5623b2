#!/usr/bin/env node
// bench/allocator: a simulated cluster places tasks through the REAL master — allocator, offers,
// ACCEPT with LAUNCH, planLaunch — with fake agent links and in-process frameworks; no processes.
//
//   node bench/allocator.mjs [--agents 10000] [--tasks 1000000] [--per-offer all|N] [--time-limit 300]
//                            [--running] [--json]
//
// The TypeScript sources are bundled on the fly with esbuild (a dev dependency) into
// node_modules/.cache/corral-bench/, so no build step is needed. Each agent has 32 cpus and
// 128 GiB; every 10th also reserves 8 cpus / 32 GiB for role `web`. Ten frameworks in four roles
// (weights 2, 1, 3 with a 10% cpu quota limit, and 1 for `*`) accept every offer by packing it with
// tasks of 0.32 cpus each (memory varies by framework, never the dominant resource) — all that fit,
// or at most --per-offer N, which leaves the rest to later cycles —
// so the cluster holds exactly 100 tasks per agent and DRF fair shares have a closed form
// (weighted water-filling on cpus). --running makes agents report TASK_RUNNING for every task and
// frameworks acknowledge it. The baseline is a first-fit loop over plain arrays with no fairness.
import { build } from 'esbuild';
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { values: args } = parseArgs({
  options: {
    agents: { type: 'string', default: '10000' },
    tasks: { type: 'string', default: '1000000' },
    'per-offer': { type: 'string', default: 'all' },
    'time-limit': { type: 'string', default: '300' },
    running: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  },
});
const AGENTS = Number(args.agents);
const TARGET = Number(args.tasks);
const PER_OFFER = args['per-offer'] === 'all' ? Infinity : Number(args['per-offer']);
const TIME_LIMIT_MS = Number(args['time-limit']) * 1000;
const AGENT = { cpus: 32, mem: 131072, disk: 0, ports: [{ begin: 31000, end: 32000 }] };
const RESERVED = { web: { cpus: 8, mem: 32768, disk: 0, ports: [] } };
const TASK_CPUS = (AGENT.cpus * AGENTS) / TARGET; // 0.32 at the defaults: the cluster fits exactly TARGET tasks
const ROLES = { web: { weight: 2 }, batch: { weight: 1 }, analytics: { weight: 3, quota: { cpus: 0.1 * AGENT.cpus * AGENTS } }, '*': { weight: 1 } };
const FRAMEWORKS = [
  ['web-1', 'web', 1024], ['web-2', 'web', 1024],
  ['batch-1', 'batch', 512], ['batch-2', 'batch', 512], ['batch-3', 'batch', 512],
  ['analytics-1', 'analytics', 1280], ['analytics-2', 'analytics', 1280],
  ['misc-1', '*', 256], ['misc-2', '*', 256], ['misc-3', '*', 256],
].map(([name, role, mem]) => ({ name, role, task: { cpus: TASK_CPUS, mem, disk: 0, ports: [] } }));

async function loadCorral() {
  const outfile = join(root, 'node_modules/.cache/corral-bench/allocator.cjs');
  mkdirSync(dirname(outfile), { recursive: true });
  const contents = [
    "export { Master } from './src/kernel/master/master';",
    "export { inProcessTransport } from './src/kernel/sdk/in-process';",
    "export { FakeClock } from './src/shared/clock';",
    "export { silentLogger } from './src/shared/logger';",
  ].join('\n');
  await build({ stdin: { contents, resolveDir: root, loader: 'ts', sourcefile: 'bench-allocator-entry.ts' }, bundle: true, platform: 'node', format: 'cjs', target: 'node20', packages: 'external', outfile, sourcemap: 'inline', logLevel: 'error' });
  return createRequire(import.meta.url)(outfile);
}

/** Launches seen by all fake agents, per framework id. */
const launches = { total: 0, byFramework: new Map() };

/** An agent that only counts what it is asked to launch (and optionally reports it running). */
function fakeAgent(master, info, report) {
  return {
    info,
    launch(task) {
      launches.total++;
      launches.byFramework.set(task.frameworkId, (launches.byFramework.get(task.frameworkId) ?? 0) + 1);
      if (report) queueMicrotask(() => master.statusUpdate({ taskId: task.taskId, agentId: info.id, frameworkId: task.frameworkId, state: 'TASK_RUNNING', source: 'SOURCE_EXECUTOR', timestamp: 0, uuid: `${task.taskId}-r` }));
    },
    kill() {},
    acknowledge() {},
    readLog: () => Promise.reject(new Error('not used')),
    taskStatuses: () => [],
  };
}

/** A framework that packs (up to PER_OFFER) tasks into every offer and declines what its task does not fit in. */
function packer(spec, stats, deadline) {
  const command = { shell: true, value: 'true', environment: {} };
  const labels = {};
  const f = { ...spec, conn: undefined, next: 0 };
  const fail = (err) => {
    stats.errors++;
    if (stats.errors <= 3) console.error('[bench] accept failed:', err.code ?? '', err.message);
  };
  f.events = {
    offers(offers) {
      for (const o of offers) {
        const n = Math.min(PER_OFFER, Math.floor((o.resources.cpus + 1e-9) / spec.task.cpus), Math.floor((o.resources.mem + 1e-9) / spec.task.mem));
        if (n <= 0 || performance.now() > deadline) {
          f.conn.decline([o.id], { refuseSeconds: 60 }).catch(fail);
          continue;
        }
        const tasks = [];
        for (let i = 0; i < n; i++) {
          const taskId = `${spec.name}.${f.next++}`;
          tasks.push({ taskId, name: taskId, resources: spec.task, command, labels });
        }
        f.conn.accept([o.id], [{ type: 'LAUNCH', tasks }], { refuseSeconds: 0 }).catch(fail);
      }
    },
    rescind() {},
    update(status) {
      if (status.uuid) f.conn.acknowledge(status).catch(fail);
    },
  };
  return f;
}

/** DRF fair shares for frameworks whose dominant resource is cpus: weighted water-filling over roles with cpu quota caps, equal split within a role. */
function fairShares(frameworks, totalCpus) {
  const roles = [...new Set(frameworks.map((f) => f.role))].map((name) => ({ name, weight: ROLES[name]?.weight ?? 1, cap: (ROLES[name]?.quota?.cpus ?? Infinity) / totalCpus }));
  let left = 1;
  let open = roles;
  const share = new Map();
  for (;;) {
    const level = left / open.reduce((s, r) => s + r.weight, 0);
    const capped = open.filter((r) => r.weight * level >= r.cap);
    if (capped.length === 0) {
      for (const r of open) share.set(r.name, r.weight * level);
      break;
    }
    for (const r of capped) {
      share.set(r.name, r.cap);
      left -= r.cap;
    }
    open = open.filter((r) => !capped.includes(r));
  }
  return frameworks.map((f) => share.get(f.role) / frameworks.filter((g) => g.role === f.role).length);
}

/** The same number of placements with no fairness: first fit over plain arrays of free cpus and memory. */
function firstFitBaseline() {
  const cpus = new Float64Array(AGENTS).fill(AGENT.cpus);
  const mem = new Float64Array(AGENTS).fill(AGENT.mem);
  const t0 = performance.now();
  let placed = 0;
  let cursor = 0;
  for (let i = 0; i < TARGET; i++) {
    const task = FRAMEWORKS[i % FRAMEWORKS.length].task;
    while (cursor < AGENTS && (cpus[cursor] + 1e-9 < task.cpus || mem[cursor] < task.mem)) cursor++;
    if (cursor === AGENTS) break;
    cpus[cursor] -= task.cpus;
    mem[cursor] -= task.mem;
    placed++;
  }
  return { placed, ms: performance.now() - t0 };
}

async function main() {
  const { Master, inProcessTransport, FakeClock, silentLogger } = await loadCorral();
  const clock = new FakeClock(Date.UTC(2026, 10, 21));
  const master = new Master({ clock, logger: silentLogger(), roles: ROLES, allocationIntervalMs: 1000 });
  const cycle = { count: 0, ms: 0, maxMs: 0, offers: 0 };
  const allocate = master.allocate.bind(master);
  master.allocate = () => {
    const t = performance.now();
    allocate();
    const took = performance.now() - t;
    cycle.ms += took;
    cycle.maxMs = Math.max(cycle.maxMs, took);
    cycle.count++;
  };
  const agents = [];
  for (let i = 0; i < AGENTS; i++) {
    const id = `agent-${String(i).padStart(5, '0')}`;
    const info = { id, hostname: `${id}.sim`, resources: AGENT, attributes: { rack: `r${i % 40}` }, registeredAt: clock.now(), version: 'bench', reservations: i % 10 === 0 ? RESERVED : undefined };
    const link = fakeAgent(master, info, args.running);
    agents.push(link);
    master.registerAgent(info, link);
  }
  const stats = { errors: 0 };
  // Checked by the frameworks too: one cycle's accepts all run within one turn of this loop.
  const deadline = performance.now() + TIME_LIMIT_MS;
  const transport = inProcessTransport(master);
  const frameworks = FRAMEWORKS.map((spec) => packer(spec, stats, deadline));
  for (const f of frameworks) {
    const events = f.events;
    f.conn = await transport.subscribe({ name: f.name, role: f.role }, { ...events, offers: (o) => ((cycle.offers += o.length), events.offers(o)) });
  }

  const t0 = performance.now();
  master.start();
  let idle = 0;
  let done = 0;
  let timedOut = false;
  while (done < TARGET) {
    clock.advance(0); // runs the allocation cycle queued by the last accepts
    await new Promise((r) => setImmediate(r)); // offers reach frameworks; their accepts run
    const now = launches.total;
    idle = now === done ? idle + 1 : 0;
    done = now;
    if (idle > 3) break; // nobody can place anything more
    if (performance.now() > deadline) {
      timedOut = true;
      break;
    }
  }
  const ms = performance.now() - t0;
  master.stop();

  const totalCpus = AGENT.cpus * AGENTS;
  const totalMem = AGENT.mem * AGENTS;
  const fair = fairShares(frameworks, totalCpus);
  const rows = frameworks.map((f, i) => {
    const tasks = launches.byFramework.get(f.conn.frameworkId) ?? 0;
    const dominant = Math.max((tasks * f.task.cpus) / totalCpus, (tasks * f.task.mem) / totalMem);
    return { framework: f.name, role: f.role, tasks, dominant, fair: fair[i], deviation: dominant - fair[i] };
  });
  const baseline = firstFitBaseline();
  const result = {
    date: new Date().toISOString(),
    node: process.version,
    agents: AGENTS,
    frameworks: frameworks.length,
    perOffer: PER_OFFER,
    running: args.running,
    placed: done,
    complete: done === TARGET,
    timedOut,
    seconds: ms / 1000,
    placementsPerSecond: done / (ms / 1000),
    cycles: cycle.count,
    allocateSeconds: cycle.ms / 1000,
    longestCycleMs: cycle.maxMs,
    offers: cycle.offers,
    acceptErrors: stats.errors,
    maxDeviation: Math.max(...rows.map((r) => Math.abs(r.deviation))),
    baseline: { placed: baseline.placed, seconds: baseline.ms / 1000, placementsPerSecond: baseline.placed / (baseline.ms / 1000) },
    heapMiB: process.memoryUsage().heapUsed / 2 ** 20,
    frameworkShares: rows,
  };
  if (args.json) return console.log(JSON.stringify(result));
  const pct = (x) => `${(x * 100).toFixed(3)}%`;
  console.log(`bench/allocator: ${AGENTS} agents × 32 cpus / 128 GiB, ${frameworks.length} frameworks, ${PER_OFFER === Infinity ? 'packing every offer' : `up to ${PER_OFFER} tasks per offer`}${args.running ? ', TASK_RUNNING + ack per task' : ''}`);
  console.log(`placed               ${done} / ${TARGET}${timedOut ? ` (stopped at the ${args['time-limit']} s limit)` : ''}`);
  console.log(`total time           ${result.seconds.toFixed(2)} s`);
  console.log(`placements/s         ${Math.round(result.placementsPerSecond)}   (target ≥ 20000)   ${result.placementsPerSecond >= 20000 && result.complete ? 'PASS' : 'FAIL'}`);
  console.log(`allocation cycles    ${cycle.count} (${result.allocateSeconds.toFixed(2)} s in allocate(), longest ${cycle.maxMs.toFixed(0)} ms; ${cycle.offers} offers)`);
  console.log(`max |share − fair|   ${pct(result.maxDeviation)} of the cluster (dominant share)${result.complete ? '' : ' — run incomplete: shares are not final'}`);
  console.log(`baseline first-fit   ${baseline.placed} placements in ${(baseline.ms).toFixed(1)} ms = ${Math.round(result.baseline.placementsPerSecond)}/s (no fairness, no offers)`);
  console.log(`heap used            ${result.heapMiB.toFixed(0)} MiB; accept errors ${stats.errors}`);
  console.log('framework     role        tasks    dominant   fair      deviation');
  for (const r of rows) console.log(`${r.framework.padEnd(13)} ${r.role.padEnd(11)} ${String(r.tasks).padStart(7)}  ${pct(r.dominant).padStart(8)}  ${pct(r.fair).padStart(8)}  ${pct(r.deviation).padStart(8)}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(2);
});

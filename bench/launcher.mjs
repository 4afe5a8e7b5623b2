#!/usr/bin/env node
// Launcher benchmark: the CPU that the agent's fork server and supervisors spend per task, for each
// way a launch can go, measured in one run with a baseline (issue 6; see bench/README.md):
//
//   node bench/launcher.mjs [--launches 300] [--kinds native,sh-helper,shell]     (root: PID namespaces, cgroups)
//
// Each kind runs in a driver process (node, the real SupervisorLauncher and launch argv from src/,
// bundled with esbuild into a temp dir) placed in a cgroup of its own in the cpuacct hierarchy, so
// cpuacct.usage counts the driver, its launcher and every supervisor and task, reaped or not. The
// driver starts `--launches` tasks of /bin/true at once (PID + mount namespace, user nobody, as the
// agent does as root, no task cgroups: the isolator's part is the same for every kind and
// launch-floor.mjs measures it), waits until each supervisor said `exited`, and reports its own CPU;
// the launcher tree's CPU is the cgroup's usage minus that (node's own while launching is printed
// apart). Kinds:
//   native     `corral-exec launch` (native/corral-launch.c), what the agent uses when the helper is built
//   sh-helper  the sh fork server, whose task side execs corral-exec (the agent before the native launcher)
//   shell      the sh fork server and the shell chain (setsid + unshare + sh init: no C compiler)
// Baseline, same run: `sh` forking + exec'ing /bin/true `--launches` times, in a cgroup the same way.
// The last line is the figures as JSON.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmdirSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { values: args } = parseArgs({
  options: {
    launches: { type: 'string', default: '300' },
    kinds: { type: 'string', default: 'native,sh-helper,shell' },
  },
});
const esbuild = createRequire(join(root, 'package.json'))('esbuild');
const N = Number(args.launches);
const CPUACCT = '/sys/fs/cgroup/cpuacct';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// The driver's code, bundled from the sources: it joins its cgroup (its last argument) first.
const DRIVER = `
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SupervisorLauncher } from ${JSON.stringify(join(root, 'src/kernel/agent/launcher.ts'))};
import { argvSaysRunning, launchArgv } from ${JSON.stringify(join(root, 'src/kernel/agent/launch-scripts.ts'))};
import { locateExecHelper } from ${JSON.stringify(join(root, 'src/kernel/agent/exec-helper.ts'))};
const [kind, n, dir, cgroup] = process.argv.slice(2);
writeFileSync(join(cgroup, 'cgroup.procs'), String(process.pid));
const built = locateExecHelper([${JSON.stringify(join(root, 'dist', 'corral-exec'))}]);
if (kind !== 'shell' && !built) throw new Error('dist/corral-exec is not built (node scripts/build-native.mjs)');
const execHelper = kind === 'shell' ? undefined : built;
const logger = { debug() {}, info() {}, warn() {}, error() {}, child() { return logger; } };
const launcher = new SupervisorLauncher(logger, kind === 'native' ? execHelper : undefined);
const started = Date.now();
const before = process.cpuUsage();
let ended = 0, failed = 0;
new Promise((resolve) => {
  for (let key = 1; key <= Number(n); key++) {
    const meta = join(dir, String(key));
    mkdirSync(meta);
    writeFileSync(join(meta, 'stdout'), '');
    writeFileSync(join(meta, 'stderr'), '');
    const spec = { pidNamespace: true, execHelper };
    const argv = launchArgv({ argv: ['/bin/true'], env: { PATH: '/usr/bin:/bin' }, user: { uid: 65534, gid: 65534 }, key, ...spec });
    const end = (ok) => { if (!ok) failed++; if (++ended === Number(n)) resolve(); };
    launcher.start(
      { key, metaDir: meta, cwd: meta, stdoutPath: join(meta, 'stdout'), stderrPath: join(meta, 'stderr'), enter: { cgroupProcs: [], noCoreDumps: false }, argv, argvSaysRunning: argvSaysRunning(spec) },
      { onStarted() {}, onRunning() {}, onExit: () => end(true), onFailed: () => end(false) },
    );
  }
}).then(() => {
  const wallMs = Date.now() - started;
  launcher.stop();
  const cpu = process.cpuUsage();
  const launching = process.cpuUsage(before);
  console.log(JSON.stringify({ wallMs, failed, driverCpuMs: (cpu.user + cpu.system) / 1000, launchingCpuMs: (launching.user + launching.system) / 1000 }));
});
`;

function cgroupUsageMs(cg) {
  return Number(readFileSync(join(cg, 'cpuacct.usage'), 'utf8')) / 1e6;
}

async function emptied(cg) {
  for (let i = 0; i < 600 && readFileSync(join(cg, 'cgroup.procs'), 'utf8').trim() !== ''; i++) await sleep(50);
}

async function runIn(name, command, argv) {
  const cg = join(CPUACCT, `corral-bench-launcher-${process.pid}-${name}`);
  mkdirSync(cg);
  try {
    const child = spawn(command, [...argv, cg], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    const code = await new Promise((r) => child.on('exit', r));
    if (code !== 0) throw new Error(`${name} exited ${code}`);
    await emptied(cg);
    return { usageMs: cgroupUsageMs(cg), out };
  } finally {
    await emptied(cg);
    rmdirSync(cg);
  }
}

async function main() {
  if (process.getuid?.() !== 0) throw new Error('needs root (PID namespaces, user nobody, cpuacct cgroups)');
  const work = mkdtempSync(join(tmpdir(), 'corral-bench-launcher-'));
  try {
    esbuild.buildSync({ stdin: { contents: DRIVER, resolveDir: root, loader: 'ts' }, bundle: true, platform: 'node', format: 'cjs', outfile: join(work, 'driver.cjs'), logLevel: 'error' });
    console.log(`bench/launcher: ${N} launches of /bin/true per kind (PID + mount namespace, user nobody); ${cpus().length} CPUs, load ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
    // The baseline: sh forks and execs /bin/true N times, one after another.
    const loop = `echo $$ > "$0/cgroup.procs"; i=0; while [ $i -lt ${N} ]; do /bin/true; i=$((i+1)); done`;
    const base = await runIn('baseline', '/bin/sh', ['-c', loop]);
    const baselineMs = base.usageMs / N;
    const results = { launches: N, baseline: { cpuMsPerLaunch: round(baselineMs) }, kinds: {} };
    console.log(`${'baseline: sh fork + exec /bin/true'.padEnd(44)} ${baselineMs.toFixed(2)} ms CPU per launch`);
    // A kind named twice runs twice (interleave them on a noisy machine); the JSON keeps the last.
    for (const [turn, kind] of args.kinds.split(',').entries()) {
      const dir = join(work, `${turn}-${kind}`);
      mkdirSync(dir);
      const { usageMs, out } = await runIn(`${turn}-${kind}`, process.execPath, [join(work, 'driver.cjs'), kind, String(N), dir]);
      const driver = JSON.parse(out.trim().split('\n').pop());
      if (driver.failed > 0) throw new Error(`${kind}: ${driver.failed} launches failed`);
      const statuses = Array.from({ length: N }, (_, i) => readFileSync(join(dir, String(i + 1), 'exit_status'), 'utf8').trim());
      const bad = statuses.filter((s) => s !== '0').length;
      if (bad > 0) throw new Error(`${kind}: ${bad} tasks did not exit 0`);
      const treeMs = (usageMs - driver.driverCpuMs) / N;
      results.kinds[kind] = { cpuMsPerLaunch: round(treeMs), vsBaseline: round(treeMs / baselineMs), nodeCpuMsPerLaunch: round(driver.launchingCpuMs / N), wallMs: driver.wallMs, launchesPerSecond: Math.round((N * 1000) / driver.wallMs) };
      console.log(`${`${kind}: launcher, supervisors, tasks`.padEnd(44)} ${treeMs.toFixed(2)} ms CPU per launch (${(treeMs / baselineMs).toFixed(2)}x baseline); node ${(driver.launchingCpuMs / N).toFixed(2)} ms; ${results.kinds[kind].launchesPerSecond} launches/s`);
    }
    console.log(JSON.stringify(results));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

const round = (x) => Math.round(x * 100) / 100;

main().catch((err) => {
  console.error(`bench/launcher: ${err.message}`);
  process.exit(2);
});

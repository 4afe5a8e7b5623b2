#!/usr/bin/env node
// The machine's floor for an isolated launch: compiles bench/launch-floor.c with `cc -O2` into a temp
// dir and runs it once per mode, N launches of /bin/true with PARALLEL in flight. No Node in the
// launch path, no supervisor, no logs, no status: what one launch with Corral's per-task isolation
// costs at best on this machine. The `bare` mode (fork + execve) is the baseline of the same run.
//
//   node bench/launch-floor.mjs [--launches 3000] [--parallel 32] [--modes bare,ns,cgroup,full] [--timeout 120]
//
// Prints a table (launches/s, CPU ms per launch, the cores 1,000 launches/s would need and whether
// they fit in this machine's cores), the load before and after, and the whole run as JSON on the last
// line. ns, cgroup and full need root. Exit code 0 when every mode ran, 2 on an error. Plain ESM, no
// dependencies.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, release, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const MODES = ['bare', 'ns', 'cgroup', 'full'];
const TARGET_PER_SECOND = 1000;
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const source = join(root, 'bench', 'launch-floor.c');

const { values: args } = parseArgs({
  options: {
    launches: { type: 'string', default: '3000' },
    parallel: { type: 'string', default: '32' },
    modes: { type: 'string', default: MODES.join(',') },
    // Per mode, in seconds; the program is sent SIGTERM (it cleans up its cgroups) past it.
    timeout: { type: 'string', default: '120' },
  },
});

class BenchError extends Error {}

function positiveInt(name, text, max) {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > max) throw new BenchError(`--${name} must be an integer in 1..${max}, got '${text}'`);
  return n;
}

const load = () => loadavg().map((l) => Number(l.toFixed(2)));

function compile(dir) {
  const binary = join(dir, 'launch-floor');
  const cc = spawnSync('cc', ['-O2', '-Wall', '-o', binary, source], { encoding: 'utf8' });
  if (cc.error?.code === 'ENOENT') throw new BenchError('no C compiler: `cc` is not on PATH (install gcc or clang)');
  if (cc.error) throw new BenchError(`cc: ${cc.error.message}`);
  if (cc.status !== 0) throw new BenchError(`cc -O2 ${source} failed:\n${cc.stderr}`);
  return binary;
}

let current; // the launch-floor process running now, for Ctrl-C

function runMode(binary, mode, launches, parallel, timeoutMs) {
  return new Promise((res, rej) => {
    const child = spawn(binary, [String(launches), String(parallel), mode], { stdio: ['ignore', 'pipe', 'pipe'] });
    current = child;
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const timer = setTimeout(() => {
      err += `launch-floor: no result after ${timeoutMs / 1000} s, sent SIGTERM\n`;
      child.kill('SIGTERM');
    }, timeoutMs);
    child.on('error', (e) => (clearTimeout(timer), rej(new BenchError(`${mode}: ${e.message}`))));
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      current = undefined;
      // Notes (e.g. a skipped hierarchy) are not errors, but must be seen.
      if (code === 0) process.stderr.write(err);
      if (code !== 0) return rej(new BenchError(`mode ${mode} failed (${signal ? `signal ${signal}` : `exit ${code}`}):\n${err.trim()}`));
      const line = out.trim().split('\n').pop();
      try {
        res(JSON.parse(line));
      } catch {
        rej(new BenchError(`mode ${mode}: unreadable result '${line}'`));
      }
    });
  });
}

function printTable(results, cores) {
  const cols = [
    ['mode', 8],
    ['launches/s', 12],
    ['CPU ms/launch', 15],
    ['x bare CPU', 12],
    ['cores busy', 12],
    ['cores for 1,000/s', 19],
    [`fits in ${cores} cores`, 16],
    ['cgroup hierarchies', 0],
  ];
  const line = (cells) => console.log(cells.map((c, i) => String(c).padEnd(cols[i][1])).join(' ').trimEnd());
  line(cols.map(([name]) => name));
  const bare = results.find((r) => r.mode === 'bare');
  for (const r of results)
    line([
      r.mode,
      r.perSecond.toFixed(0),
      r.cpuMsPerLaunch.toFixed(3),
      bare ? `${(r.cpuMsPerLaunch / bare.cpuMsPerLaunch).toFixed(2)}x` : '-',
      r.coresBusy.toFixed(2),
      r.coresFor1000PerSecond.toFixed(2),
      r.fits ? 'yes' : 'NO',
      r.hierarchies.join(',') || '-',
    ]);
}

async function main() {
  const launches = positiveInt('launches', args.launches, 100_000_000);
  const parallel = positiveInt('parallel', args.parallel, 4096);
  const timeoutMs = positiveInt('timeout', args.timeout, 86_400) * 1000;
  const modes = args.modes.split(',').map((m) => m.trim()).filter(Boolean);
  const unknown = modes.filter((m) => !MODES.includes(m));
  if (modes.length === 0 || unknown.length > 0) throw new BenchError(`--modes takes ${MODES.join(', ')}; got '${args.modes}'`);
  if (modes.some((m) => m !== 'bare') && process.getuid?.() !== 0)
    throw new BenchError(`modes ${modes.filter((m) => m !== 'bare').join(', ')} need root (namespaces, mounts, setuid, cgroups); run as root or use --modes bare`);

  const cores = cpus().length;
  const machine = { cpus: cores, model: cpus()[0]?.model ?? 'unknown', kernel: release() };
  const loadBefore = load();
  console.log(`bench/launch-floor: ${launches} launches of /bin/true, ${parallel} in flight, modes ${modes.join(',')}; ${cores} CPUs (${machine.model}), kernel ${machine.kernel}`);
  console.log(`load before: ${loadBefore.join(' ')}`);

  const dir = mkdtempSync(join(tmpdir(), 'corral-launch-floor-'));
  const stop = (signal) => {
    current?.kill('SIGTERM'); // launch-floor kills its launches and removes its cgroups
    process.exitCode = 130;
    console.error(`bench/launch-floor: ${signal}, stopping`);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  const results = [];
  try {
    const binary = compile(dir);
    for (const mode of modes) {
      if (process.exitCode === 130) throw new BenchError('interrupted');
      const r = await runMode(binary, mode, launches, parallel, timeoutMs);
      // 1,000 launches a second at cpuMsPerLaunch ms of CPU each: cpuMsPerLaunch * 1000 ms per second.
      const coresFor1000PerSecond = (r.cpuMsPerLaunch * TARGET_PER_SECOND) / 1000;
      // The cores this run kept busy: well under `cores` means the launches waited (in the kernel), not computed.
      const coresBusy = (r.perSecond * r.cpuMsPerLaunch) / 1000;
      results.push({ ...r, coresBusy: Number(coresBusy.toFixed(3)), coresFor1000PerSecond: Number(coresFor1000PerSecond.toFixed(3)), fits: coresFor1000PerSecond <= cores, loadAfter: load() });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
  const loadAfter = load();

  console.log('');
  printTable(results, cores);
  console.log('');
  console.log(`load after: ${loadAfter.join(' ')}`);
  console.log(`cores for 1,000/s = CPU ms per launch x 1,000 launches / 1,000 ms; "fits" compares it with the ${cores} cores of this machine;`);
  console.log(`cores busy = launches/s x CPU ms per launch / 1,000 (below ${cores}: the launches also waited, e.g. on cgroup mkdir/rmdir, which the launcher does one at a time)`);
  console.log('(the CPU is launch-floor and its reaped descendants; kernel work deferred to kworkers, e.g. cgroup and namespace teardown, is not counted)');
  console.log(JSON.stringify({ bench: 'launch-floor', machine, launches, parallel, loadBefore, loadAfter, baseline: 'bare', results }));
}

main().catch((e) => {
  console.error(`bench/launch-floor: ${e instanceof BenchError ? e.message : e.stack}`);
  process.exitCode = 2;
});

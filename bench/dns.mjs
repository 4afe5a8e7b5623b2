#!/usr/bin/env node
// Corral's DNS server against dnsmasq, with dnsperf (Debian), in the same run (issue 7).
//
//   node bench/dns.mjs [--apps 1000] [--seconds 15] [--latency-qps 20000] [--server-cpu 0] [--client-cpu 1]
//                      [--transport auto|native|dgram]
//
// Corral: the real discovery code (state → catalog → answerer → UDP server) bundled with esbuild
// into node_modules/.cache/corral-bench/dns-server.cjs, over the UDP transport `--transport` names
// (auto, the default: the native batch socket dist/corral-udp.node, built here when missing and a
// compiler is there, copied next to the bundle; dgram: Node's), run as its own process pinned to one core
// (taskset), with a catalog of `--apps` apps of one RUNNING task each, on `--apps / 10` nodes:
// `app-N.corral-init.corral` A records. dnsmasq: the same names and addresses from a hosts file
// (--addn-hosts, no upstream, no cache limit issues), pinned to the same core, one after the other.
// dnsperf runs pinned to the other core with the same query file (every A name once, in order,
// repeated), 4 clients, up to 200 queries in flight:
//   1. throughput: as fast as it goes for `--seconds`: queries per second, lost queries;
//   2. latency: at `--latency-qps` (a rate both servers sustain) with -v, p50/p99/max from each
//      query's reported latency.
// Also the server's CPU time per answered query in the throughput run (/proc/PID/stat; a server
// that is not saturated — dnsperf is the limit — shows less than 1 / its rate).
// Prints a table and the figures as JSON on the last line. Exit code 0 when Corral reaches
// 40,000 qps and half of dnsmasq's rate, 1 otherwise, 2 on an error.
import { build } from 'esbuild';
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createSocket } from 'node:dgram';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { values: args } = parseArgs({
  options: {
    apps: { type: 'string', default: '1000' },
    seconds: { type: 'string', default: '15' },
    'latency-qps': { type: 'string', default: '20000' },
    'server-cpu': { type: 'string', default: '0' },
    'client-cpu': { type: 'string', default: '1' },
    transport: { type: 'string', default: 'auto' },
  },
});
if (!['auto', 'native', 'dgram'].includes(args.transport)) {
  console.error(`--transport: auto, native or dgram (not ${args.transport})`);
  process.exit(2);
}
const APPS = Number(args.apps);
const SECONDS = Number(args.seconds);
const LATENCY_QPS = Number(args['latency-qps']);

const SERVER_ENTRY = `
import { buildCatalog } from './src/discovery/catalog';
import { emptyState } from './src/discovery/state';
import { DnsAnswerer } from './src/discovery/answer';
import { DnsServer } from './src/discovery/server';
import { silentLogger } from './src/shared/logger';

const apps = Number(process.argv[2]);
const state = emptyState({ hostname: 'master', ip: '127.0.0.1', apiPort: 5050 });
state.frameworks.set('fw', 'corral-init');
const nodes = Math.max(1, Math.ceil(apps / 10));
for (let n = 0; n < nodes; n++) state.agents.set('agent-' + n, { id: 'agent-' + n, hostname: '10.9.' + (n >> 8) + '.' + ((n & 255) + 1), reachable: true });
for (let i = 0; i < apps; i++) {
  const n = i % nodes;
  state.tasks.set('t' + i, { hint: undefined, view: { id: 't' + i, name: 'app-' + i, frameworkId: 'fw', agentId: 'agent-' + n, host: '10.9.' + (n >> 8) + '.' + ((n & 255) + 1), state: 'TASK_RUNNING', reason: undefined, message: undefined, exitCode: undefined, healthy: undefined, resources: { cpus: 0.1, mem: 32, disk: 0, ports: [{ begin: 31000 + (i % 1000), end: 31000 + (i % 1000) }] }, labels: {}, stagedAt: 0, startedAt: 0, updatedAt: 0 } });
}
const catalog = buildCatalog(state, { domain: 'corral', ttl: 5 }, 1);
const server = new DnsServer({ host: '127.0.0.1', port: 0, answerer: new DnsAnswerer(catalog, { forwardOutside: false }), forwarder: undefined, logger: silentLogger(), udp: process.argv[3] });
server.start().then((a) => process.stdout.write('PORT ' + a.port + ' TRANSPORT ' + server.udpTransport.kind + '\\n'));
process.on('SIGTERM', () => server.stop().then(() => process.exit(0)));
`;

function addressOf(i) {
  const nodes = Math.max(1, Math.ceil(APPS / 10));
  const n = i % nodes;
  return `10.9.${n >> 8}.${(n & 255) + 1}`;
}

async function freeUdpPort() {
  const s = createSocket('udp4');
  await new Promise((r) => s.bind(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

function startProcess(cmd, argv, waitFor) {
  const proc = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout.on('data', (d) => (out += d));
  proc.stderr.on('data', (d) => (out += d));
  const ready = new Promise((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`${cmd} did not start: ${out}`)), 20_000);
    const check = () => {
      const m = waitFor(out);
      if (m !== undefined) {
        clearTimeout(timer);
        res(m);
      }
    };
    proc.stdout.on('data', check);
    proc.stderr.on('data', check);
    proc.on('exit', (code) => rej(new Error(`${cmd} exited ${code}: ${out}`)));
    check();
  });
  return { proc, ready, stop: () => new Promise((r) => (proc.exitCode !== null ? r() : (proc.once('exit', () => r()), proc.kill('SIGTERM')))) };
}

function dnsperf(port, queryFile, extra) {
  return new Promise((res, rej) => {
    const argv = ['-c', args['client-cpu'], 'dnsperf', '-s', '127.0.0.1', '-p', String(port), '-d', queryFile, '-c', '4', '-q', '200', '-l', String(SECONDS), '-t', '2', ...extra];
    const proc = spawn('taskset', argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    const chunks = [];
    let err = '';
    proc.stdout.on('data', (d) => chunks.push(d));
    proc.stderr.on('data', (d) => (err += d));
    proc.on('exit', (code) => (code === 0 ? res(Buffer.concat(chunks).toString()) : rej(new Error(`dnsperf exited ${code}: ${err}`))));
  });
}

function summary(text) {
  const num = (re) => Number(re.exec(text)?.[1] ?? NaN);
  return { qps: num(/Queries per second:\s+([\d.]+)/), sent: num(/Queries sent:\s+(\d+)/), completed: num(/Queries completed:\s+(\d+)/), lost: num(/Queries lost:\s+(\d+)/), avgMs: num(/Average Latency \(s\):\s+([\d.]+)/) * 1000 };
}

/** p50/p99/max (ms) of the per-query latencies `dnsperf -v` prints (`> NOERROR name A 0.000123`). */
function latencies(text) {
  const values = [];
  for (const line of text.split('\n')) {
    const m = /^> \S+ .* ([\d.]+)$/.exec(line);
    if (m) values.push(Number(m[1]) * 1000);
  }
  values.sort((a, b) => a - b);
  const at = (q) => values[Math.min(values.length - 1, Math.floor(q * values.length))];
  return { samples: values.length, p50Ms: at(0.5), p99Ms: at(0.99), maxMs: values[values.length - 1] };
}

/** CPU time (user + system, µs) the process `pid` has used so far (/proc/PID/stat, clock ticks of 10 ms). */
function cpuMicros(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}

/** `pid`: the server (taskset execs it), for its CPU time per answered query in the throughput run. */
async function measure(name, port, queryFile, pid) {
  const cpuBefore = cpuMicros(pid);
  const throughput = summary(await dnsperf(port, queryFile, []));
  const cpuUsPerQuery = (cpuMicros(pid) - cpuBefore) / throughput.completed;
  const latencyText = await dnsperf(port, queryFile, ['-Q', String(LATENCY_QPS), '-v']);
  return { name, ...throughput, cpuUsPerQuery, latency: { qps: summary(latencyText).qps, ...latencies(latencyText) } };
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'corral-bench-dns-'));
  const stops = [];
  try {
    const cache = join(root, 'node_modules', '.cache', 'corral-bench');
    mkdirSync(cache, { recursive: true });
    const bundle = join(cache, 'dns-server.cjs');
    await build({ stdin: { contents: SERVER_ENTRY, resolveDir: root, loader: 'ts' }, bundle: true, platform: 'node', target: 'node20', format: 'cjs', outfile: bundle, logLevel: 'error' });
    // The native UDP socket: built when missing, and found next to the bundle (src/discovery/udp-native.ts).
    const addon = join(root, 'dist', 'corral-udp.node');
    if (args.transport !== 'dgram' && !existsSync(addon)) execFileSync(process.execPath, [join(root, 'scripts', 'build-native.mjs')], { stdio: 'inherit' });
    rmSync(join(cache, 'corral-udp.node'), { force: true });
    if (existsSync(addon)) copyFileSync(addon, join(cache, 'corral-udp.node'));

    const names = Array.from({ length: APPS }, (_, i) => `app-${i}.corral-init.corral`);
    const queryFile = join(dir, 'queries.txt');
    writeFileSync(queryFile, names.map((n) => `${n} A\n`).join(''));
    const hostsFile = join(dir, 'hosts');
    writeFileSync(hostsFile, names.map((n, i) => `${addressOf(i)} ${n}\n`).join(''));

    // Corral, alone on its core.
    const corral = startProcess('taskset', ['-c', args['server-cpu'], process.execPath, bundle, String(APPS), args.transport], (out) => /PORT (\d+) TRANSPORT (\w+)/.exec(out)?.slice(1));
    stops.push(corral.stop);
    const [corralPort, transport] = await corral.ready;
    console.log(`bench/dns: Corral's DNS server answers UDP through ${transport === 'native' ? 'the native batch socket (dist/corral-udp.node)' : "Node's dgram"}`);
    const corralResult = { ...(await measure('corral', Number(corralPort), queryFile, corral.proc.pid)), transport };
    await corral.stop();

    // dnsmasq, on the same core, with the same names.
    const dnsmasqPort = await freeUdpPort();
    const dnsmasq = startProcess('taskset', ['-c', args['server-cpu'], 'dnsmasq', '--keep-in-foreground', '--no-daemon', `--port=${dnsmasqPort}`, '--listen-address=127.0.0.1', '--bind-interfaces', '--no-resolv', '--no-hosts', `--addn-hosts=${hostsFile}`, '--cache-size=10000', '--user=root', '--pid-file=', '--log-facility=-', '--quiet-dhcp'], (out) => (/started, version/.test(out) ? true : undefined));
    stops.push(dnsmasq.stop);
    await dnsmasq.ready;
    const dnsmasqResult = await measure('dnsmasq', dnsmasqPort, queryFile, dnsmasq.proc.pid);
    await dnsmasq.stop();

    const rows = [corralResult, dnsmasqResult];
    console.log(`bench/dns: ${APPS} A names, ${SECONDS} s per run, server on cpu ${args['server-cpu']}, dnsperf on cpu ${args['client-cpu']} (${cpus().length} cpus, load ${loadavg().map((l) => l.toFixed(2)).join(' ')})`);
    console.log('server    max qps   lost   avg ms  cpu µs/q | at qps   p50 ms   p99 ms   max ms');
    for (const r of rows) console.log(`${r.name.padEnd(8)} ${r.qps.toFixed(0).padStart(8)} ${String(r.lost).padStart(6)} ${r.avgMs.toFixed(3).padStart(8)} ${r.cpuUsPerQuery.toFixed(1).padStart(9)} | ${r.latency.qps.toFixed(0).padStart(6)} ${r.latency.p50Ms.toFixed(3).padStart(8)} ${r.latency.p99Ms.toFixed(3).padStart(8)} ${r.latency.maxMs.toFixed(3).padStart(8)}`);
    const ratio = corralResult.qps / dnsmasqResult.qps;
    const pass = corralResult.qps >= 40_000 && ratio >= 0.5;
    console.log(`corral/dnsmasq: ${(ratio * 100).toFixed(0)}%  target: >= 40,000 qps and >= 50% of dnsmasq: ${pass ? 'PASS' : 'FAIL'}`);
    console.log(JSON.stringify({ apps: APPS, seconds: SECONDS, transport: corralResult.transport, corral: corralResult, dnsmasq: dnsmasqResult, ratio, pass }));
    return pass ? 0 : 1;
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    process.exit(2);
  },
);

#!/usr/bin/env node
// Cluster swarm benchmark on loopback: how long a node takes from start() to an authenticated
// connection, and how long the others take to notice a peer killed with SIGKILL.
//
//   node bench/swarm.mjs [--nodes 5] [--masters 2] [--rounds 3] [--modules DIR]
//
// Each round, every node is its own process (127.0.0.1 only, ports picked free):
//   1. the masters start together and connect to each other;
//   2. the agents start together; for each we record start() → first authenticated peer, and
//      start() → connected to all the other nodes (full mesh);
//   3. after a random 0–1 s pause (so the kill lands anywhere in the 1 s keep-alive period), one
//      agent is SIGKILLed and every survivor reports when its 'peer-down' fired.
// --modules DIR resolves hyperswarm and hyperdht (and what they need) from DIR instead of this
// checkout, to compare versions, e.g. after `npm install --prefix /tmp/hd634 hyperswarm@4.17.2
// hyperdht@6.34.0`: --modules /tmp/hd634/node_modules. The worker is bundled with esbuild from
// src/cluster/swarm with those two packages left external and found through NODE_PATH.
// Prints a line per round, a summary (median / max), and the figures as JSON on the last line; a
// round whose nodes do not all connect within 30 s is reported with the missing links and counted.
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { values: args } = parseArgs({
  options: {
    nodes: { type: 'string', default: '5' },
    masters: { type: 'string', default: '2' },
    rounds: { type: 'string', default: '3' },
    modules: { type: 'string', default: join(root, 'node_modules') },
  },
});
const NODES = Number(args.nodes);
const MASTERS = Number(args.masters);
const ROUNDS = Number(args.rounds);
const MODULES = resolve(args.modules);
if (!(MASTERS >= 1 && NODES > MASTERS && ROUNDS >= 1)) throw new Error('need --masters >= 1, --nodes > --masters, --rounds >= 1');
const STEP_TIMEOUT_MS = 30_000;

const WORKER = `
import { randomBytes } from 'node:crypto';
import { identityFromSeed } from './src/cluster/identity';
import { ClusterSwarm } from './src/cluster/swarm';
import { ClusterToken } from './src/cluster/token';
const [role, tokenHex, joinPorts, port] = process.argv.slice(2);
const node = new ClusterSwarm({
  role: role === 'master' ? 'master' : 'agent',
  token: ClusterToken.parse(tokenHex),
  identity: identityFromSeed(randomBytes(32)),
  join: joinPorts.split(',').map((p) => ({ host: '127.0.0.1', port: Number(p) })),
  host: '127.0.0.1',
  bindHost: '127.0.0.1',
  port: port === '-' ? undefined : Number(port),
});
node.on('peer', (p) => process.send({ type: 'peer', peer: p.nodeId, at: Date.now() }));
node.on('peer-down', (id) => process.send({ type: 'down', peer: id, at: Date.now() }));
const startedAt = Date.now();
node.start().then(() => process.send({ type: 'started', nodeId: node.nodeId, startedAt }));
process.on('disconnect', () => process.exit(0));
`;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function freeUdpPort() {
  const s = createSocket('udp4');
  await new Promise((r) => s.bind(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

function versionOf(pkg) {
  return JSON.parse(readFileSync(join(MODULES, pkg, 'package.json'), 'utf8')).version;
}

/** Waits until `check()` is true, re-checked on every message of the node processes. */
function until(bus, check, what) {
  return new Promise((resolve, reject) => {
    if (check()) return resolve();
    const timer = setTimeout(() => {
      bus.off('msg', onMsg);
      reject(new Error(`timed out after ${STEP_TIMEOUT_MS} ms waiting for ${what}`));
    }, STEP_TIMEOUT_MS);
    const onMsg = () => {
      if (!check()) return;
      clearTimeout(timer);
      bus.off('msg', onMsg);
      resolve();
    };
    bus.on('msg', onMsg);
  });
}

async function round(workerFile, n) {
  const { EventEmitter } = await import('node:events');
  const bus = new EventEmitter();
  const token = randomBytes(32).toString('hex');
  const masterPorts = [];
  for (let i = 0; i < MASTERS; i++) masterPorts.push(await freeUdpPort());
  const nodes = [];
  const spawnNode = (role, port) => {
    const child = fork(workerFile, [role, token, masterPorts.join(','), port === undefined ? '-' : String(port)], {
      env: { ...process.env, NODE_PATH: MODULES },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const node = { role, child, nodeId: undefined, startedAt: undefined, peers: new Map(), downs: new Map() };
    child.on('message', (m) => {
      if (m.type === 'started') Object.assign(node, { nodeId: m.nodeId, startedAt: m.startedAt });
      if (m.type === 'peer' && !node.peers.has(m.peer)) node.peers.set(m.peer, m.at);
      if (m.type === 'down') node.downs.set(m.peer, m.at);
      bus.emit('msg');
    });
    nodes.push(node);
    return node;
  };
  const meshed = (node) => node.nodeId !== undefined && nodes.every((o) => o === node || (o.nodeId !== undefined && node.peers.has(o.nodeId)));
  try {
    const masters = masterPorts.map((port) => spawnNode('master', port));
    await until(bus, () => masters.every(meshed), 'the masters to connect');
    const agents = Array.from({ length: NODES - MASTERS }, () => spawnNode('agent'));
    try {
      await until(bus, () => nodes.every(meshed), 'a full mesh');
    } catch (err) {
      const name = (x) => `${x.role}${nodes.filter((o) => o.role === x.role).indexOf(x) + 1}`;
      const missing = nodes.flatMap((x) => nodes.filter((o) => o !== x && o.nodeId !== undefined && !x.peers.has(o.nodeId)).map((o) => `${name(x)}→${name(o)}`));
      console.log(`round ${n}: FAILED, no full mesh within ${STEP_TIMEOUT_MS} ms; missing: ${missing.join(', ')}`);
      return { failed: true, agentFirst: [], agentMesh: [], masterFirst: [], detect: [] };
    }
    const joinRows = agents.map((a) => {
      const times = [...a.peers.values()];
      return { first: Math.min(...times) - a.startedAt, mesh: Math.max(...times) - a.startedAt };
    });
    const masterRows = masters.map((m) => ({ first: Math.min(...m.peers.values()) - m.startedAt }));

    await sleep(1000 + Math.random() * 1000);
    const victim = agents[agents.length - 1];
    const survivors = nodes.filter((x) => x !== victim);
    const killedAt = Date.now();
    victim.child.kill('SIGKILL');
    await until(bus, () => survivors.every((s) => s.downs.has(victim.nodeId)), 'every survivor to notice the kill');
    const detect = survivors.map((s) => s.downs.get(victim.nodeId) - killedAt);

    console.log(`round ${n}: agents start() → first peer ${joinRows.map((r) => r.first).join(', ')} ms; → full mesh of ${NODES} ${joinRows.map((r) => r.mesh).join(', ')} ms; masters start() → each other ${masterRows.map((r) => r.first).join(', ')} ms`);
    console.log(`round ${n}: SIGKILLed agent noticed by the ${survivors.length} others after ${detect.join(', ')} ms`);
    return { agentFirst: joinRows.map((r) => r.first), agentMesh: joinRows.map((r) => r.mesh), masterFirst: masterRows.map((r) => r.first), detect };
  } finally {
    for (const x of nodes) if (x.child.exitCode === null && x.child.signalCode === null) x.child.kill('SIGKILL');
  }
}

const dir = mkdtempSync(join(tmpdir(), 'corral-swarm-bench-'));
try {
  const workerFile = join(dir, 'worker.cjs');
  await build({
    stdin: { contents: WORKER, resolveDir: root, loader: 'ts', sourcefile: 'swarm-bench-worker.ts' },
    outfile: workerFile,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    external: ['hyperswarm', 'hyperdht', 'sodium-native', 'udx-native'],
    logLevel: 'warning',
  });
  const versions = { node: process.version, hyperswarm: versionOf('hyperswarm'), hyperdht: versionOf('hyperdht'), 'dht-rpc': versionOf('dht-rpc') };
  console.log(`swarm bench: ${NODES} nodes (${MASTERS} masters) on 127.0.0.1, ${ROUNDS} round(s); ${Object.entries(versions).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  const rounds = [];
  for (let i = 1; i <= ROUNDS; i++) rounds.push(await round(workerFile, i));
  const all = (key) => rounds.flatMap((r) => r[key]);
  const failed = rounds.filter((r) => r.failed).length;
  const summary = {
    roundsWithoutFullMesh: failed,
    agentFirstPeerMs: { median: median(all('agentFirst')), max: Math.max(...all('agentFirst')) },
    agentFullMeshMs: { median: median(all('agentMesh')), max: Math.max(...all('agentMesh')) },
    masterFirstPeerMs: { median: median(all('masterFirst')), max: Math.max(...all('masterFirst')) },
    killDetectedMs: { median: median(all('detect')), max: Math.max(...all('detect')) },
  };
  console.log('');
  console.log('| metric | median | max |');
  console.log('|---|---|---|');
  console.log(`| agent start() → first authenticated peer | ${summary.agentFirstPeerMs.median} ms | ${summary.agentFirstPeerMs.max} ms |`);
  console.log(`| agent start() → connected to all ${NODES - 1} others | ${summary.agentFullMeshMs.median} ms | ${summary.agentFullMeshMs.max} ms |`);
  console.log(`| master start() → the other master(s), started together | ${summary.masterFirstPeerMs.median} ms | ${summary.masterFirstPeerMs.max} ms |`);
  console.log(`| rounds without a full mesh within ${STEP_TIMEOUT_MS / 1000} s | ${failed} of ${ROUNDS} | |`);
  console.log(`| SIGKILL → 'peer-down' on each survivor | ${summary.killDetectedMs.median} ms | ${summary.killDetectedMs.max} ms |`);
  console.log(JSON.stringify({ date: new Date().toISOString(), nodes: NODES, masters: MASTERS, versions, summary, rounds }));
} finally {
  rmSync(dir, { recursive: true, force: true });
}

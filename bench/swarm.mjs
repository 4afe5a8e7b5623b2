#!/usr/bin/env node
// Cluster swarm benchmark: how long a node takes from start() to an authenticated connection, and
// how long the others take to notice a peer killed with SIGKILL.
//
//   node bench/swarm.mjs [--nodes 5] [--masters 2] [--rounds 3] [--modules DIR] [--netns] [--agent-host]
//
// Each round, every node is its own process; by default all on 127.0.0.1 (ports picked free), with
// --netns each on its own fake machine (see below):
//   1. the masters start together and connect to each other;
//   2. the agents start together; for each we record start() → first authenticated peer,
//      start() → connected to every master, and start() → connected to all the other nodes (full
//      mesh);
//   3. after a random 1–2 s pause (so the kill lands anywhere in the 1 s keep-alive period), one
//      agent is SIGKILLed and every survivor connected to it reports when its 'peer-down' fired.
// --modules DIR resolves hyperswarm and hyperdht (and what they need) from DIR instead of this
// checkout, to compare versions, e.g. after `npm install --prefix /tmp/hd634 hyperswarm@4.17.2
// hyperdht@6.34.0`: --modules /tmp/hd634/node_modules. The worker is bundled with esbuild from
// src/cluster/swarm with those two packages left external and found through NODE_PATH.
// --netns (root, `ip netns`, `nft`): one network lab for the whole run (test/helpers/netns.ts,
// bundled with esbuild like the worker): each node is its own host, a network namespace with its
// own address 10.231.<n>.<i> on a private bridge, started through `ip netns exec <ns> node worker`
// (which execs, so the IPC channel and the pid carry over: the SIGKILL hits the node itself).
// Masters bind their DHT to <address>:49737 and agents to <address>:<random port>; every node
// joins the masters' lab addresses. --agent-host also gives each agent its address as its cluster
// host (`corral up --agent --cluster-host`), so its DHT node is not firewalled and the other agents
// connect to it directly; without it agents reach each other only by holepunching (see
// src/cluster/swarm/dht.ts). Nothing is sent outside the lab: each namespace's nftables
// guard counts and drops any packet to another address, and the bench prints that count at the
// end (it must be 0). The lab is removed at the end, on SIGINT/SIGTERM, or by the next run if this
// one was SIGKILLed.
// Prints a line per round, a summary (median / max), and the figures as JSON on the last line; a
// round whose nodes do not all connect within 30 s is reported with the missing links and counted,
// and if every agent did reach every master it still yields the other figures (first peer, all
// masters, kill noticed by the nodes connected to the victim).
import { fork, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { values: args } = parseArgs({
  options: {
    nodes: { type: 'string', default: '5' },
    masters: { type: 'string', default: '2' },
    rounds: { type: 'string', default: '3' },
    modules: { type: 'string', default: join(root, 'node_modules') },
    netns: { type: 'boolean', default: false },
    'agent-host': { type: 'boolean', default: false },
  },
});
const NODES = Number(args.nodes);
const MASTERS = Number(args.masters);
const ROUNDS = Number(args.rounds);
const MODULES = resolve(args.modules);
const NETNS = args.netns;
const AGENT_HOST = args['agent-host'];
const CLUSTER_PORT = 49737; // masters' DHT port in --netns mode (each host has its own port space)
if (!(MASTERS >= 1 && NODES > MASTERS && ROUNDS >= 1)) throw new Error('need --masters >= 1, --nodes > --masters, --rounds >= 1');
const STEP_TIMEOUT_MS = 30_000;

const WORKER = `
import { randomBytes } from 'node:crypto';
import { identityFromSeed } from './src/cluster/identity';
import { ClusterSwarm } from './src/cluster/swarm';
import { ClusterToken } from './src/cluster/token';
const [role, tokenHex, joinList, host, port, agentHost] = process.argv.slice(2);
const node = new ClusterSwarm({
  role: role === 'master' ? 'master' : 'agent',
  token: ClusterToken.parse(tokenHex),
  identity: identityFromSeed(randomBytes(32)),
  join: joinList.split(',').map((a) => ({ host: a.slice(0, a.lastIndexOf(':')), port: Number(a.slice(a.lastIndexOf(':') + 1)) })),
  host: role === 'master' || agentHost === 'yes' ? host : undefined,
  bindHost: host,
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

/**
 * One round. `lab` (--netns): host i runs node i (the masters first); without it every node runs on
 * 127.0.0.1.
 */
async function round(workerFile, n, lab) {
  const { EventEmitter } = await import('node:events');
  const bus = new EventEmitter();
  const token = randomBytes(32).toString('hex');
  const masterAddrs = [];
  for (let i = 0; i < MASTERS; i++) masterAddrs.push(lab ? { host: lab.hosts[i].address, port: CLUSTER_PORT } : { host: '127.0.0.1', port: await freeUdpPort() });
  const join = masterAddrs.map((a) => `${a.host}:${a.port}`).join(',');
  const nodes = [];
  const spawnNode = (role, port) => {
    const labHost = lab?.hosts[nodes.length];
    const argv = [workerFile, role, token, join, labHost?.address ?? '127.0.0.1', port === undefined ? '-' : String(port), AGENT_HOST ? 'yes' : 'no'];
    const opts = { env: { ...process.env, NODE_PATH: MODULES }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] };
    // `ip netns exec` execs node in the namespace, so the IPC channel (fd 3, NODE_CHANNEL_FD) and the pid carry over.
    const child = labHost ? spawn(labHost.exec[0], [...labHost.exec.slice(1), process.execPath, ...argv], opts) : fork(argv[0], argv.slice(1), opts);
    const node = { role, child, labHost, nodeId: undefined, startedAt: undefined, peers: new Map(), downs: new Map() };
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
    const masters = masterAddrs.map((a) => spawnNode('master', a.port));
    await until(bus, () => masters.every(meshed), 'the masters to connect');
    const agents = Array.from({ length: NODES - MASTERS }, () => spawnNode('agent'));
    const toMasters = (a) => a.nodeId !== undefined && masters.every((m) => a.peers.has(m.nodeId));
    let fullMesh = true;
    try {
      await until(bus, () => nodes.every(meshed), 'a full mesh');
    } catch (err) {
      fullMesh = false;
      const name = (x) => `${x.role}${nodes.filter((o) => o.role === x.role).indexOf(x) + 1}`;
      const missing = nodes.flatMap((x) => nodes.filter((o) => o !== x && o.nodeId !== undefined && !x.peers.has(o.nodeId)).map((o) => `${name(x)}→${name(o)}`));
      console.log(`round ${n}: FAILED, no full mesh within ${STEP_TIMEOUT_MS} ms; missing: ${missing.join(', ')}`);
      // Still measure what does not need the full mesh, if every agent at least reached every master.
      if (!agents.every(toMasters)) return { failed: true, agentFirst: [], agentMasters: [], agentMesh: [], masterFirst: [], detect: [] };
    }
    const joinRows = agents.map((a) => {
      const times = [...a.peers.values()];
      return {
        first: Math.min(...times) - a.startedAt,
        masters: Math.max(...masters.map((m) => a.peers.get(m.nodeId))) - a.startedAt,
        mesh: fullMesh ? Math.max(...times) - a.startedAt : undefined,
      };
    });
    const masterRows = masters.map((m) => ({ first: Math.min(...m.peers.values()) - m.startedAt }));

    await sleep(1000 + Math.random() * 1000);
    const victim = agents[agents.length - 1];
    // Without a full mesh, only the nodes connected to the victim can notice its death.
    const survivors = nodes.filter((x) => x !== victim && x.peers.has(victim.nodeId));
    if (victim.labHost && !(await victim.labHost.pids()).includes(victim.child.pid)) {
      throw new Error(`pid ${victim.child.pid} is not in ${victim.labHost.ns}: \`ip netns exec\` did not exec the node`);
    }
    const killedAt = Date.now();
    victim.child.kill('SIGKILL');
    await until(bus, () => survivors.every((s) => s.downs.has(victim.nodeId)), 'every survivor to notice the kill');
    const detect = survivors.map((s) => s.downs.get(victim.nodeId) - killedAt);

    const mesh = fullMesh ? `→ full mesh of ${NODES} ${joinRows.map((r) => r.mesh).join(', ')} ms` : 'no full mesh';
    console.log(`round ${n}: agents start() → first peer ${joinRows.map((r) => r.first).join(', ')} ms; → all ${MASTERS} master(s) ${joinRows.map((r) => r.masters).join(', ')} ms; ${mesh}; masters start() → each other ${masterRows.map((r) => r.first).join(', ')} ms`);
    console.log(`round ${n}: SIGKILLed agent noticed by the ${survivors.length} ${fullMesh ? 'others' : 'nodes connected to it'} after ${detect.join(', ')} ms`);
    return {
      ...(fullMesh ? {} : { failed: true }),
      agentFirst: joinRows.map((r) => r.first),
      agentMasters: joinRows.map((r) => r.masters),
      agentMesh: fullMesh ? joinRows.map((r) => r.mesh) : [],
      masterFirst: masterRows.map((r) => r.first),
      detect,
    };
  } finally {
    for (const x of nodes) if (x.child.exitCode === null && x.child.signalCode === null) x.child.kill('SIGKILL');
    if (lab) for (const h of lab.hosts) await h.killAll(); // and wait until every namespace is empty
  }
}

const dir = mkdtempSync(join(tmpdir(), 'corral-swarm-bench-'));
let lab;
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
  if (NETNS) {
    // The lab helper is TypeScript: bundle it like the worker and load it.
    const labFile = join(dir, 'netns.mjs');
    await build({ entryPoints: [join(root, 'test', 'helpers', 'netns.ts')], outfile: labFile, bundle: true, platform: 'node', target: 'node20', format: 'esm', logLevel: 'warning' });
    const { createLab, netnsUnavailableReason } = await import(pathToFileURL(labFile).href);
    const reason = netnsUnavailableReason();
    if (reason !== undefined) throw new Error(`--netns: ${reason}`);
    const names = Array.from({ length: NODES }, (_, i) => (i < MASTERS ? `m${i + 1}` : `a${i - MASTERS + 1}`));
    lab = await createLab(names);
  }
  const versions = { node: process.version, hyperswarm: versionOf('hyperswarm'), hyperdht: versionOf('hyperdht'), 'dht-rpc': versionOf('dht-rpc') };
  const where = lab ? `each in its own network namespace on 10.231.${lab.subnet}.0/24 (bridge ${lab.bridge})` : 'on 127.0.0.1';
  const agentsAre = AGENT_HOST ? 'agents given their address (reachable directly)' : 'agents firewalled (no address given)';
  console.log(`swarm bench: ${NODES} nodes (${MASTERS} masters) ${where}, ${agentsAre}, ${ROUNDS} round(s); ${Object.entries(versions).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  const rounds = [];
  for (let i = 1; i <= ROUNDS; i++) rounds.push(await round(workerFile, i, lab));
  let forbidden;
  if (lab) {
    const perHost = await lab.forbiddenPackets();
    forbidden = { total: Object.values(perHost).reduce((a, b) => a + b, 0), perHost };
  }
  const all = (key) => rounds.flatMap((r) => r[key]);
  const failed = rounds.filter((r) => r.failed).length;
  const stat = (key) => (all(key).length === 0 ? { median: null, max: null } : { median: median(all(key)), max: Math.max(...all(key)) });
  const summary = {
    roundsWithoutFullMesh: failed,
    agentFirstPeerMs: stat('agentFirst'),
    agentAllMastersMs: stat('agentMasters'),
    agentFullMeshMs: stat('agentMesh'),
    masterFirstPeerMs: stat('masterFirst'),
    killDetectedMs: stat('detect'),
  };
  const row = (label, { median: med, max }) => console.log(`| ${label} | ${med === null ? 'n/a' : `${med} ms`} | ${max === null ? 'n/a' : `${max} ms`} |`);
  console.log('');
  console.log('| metric | median | max |');
  console.log('|---|---|---|');
  row('agent start() → first authenticated peer', summary.agentFirstPeerMs);
  row(`agent start() → connected to all ${MASTERS} master(s)`, summary.agentAllMastersMs);
  row(`agent start() → connected to all ${NODES - 1} others (rounds with a full mesh)`, summary.agentFullMeshMs);
  row('master start() → the other master(s), started together', summary.masterFirstPeerMs);
  console.log(`| rounds without a full mesh within ${STEP_TIMEOUT_MS / 1000} s | ${failed} of ${ROUNDS} | |`);
  row("SIGKILL → 'peer-down' on each survivor connected to the victim", summary.killDetectedMs);
  if (forbidden) {
    console.log(`| packets that tried to leave the lab (dropped by the guard; must be 0) | ${forbidden.total} | |`);
    if (forbidden.total !== 0) process.exitCode = 1;
  }
  const netns = lab && { subnet: lab.subnet, hosts: lab.hosts.map((h) => `${h.name}=${h.address}`), forbiddenPackets: forbidden };
  console.log(JSON.stringify({ date: new Date().toISOString(), nodes: NODES, masters: MASTERS, agentHost: AGENT_HOST, ...(netns && { netns }), versions, summary, rounds }));
} finally {
  await lab?.cleanup();
  rmSync(dir, { recursive: true, force: true });
}

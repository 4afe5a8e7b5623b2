// Agents on separate machines (network namespaces on one bridge, test/helpers/netns.ts) with one
// master. Agents given their address (--cluster-host) are reachable directly and connect to each
// other. Without it they can only holepunch through the master, and with fewer than 3 masters that
// fails on a flat network (see src/cluster/swarm/dht.ts); bench/swarm.mjs --netns measures both.
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { resolve } from 'node:path';
import t from 'tap';
import { ClusterToken } from '../../../src/cluster/token';
import { createLab, netnsUnavailableReason, type LabHost } from '../../helpers/netns';

const FIXTURE = resolve(__dirname, 'fixtures', 'swarm-node.ts');
const CLUSTER_PORT = 49737;

interface Node {
  readonly child: ChildProcess;
  readonly events: EventEmitter;
  nodeId: string | undefined;
  readonly peers: Set<string>;
  readonly downs: string[];
}

/** Runs the fixture node in `host`'s namespace (`ip netns exec` execs node, so IPC carries over). */
function runNode(host: LabHost, args: string[]): Node {
  const [cmd, ...prefix] = host.exec;
  const child = spawn(cmd!, [...prefix, process.execPath, ...process.execArgv, FIXTURE, ...args], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const node: Node = { child, events: new EventEmitter(), nodeId: undefined, peers: new Set(), downs: [] };
  child.on('message', (m: { nodeId?: string; peer?: string; down?: string }) => {
    if (m.nodeId !== undefined) node.nodeId = m.nodeId;
    if (m.peer !== undefined) node.peers.add(m.peer);
    if (m.down !== undefined) node.downs.push(m.down);
    node.events.emit('change');
  });
  child.once('exit', () => node.events.emit('change'));
  return node;
}

function until(nodes: Node[], check: () => boolean, what: string, ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (err?: Error): void => {
      clearTimeout(timer);
      for (const n of nodes) n.events.off('change', onChange);
      if (err) reject(err);
      else resolve();
    };
    const onChange = (): void => {
      if (nodes.some((n) => n.child.exitCode !== null)) done(new Error(`a node exited while waiting for ${what}`));
      else if (check()) done();
    };
    const timer = setTimeout(() => done(new Error(`no ${what} within ${ms} ms`)), ms);
    for (const n of nodes) n.events.on('change', onChange);
    onChange();
  });
}

const unavailable = netnsUnavailableReason();
if (unavailable !== undefined) {
  t.plan(0, `separate machines need network namespaces: ${unavailable}`);
} else {
  t.test('agents on separate machines given their address connect to each other (one master, three agents)', async (t) => {
    const lab = await createLab(['m1', 'a1', 'a2', 'a3']);
    const nodes: Node[] = [];
    t.teardown(async () => {
      for (const n of nodes) if (n.child.exitCode === null && n.child.signalCode === null) n.child.kill('SIGKILL');
      await lab.cleanup();
    });
    const [m1, ...agentHosts] = lab.hosts as [LabHost, ...LabHost[]];
    const token = ClusterToken.generate().toText();
    const join = `${m1.address}:${CLUSTER_PORT}`;
    const master = runNode(m1, ['master', token, join, String(CLUSTER_PORT), m1.address]);
    nodes.push(master);
    await until(nodes, () => master.nodeId !== undefined, 'master start', 10_000);
    const agents = agentHosts.map((h) => runNode(h, ['agent', token, join, '-', h.address]));
    nodes.push(...agents);
    // Loading TypeScript takes seconds on a busy machine: the mesh is timed from the last start.
    await until(nodes, () => agents.every((a) => a.nodeId !== undefined), 'agent starts', 20_000);
    const startedAt = Date.now();
    const meshed = (): boolean => nodes.every((n) => nodes.every((o) => o === n || n.peers.has(o.nodeId ?? '')));
    await until(nodes, meshed, 'full mesh (agent ↔ agent included)', 10_000);
    t.comment(`full mesh of 1 master + 3 agents ${Date.now() - startedAt} ms after the last agent started`);
    t.pass('every node is connected to every other');

    // A connection whose packets go nowhere would time out after 3 s (the stream timeout).
    await new Promise((r) => setTimeout(r, 3500));
    t.same(agents.map((a) => a.downs), [[], [], []], 'the agent links stay up past the stream timeout');
    t.same(await lab.forbiddenPackets(), { m1: 0, a1: 0, a2: 0, a3: 0 }, 'nothing tried to leave the lab');
  });
}

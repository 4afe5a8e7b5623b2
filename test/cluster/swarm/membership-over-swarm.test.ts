// Membership over the real cluster swarm on 127.0.0.1: nodes find each other through their
// authenticated connections alone, publish their metadata, find the leading master, and see a
// graceful leave as 'left' and a vanished node as suspect, then dead, within the localClusterConfig
// bound. First, SwarmTransport's contract against a fake swarm (no network, fake clock).
import t from 'tap';
import { FakeClock, systemClock } from '../../../src/shared/clock';
import { NodeMembership, readNodeMeta, type NodeMeta } from '../../../src/cluster/node-membership';
import { MEMBERSHIP_EXCHANGE, SwarmTransport, type MembershipSwarm } from '../../../src/cluster/swarm-transport';
import { SwarmRequestError, type ClusterSwarm, type RequestFailure, type SwarmMessageHandler, type SwarmRequestHandler } from '../../../src/cluster/swarm';
import { ClusterToken } from '../../../src/cluster/token';
import { TransportError } from '../../../src/cluster/transport';
import { encodeMessage, MessageType, PROTOCOL_VERSION, type GossipMessage } from '../../../src/cluster/membership/wire';
import type { MembershipEvent, MemberStatus } from '../../../src/cluster/membership/types';
import { freeUdpPort, startNode } from './helpers/swarm';

const SELF = 'a'.repeat(64);
const PEER = 'b'.repeat(64);
const OTHER = 'c'.repeat(64);
const BANNED = 'd'.repeat(64);

/** A swarm that records what the transport asks of it. */
class FakeSwarm implements MembershipSwarm {
  readonly nodeId = SELF;
  readonly connected = new Set<string>([PEER]);
  readonly sent: Array<[string, Uint8Array]> = [];
  readonly dials: string[] = [];
  readonly datagramHandlers: SwarmMessageHandler[] = [];
  readonly requestHandlers = new Map<string, SwarmRequestHandler>();
  requestResult: () => Promise<Buffer> = () => Promise.resolve(Buffer.from('{}'));
  send(nodeId: string, _channel: 'membership', payload: Uint8Array): boolean {
    if (!this.connected.has(nodeId)) return false;
    this.sent.push([nodeId, payload]);
    return true;
  }
  onMessage(_channel: 'membership', handler: SwarmMessageHandler): () => void {
    this.datagramHandlers.push(handler);
    return () => undefined;
  }
  request(): Promise<Buffer> {
    return this.requestResult();
  }
  handle(method: string, handler: SwarmRequestHandler): () => void {
    this.requestHandlers.set(method, handler);
    return () => this.requestHandlers.delete(method);
  }
  connect(nodeId: string): void {
    this.dials.push(nodeId);
  }
  isConnected(nodeId: string): boolean {
    return this.connected.has(nodeId);
  }
  banned(): Array<{ nodeId: string; until: number; reason: string }> {
    return [{ nodeId: BANNED, until: Infinity, reason: 'bad-proof' }];
  }
}

const gossip: GossipMessage = { t: MessageType.Gossip, v: PROTOCOL_VERSION, u: [{ id: OTHER, inc: 1, st: 0, meta: '{}' }] };

t.test('SwarmTransport: datagrams go out encoded; unconnected peers are dialed at most once per interval', async (t) => {
  const clock = new FakeClock();
  const swarm = new FakeSwarm();
  const transport = new SwarmTransport({ swarm, clock, dialIntervalMs: 5000 });
  t.equal(transport.localAddress, SELF, 'the address is the node id');

  transport.send(PEER, gossip);
  const raw = new Uint8Array([1, 2, 3]);
  transport.send(PEER, raw);
  t.same(swarm.sent.map(([to, bytes]) => [to, Buffer.from(bytes).toString()]), [[PEER, Buffer.from(encodeMessage(gossip)).toString()], [PEER, '\x01\x02\x03']], 'objects are encoded, bytes pass as they are');
  t.same(swarm.dials, [], 'a connected peer is not dialed');

  for (let i = 0; i < 10; i++) transport.send(OTHER, gossip);
  t.same(swarm.dials, [OTHER], 'ten datagrams to an unconnected peer: dropped, one dial');
  clock.advance(4999);
  transport.send(OTHER, gossip);
  t.same(swarm.dials, [OTHER], 'no second dial within the interval');
  clock.advance(1);
  transport.send(OTHER, gossip);
  t.same(swarm.dials, [OTHER, OTHER], 'dialed again once the interval passed');

  transport.send(SELF, gossip);
  transport.send(BANNED, gossip);
  transport.send(BANNED, gossip);
  t.same(swarm.dials, [OTHER, OTHER], 'never dials itself or a banned peer');
  t.equal(swarm.sent.length, 2, 'nothing was sent to unconnected peers');

  const received: Array<[string, string]> = [];
  transport.onMessage((from, payload) => received.push([from, Buffer.from(payload as Uint8Array).toString()]));
  swarm.datagramHandlers[0]!(PEER, Buffer.from('hi'));
  t.same(received, [[PEER, 'hi']], 'received datagrams reach the handler with the sender id');
});

t.test('SwarmTransport: requests map every swarm failure to the same TransportError reason', async (t) => {
  const clock = new FakeClock();
  const swarm = new FakeSwarm();
  const transport = new SwarmTransport({ swarm, clock });

  swarm.requestResult = () => Promise.resolve(Buffer.from('answer'));
  t.same(Buffer.from((await transport.request(PEER, gossip, 1000)) as Uint8Array).toString(), 'answer', 'the answer comes back as bytes');

  const reasons: RequestFailure[] = ['timeout', 'unreachable', 'no-responder', 'remote-error', 'closed'];
  for (const reason of reasons) {
    swarm.requestResult = () => Promise.reject(new SwarmRequestError(reason, `failed: ${reason}`));
    const err = await transport.request(OTHER, gossip, 1000).then(
      () => undefined,
      (e: unknown) => e,
    );
    t.ok(err instanceof TransportError, `${reason}: a TransportError`);
    t.equal((err as TransportError).reason, reason, `${reason}: same reason`);
  }
  t.same(swarm.dials, [OTHER], "only 'unreachable' dials the peer");

  swarm.requestResult = () => Promise.reject(new Error('boom'));
  const other = await transport.request(PEER, gossip, 1000).catch((e: unknown) => e);
  t.equal((other as TransportError).reason, 'remote-error', 'any other failure is a remote-error');

  transport.onRequest((from, payload) => ({ t: MessageType.Gossip, v: PROTOCOL_VERSION, u: [], from, got: Buffer.from(payload as Uint8Array).toString() }));
  const handler = swarm.requestHandlers.get(MEMBERSHIP_EXCHANGE);
  t.ok(handler, `the responder is registered as '${MEMBERSHIP_EXCHANGE}'`);
  const reply = JSON.parse(Buffer.from(await handler!(PEER, Buffer.from('q'))).toString()) as Record<string, unknown>;
  t.same(reply, { t: MessageType.Gossip, v: PROTOCOL_VERSION, u: [], from: PEER, got: 'q' }, 'object answers are encoded');
});

interface Node {
  readonly name: string;
  readonly swarm: ClusterSwarm;
  readonly membership: NodeMembership;
  readonly events: MembershipEvent[];
}

/** Resolves when `done()` holds, re-checked on every membership event of `nodes`. */
function untilMembership(nodes: readonly Node[], done: () => boolean, timeoutMs: number, why: () => string): Promise<void> {
  if (done()) return Promise.resolve();
  return new Promise<void>((resolve, reject) => {
    const offs: Array<() => void> = [];
    const finish = (err?: Error): void => {
      clearTimeout(timer);
      for (const off of offs) off();
      if (err) reject(err);
      else resolve();
    };
    const timer = setTimeout(() => finish(new Error(`timed out after ${timeoutMs} ms: ${why()}`)), timeoutMs);
    for (const n of nodes) offs.push(n.membership.onEvent(() => done() && finish()));
  });
}

const statusMatrix = (nodes: readonly Node[]): string =>
  nodes.map((o) => `${o.name}: ${nodes.map((s) => `${s.name}=${o.membership.status(s.swarm.nodeId) ?? '?'}`).join(' ')}`).join('; ');

t.test('real swarms on loopback: members, metadata, leader, leave and a vanished node', async (t) => {
  const token = ClusterToken.generate();
  const port = await freeUdpPort();
  const began = Date.now();
  const nodes: Node[] = [];
  const add = async (name: string, role: 'master' | 'agent', meta: NodeMeta): Promise<Node> => {
    const swarm = await startNode(t, role === 'master' ? { role, token, join: [port], port } : { role, token, join: [port] });
    const membership = new NodeMembership({ swarm, nodeId: swarm.nodeId, clock: systemClock, meta });
    t.teardown(() => membership.stop({ leave: false }));
    const node: Node = { name, swarm, membership, events: [] };
    membership.onEvent((e) => node.events.push(e));
    membership.start();
    nodes.push(node);
    return node;
  };
  const master = await add('master', 'master', { roles: ['master'], version: '0.1.0', api: 'http://127.0.0.1:5050', leader: true, hostname: 'm1' });
  const agents = [];
  for (const i of [1, 2, 3]) agents.push(await add(`agent${i}`, 'agent', { roles: ['agent'], version: '0.1.0', hostname: `a${i}` }));
  const [a1, a2, a3] = agents as [Node, Node, Node];

  const everyoneSees = (observers: readonly Node[], subjects: readonly Node[], status: MemberStatus): boolean =>
    observers.every((o) => subjects.every((s) => o.membership.status(s.swarm.nodeId) === status));
  await untilMembership(nodes, () => everyoneSees(nodes, nodes, 'alive'), 20_000, () => statusMatrix(nodes));
  t.comment(`4 nodes alive in every member list ${Date.now() - began} ms after the first swarm started`);

  for (const o of nodes) {
    const seen = new Map(o.membership.members().map((m) => [m.id, readNodeMeta(m)]));
    t.same(seen.get(master.swarm.nodeId), { roles: ['master'], version: '0.1.0', api: 'http://127.0.0.1:5050', leader: true, hostname: 'm1' }, `${o.name} has the master's meta`);
    t.same(seen.get(a2.swarm.nodeId), { roles: ['agent'], version: '0.1.0', hostname: 'a2' }, `${o.name} has agent2's meta`);
  }
  for (const a of agents) t.equal(a.membership.leader()?.id, master.swarm.nodeId, `${a.name} finds the master as leader`);
  t.equal(master.membership.leader()?.id, master.swarm.nodeId, 'the master finds itself');

  // New metadata spreads as an update.
  a1.membership.setMeta({ roles: ['agent'], version: '0.1.1', hostname: 'a1' });
  await untilMembership(nodes, () => nodes.every((o) => readNodeMeta(o.membership.members().find((m) => m.id === a1.swarm.nodeId)!)?.version === '0.1.1'), 5000, () => 'agent1 meta');
  t.pass('a new version published by agent1 reached everyone');

  // Graceful leave, the swarm stopped right after as a daemon's shutdown does: the leave must still arrive.
  const leftAt = Date.now();
  await a3.membership.stop();
  await a3.swarm.stop();
  const rest = [master, a1, a2];
  await untilMembership(rest, () => everyoneSees(rest, [a3], 'left'), 5000, () => statusMatrix(nodes));
  t.comment(`agent3 'left' everywhere ${Date.now() - leftAt} ms after its stop() began`);
  t.notOk(rest.some((o) => o.events.some((e) => e.member.id === a3.swarm.nodeId && (e.type === 'suspect' || e.type === 'dead'))), 'a leave raises no suspicion');

  // A node that vanishes without a word: its membership and swarm stop at once, as in a crash.
  const survivors = [master, a1];
  const crashedAt = Date.now();
  await Promise.all([a2.membership.stop({ leave: false }), a2.swarm.stop()]);
  await untilMembership(survivors, () => everyoneSees(survivors, [a2], 'dead'), 10_000, () => statusMatrix(nodes));
  for (const o of survivors) {
    const mine = o.events.filter((e) => e.member.id === a2.swarm.nodeId && e.at >= crashedAt);
    const suspect = mine.find((e) => e.type === 'suspect');
    const dead = mine.find((e) => e.type === 'dead');
    t.ok(dead, `${o.name} declared agent2 dead`);
    // A survivor may hear 'dead' from the other before its own suspicion.
    t.comment(`${o.name}: agent2 suspect after ${suspect ? suspect.at - crashedAt : '-'} ms, dead after ${dead!.at - crashedAt} ms`);
    t.ok(dead!.at - crashedAt <= 5000, `${o.name}: dead within 5 s (${dead!.at - crashedAt} ms)`);
  }
  t.ok(survivors.some((o) => o.events.some((e) => e.member.id === a2.swarm.nodeId && e.type === 'suspect' && e.at >= crashedAt)), 'agent2 was suspected before it was declared dead');
  t.equal(a1.membership.leader()?.id, master.swarm.nodeId, 'the leader is unchanged');
  t.equal(master.membership.members().filter((m) => m.status === 'alive').length, 2, 'master and agent1 remain alive');
});

// Real hyperswarm on 127.0.0.1 only: the cluster's own DHT (no public bootstrap node is ever
// contacted), token authentication, framed channels between nodes, and rejoining after a restart.
import HyperDHT from 'hyperdht';
import Hyperswarm from 'hyperswarm';
import t from 'tap';
import { FakeClock } from '../../../src/shared/clock';
import { CorralError } from '../../../src/shared/errors';
import { SwarmRequestError } from '../../../src/cluster/swarm';
import { ClusterToken } from '../../../src/cluster/token';
import { connectedTo, freeUdpPort, LOOPBACK, makeNode, newIdentity, nextEvent, startNode } from './helpers/swarm';

t.test('two masters and an agent, started agent first, find each other through the offline DHT and authenticate', async (t) => {
  const token = ClusterToken.generate();
  const [p1, p2] = [await freeUdpPort(), await freeUdpPort()];
  const join = [p1, p2];
  const began = Date.now();
  // The agent comes up while no master is listening: its first bootstrap and announce go nowhere.
  const agent = await startNode(t, { role: 'agent', token, join });
  const m1 = await startNode(t, { role: 'master', token, join, port: p1 });
  const m2 = await startNode(t, { role: 'master', token, join, port: p2 });
  const ids = [m1.nodeId, m2.nodeId, agent.nodeId];
  await Promise.all([connectedTo(m1, ids.filter((id) => id !== m1.nodeId)), connectedTo(m2, ids.filter((id) => id !== m2.nodeId)), connectedTo(agent, [m1.nodeId, m2.nodeId])]);
  t.comment(`full mesh of 3 in ${Date.now() - began} ms (agent started first)`);

  t.same(m1.address(), { host: LOOPBACK, port: p1 }, 'a master listens on its cluster port');
  t.ok(m1.status().persistent && m2.status().persistent, 'masters run persistent DHT nodes');
  t.notOk(agent.status().persistent, 'the agent runs an ephemeral one');
  for (const node of [m1, m2, agent]) {
    const foreign = node.status().dhtNodes.filter((a) => a.host !== LOOPBACK);
    t.same(foreign, [], `${node.role} knows only loopback DHT nodes`);
  }
  t.same(agent.peers().map((p) => p.nodeId).sort(), [m1.nodeId, m2.nodeId].sort(), 'peers() lists the authenticated peers');
});

t.test('a node with the wrong token is dropped, banned, refused later, and never surfaced', async (t) => {
  const token = ClusterToken.generate();
  const port = await freeUdpPort();
  const master = await startNode(t, { role: 'master', token, join: [port], port });
  const surfaced: string[] = [];
  master.on('peer', (p) => surfaced.push(p.nodeId));

  const intruderIdentity = newIdentity();
  const intruder = await startNode(t, { role: 'agent', token: ClusterToken.generate(), join: [port], identity: intruderIdentity });
  // Its topic differs, so it must dial the master by key, as an attacker who learned the key would.
  const rejected = nextEvent<[string, string, string]>(master, 'rejected');
  intruder.connect(master.nodeId);
  const [who, reason] = await rejected;
  t.equal(who, intruder.nodeId, 'the master rejects the intruder');
  t.equal(reason, 'bad-proof');
  t.same(master.banned().map((b) => [b.nodeId, b.until]), [[intruder.nodeId, Infinity]], 'banned until restart');
  t.notOk(master.isConnected(intruder.nodeId));

  // The same key again, from a fresh process state: hyperswarm's firewall refuses it before any handshake.
  await intruder.stop();
  const again = await startNode(t, { role: 'agent', token: ClusterToken.generate(), join: [port], identity: intruderIdentity });
  const refused = nextEvent<[string]>(master, 'refused', (id) => id === intruder.nodeId);
  let rejectedAgain = false;
  master.on('rejected', () => (rejectedAgain = true));
  again.connect(master.nodeId);
  await refused;
  t.notOk(rejectedAgain, 'the second attempt never reached authentication');
  t.same(surfaced, [], 'no peer event for the intruder');
  t.same(master.peers(), []);
});

t.test('a peer that connects but never proves the token is dropped at the deadline and refused for a while', async (t) => {
  const token = ClusterToken.generate();
  const port = await freeUdpPort();
  const clock = new FakeClock(Date.now());
  const master = await startNode(t, { role: 'master', token, join: [port], port, clock });

  // A bare hyperswarm peer: it completes the Noise handshake and then says nothing.
  const silent = new Hyperswarm({ dht: new HyperDHT({ bootstrap: [{ host: LOOPBACK, port }], host: LOOPBACK, port: await freeUdpPort(), ephemeral: true }) });
  t.teardown(() => silent.destroy());
  const helloArrived = new Promise<void>((resolve) => silent.on('connection', (conn) => {
    conn.on('error', () => undefined);
    conn.once('data', () => resolve()); // the master's hello: its deadline is running
  }));
  silent.joinPeer(Buffer.from(master.nodeId, 'hex'));
  await helloArrived;
  const silentId = silent.keyPair.publicKey.toString('hex');

  const rejected = nextEvent<[string, string]>(master, 'rejected');
  clock.advance(1999);
  t.same(master.banned(), [], 'not before the deadline');
  clock.advance(1);
  t.same((await rejected).slice(0, 2), [silentId, 'timeout']);
  t.same(master.banned().map((b) => [b.nodeId, b.until - clock.now()]), [[silentId, 30_000]], 'refused for softBanMs');
  t.notOk(master.isConnected(silentId));
  clock.advance(30_000);
  t.same(master.banned(), [], 'then forgiven');
});

t.test('framed channels: rpc both ways with timeouts and errors, one-way messages, membership datagrams', async (t) => {
  const token = ClusterToken.generate();
  const port = await freeUdpPort();
  const master = await startNode(t, { role: 'master', token, join: [port], port });
  const agent = await startNode(t, { role: 'agent', token, join: [port] });
  await Promise.all([connectedTo(master, [agent.nodeId]), connectedTo(agent, [master.nodeId])]);

  master.handle('echo', (from, payload) => Buffer.concat([Buffer.from(`${from.slice(0, 4)}:`), payload]));
  agent.handle('echo', (_from, payload) => Buffer.from(payload.toString('utf8').toUpperCase()));
  agent.handle('never', () => new Promise<Uint8Array>(() => undefined));
  agent.handle('fail', () => {
    throw new CorralError('TASK_NOT_FOUND', 'no such task');
  });

  const up = await master.request(agent.nodeId, 'echo', Buffer.from('hello agent'));
  t.equal(up.toString(), 'HELLO AGENT', 'master → agent request/response');
  const down = await agent.request(master.nodeId, 'echo', Buffer.from('hi'));
  t.equal(down.toString(), `${agent.nodeId.slice(0, 4)}:hi`, 'agent → master, with the sender authenticated as its node id');

  const failures = await Promise.all([
    failureOf(master.request(agent.nodeId, 'never', Buffer.alloc(0), 300)),
    failureOf(master.request(agent.nodeId, 'nobody', Buffer.alloc(0))),
    failureOf(master.request(agent.nodeId, 'fail', Buffer.alloc(0))),
    failureOf(master.request('ab'.repeat(32), 'echo', Buffer.alloc(0))),
  ]);
  t.same(
    failures.map((e) => [e.reason, e.code]),
    [
      ['timeout', undefined],
      ['no-responder', undefined],
      ['remote-error', 'TASK_NOT_FOUND'],
      ['unreachable', undefined],
    ],
    'timeout, no handler, a CorralError thrown by the handler, and no connection',
  );

  const gossip = new Promise<[string, string]>((resolve) => agent.onMessage('membership', (from, payload) => resolve([from, payload.toString()])));
  t.ok(master.send(agent.nodeId, 'membership', Buffer.from('ping 1')), 'send returns true when connected');
  t.same(await gossip, [master.nodeId, 'ping 1'], 'a membership datagram arrives with its authenticated sender');
  t.notOk(master.send('cd'.repeat(32), 'membership', Buffer.from('x')), 'send to a stranger is dropped');

  const note = new Promise<string>((resolve) => master.onNotify('status', (_from, p) => resolve(p.toString())));
  t.ok(agent.notify(master.nodeId, 'status', Buffer.from('TASK_RUNNING')));
  t.equal(await note, 'TASK_RUNNING', 'one-way message agent → master');
});

t.test('a master restarted with the same seed and port is rejoined by the others', async (t) => {
  const token = ClusterToken.generate();
  const [p1, p2] = [await freeUdpPort(), await freeUdpPort()];
  const join = [p1, p2];
  const m1Identity = newIdentity();
  const m1 = await startNode(t, { role: 'master', token, join, port: p1, identity: m1Identity });
  const m2 = await startNode(t, { role: 'master', token, join, port: p2 });
  const agent = await startNode(t, { role: 'agent', token, join });
  await Promise.all([connectedTo(agent, [m1.nodeId, m2.nodeId]), connectedTo(m2, [m1.nodeId, agent.nodeId])]);

  const down = nextEvent<[string]>(agent, 'peer-down', (id) => id === m1.nodeId);
  await m1.stop();
  await down;
  t.notOk(agent.isConnected(m1.nodeId), 'the agent saw the master go');

  const began = Date.now();
  const restarted = makeNode(t, { role: 'master', token, join, port: p1, identity: m1Identity });
  await restarted.start();
  await Promise.all([connectedTo(agent, [m1.nodeId]), connectedTo(m2, [m1.nodeId]), connectedTo(restarted, [m2.nodeId, agent.nodeId])]);
  t.comment(`rejoined in ${Date.now() - began} ms`);
  t.equal(restarted.nodeId, m1.nodeId, 'same seed, same node id');
  t.equal((await failureOf(agent.request(m1.nodeId, 'ping', Buffer.alloc(0)))).reason, 'no-responder', 'requests reach the restarted master');
});

async function failureOf(p: Promise<unknown>): Promise<SwarmRequestError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof SwarmRequestError) return err;
    throw err;
  }
  throw new Error('the request succeeded');
}

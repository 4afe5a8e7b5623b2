// Membership behaviour on a simulated network (SimClock + MockNetwork, never real time): joining,
// failure detection, refutation, indirect probes, partitions, leave, metadata, restarts, determinism.
import t from 'tap';
import { MockNetwork } from '../../../src/cluster/mock-network';
import { SimClock } from '../../../src/cluster/sim-clock';
import { Membership } from '../../../src/cluster/membership/membership';
import { membershipConfig } from '../../../src/cluster/membership/config';
import { seededRandom } from '../../../src/cluster/membership/rng';
import { MessageType, StateCode } from '../../../src/cluster/membership/wire';
import { isCorralError } from '../../../src/shared/errors';
import { nodeId, startCluster } from '../helpers/cluster';

t.test('nodes joining one after another converge; each sees each other join exactly once', async (t) => {
  const c = await startCluster({ n: 30, seed: 11 });
  t.ok(c.converged());
  for (const observer of c.ids) {
    const joins = c.events.filter((e) => e.observer === observer && e.type === 'join').map((e) => e.subject);
    t.equal(new Set(joins).size, 29, `${observer} saw 29 distinct joins`);
    t.equal(joins.length, 29, `${observer} saw no join twice`);
  }
  t.same(c.events.filter((e) => e.type !== 'join'), [], 'no suspicion while joining');
  t.equal(c.node(nodeId(7)).liveCount, 30);
  t.equal(c.node(nodeId(7)).members().length, 30);
  c.stop();
});

t.test('a node joining a running cluster is known everywhere within seconds', async (t) => {
  const c = await startCluster({ n: 40, seed: 12 });
  await c.run(5000);
  const newcomer = c.add('newcomer');
  const t0 = c.clock.now();
  const joined = newcomer.join([nodeId(3), 'nobody-there']);
  const took = await c.runUntil(() => c.ids.every((id) => c.status(id, 'newcomer') === 'alive'), 10_000, 10);
  t.ok(took >= 0 && took < 3000, `everyone knew it ${took} ms after join() was called`);
  t.equal(newcomer.liveCount, 41, 'the join reply brought the whole member list');
  t.equal(await c.settle(joined), 1, 'one seed answered; the unknown address timed out');
  t.ok(c.clock.now() - t0 >= c.config.pushPullTimeout, 'join() waits for every seed');
  c.stop();
});

t.test('a killed node goes suspect, then dead, on every other node', async (t) => {
  const c = await startCluster({ n: 12, seed: 13 });
  await c.run(3000);
  const victim = nodeId(5);
  const killedAt = c.clock.now();
  c.kill(victim);
  const took = await c.runUntil(() => c.ids.every((id) => c.status(id, victim) === 'dead'), 60_000);
  t.ok(took > 0, `dead everywhere after ${took} ms`);
  const cfg = c.config;
  // first probe within ~2 intervals, suspicion floor 4 s at n = 12 (max 24 s without confirmation)
  t.ok(took < 2 * cfg.probeInterval + 24_000 + 2000, 'within the worst-case bound');
  for (const [observer, types] of c.eventsAbout(victim)) {
    t.same(types, ['join', 'suspect', 'dead'], `${observer}: suspect then dead`);
  }
  const firstSuspect = c.events.find((e) => e.subject === victim && e.type === 'suspect')!;
  t.ok(firstSuspect.at - killedAt <= 3 * cfg.probeInterval, 'suspected within a few probe intervals');
  const declared = c.ids.reduce((n, id) => n + c.node(id).stats().deathsDeclared, 0);
  t.ok(declared >= 1, `${declared} node(s) declared it dead themselves; the rest heard it`);
  t.same(c.events.filter((e) => e.subject !== victim && e.type !== 'join'), [], 'nobody else was suspected');
  c.stop();
});

t.test('a falsely suspected node refutes with a higher incarnation and stays alive', async (t) => {
  const c = await startCluster({ n: 10, seed: 14 });
  const target = nodeId(4);
  t.equal(c.node(target).incarnation, 0);
  // A rumour from outside: three nodes hear that node-004 is suspect at its current incarnation.
  const liar = c.net.transport('liar');
  for (const to of [nodeId(1), nodeId(2), nodeId(7)]) liar.send(to, { t: MessageType.Gossip, v: 1, u: [{ id: target, inc: 0, st: StateCode.Suspect, from: 'liar' }] });
  await c.run(100);
  t.ok([nodeId(1), nodeId(2), nodeId(7)].every((id) => c.status(id, target) === 'suspect'), 'the rumour took');
  const took = await c.runUntil(() => c.ids.every((id) => c.node(id).member(target)?.incarnation === 1 && c.status(id, target) === 'alive'), 10_000, 10);
  t.ok(took >= 0 && took < 3000, `refuted everywhere within ${took} ms`);
  t.equal(c.node(target).incarnation, 1);
  t.equal(c.node(target).stats().refutations, 1);
  t.ok(c.node(target).stats().awareness >= 1 || c.node(target).stats().probes > 0, 'being suspected counts against its own health');
  await c.run(60_000);
  t.same(c.events.filter((e) => e.type === 'dead'), [], 'nobody declared it dead');
  for (const [observer, types] of c.eventsAbout(target)) {
    t.ok(types.join() === 'join' || types.join() === 'join,suspect,alive', `${observer}: ${types.join()}`);
  }
  c.stop();
});

t.test('indirect probes keep a node alive when the direct link to it drops every datagram', async (t) => {
  const config = membershipConfig({ streamProbeFallback: false }); // indirect probes alone
  const c = await startCluster({ n: 8, seed: 15, config });
  const [a, b] = [nodeId(1), nodeId(2)];
  c.net.setLink(a, b, { loss: 1 });
  const before = c.node(a).stats();
  await c.run(120_000);
  const after = c.node(a).stats();
  t.ok(after.indirectProbes > before.indirectProbes, `node-001 asked for ${after.indirectProbes - before.indirectProbes} indirect pings`);
  t.equal(after.probeFailures, before.probeFailures, 'and none of its probes failed');
  t.equal(after.streamProbes, 0, 'no stream fallback was used');
  t.same(c.events.filter((e) => e.type !== 'join'), [], 'no suspicion anywhere');
  t.ok(c.converged());
  c.stop();

  // With nobody to ask (2 nodes), the same link is fatal without the stream fallback …
  const pair = await startCluster({ n: 2, seed: 15, config });
  pair.net.setLink(nodeId(0), nodeId(1), { loss: 1 });
  const took = await pair.runUntil(() => pair.status(nodeId(0), nodeId(1)) === 'dead', 60_000);
  t.ok(took > 0, 'a 2-node cluster with a dead datagram link declares death when it can only use datagrams');
  pair.stop();

  // … and harmless with it when the path still carries streams (UDP filtered, TCP allowed).
  const withFallback = await startCluster({ n: 2, seed: 15 });
  withFallback.net.setLink(nodeId(0), nodeId(1), { loss: 1, streamLoss: 0 });
  await withFallback.run(60_000);
  t.same(withFallback.events.filter((e) => e.type !== 'join'), [], 'no suspicion with the stream fallback');
  t.ok(withFallback.node(nodeId(0)).stats().streamProbes > 10, 'every probe went over the stream');
  withFallback.stop();
});

t.test('a partition makes each side declare the other dead; after healing, reconnects re-merge them', async (t) => {
  const c = await startCluster({ n: 10, seed: 16 });
  const left = c.ids.slice(0, 5);
  const right = c.ids.slice(5);
  c.net.partition(left, right);
  const split = await c.runUntil(() => left.every((a) => right.every((b) => c.status(a, b) === 'dead' && c.status(b, a) === 'dead')), 120_000);
  t.ok(split > 0, `each side saw the other dead after ${split} ms`);
  t.ok(left.every((a) => left.every((b) => c.status(a, b) === 'alive')), 'each side stays whole');
  c.net.heal();
  const healed = await c.runUntil(() => c.converged(), 10 * 60_000, 500);
  t.ok(healed > 0, `re-merged ${healed} ms after the heal (reconnect interval ${c.config.reconnectInterval} ms)`);
  t.ok(c.ids.every((id) => c.node(id).incarnation >= 1), 'every node refuted its death');
  c.stop();
});

t.test('a graceful leave spreads as left and ends every view of the node as left', async (t) => {
  const c = await startCluster({ n: 10, seed: 17 });
  const leaver = c.node(nodeId(6));
  const t0 = c.clock.now();
  await c.settle(leaver.leave());
  t.ok(c.clock.now() - t0 < c.config.leaveTimeout, `leave() returned after ${c.clock.now() - t0} ms, before its timeout`);
  t.ok(leaver.leaving);
  t.equal(await c.settle(leaver.leave()), undefined, 'a second leave() is a no-op');
  c.kill(leaver.id);
  await c.run(1000);
  const heard = c.ids.filter((id) => c.status(id, nodeId(6)) === 'left').length;
  t.ok(heard >= 7, `${heard} of 9 heard the leave within a second`);
  // Gossip is probabilistic: with 4 retransmissions per node at n = 9 a node misses it about 1% of
  // the time; it then suspects the silent node, and the next push-pull tells it the node left.
  const took = await c.runUntil(() => c.ids.every((id) => c.status(id, nodeId(6)) === 'left'), 2 * c.config.pushPullInterval, 100);
  t.ok(took >= 0, 'everyone has it left within two push-pull intervals');
  await c.run(120_000);
  t.ok(c.ids.every((id) => c.status(id, nodeId(6)) === 'left'), 'still left two minutes later: a left member is not probed, suspected or declared dead');
  for (const [observer, types] of c.eventsAbout(nodeId(6))) t.equal(types.at(-1), 'leave', `${observer}: ${types.join()}`);
  t.equal(c.node(nodeId(0)).liveCount, 9);
  c.stop();
});

t.test('metadata changes bump the incarnation and reach everyone as an update', async (t) => {
  const c = await startCluster({ n: 20, seed: 18, meta: (i) => ({ roles: i === 0 ? ['master'] : ['agent'], api: `http://10.0.0.${i}:5050` }) });
  t.same(c.node(nodeId(9)).member(nodeId(0))?.meta, { roles: ['master'], api: 'http://10.0.0.0:5050' });
  c.node(nodeId(0)).setMeta({ roles: ['master'], api: 'http://10.0.0.0:5050', leader: nodeId(0) });
  t.equal(c.node(nodeId(0)).incarnation, 1);
  const took = await c.runUntil(() => c.ids.every((id) => c.node(id).member(nodeId(0))?.meta.leader === nodeId(0)), 10_000, 10);
  t.ok(took >= 0 && took < 2000, `everyone has the new metadata after ${took} ms`);
  const updates = c.events.filter((e) => e.type === 'update');
  t.equal(updates.length, 19, 'one update event per other node');
  t.ok(updates.every((e) => e.subject === nodeId(0) && e.incarnation === 1));
  try {
    c.node(nodeId(1)).setMeta({ blob: 'x'.repeat(600) });
    t.fail('oversized metadata accepted');
  } catch (err) {
    t.ok(isCorralError(err) && err.code === 'VALIDATION_FAILED', 'oversized metadata is a VALIDATION_FAILED');
  }
  t.throws(() => c.node(nodeId(1)).setMeta([1, 2] as never), /Object is not valid/);
  c.stop();
});

t.test('a node restarted under the same id rejoins, refuting its old death or leave', async (t) => {
  const c = await startCluster({ n: 8, seed: 19 });
  const id = nodeId(3);
  c.kill(id);
  await c.runUntil(() => c.ids.every((o) => c.status(o, id) === 'dead'), 60_000);
  const reborn = c.add(id); // incarnation 0 again, while everyone holds it dead at 0
  await c.settle(reborn.join([nodeId(0)]));
  const took = await c.runUntil(() => c.ids.every((o) => c.status(o, id) === 'alive'), 10_000, 10);
  t.ok(took >= 0, `alive everywhere ${took} ms after rejoining`);
  t.ok(reborn.incarnation >= 1, `refuted at incarnation ${reborn.incarnation}`);
  t.ok([...c.eventsAbout(id).values()].filter((types) => types.join() === 'join,suspect,dead,join').length >= 6, 'the others saw it die and join again');

  await c.settle(reborn.leave());
  c.kill(id);
  await c.runUntil(() => c.ids.every((o) => c.status(o, id) === 'left'), 10_000, 10);
  const again = c.add(id);
  await c.settle(again.join([nodeId(1)]));
  const back = await c.runUntil(() => c.ids.every((o) => c.status(o, id) === 'alive'), 10_000, 10);
  t.ok(back >= 0, 'a node that left comes back with a higher incarnation');
  c.stop();
});

t.test('the same seed replays the same run; objects and JSON bytes behave the same', async (t) => {
  const scenario = async (seed: number, serialize: boolean): Promise<string> => {
    const c = await startCluster({ n: 15, seed, serialize, link: { loss: 0.05 } });
    c.kill(nodeId(9));
    c.node(nodeId(2)).setMeta({ v: 2 });
    await c.run(40_000);
    const log = c.events.map((e) => `${e.at} ${e.observer} ${e.type} ${e.subject}@${e.incarnation}`).join('\n');
    c.stop();
    return log;
  };
  const a = await scenario(21, false);
  t.ok(a.includes('dead node-009'), 'the scenario includes a death');
  t.equal(await scenario(21, false), a, 'identical event log for the same seed');
  t.equal(await scenario(21, true), a, 'identical when every message goes through JSON bytes');
  t.not(await scenario(22, false), a, 'another seed, another run');
});

t.test('lifecycle and input checks', async (t) => {
  const clock = new SimClock(0);
  const net = new MockNetwork({ clock });
  const config = membershipConfig();
  const make = (id: string) => new Membership({ id, transport: net.transport(id), clock, config, random: seededRandom(1) });
  t.throws(() => make('bad"id'), /membership id must be/);
  t.throws(() => make(''), /membership id must be/);
  const solo = make('solo');
  t.equal(await (async () => {
    const p = solo.join(['ghost']);
    await clock.run(config.pushPullTimeout + 100);
    return p;
  })(), 0, 'join resolves 0 when no seed answers');
  t.equal(solo.stats().pushPullFailures, 1);
  solo.start();
  net.transport('noise').send('solo', { t: 42, v: 1 });
  net.transport('noise').send('solo', Buffer.from('garbage'));
  net.transport('noise').send('solo', { t: MessageType.PushPull, v: 1, join: false, m: [] });
  await clock.run(10);
  t.equal(solo.stats().invalidMessages, 3, 'bad datagrams are counted and ignored');
  const refused = net.transport('noise').request('solo', { t: MessageType.Gossip, v: 1, u: [] }, 100).catch((err: Error) => err.message);
  const pinged = net.transport('noise').request('solo', { t: MessageType.Ping, v: 1, seq: 5, to: 'solo' }, 100);
  const misdirected = net.transport('noise').request('solo', { t: MessageType.Ping, v: 1, seq: 6, to: 'someone-else' }, 100).catch((err: Error) => err.message);
  await clock.run(200);
  t.match(await refused, /not a membership request/, 'a request that is neither push-pull nor ping is refused');
  t.same(await pinged, { t: MessageType.Ack, v: 1, seq: 5 }, 'a ping over the stream is acked');
  t.match(await misdirected, /not a membership request/, 'a ping for another id is refused');
  await clock.run(10);
  t.equal(await (async () => {
    const p = solo.leave();
    await clock.run(10);
    return p;
  })(), undefined, 'leaving alone returns at once');
  solo.stop();
  solo.stop();
  t.throws(() => solo.start(), /create a new instance/);
  const never = make('never-started');
  never.stop();
  t.equal(await never.leave(), undefined, 'leave() before start is a no-op');
  t.equal(never.member('nobody'), undefined);
  t.same(never.member('never-started')?.status, 'alive');
  // seedState: a known view without events or gossip (simulations start from it)
  const seeded = make('seeded');
  const seen: string[] = [];
  seeded.onEvent((e) => seen.push(e.type));
  seeded.seedState([
    { id: 'seeded', inc: 0, st: StateCode.Alive, meta: '{}' },
    { id: 'p1', inc: 3, st: StateCode.Alive, meta: '{"role":"agent"}' },
    { id: 'p2', inc: 1, st: StateCode.Dead, meta: '[1]' },
  ]);
  t.same(seeded.members().map((m) => [m.id, m.status, m.incarnation]), [['seeded', 'alive', 0], ['p1', 'alive', 3], ['p2', 'dead', 1]]);
  t.same(seeded.member('p2')?.meta, {}, 'metadata that is not a JSON object reads as {}');
  t.same(seen, [], 'no events');
  t.equal(seeded.liveCount, 2);

  // a peer that answers a push-pull with something else
  const liar = net.transport('liar');
  liar.onRequest(() => ({ t: MessageType.Ack, v: 1, seq: 1 }));
  const asked = make('asker');
  const joined = asked.join(['liar']);
  await clock.run(100);
  t.equal(await joined, 0, 'a wrong answer is no join');
  t.same([asked.stats().pushPullFailures, asked.stats().invalidMessages], [1, 1]);
  asked.stop();

  // the default generator is seeded from the OS
  t.equal(new Membership({ id: 'os', transport: net.transport('os'), clock }).member('os')?.status, 'alive');

  const addressed = new Membership({ id: 'n1', transport: net.transport('10.0.0.1:7946'), clock, random: seededRandom(2), meta: { role: 'agent' } });
  t.same(addressed.member('n1'), { id: 'n1', address: '10.0.0.1:7946', incarnation: 0, status: 'alive', meta: { role: 'agent' } });
  t.equal(addressed.config.probeInterval, 1000, 'default config');
});

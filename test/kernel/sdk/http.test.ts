// The SDK's HTTP transport against the real scheduler route (a master on a fake clock, a fake
// agent, real HTTP): the same SchedulerConnection calls as in-process, events dispatched to the
// framework's handlers, errors as CorralErrors with their codes, disconnect vs. teardown.
import t from 'tap';
import { httpTransport, isTerminal, type Offer, type SchedulerConnection, type TaskStatus } from '../../../src/kernel/sdk';
import { MISSED_HEARTBEATS } from '../../../src/kernel/sdk/http';
import { FakeClock } from '../../../src/shared/clock';
import { CorralError } from '../../../src/shared/errors';
import { harness, HEARTBEAT_S, TOKEN } from '../../api/helpers/fake-kernel';
import { Feed } from '../../api/helpers/streams';

type Event = { kind: 'offers'; offers: Offer[] } | { kind: 'rescind'; id: string } | { kind: 'update'; status: TaskStatus } | { kind: 'heartbeat' } | { kind: 'error' | 'disconnected'; message: string };

/** A framework whose handlers record every event in a feed. */
function recorder() {
  const feed = new Feed<Event>();
  const events = {
    offers: (offers: Offer[]) => feed.push({ kind: 'offers', offers }),
    rescind: (id: string) => feed.push({ kind: 'rescind', id }),
    update: (status: TaskStatus) => feed.push({ kind: 'update', status }),
    heartbeat: () => feed.push({ kind: 'heartbeat' }),
    error: (message: string) => feed.push({ kind: 'error', message }),
    disconnected: (message: string) => feed.push({ kind: 'disconnected', message }),
  };
  const next = <K extends Event['kind']>(kind: K) => feed.next(kind, (e) => e.kind === kind) as Promise<Extract<Event, { kind: K }>>;
  return { feed, events, next };
}

const task = (taskId: string) => ({ taskId, name: taskId, resources: { cpus: 1, mem: 64, disk: 0, ports: [] }, command: { shell: true, value: 'true', environment: {} }, labels: { k: 'v' } });

t.test('a framework drives the kernel through the HTTP transport exactly as in-process', async (t) => {
  const h = await harness(t);
  let fetches = 0;
  const counting: typeof fetch = (input, init) => {
    fetches++;
    return fetch(input, init);
  };
  const transport = httpTransport({ url: h.url + '/', token: TOKEN, fetch: counting });
  const fw = recorder();
  const conn: SchedulerConnection = await transport.subscribe({ name: 'sdk', role: 'batch', failoverTimeoutSeconds: 30 }, fw.events);
  t.match(conn.frameworkId, /^[0-9a-f-]{36}$/);
  t.match((await h.state()).frameworks, [{ id: conn.frameworkId, name: 'sdk', role: 'batch', failoverTimeoutSeconds: 30, connected: true }]);

  h.allocate();
  const { offers } = await fw.next('offers');
  await conn.accept([offers[0]!.id], [{ type: 'LAUNCH', tasks: [task('t1')] }], { refuseSeconds: 0 });
  t.match(h.agent.launched, [{ ...task('t1'), frameworkId: conn.frameworkId, agentId: 'a1' }], 'the task arrives as launched');

  h.agentUpdate(h.agent.launched[0]!, 'TASK_FINISHED', 'u9');
  const { status } = await fw.next('update');
  t.match(status, { taskId: 't1', state: 'TASK_FINISHED', uuid: 'u9' });
  t.ok(isTerminal(status.state));
  await conn.acknowledge(status);
  await conn.acknowledge({ ...status, uuid: undefined });
  t.same(h.agent.acks, ['u9'], 'acknowledged once; an update without uuid needs no acknowledgement');

  h.clock.advance(HEARTBEAT_S * 1000);
  await fw.next('heartbeat');
  t.pass('heartbeats reach the handler');

  await conn.reconcile([{ taskId: 'ghost' }]);
  t.match((await fw.next('update')).status, { taskId: 'ghost', state: 'TASK_LOST', reason: 'REASON_RECONCILIATION' });
  await conn.kill('ghost');
  t.match((await fw.next('update')).status, { taskId: 'ghost', state: 'TASK_LOST' }, 'killing an unknown task answers TASK_LOST');

  const left = (await fw.next('offers')).offers[0]!;
  await conn.suppress();
  t.same(await fw.next('rescind'), { kind: 'rescind', id: left.id });
  await conn.revive();
  h.allocate();
  const again = (await fw.next('offers')).offers[0]!;
  await conn.decline([again.id], { refuseSeconds: 60 });

  const err = await conn.accept([again.id], []).catch((e: unknown) => e);
  t.type(err, CorralError, 'errors come back as CorralError');
  t.equal((err as CorralError).code, 'OFFER_NOT_FOUND');

  await conn.teardown();
  t.same((await h.state()).frameworks, [], 'teardown removed the framework');
  t.notOk(fw.feed.all.some((e) => e.kind === 'disconnected'), 'teardown is not reported as a lost connection');
  t.ok(fetches >= 10, 'every request went through the injected fetch');
});

t.test('disconnect keeps the framework; re-subscribing with its id gets it back; a lost stream is reported', async (t) => {
  const h = await harness(t);
  const transport = httpTransport({ url: h.url, token: TOKEN });
  const first = recorder();
  const conn = await transport.subscribe({ name: 'sdk', failoverTimeoutSeconds: 60 }, first.events);
  const dropped = h.drop({ id: conn.frameworkId, close: () => void conn.disconnect() });
  await dropped;
  t.match((await h.state()).frameworks, [{ id: conn.frameworkId, connected: false }], 'disconnect() leaves the framework in failover');
  t.notOk(first.feed.all.some((e) => e.kind === 'disconnected'), 'a disconnect the framework asked for is not reported');

  const second = recorder();
  const again = await transport.subscribe({ name: 'sdk', id: conn.frameworkId, failoverTimeoutSeconds: 60 }, second.events);
  t.equal(again.frameworkId, conn.frameworkId);
  h.allocate();
  await second.next('offers');

  const third = recorder();
  const replaced = await transport.subscribe({ name: 'sdk', id: conn.frameworkId }, third.events);
  t.match(await second.next('error'), { message: /failed over/ }, 'the replaced connection hears why');
  t.match(await second.next('disconnected'), { message: /closed the event stream/ });
  await replaced.disconnect();

  const refused = await httpTransport({ url: h.url, token: 'wrong' })
    .subscribe({ name: 'x' }, recorder().events)
    .catch((e: unknown) => e);
  t.type(refused, CorralError);
  t.equal((refused as CorralError).code, 'UNAUTHORIZED');
  const invalid = await transport.subscribe({ name: '' }, recorder().events).catch((e: unknown) => e);
  t.equal((invalid as CorralError).code, 'VALIDATION_FAILED');
  const down = await httpTransport({ url: 'http://127.0.0.1:1', token: TOKEN })
    .subscribe({ name: 'x' }, recorder().events)
    .catch((e: unknown) => e);
  t.type(down, Error, 'an unreachable master rejects the subscribe');
});

t.test('a stream silent for several heartbeat intervals is presumed dead and reported', async (t) => {
  const h = await harness(t);
  // The client's own clock: the master's (which sends the heartbeats) stands still.
  const clientClock = new FakeClock();
  const fw = recorder();
  const conn = await httpTransport({ url: h.url, token: TOKEN, clock: clientClock }).subscribe({ name: 'quiet', failoverTimeoutSeconds: 60 }, fw.events);
  const dropped = h.drop({ id: conn.frameworkId, close: () => undefined });
  clientClock.advance(MISSED_HEARTBEATS * HEARTBEAT_S * 1000);
  t.equal(fw.feed.all.length, 0, 'silence up to the limit is tolerated');
  clientClock.advance(HEARTBEAT_S * 1000);
  t.match(await fw.next('disconnected'), { message: /no event or heartbeat from the master for 20 s/ });
  await dropped;
  t.match((await h.state()).frameworks, [{ id: conn.frameworkId, connected: false }], 'the master saw the connection go and keeps the framework in failover');
  t.equal(clientClock.pending(), 0, 'the watchdog is gone with the stream');
});

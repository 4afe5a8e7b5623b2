// A framework over HTTP against a whole node (composeNode: master, real agent running real
// processes, init) with the SDK's HTTP transport: launch, failover (drop the stream, re-subscribe
// with the same id: the task still runs, offers and updates flow again, an unacknowledged update
// is resent by the agent), and the operator event stream seeing it all.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { composeNode, type Node } from '../../src/daemon';
import { httpTransport, type Offer, type SchedulerConnection, type SchedulerEvents, type TaskStatus } from '../../src/kernel/sdk';
import { defaultConfig } from '../../src/shared/config';
import { silentLogger } from '../../src/shared/logger';
import { MemoryStore } from '../../src/store';
import { Feed, openSse, type OpenStream, type SseItem } from './helpers/streams';
import { removeEmptyCorralCgroups } from '../helpers/corral-process';

const dataDir = mkdtempSync(join(tmpdir(), 'corral-sched-'));
let node: Node;
let url: string;
let sse: OpenStream<SseItem>;

t.before(async () => {
  node = await composeNode({ ...defaultConfig(false), dnsListen: { host: '127.0.0.1', port: 0 }, dataDir, agentCpus: 2, agentMemMb: 1024, agentDiskMb: 1024 }, { logger: silentLogger(), store: new MemoryStore() });
  await node.server.listen({ host: '127.0.0.1', port: 0 });
  const address = node.server.server.address();
  url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  sse = await openSse(`${url}/api/v1/events`, node.token.token);
});
t.teardown(async () => {
  sse?.close();
  await node?.stop();
  rmSync(dataDir, { recursive: true, force: true });
  removeEmptyCorralCgroups();
});

type Event = { offers: Offer[] } | { status: TaskStatus };

function framework() {
  const feed = new Feed<Event>();
  const events: SchedulerEvents = { offers: (offers) => feed.push({ offers }), rescind: () => undefined, update: (status) => feed.push({ status }) };
  const offers = async () => ((await feed.next('offers', (e) => 'offers' in e)) as { offers: Offer[] }).offers;
  const update = async (taskId: string, match: (s: TaskStatus) => boolean, ms = 15_000) =>
    ((await feed.next(`an update of ${taskId}`, (e) => 'status' in e && e.status.taskId === taskId && match(e.status), ms)) as { status: TaskStatus }).status;
  return { feed, events, offers, update };
}

const sleeper = (taskId: string) => ({ taskId, name: taskId, resources: { cpus: 0.05, mem: 16, disk: 0, ports: [] }, command: { shell: true, value: 'sleep 300', environment: {} }, labels: {} });

t.test('failover over HTTP with real tasks: drop the stream, re-subscribe, carry on', async (t) => {
  const transport = httpTransport({ url, token: node.token.token });
  const one = framework();
  const conn: SchedulerConnection = await transport.subscribe({ name: 'failover', failoverTimeoutSeconds: 300 }, one.events);
  const [offer] = await one.offers();
  await conn.accept([offer!.id], [{ type: 'LAUNCH', tasks: [sleeper('fo-1'), sleeper('fo-2')] }]);
  const running = await one.update('fo-1', (s) => s.state === 'TASK_RUNNING');
  await conn.acknowledge(running);
  const unacked = await one.update('fo-2', (s) => s.state === 'TASK_RUNNING');
  t.ok(unacked.uuid, 'fo-2 RUNNING carries a uuid, left unacknowledged on purpose');

  await conn.disconnect();
  const state = async () => (await node.server.inject({ method: 'GET', url: '/api/v1/state', headers: { authorization: `Bearer ${node.token.token}` } })).json();
  const mine = (s: { frameworks: Array<{ id: string }> }) => s.frameworks.find((f) => f.id === conn.frameworkId);
  await sse.feed.next('FRAMEWORK_UPDATED (disconnected)', (e) => e.event === 'FRAMEWORK_UPDATED' && e.data.framework.id === conn.frameworkId && !e.data.framework.connected);
  const away = await state();
  t.match(mine(away), { name: 'failover', connected: false, activeTasks: 2, failoverTimeoutSeconds: 300 }, 'disconnected, not removed');
  t.match(away.tasks.filter((x: { frameworkId: string }) => x.frameworkId === conn.frameworkId).map((x: { state: string }) => x.state), ['TASK_RUNNING', 'TASK_RUNNING'], 'its tasks keep running');

  const two = framework();
  const back = await transport.subscribe({ name: 'failover', id: conn.frameworkId, failoverTimeoutSeconds: 300 }, two.events);
  t.equal(back.frameworkId, conn.frameworkId, 'back under the same id');
  t.ok((await two.offers()).length > 0, 'offers resume');
  await back.reconcile([{ taskId: 'fo-1' }]);
  t.match(await two.update('fo-1', (s) => s.reason === 'REASON_RECONCILIATION'), { state: 'TASK_RUNNING' }, 'the task is still RUNNING');
  const resent = await two.update('fo-2', (s) => s.uuid === unacked.uuid);
  t.equal(resent.state, 'TASK_RUNNING', "the agent's retry loop resends the unacknowledged update to the re-subscribed framework");
  await back.acknowledge(resent);

  await back.kill('fo-1');
  const killed = await two.update('fo-1', (s) => s.state === 'TASK_KILLED');
  await back.acknowledge(killed);
  t.pass('updates flow to the re-subscribed framework');
  t.match(mine(await state()), { connected: true, disconnectedAt: null, activeTasks: 1 });

  await back.teardown();
  await sse.feed.next('FRAMEWORK_REMOVED', (e) => e.event === 'FRAMEWORK_REMOVED' && e.data.frameworkId === conn.frameworkId);
  const end = await sse.feed.next('fo-2 killed', (e) => e.event === 'TASK_UPDATED' && e.data.task.id === 'fo-2' && e.data.task.state === 'TASK_KILLED');
  t.match(end.data.task, { frameworkId: conn.frameworkId, exitCode: null }, 'teardown killed the remaining task');
  t.equal(mine(await state()), undefined, 'the framework is gone');

  const seen = sse.feed.all.filter((e) => e.event === 'SUBSCRIBED' || JSON.stringify(e.data).includes(conn.frameworkId)).map((e) => e.event);
  t.same(seen.slice(0, 2), ['SUBSCRIBED', 'FRAMEWORK_ADDED']);
  for (const type of ['TASK_ADDED', 'TASK_UPDATED', 'FRAMEWORK_UPDATED', 'FRAMEWORK_REMOVED']) t.ok(seen.includes(type), `the event stream carried ${type}`);
});

// Marathon's event stream end to end: a client on `GET /v2/events` of a real `corral up` sees a
// deployment of an app with a health check as Marathon reports it, in order — deployment_info,
// the task's status_update_event (STAGING, RUNNING), health_status_changed_event (alive), and
// deployment_success once the instance is healthy.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { openSse, type OpenStream, type SseItem } from '../api/helpers/streams';
import { removeEmptyCorralCgroups, startCorral, type RunningCorral } from '../helpers/corral-process';

const dataDir = mkdtempSync(join(tmpdir(), 'corral-events-'));
let corral: RunningCorral | undefined;
let sse: OpenStream<SseItem> | undefined;
t.teardown(async () => {
  sse?.close();
  await corral?.stop();
  rmSync(dataDir, { recursive: true, force: true });
  removeEmptyCorralCgroups();
});

t.test('a deployment as seen on /v2/events', async (t) => {
  corral = await startCorral(dataDir);
  const types = ['deployment_info', 'deployment_success', 'status_update_event', 'health_status_changed_event'];
  sse = await openSse(`${corral.url}/v2/events?${types.map((x) => `event_type=${x}`).join('&')}`, corral.token);
  t.match(sse.res.headers.get('content-type'), /text\/event-stream/);
  const app = { id: '/evented', cmd: 'sleep 600', cpus: 0.05, mem: 16, instances: 1, healthChecks: [{ protocol: 'COMMAND', command: { value: 'true' }, delaySeconds: 0, intervalSeconds: 2, timeoutSeconds: 1, gracePeriodSeconds: 5 }] };
  const res = await fetch(`${corral.url}/v2/apps`, { method: 'POST', headers: { authorization: `Bearer ${corral.token}`, 'content-type': 'application/json' }, body: JSON.stringify(app) });
  t.equal(res.status, 201);
  const feed = sse.feed;
  const done = await feed.next('deployment_success', (e) => e.event === 'deployment_success', 30_000);
  const seen = feed.all.filter((e) => types.includes(e.event));
  const order = seen.map((e) => (e.event === 'status_update_event' ? `${e.event}:${e.data.taskStatus}` : e.event));
  // Marathon's order (one deployment_info per step, TASK_STARTING may come between): this is a subsequence of it.
  const want = ['deployment_info', 'status_update_event:TASK_STAGING', 'status_update_event:TASK_RUNNING', 'health_status_changed_event', 'deployment_success'];
  let at = 0;
  for (const e of order) if (e === want[at]) at++;
  t.equal(at, want.length, `in order: ${order.join(', ')}`);
  t.equal(order.at(-1), 'deployment_success', 'and the deployment ends the story');
  const info = seen[0]!.data;
  t.match(info, { eventType: 'deployment_info', plan: { id: String }, currentStep: { actions: [{ app: '/evented' }] } }, 'deployment_info names the plan and its step');
  t.equal(done.data.id, info.plan.id, 'deployment_success closes the same deployment');
  t.match(seen.find((e) => e.event === 'health_status_changed_event')!.data, { appId: '/evented', alive: true }, 'the instance turned healthy');
  t.match(seen.find((e) => e.event === 'status_update_event')!.data, { appId: '/evented', taskId: String, host: String, slaveId: String, version: String }, 'status updates carry Marathon’s fields');
});

// What a task's end means for its app (task-end.ts): lastTaskFailure and the launch backoff.
import t from 'tap';
import { validateApp } from '../../src/init/app';
import { taskEnd } from '../../src/init/task-end';
import type { AppTask } from '../../src/init/types';
import type { TaskState, TaskStatus } from '../../src/kernel/types';

const app = validateApp({ id: '/web', cmd: 'run', backoffSeconds: 2, backoffFactor: 2, maxLaunchDelaySeconds: 60 });
const task = (more: Partial<AppTask> = {}): AppTask => ({ taskId: 'web.1', appId: '/web', configVersion: 'v1', version: 'v1', agentId: 'a1', host: 'a1.test', ports: [], servicePorts: [], state: 'TASK_RUNNING', stagedAt: 0, startedAt: 1_000, killRequested: false, ...more });
const status = (state: TaskState, timestamp = 5_000, message?: string): TaskStatus => ({ taskId: 'web.1', agentId: 'a1', state, timestamp, source: 'SOURCE_EXECUTOR', ...(message ? { message } : {}) }) as TaskStatus;

t.test('an unexpected end: a failure record and a growing backoff', async (t) => {
  const first = taskEnd(app, task(), status('TASK_FAILED', 5_000, 'exit 1'), undefined, 10_000);
  t.match(first.failure, { appId: '/web', taskId: 'web.1', host: 'a1.test', state: 'TASK_FAILED', message: 'exit 1', version: 'v1', timestamp: new Date(5_000).toISOString() });
  t.same(first.backoff, { failures: 1, notBefore: 12_000 });
  const second = taskEnd(app, task(), status('TASK_FINISHED'), first.backoff, 20_000);
  t.same(second.backoff, { failures: 2, notBefore: 24_000 }, 'FINISHED is unexpected for a service too');
  t.ok(second.failure, 'and recorded');
});

t.test("init's own kills start no backoff; a task that ran long is forgiven", async (t) => {
  t.same(taskEnd(app, task({ killRequested: true }), status('TASK_KILLED'), undefined, 10_000), {}, 'asked for: nothing');
  t.same(taskEnd(app, task(), status('TASK_KILLED'), undefined, 10_000), {}, 'an operator kill: no backoff, no failure');
  t.ok(taskEnd(app, task({ killRequested: true }), status('TASK_FAILED'), undefined, 10_000).failure, 'a failure while being killed is still recorded');
  t.notOk(taskEnd(app, task({ killRequested: true }), status('TASK_FAILED'), undefined, 10_000).backoff, 'but starts no backoff');
  const longRun = taskEnd(app, task({ startedAt: 0 }), status('TASK_FAILED', 60_000), { failures: 5, notBefore: 0 }, 70_000);
  t.same(longRun.backoff, { failures: 1, notBefore: 72_000 }, 'up for maxLaunchDelaySeconds: counting starts again');
});

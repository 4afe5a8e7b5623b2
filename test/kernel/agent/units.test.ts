// The agent's pure helpers, table-driven, plus resource detection on this machine.
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeClock } from '../../../src/shared/clock';
import type { CommandInfo, TaskStatus } from '../../../src/kernel/types';
import { commandArgv, detectResources, exitOutcome, invalidTaskIdReason, mountHolding, sandboxDir, StatusOutbox, taskEnvironment } from '../../../src/kernel/agent';
import { logReadStart } from '../../../src/kernel/agent/sandbox';

t.test('exitOutcome maps (code, signal, killRequested) to a status', async (t) => {
  const table: Array<[number | null, string | null, boolean, object]> = [
    [0, null, false, { state: 'TASK_FINISHED', message: 'Command exited with status 0', exitCode: 0 }],
    [3, null, false, { state: 'TASK_FAILED', reason: 'REASON_COMMAND_EXECUTOR_FAILED', message: 'Command exited with status 3', exitCode: 3 }],
    [null, 'SIGKILL', false, { state: 'TASK_FAILED', reason: 'REASON_COMMAND_EXECUTOR_FAILED', message: 'Command terminated with signal SIGKILL' }],
    [null, 'SIGSEGV', false, { state: 'TASK_FAILED', reason: 'REASON_COMMAND_EXECUTOR_FAILED', message: 'Command terminated with signal SIGSEGV' }],
    [null, 'SIGTERM', true, { state: 'TASK_KILLED', message: 'Command terminated with signal SIGTERM' }],
    [null, 'SIGKILL', true, { state: 'TASK_KILLED', message: 'Command terminated with signal SIGKILL' }],
    [0, null, true, { state: 'TASK_KILLED', message: 'Command exited with status 0', exitCode: 0 }],
    [143, null, true, { state: 'TASK_KILLED', message: 'Command exited with status 143', exitCode: 143 }],
    [null, null, false, { state: 'TASK_FAILED', reason: 'REASON_COMMAND_EXECUTOR_FAILED', message: 'Command terminated with signal unknown' }],
  ];
  for (const [code, signal, kill, want] of table) t.same(exitOutcome(code, signal, kill), want, `${code} ${signal} ${kill}`);
});

t.test('mountHolding picks the longest mount on a path-component boundary', async (t) => {
  const mounts = ['/', '/data', '/data/corral', '/var'];
  const table: Array<[string, string | undefined]> = [
    ['/data/corral/x', '/data/corral'],
    ['/data/corral', '/data/corral'],
    ['/data/corralx', '/data'],
    ['/database', '/'],
    ['/var/lib', '/var'],
    ['/', '/'],
  ];
  for (const [path, want] of table) t.equal(mountHolding(path, mounts), want, path);
  t.equal(mountHolding('/x', ['/data']), undefined);
});

t.test('task ids must be one safe path component', async (t) => {
  for (const ok of ['web.1', 'shop_web.3f1c-aa', 'a..b', '...', ' x', 'ünï', 'x'.repeat(255)]) t.equal(invalidTaskIdReason(ok), undefined, ok);
  for (const bad of ['', '/', 'a/b', '../x', '..', '.', 'a\0', 'x'.repeat(256), 'é'.repeat(128)]) t.type(invalidTaskIdReason(bad), 'string', JSON.stringify(bad.slice(0, 12)));
  t.equal(sandboxDir('/d', 'web.1'), '/d/sandboxes/web.1');
  t.throws(() => sandboxDir('/d', '../etc'), { code: 'INVALID_REQUEST' });
});

t.test('logReadStart: negative counts from the end, past the end (a rotated log) starts over at 0', async (t) => {
  const table: Array<[number, number, number]> = [
    [0, 10, 0],
    [4, 10, 4],
    [10, 10, 10],
    [11, 10, 0],
    [-1, 10, 9],
    [-10, 10, 0],
    [-11, 10, 0],
    [-5, 0, 0],
  ];
  for (const [offset, size, want] of table) t.equal(logReadStart(offset, size), want, `${offset} of ${size}`);
});

t.test('commandArgv and taskEnvironment', async (t) => {
  const cmd = (c: Partial<CommandInfo>): CommandInfo => ({ shell: true, value: 'echo hi', environment: {}, ...c });
  t.same(commandArgv(cmd({})), ['/bin/sh', '-c', 'echo hi']);
  t.same(commandArgv(cmd({ arguments: ['ignored'] })), ['/bin/sh', '-c', 'echo hi'], 'shell commands ignore arguments');
  t.same(commandArgv(cmd({ shell: false, value: '/bin/ls', arguments: ['-l', 'a b'] })), ['/bin/ls', '-l', 'a b']);
  t.same(commandArgv(cmd({ shell: false, value: '/bin/true' })), ['/bin/true']);

  const env = taskEnvironment({
    base: { PATH: '/bin', HOST: 'from-agent-env', LANG: 'C' },
    command: cmd({ environment: { PORT0: '31000', LANG: 'C.UTF-8', MESOS_SANDBOX: '/forged' } }),
    taskId: 'web.1',
    sandbox: '/d/sandboxes/web.1',
    hostname: 'node-a',
  });
  t.same(env, {
    PATH: '/bin',
    HOST: 'node-a',
    LANG: 'C.UTF-8',
    PORT0: '31000',
    MESOS_SANDBOX: '/d/sandboxes/web.1',
    CORRAL_TASK_ID: 'web.1',
    CORRAL_SANDBOX: '/d/sandboxes/web.1',
    MESOS_TASK_ID: 'web.1',
  });
  const own = taskEnvironment({ base: {}, command: cmd({ environment: { HOST: '10.1.1.1' } }), taskId: 't', sandbox: '/s', hostname: 'node-a' });
  t.equal(own.HOST, '10.1.1.1', "the framework's HOST wins");
});

t.test('detectResources: overrides win, detection gives positive numbers', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-res-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const ports = { begin: 31000, end: 32000 };
  t.same(await detectResources({ cpus: 1.5, memMb: 512, diskMb: 2048, portRange: ports, dataDir: dir }), { cpus: 1.5, mem: 512, disk: 2048, ports: [ports] });
  const found = await detectResources({ portRange: ports, dataDir: join(dir, 'not', 'created', 'yet') });
  t.ok(Number.isInteger(found.cpus) && found.cpus > 0, `cpus ${found.cpus}`);
  t.ok(Number.isInteger(found.mem) && found.mem > 0, `mem ${found.mem}`);
  t.ok(Number.isInteger(found.disk) && found.disk > 0, `disk ${found.disk}`);
  t.same(found.ports, [ports]);
  const partly = await detectResources({ memMb: 7, portRange: ports, dataDir: dir });
  t.equal(partly.mem, 7);
  t.equal(partly.cpus, found.cpus);
});

t.test('StatusOutbox keeps per-task queues and stops resending when closed', async (t) => {
  const clock = new FakeClock(0);
  const sent: string[] = [];
  const outbox = new StatusOutbox(clock, 100, (s) => sent.push(`${s.taskId}:${s.uuid}`));
  const st = (taskId: string, uuid?: string): TaskStatus => ({ taskId, agentId: 'a', frameworkId: 'f', state: 'TASK_RUNNING', source: 'SOURCE_EXECUTOR', timestamp: 0, uuid });
  t.throws(() => outbox.post(st('x')), /uuid/);
  outbox.post(st('a', '1'));
  outbox.post(st('b', '2'));
  outbox.post(st('a', '3'));
  t.equal(outbox.size, 2);
  t.same(outbox.pending('a').map((s) => s.uuid), ['1', '3']);
  t.equal(outbox.acknowledge('a', 'nope'), undefined);
  t.equal(outbox.acknowledge('zzz', '1'), undefined);
  t.equal(outbox.acknowledge('b', '2')?.uuid, '2');
  sent.length = 0;
  clock.advance(100);
  t.same(sent, ['a:1', 'a:3']);
  outbox.close();
  t.equal(clock.pending(), 0);
  outbox.post(st('c', '4'));
  clock.advance(1000);
  t.same(sent, ['a:1', 'a:3', 'c:4'], 'after close an update is sent once, not kept');
});

// Agent-run health checks: the pure result rules table-driven, then HealthMonitor against real
// HTTP/HTTPS servers, TCP listeners and shell commands, with FakeClock driving every timer.
import t from 'tap';
import type tap from 'tap';
import { execFileSync, spawn } from 'node:child_process';
import { createReadStream, mkdtempSync, rmSync, writeFileSync, unlinkSync, readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HealthMonitor } from '../../../src/kernel/agent/health';
import { healthChanged, healthReport, httpOutcome, nextResult, taskHealthy, type HealthOutcome } from '../../../src/kernel/agent/health-result';
import type { HealthCheck, HealthCheckResult } from '../../../src/kernel/types';
import { FakeClock, systemClock } from '../../../src/shared/clock';
import { silentLogger } from '../../../src/shared/logger';

const check = (over: Partial<HealthCheck> = {}): HealthCheck => ({
  protocol: 'HTTP', gracePeriodSeconds: 0, intervalSeconds: 10, timeoutSeconds: 2, maxConsecutiveFailures: 3, delaySeconds: 0, ...over,
});
const PASS: HealthOutcome = { status: 'pass' };
const FAIL: HealthOutcome = { status: 'fail', cause: 'boom' };
const IGNORED: HealthOutcome = { status: 'ignored' };

t.test('nextResult: counting, resets, and the grace period', async (t) => {
  const S = 1_000_000; // task start, ms
  const grace = check({ gracePeriodSeconds: 60 });
  const passed: HealthCheckResult = { alive: true, consecutiveFailures: 0, firstSuccess: S + 1000, lastSuccess: S + 1000 };
  const failing: HealthCheckResult = { ...passed, alive: false, consecutiveFailures: 2, lastFailure: S + 5000, lastFailureCause: 'old' };
  const table: Array<[string, HealthCheckResult | undefined, HealthOutcome, number, HealthCheck, HealthCheckResult | undefined]> = [
    ['first success', undefined, PASS, S + 10, grace, { alive: true, consecutiveFailures: 0, firstSuccess: S + 10, lastSuccess: S + 10 }],
    ['failure in grace, never passed: not counted', undefined, FAIL, S + 59_999, grace, undefined],
    ['failure at the end of grace counts', undefined, FAIL, S + 60_000, grace, { alive: false, consecutiveFailures: 1, lastFailure: S + 60_000, lastFailureCause: 'boom' }],
    ['no grace: the first failure counts', undefined, FAIL, S, check(), { alive: false, consecutiveFailures: 1, lastFailure: S, lastFailureCause: 'boom' }],
    ['a success ends the grace period', passed, FAIL, S + 2000, grace, { ...passed, alive: false, consecutiveFailures: 1, lastFailure: S + 2000, lastFailureCause: 'boom' }],
    ['failures add up', failing, FAIL, S + 9000, grace, { ...failing, consecutiveFailures: 3, lastFailure: S + 9000, lastFailureCause: 'boom' }],
    ['success resets the count, keeps firstSuccess and the last failure', failing, PASS, S + 9000, grace, { ...failing, alive: true, consecutiveFailures: 0, lastSuccess: S + 9000 }],
    ['ignored (1xx) changes nothing', failing, IGNORED, S + 9000, grace, failing],
    ['ignored before any result', undefined, IGNORED, S, check(), undefined],
  ];
  for (const [name, prev, outcome, now, c, want] of table) t.same(nextResult(prev, outcome, now, c, S), want, name);
  t.equal(nextResult(failing, IGNORED, S, grace, S), failing, 'an outcome that does not count returns prev itself');
});

t.test('taskHealthy, healthChanged and httpOutcome', async (t) => {
  const up: HealthCheckResult = { alive: true, consecutiveFailures: 0 };
  const down: HealthCheckResult = { alive: false, consecutiveFailures: 1 };
  const verdicts: Array<[Array<HealthCheckResult | undefined>, boolean | undefined]> = [[[], undefined], [[undefined], undefined], [[up, undefined], undefined], [[up], true], [[up, up], true], [[up, down], false]];
  for (const [results, want] of verdicts) t.equal(taskHealthy(results), want, JSON.stringify(results));
  t.same(healthReport([undefined, up]), { results: [{ alive: false, consecutiveFailures: 0 }, up], healthy: undefined }, 'unknown checks report as not alive, healthy unknown');
  const r = (results: Array<HealthCheckResult | undefined>) => healthReport(results);
  const changes: Array<[string, ReturnType<typeof r>, ReturnType<typeof r>, boolean]> = [
    ['repeated success (only lastSuccess moves)', r([{ ...up, lastSuccess: 1 }]), r([{ ...up, lastSuccess: 2 }]), false],
    ['failure count grows', r([down]), r([{ ...down, consecutiveFailures: 2 }]), true],
    ['alive flips', r([up]), r([down]), true],
    ['cause alone changes', r([{ ...down, lastFailureCause: 'a' }]), r([{ ...down, lastFailureCause: 'b' }]), false],
    ['first counted failure of an unknown check', r([undefined]), r([down]), true],
    ['verdict becomes known', r([up, undefined]), r([up, up]), true],
  ];
  for (const [name, prev, next, want] of changes) t.equal(healthChanged(prev, next), want, name);
  const http: Array<[number, string, boolean, HealthOutcome]> = [
    [200, 'OK', false, PASS], [204, 'No Content', false, PASS], [301, 'Moved Permanently', false, PASS], [399, '', false, PASS],
    [400, 'Bad Request', false, { status: 'fail', cause: '400 Bad Request' }], [500, 'Internal Server Error', true, { status: 'fail', cause: '500 Internal Server Error' }],
    [102, 'Processing', false, { status: 'fail', cause: '102 Processing' }], [102, 'Processing', true, IGNORED], [199, '', true, IGNORED],
  ];
  for (const [code, text, ignore, want] of http) t.same(httpOutcome(code, text, ignore), want, `${code} ignoreHttp1xx=${ignore}`);
});

// ---- HealthMonitor against real sockets and processes ----

interface Change { results: HealthCheckResult[]; healthy: boolean | undefined }

function monitor(t: Test, checks: HealthCheck[], cwd = '/', env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin' }) {
  const clock = new FakeClock();
  const changes: Change[] = [];
  const m = new HealthMonitor({ checks, host: '127.0.0.1', env, cwd, clock, logger: silentLogger(), onChange: (results, healthy) => changes.push({ results, healthy }) });
  t.teardown(() => m.stop());
  /** Moves the clock and waits for the probes that started to finish. */
  const tick = async (ms: number) => {
    clock.advance(ms);
    await m.settled();
  };
  return { clock, m, changes, tick };
}
type Test = tap.Test;

async function listen(t: Test, server: net.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => (server.close(() => resolve()), (server as http.Server).closeAllConnections?.())));
  return (server.address() as net.AddressInfo).port;
}

t.test('HTTP: 200–399 pass, 500 fails, onChange only on changes, path and timeout', async (t) => {
  let status = 200;
  const paths: string[] = [];
  let arrived = () => {};
  const port = await listen(t, http.createServer((req, res) => {
    paths.push(req.url ?? '');
    if (status === 0) return arrived(); // hang: the probe must time out
    res.writeHead(status, status === 301 ? { location: '/elsewhere' } : {}).end();
  }));
  const { clock, m, changes, tick } = monitor(t, [check({ port, path: '/health' })]);
  const started = clock.now();
  m.start(started);
  await tick(0);
  t.same(changes, [{ results: [{ alive: true, consecutiveFailures: 0, firstSuccess: started, lastSuccess: started }], healthy: true }]);
  await tick(10_000);
  await tick(10_000);
  t.equal(changes.length, 1, 'repeated successes are not reported');
  status = 500;
  await tick(10_000);
  t.match(changes[1], { results: [{ alive: false, consecutiveFailures: 1, lastFailureCause: '500 Internal Server Error', firstSuccess: started }], healthy: false });
  status = 0;
  const hung = new Promise<void>((resolve) => (arrived = resolve));
  clock.advance(10_000);
  await hung;
  await tick(2_000);
  t.match(changes[2], { results: [{ alive: false, consecutiveFailures: 2, lastFailureCause: 'timed out after 2 s' }], healthy: false });
  status = 301;
  await tick(8_000);
  t.match(changes[3], { results: [{ alive: true, consecutiveFailures: 0, firstSuccess: started, lastSuccess: started + 50_000 }], healthy: true }, 'a redirect passes');
  t.equal(paths.length, 6);
  t.ok(paths.every((p) => p === '/health'), 'the check path is requested');
  m.stop();
  m.stop();
  t.equal(clock.pending(), 0, 'stop cancels every timer');
  clock.advance(60_000);
  t.equal(paths.length, 6, 'no probe after stop');
});

t.test('a timed-out probe does not hold back the next tick, however far the clock jumps', async (t) => {
  const arrivals: Array<() => void> = [];
  let hits = 0;
  const port = await listen(t, http.createServer(() => (hits++, arrivals.shift()?.())));
  const arrived = () => new Promise<void>((resolve) => arrivals.push(resolve));
  const { m, changes, clock, tick } = monitor(t, [check({ port, intervalSeconds: 10, timeoutSeconds: 2 })]);
  m.start(clock.now());
  let next = arrived();
  clock.advance(0);
  await next;
  next = arrived();
  clock.advance(10_000); // the timeout (2 s) and the next tick (10 s) in one step
  await next;
  await tick(2_000);
  t.equal(hits, 2, 'the second probe ran');
  t.same(changes.map((c) => c.results[0]!.consecutiveFailures), [1, 2]);
});

t.test('a reply that arrived while the agent’s event loop stalled past the timeout passes', async (t) => {
  // The task's server is another process, so it answers while this one's loop is blocked: it says
  // when a request came in, and replies 300 ms later.
  const server = spawn(process.execPath, ['-e', "require('http').createServer((q, s) => { console.log('request'); setTimeout(() => s.end('ok'), 300); }).listen(0, '127.0.0.1', function () { console.log('port ' + this.address().port); })"], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => void server.kill());
  let out = '';
  const printed = (what: RegExp) => new Promise<RegExpExecArray>((resolve) => {
    const look = () => {
      const m = what.exec(out);
      if (m) (server.stdout.off('data', onData), resolve(m));
    };
    const onData = (d: Buffer) => ((out += d), look());
    server.stdout.on('data', onData);
    look();
  });
  const port = Number((await printed(/port (\d+)/))[1]);
  const changes: Change[] = [];
  const m = new HealthMonitor({ checks: [check({ port, timeoutSeconds: 1 })], host: '127.0.0.1', env: {}, cwd: '/', clock: systemClock, logger: silentLogger(), onChange: (results, healthy) => changes.push({ results, healthy }) });
  t.teardown(() => m.stop());
  m.start(Date.now());
  await printed(/request/);
  // The agent's loop stalls for 1.5 s: the reply arrives meanwhile and the 1 s timeout falls due.
  const until = Date.now() + 1500;
  while (Date.now() < until);
  await m.settled();
  t.match(changes, [{ results: [{ alive: true, consecutiveFailures: 0 }], healthy: true }], 'the reply waiting in the socket is read before the timeout fails the probe');
});

t.test('delaySeconds before the first probe, then every intervalSeconds', async (t) => {
  let hits = 0;
  const port = await listen(t, http.createServer((_req, res) => (hits++, res.end())));
  const { m, tick } = monitor(t, [check({ port, delaySeconds: 15, intervalSeconds: 10 })]);
  m.start(0);
  const seen: number[] = [];
  for (const step of [14_999, 1, 9_999, 1, 10_000]) {
    await tick(step);
    seen.push(hits);
  }
  t.same(seen, [0, 1, 1, 2, 3]);
});

t.test('HTTPS without certificate verification; 1xx with and without ignoreHttp1xx', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-hc-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=self-signed', '-days', '1', '-keyout', join(dir, 'k'), '-out', join(dir, 'c')], { stdio: 'ignore' });
  const tlsPort = await listen(t, https.createServer({ key: readFileSync(join(dir, 'k')), cert: readFileSync(join(dir, 'c')) }, (_req, res) => res.end()));
  // A server that only ever says "102 Processing", and one that sends Early Hints before its 200.
  const only1xx = await listen(t, net.createServer((s) => s.once('data', () => s.end('HTTP/1.1 102 Processing\r\n\r\n'))));
  const hintsThen200 = await listen(t, net.createServer((s) => s.once('data', () => s.end('HTTP/1.1 103 Early Hints\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n'))));
  const { m, changes, tick } = monitor(t, [
    check({ protocol: 'HTTPS', port: tlsPort }),
    check({ port: hintsThen200 }),
    check({ port: only1xx, ignoreHttp1xx: true }),
    check({ port: only1xx }),
  ]);
  m.start(0);
  await tick(0);
  t.same(changes.at(-1)?.results.map((r) => [r.alive, r.consecutiveFailures, r.lastFailureCause]), [
    [true, 0, undefined],
    [true, 0, undefined],
    [false, 0, undefined],
    [false, 1, '102 Processing'],
  ], 'self-signed passes; interim 1xx then 200 passes; a lone 1xx is ignored or fails');
  t.equal(changes.at(-1)?.healthy, undefined, 'an ignored check keeps the verdict unknown');
});

t.test('TCP: passes while listening, fails once the listener is closed', async (t) => {
  const server = net.createServer((s) => s.destroy());
  const port = await listen(t, server);
  const { m, changes, tick } = monitor(t, [check({ protocol: 'TCP', port })]);
  m.start(0);
  await tick(0);
  t.match(changes, [{ healthy: true }]);
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await tick(10_000);
  t.match(changes[1], { healthy: false, results: [{ alive: false, consecutiveFailures: 1, lastFailureCause: /ECONNREFUSED/ }] });
});

t.test('COMMAND: exit status decides; runs with the given env and cwd', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-hc-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', WANT: 'yes' };
  const { m, changes, tick } = monitor(t, [
    check({ protocol: 'COMMAND', command: 'exit 0' }),
    check({ protocol: 'COMMAND', command: 'echo starting; echo broken >&2; exit 3' }),
    check({ protocol: 'COMMAND', command: `test "$WANT" = yes && test "$(pwd)" = "${dir}"` }),
    check({ protocol: 'COMMAND', command: 'kill -9 $$' }),
  ], dir, env);
  m.start(0);
  await tick(0);
  t.same(changes.at(-1)?.results.map((r) => [r.alive, r.lastFailureCause]), [
    [true, undefined],
    [false, 'Command exited with status 3: starting\nbroken'],
    [true, undefined],
    [false, 'Command terminated with signal SIGKILL'],
  ]);
  t.equal(changes.at(-1)?.healthy, false);
});

t.test('COMMAND checks run as the task user, not as the agent', { skip: process.getuid?.() !== 0 && 'needs root' }, async (t) => {
  const clock = new FakeClock();
  const changes: Change[] = [];
  const m = new HealthMonitor({
    checks: [check({ protocol: 'COMMAND', command: 'test "$(id -u)" = 65534 && test "$(id -g)" = 65534' })],
    host: '127.0.0.1',
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
    cwd: '/',
    user: { uid: 65534, gid: 65534 },
    clock,
    logger: silentLogger(),
    onChange: (results, healthy) => changes.push({ results, healthy }),
  });
  t.teardown(() => m.stop());
  m.start(0);
  clock.advance(0);
  await m.settled();
  t.equal(changes.at(-1)?.healthy, true, 'the check ran as uid/gid 65534');
});

t.test('grace period: failures before the first success do not count; the first success ends it', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-hc-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const ok = join(dir, 'ok');
  const { clock, m, changes, tick } = monitor(t, [check({ protocol: 'COMMAND', command: `test -e ${ok}`, gracePeriodSeconds: 30 })]);
  const started = clock.now() - 5_000; // the task started 5 s before its monitor
  m.start(started);
  for (let i = 0; i < 3; i++) await tick(i === 0 ? 0 : 10_000); // t = 5, 15, 25 s after start
  t.same(changes, [], 'failures within the grace period are not reported');
  await tick(10_000); // 35 s: the grace period is over
  t.match(changes, [{ healthy: false, results: [{ alive: false, consecutiveFailures: 1 }] }]);

  const second = monitor(t, [check({ protocol: 'COMMAND', command: `test -e ${ok}`, gracePeriodSeconds: 300 })]);
  writeFileSync(ok, '');
  second.m.start(second.clock.now());
  await second.tick(0);
  unlinkSync(ok);
  await second.tick(10_000);
  t.match(second.changes, [{ healthy: true }, { healthy: false, results: [{ consecutiveFailures: 1 }] }], 'after a success, failures count within the grace period');
});

/** Runs a command whose whole process group writes to a FIFO; resolves `gone` once every writer has died. */
async function groupCommand(t: Test) {
  const dir = mkdtempSync(join(tmpdir(), 'corral-hc-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const fifo = join(dir, 'fifo');
  execFileSync('mkfifo', [fifo]);
  const command = `exec >${fifo}; sleep 1000 & echo ready; wait`;
  const stream = createReadStream(fifo, { encoding: 'utf8' });
  const ready = new Promise<void>((resolve) => stream.once('data', () => resolve()));
  const gone = new Promise<'gone' | 'still running'>((resolve) => {
    stream.once('end', () => resolve('gone'));
    setTimeout(() => resolve('still running'), 10_000).unref(); // a safety net, never reached when the kill works
  });
  t.teardown(() => stream.destroy());
  return { command, ready, gone };
}

t.test('COMMAND timeout kills the whole process group', async (t) => {
  const { command, ready, gone } = await groupCommand(t);
  const { m, changes, clock } = monitor(t, [check({ protocol: 'COMMAND', command, timeoutSeconds: 3 })]);
  m.start(clock.now());
  clock.advance(0);
  await ready;
  clock.advance(3_000);
  await m.settled();
  t.match(changes, [{ healthy: false, results: [{ alive: false, lastFailureCause: 'timed out after 3 s' }] }]);
  t.equal(await gone, 'gone', 'the shell and its background sleep are dead');
});

t.test('stop() aborts a COMMAND in flight and kills its group', async (t) => {
  const { command, ready, gone } = await groupCommand(t);
  const { m, changes, clock } = monitor(t, [check({ protocol: 'COMMAND', command, timeoutSeconds: 3 })]);
  m.start(clock.now());
  clock.advance(0);
  await ready;
  m.stop();
  await m.settled();
  t.equal(await gone, 'gone');
  t.same(changes, [], 'nothing is reported after stop');
  t.equal(clock.pending(), 0);
});

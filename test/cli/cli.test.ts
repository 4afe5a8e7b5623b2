import t from 'tap';
import type { App, LogOptions, LogStream, NativeTask, Node } from '../../src/client';
import { buildProgram, runProgram, type CliClient, type CliDeps } from '../../src/cli/program';
import { CorralError } from '../../src/shared/errors';
import { renderTable, formatAge, truncate } from '../../src/cli/table';
import pkg from '../../package.json';

const NOW = Date.UTC(2026, 0, 1, 12, 0, 0);

const apps: App[] = [
  { id: '/shop/web', cmd: 'python3 -m http.server $PORT0 --bind 0.0.0.0 --directory /srv/www/public', instances: 3, cpus: 0.5, mem: 64, disk: 0, tasksRunning: 2 },
  { id: '/db', args: ['redis-server', '--port', '6379'], instances: 1, cpus: 1, mem: 512, disk: 0, tasks: [] },
];

const tasks: NativeTask[] = [
  { id: 'shop_web.1', name: 'web', appId: '/shop/web', frameworkId: 'fw', agentId: 'a1', host: 'node-a', state: 'TASK_RUNNING', ports: [10001, 10002], resources: { cpus: 0.5, mem: 64, disk: 0 }, startedAt: NOW - 5_000 },
  { id: 'shop_web.2', name: 'web', appId: '/shop/web', frameworkId: 'fw', agentId: 'a1', host: 'node-b', state: 'TASK_STAGING', ports: [], resources: { cpus: 0.5, mem: 64, disk: 0 }, startedAt: null },
];

const nodes: Node[] = [
  { id: 'ab'.repeat(32), hostname: 'node-a', roles: ['master', 'agent'], resources: { cpus: 4, mem: 8192, disk: 0 }, used: { cpus: 1.5, mem: 128, disk: 0 }, attributes: {}, isolation: 'cgroup1', status: 'alive', version: '0.1.0', lastContact: new Date(NOW - 2_000).toISOString() },
  { id: 'ac'.repeat(32), hostname: 'node-b', roles: ['agent'], resources: { cpus: 2, mem: 1024, disk: 0 }, used: { cpus: 0, mem: 0, disk: 0 }, attributes: {}, status: 'draining', version: '0.1.0', drainingSince: new Date(NOW - 60_000).toISOString(), drainDeadline: null },
];

interface Harness {
  stdout: string;
  stderr: string;
  calls: Array<[string, ...unknown[]]>;
  sources: unknown[];
  run(...args: string[]): Promise<number>;
}

function harness(over: Partial<CliClient> = {}, deps: Partial<CliDeps> = {}): Harness {
  const h: Harness = { stdout: '', stderr: '', calls: [], sources: [], run: async () => 0 };
  const record = <T>(name: string, value: T) => (...args: unknown[]) => {
    h.calls.push([name, ...args]);
    return Promise.resolve(value);
  };
  // The methods these tests use; the other commands' methods are left out (a partial fake).
  const fake = {
    listApps: record('listApps', { apps }),
    getApp: record('getApp', { app: { ...apps[0]!, version: 'v1', deployments: [{ id: 'dep-0' }], tasks: [{ id: 'shop_web.1', appId: '/shop/web', host: 'node-a', ports: [10001], state: 'TASK_RUNNING', startedAt: new Date(NOW - 180_000).toISOString() }] } }),
    createApp: async (def) => {
      h.calls.push(['createApp', def]);
      return { ...(def as App), deployments: [{ id: 'dep-1' }] };
    },
    updateApp: record('updateApp', { deploymentId: 'dep-2', version: 'v2' }),
    deleteApp: record('deleteApp', { deploymentId: 'dep-3', version: 'v3' }),
    appVersions: record('appVersions', { versions: ['v2', 'v1'] }),
    rollbackApp: record('rollbackApp', { deploymentId: 'dep-4', version: 'v4' }),
    appTasks: record('appTasks', { tasks: [] }),
    listTasks: record('listTasks', { tasks }),
    getTask: record('getTask', { task: tasks[0]! }),
    killTask: record('killTask', { task: { ...tasks[0]!, state: 'TASK_KILLING' } }),
    taskLogs: async (id: string, opts?: LogOptions) => {
      h.calls.push(['taskLogs', id, opts]);
      const chunks = [Buffer.from('line 1\n'), Buffer.from([0xff, 0x00, 0x0a])];
      const stream: LogStream = { offset: 10, async *[Symbol.asyncIterator]() { yield* chunks; } };
      return stream;
    },
    listNodes: record('listNodes', { nodes }),
    drainNode: async (id: string, opts?: { deadlineSeconds?: number }) => {
      h.calls.push(['drainNode', id, opts]);
      const deadline = opts?.deadlineSeconds === undefined ? null : new Date(NOW + opts.deadlineSeconds * 1000).toISOString();
      return { node: { ...nodes.find((n) => n.id === id)!, status: 'draining', drainingSince: new Date(NOW).toISOString(), drainDeadline: deadline } };
    },
    undrainNode: record('undrainNode', { node: { ...nodes[1]!, status: 'alive' } }),
    // Deployments have their own tests (test/cli/deployment.test.ts).
    planApp: record('planApp', undefined as never),
    planAppUpdate: record('planAppUpdate', undefined as never),
    restartApp: record('restartApp', { deploymentId: 'dep-5', version: 'v5' }),
    listDeployments: record('listDeployments', []),
    getDeployment: record('getDeployment', undefined as never),
    rollbackDeployment: record('rollbackDeployment', undefined),
    // Groups have their own tests (test/cli/group.test.ts).
    getGroup: record('getGroup', undefined as never),
    createGroup: record('createGroup', undefined as never),
    updateGroup: record('updateGroup', undefined as never),
    deleteGroup: record('deleteGroup', undefined as never),
    ...over,
  } as CliClient;
  const full: CliDeps = {
    stdout: (chunk) => void (h.stdout += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('latin1')),
    stderr: (text) => void (h.stderr += text),
    client: (src) => {
      h.sources.push(src);
      return fake;
    },
    readFile: async (path) => {
      if (path === 'app.json') return '{"id": "/shop/api", "cmd": "sleep 100"}';
      if (path === 'bad.json') return '{"id": "/x",';
      if (path === 'list.json') return '[1]';
      throw Object.assign(new Error(`ENOENT: no such file or directory, open '${path}'`), { code: 'ENOENT' });
    },
    readStdin: async () => '{"id": "/from/stdin", "cmd": "true"}',
    env: {},
    clock: { now: () => NOW },
    ...deps,
  };
  h.run = (...args) => runProgram(buildProgram(full), args, full);
  return h;
}

t.test('table helpers', async (t) => {
  t.equal(renderTable(['A', 'LONGER'], [['xyz', '1'], ['p', '']]), 'A    LONGER\nxyz  1\np\n');
  t.equal(truncate('abcdef', 4), 'abc…');
  t.equal(truncate('a  b', 10), 'a b');
  t.same([formatAge(NOW - 5_000, NOW), formatAge(NOW - 180_000, NOW), formatAge(NOW - 7_200_000, NOW), formatAge(NOW - 3 * 86_400_000, NOW), formatAge(undefined, NOW)], ['5s', '3m', '2h', '3d', '-']);
});

t.test('app list prints an aligned table', async (t) => {
  const h = harness();
  t.equal(await h.run('app', 'list'), 0);
  const lines = h.stdout.trimEnd().split('\n');
  t.match(lines[0], /^ID\s+INSTANCES\s+CPUS\s+MEM\s+CMD$/);
  t.match(lines[1], /^\/shop\/web\s+2\/3\s+0\.5\s+64\s+python3 -m http\.server .*…$/);
  t.match(lines[2], /^\/db\s+0\/1\s+1\s+512\s+redis-server --port 6379$/);
  t.equal(lines[1]!.indexOf('2/3'), lines[0]!.indexOf('INSTANCES'), 'columns line up');
  t.equal(h.stderr, '');
});

t.test('--json prints the API answer and nothing else, wherever the flag stands', async (t) => {
  for (const args of [['--json', 'app', 'list'], ['app', 'list', '--json']]) {
    const h = harness();
    t.equal(await h.run(...args), 0);
    t.same(JSON.parse(h.stdout), { apps });
    t.match(h.stdout, /^\{\n {2}"apps"/, 'pretty-printed');
  }
  const h = harness();
  t.equal(await h.run('app', 'scale', '/shop/web', '5', '--json'), 0);
  t.same(JSON.parse(h.stdout), { deploymentId: 'dep-2', version: 'v2' });
});

t.test('app add from a file and from stdin', async (t) => {
  const h = harness();
  t.equal(await h.run('app', 'add', 'app.json'), 0);
  t.same(h.calls, [['createApp', { id: '/shop/api', cmd: 'sleep 100' }]]);
  t.equal(h.stdout, 'Created app /shop/api (deployment dep-1).\n');

  const s = harness();
  t.equal(await s.run('app', 'add', '-'), 0);
  t.same(s.calls, [['createApp', { id: '/from/stdin', cmd: 'true' }]]);
});

t.test('app add: bad JSON, a missing file, a non-object', async (t) => {
  const bad = harness();
  t.equal(await bad.run('app', 'add', 'bad.json'), 1);
  t.match(bad.stderr, /^error: App definition bad\.json is not valid JSON: .* \(INVALID_JSON\)\n$/);
  t.same(bad.calls, [], 'nothing sent');

  const missing = harness();
  t.equal(await missing.run('app', 'add', 'nope.json'), 1);
  t.match(missing.stderr, /^error: Cannot read app definition nope\.json: ENOENT.* \(FILE_UNREADABLE\)\n$/);

  const stdinBad = harness({}, { readStdin: async () => 'not json' });
  t.equal(await stdinBad.run('app', 'add', '-'), 1);
  t.match(stdinBad.stderr, /standard input is not valid JSON.*\(INVALID_JSON\)/);

  const list = harness();
  t.equal(await list.run('app', 'add', 'list.json'), 1);
  t.match(list.stderr, /\(VALIDATION_FAILED\)/);
});

t.test('API errors print message, code and details; exit 1', async (t) => {
  const invalid = new CorralError('VALIDATION_FAILED', 'Object is not valid', [
    { path: '/instances', errors: ['must be >= 0'] },
    { path: '/cmd', errors: ['required', 'must be string'] },
  ]);
  const h = harness({ createApp: async () => Promise.reject(invalid) });
  t.equal(await h.run('app', 'add', 'app.json'), 1);
  t.equal(h.stderr, 'error: Object is not valid (VALIDATION_FAILED)\n  /instances: must be >= 0\n  /cmd: required; must be string\n');
  t.equal(h.stdout, '');

  const missing = harness({ getApp: async () => Promise.reject(new CorralError('APP_NOT_FOUND', "App '/x' does not exist")) });
  t.equal(await missing.run('app', 'show', '/x', '--json'), 1);
  t.equal(missing.stderr, "error: App '/x' does not exist (APP_NOT_FOUND)\n");
  t.equal(missing.stdout, '', '--json prints nothing on failure');

  const bug = harness({ listNodes: async () => Promise.reject(new TypeError('boom')) });
  t.equal(await bug.run('node', 'list'), 1);
  t.equal(bug.stderr, 'error: boom (INTERNAL)\n');

  const unreachable = harness({}, { client: () => Promise.reject(new CorralError('API_UNREACHABLE', 'Cannot reach http://h:1')) });
  t.equal(await unreachable.run('task', 'list'), 1);
  t.equal(unreachable.stderr, 'error: Cannot reach http://h:1 (API_UNREACHABLE)\n');
});

t.test('usage errors exit 2; --version and --help exit 0', async (t) => {
  for (const args of [['app', 'scale', '/web', 'many'], ['app', 'scale', '/web', '-1'], ['bogus'], ['app'], ['app', 'show'], ['task', 'logs', 't', '--offset', 'x'], ['--nope', 'app', 'list']]) {
    const h = harness();
    t.equal(await h.run(...args), 2, args.join(' '));
    t.match(h.stderr, /error|Usage/);
    t.same(h.calls, []);
  }
  const v = harness();
  t.equal(await v.run('--version'), 0);
  t.equal(v.stdout, `${pkg.version} (commit dev)\n`, "--version prints the version and the commit (dev: not bundled)");
  const help = harness();
  t.equal(await help.run('--help'), 0);
  t.match(help.stdout, /Usage: corral/);
});

t.test('app show prints key fields and its tasks', async (t) => {
  const h = harness();
  t.equal(await h.run('app', 'show', 'shop/web'), 0);
  t.same(h.calls, [['getApp', 'shop/web']]);
  const lines = h.stdout.split('\n');
  t.match(lines[0], /^ID:\s+\/shop\/web$/);
  t.match(h.stdout, /\nINSTANCES:\s+2\/3 running/);
  t.match(lines[8], /^DEPLOYMENTS:\s+dep-0$/);
  t.equal(lines[0]!.indexOf('/shop'), lines[8]!.indexOf('dep-0'), 'values line up');
  t.match(h.stdout, /\nTASK\s+STATE\s+HOST\s+PORTS\s+STARTED\nshop_web\.1\s+RUNNING\s+node-a\s+10001\s+3m\n$/);
});

t.test('app scale and remove say what happened, with the deployment id', async (t) => {
  const h = harness();
  t.equal(await h.run('app', 'scale', 'shop/web', '4'), 0);
  t.same(h.calls, [['updateApp', 'shop/web', { instances: 4 }, { force: false }]]);
  t.equal(h.stdout, 'Scaling app /shop/web to 4 instances (deployment dep-2).\n');

  const r = harness();
  t.equal(await r.run('app', 'remove', '/shop/web', '--force'), 0);
  t.same(r.calls, [['deleteApp', '/shop/web', { force: true }]]);
  t.equal(r.stdout, 'Removing app /shop/web (deployment dep-3).\n');
});

t.test('task list, filtered by app, with ages', async (t) => {
  const h = harness();
  t.equal(await h.run('task', 'list', '--app', 'shop/web'), 0);
  t.same(h.calls, [['listTasks', { app: '/shop/web' }]]);
  const lines = h.stdout.trimEnd().split('\n');
  t.match(lines[0], /^ID\s+APP\s+STATE\s+HOST\s+PORTS\s+STARTED$/);
  t.match(lines[1], /^shop_web\.1\s+\/shop\/web\s+RUNNING\s+node-a\s+10001,10002\s+5s$/);
  t.match(lines[2], /^shop_web\.2\s+\/shop\/web\s+STAGING\s+node-b\s+-\s+-$/);

  const empty = harness({ listTasks: async () => ({ tasks: [] }) });
  t.equal(await empty.run('task', 'list'), 0);
  t.same(empty.calls, []);
  t.equal(empty.stdout, 'No tasks.\n');
});

t.test('task list hides ended tasks unless --all', async (t) => {
  const ended = { ...tasks[0]!, id: 'shop_web.0', state: 'TASK_KILLED' };
  const h = harness({ listTasks: async () => ({ tasks: [ended, ...tasks] }) });
  t.equal(await h.run('task', 'list'), 0);
  t.notMatch(h.stdout, /shop_web\.0/, 'a killed task is not listed by default');
  const all = harness({ listTasks: async () => ({ tasks: [ended, ...tasks] }) });
  t.equal(await all.run('task', 'list', '--all'), 0);
  t.match(all.stdout, /shop_web\.0\s+\/shop\/web\s+KILLED/, '--all lists it');
});

t.test('task logs streams bytes straight to stdout', async (t) => {
  const h = harness();
  t.equal(await h.run('task', 'logs', 'shop_web.1', '--stderr', '-f', '--offset', '-100'), 0);
  t.same(h.calls, [['taskLogs', 'shop_web.1', { stream: 'stderr', follow: true, offset: -100 }]]);
  t.equal(h.stdout, 'line 1\n\xff\x00\n', 'bytes untouched');

  const plain = harness();
  t.equal(await plain.run('task', 'logs', 'shop_web.1'), 0);
  t.same(plain.calls, [['taskLogs', 'shop_web.1', { stream: 'stdout', follow: false }]]);
});

t.test('task kill', async (t) => {
  const h = harness();
  t.equal(await h.run('task', 'kill', 'shop_web.1'), 0);
  t.same(h.calls, [['killTask', 'shop_web.1']]);
  t.match(h.stdout, /^Kill requested for task shop_web\.1 \(now KILLING\)/);
});

t.test('node list shortens ids and shows status, use against totals, version and last contact', async (t) => {
  const h = harness();
  t.equal(await h.run('node', 'list'), 0);
  const lines = h.stdout.trimEnd().split('\n');
  t.match(lines[0], /^ID\s+HOSTNAME\s+STATUS\s+ROLES\s+CPUS\s+MEM \(MiB\)\s+VERSION\s+LAST CONTACT$/);
  t.match(lines[1], /^abababababab\s+node-a\s+alive\s+master,agent\s+1\.5\/4\s+128\/8192\s+0\.1\.0\s+2s ago$/);
  t.match(lines[2], /^acacacacacac\s+node-b\s+draining\s+agent\s+0\/2\s+0\/1024\s+0\.1\.0\s+-$/);
});

t.test('node drain and undrain find the node by id, id prefix or hostname', async (t) => {
  const cases: Array<[string[], [string, ...unknown[]]]> = [
    [['node', 'drain', 'ab'.repeat(32)], ['drainNode', 'ab'.repeat(32), {}]],
    [['node', 'drain', 'abab', '--deadline', '5m'], ['drainNode', 'ab'.repeat(32), { deadlineSeconds: 300 }]],
    [['node', 'drain', 'node-b', '--deadline', '1h30m'], ['drainNode', 'ac'.repeat(32), { deadlineSeconds: 5400 }]],
    [['node', 'drain', 'node-b', '--deadline', '90s'], ['drainNode', 'ac'.repeat(32), { deadlineSeconds: 90 }]],
    [['node', 'undrain', 'node-b'], ['undrainNode', 'ac'.repeat(32)]],
  ];
  for (const [args, call] of cases) {
    const h = harness();
    t.equal(await h.run(...args), 0, args.join(' '));
    t.same(h.calls, [['listNodes'], call], args.join(' '));
    t.equal(h.stderr, '');
  }
  const h = harness();
  await h.run('node', 'drain', 'node-a', '--deadline', '5m');
  t.equal(h.stdout, 'Draining node abababababab (node-a): nothing new is placed there, service tasks move elsewhere; tasks still there at 2026-01-01T12:05:00.000Z are killed.\n');
  const json = harness();
  await json.run('node', 'undrain', 'acac', '--json');
  t.match(JSON.parse(json.stdout), { node: { id: 'ac'.repeat(32), status: 'alive' } });
});

t.test('node drain: unknown or ambiguous nodes and bad deadlines fail with a code, before any drain', async (t) => {
  const cases: Array<[string[], RegExp]> = [
    [['node', 'drain', 'zz'], /^error: No node has the id, id prefix or hostname 'zz'.* \(AGENT_NOT_FOUND\)\n$/],
    [['node', 'drain', 'a'], /^error: 'a' matches 2 nodes: abababababab \(node-a\), acacacacacac \(node-b\); give more of the id \(NODE_AMBIGUOUS\)\n$/],
    [['node', 'drain', 'node-a', '--deadline', '5x'], /^error: --deadline must be a duration like 90s, 5m, 1h or 1h30m, got '5x' \(CONFIG_INVALID\)\n$/],
    [['node', 'drain', 'node-a', '--deadline', '300'], /\(CONFIG_INVALID\)\n$/],
    [['node', 'undrain', 'nope'], /\(AGENT_NOT_FOUND\)\n$/],
  ];
  for (const [args, want] of cases) {
    const h = harness();
    t.equal(await h.run(...args), 1, args.join(' '));
    t.match(h.stderr, want, args.join(' '));
    t.notOk(h.calls.some(([name]) => name === 'drainNode' || name === 'undrainNode'), `${args.join(' ')}: nothing drained`);
  }
});

t.test('endpoint flags override the environment', async (t) => {
  const env = { url: 'http://env:1', token: 'env-token', dataDir: '/env/dir' };
  const cases: Array<[string[], unknown]> = [
    [[], env],
    [['--url', 'http://flag:2'], { url: 'http://flag:2', token: 'env-token', dataDir: '/env/dir' }],
    [['--token', 'flag-token'], { url: 'http://env:1', token: 'flag-token', dataDir: '/env/dir' }],
    [['--data-dir', '/flag/dir'], { url: undefined, token: undefined, dataDir: '/flag/dir' }],
  ];
  for (const [flags, want] of cases) {
    const h = harness({}, { env });
    t.equal(await h.run('node', 'list', ...flags), 0);
    t.same(h.sources, [want], flags.join(' ') || 'env only');
  }
});

t.test('app show without embedded tasks asks for them; shows the last failure', async (t) => {
  const failure = { appId: '/db', host: 'node-b', message: 'exited with 1', state: 'TASK_FAILED', taskId: 'db.9', timestamp: '2026-01-01T11:00:00.000Z', version: 'v1' };
  const h = harness({ getApp: async () => ({ app: { ...apps[1]!, tasks: undefined, lastTaskFailure: failure, portDefinitions: [{ port: 0 }, { port: 8080 }] } }) });
  t.equal(await h.run('app', 'show', '/db'), 0);
  t.same(h.calls, [['appTasks', '/db']]);
  t.match(h.stdout, /PORTS:\s+dynamic, 8080\n/);
  t.match(h.stdout, /LAST FAILURE:\s+FAILED db\.9 on node-b at 2026-01-01T11:00:00\.000Z: exited with 1\n/);
  t.match(h.stdout, /\nNo tasks\.\n$/);
});

t.test('empty lists say so', async (t) => {
  const h = harness({ listApps: async () => ({ apps: [] }), listNodes: async () => ({ nodes: [] }), listTasks: async () => ({ tasks: [] }) });
  t.equal(await h.run('app', 'list'), 0);
  t.equal(await h.run('node', 'list'), 0);
  t.equal(await h.run('task', 'list', '--app', '/db'), 0);
  t.equal(h.stdout, 'No apps. Create one with `corral app add FILE`.\nNo nodes.\nNo tasks of /db.\n');
});

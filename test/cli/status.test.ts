// `corral status`, `corral version` and `corral completion` against a fake client: what they ask,
// what they print; the completion scripts are run by a real bash.
import { spawnSync } from 'node:child_process';
import t from 'tap';
import pkg from '../../package.json';
import { buildProgram, runProgram, type CliClient, type CliDeps } from '../../src/cli/program';
import { fakeCliDeps } from './helpers/fake-deps';
import { registerUp } from '../../src/cli/up';
import { formatStatus, summarizeStatus, type StatusInputs } from '../../src/cli/status';
import { commandTree } from '../../src/cli/completion';
import { CorralError } from '../../src/shared/errors';

const node = (id: string, hostname: string, roles: string[], status: string, cpus: [number, number], mem: [number, number]) => ({
  id: id.repeat(64 / id.length),
  hostname,
  roles,
  status,
  resources: { cpus: cpus[1], mem: mem[1], disk: 0 },
  used: { cpus: cpus[0], mem: mem[0], disk: 0 },
  attributes: {},
  version: '0.1.0',
});

const nodes = [node('a', 'm1', ['master', 'agent', 'init', 'cron'], 'alive', [0.5, 2], [64, 2048]), node('b', 'a1', ['agent'], 'unreachable', [0, 4], [0, 4096])];
const tasks = [{ state: 'TASK_RUNNING' }, { state: 'TASK_RUNNING' }, { state: 'TASK_STAGING' }, { state: 'TASK_FAILED' }];
const apps = [{ id: '/web', instances: 3, tasksRunning: 2 }, { id: '/db', instances: 1, tasksRunning: 0 }];
const jobs = [{ name: 'j1', state: '1 running', status: 'fresh' }, { name: 'j2', state: 'idle', status: 'failure' }];

function harness(overrides: Record<string, () => Promise<unknown>> = {}) {
  const h = { stdout: '', stderr: '', calls: [] as string[] };
  const answer = (name: string, value: unknown) => async () => {
    h.calls.push(name);
    if (overrides[name]) return overrides[name]!();
    return value;
  };
  const client = {
    url: 'http://127.0.0.1:5050',
    info: answer('info', { name: 'corral', version: '0.1.0', leader: '127.0.0.1:5050' }),
    listNodes: answer('listNodes', { nodes }),
    listApps: answer('listApps', { apps }),
    listDeployments: answer('listDeployments', [{ id: 'd1' }]),
    listTasks: answer('listTasks', { tasks }),
    listJobs: answer('listJobs', { jobs }),
  } as unknown as CliClient;
  const deps = fakeCliDeps(h, client);
  const program = () => {
    const p = buildProgram(deps);
    registerUp(p);
    return p;
  };
  return { h, run: (...args: string[]) => runProgram(program(), args, deps) };
}

t.test('status summarises the API, nodes, resources, apps, deployments, tasks and jobs', async (t) => {
  const { h, run } = harness();
  t.equal(await run('status'), 0, h.stderr);
  t.same(h.calls.sort(), ['info', 'listApps', 'listDeployments', 'listJobs', 'listNodes', 'listTasks']);
  t.equal(
    h.stdout,
    [
      'Cluster:      http://127.0.0.1:5050, corral 0.1.0',
      'Leader:       127.0.0.1:5050',
      `Master node:  m1 (${'a'.repeat(12)})`,
      'Nodes:        2 (1 alive, 1 unreachable)',
      'Roles:        1 master, 2 agent, 1 init, 1 cron',
      'CPUs:         0.5 of 6 in use',
      'Memory:       64 of 6144 MiB in use',
      'Apps:         2, 2 of 4 instances running',
      'Deployments:  1 in progress',
      'Tasks:        2 running, 1 staging; 1 ended recently (1 failed)',
      'Jobs:         2, 1 running, 1 failing',
      `This CLI:     corral ${pkg.version} (commit dev)`,
      '',
    ].join('\n'),
  );
  const json = harness();
  t.equal(await json.run('--json', 'status'), 0);
  t.match(JSON.parse(json.h.stdout), { api: { url: 'http://127.0.0.1:5050', leader: '127.0.0.1:5050' }, nodes: { total: 2, byStatus: { alive: 1, unreachable: 1 } }, jobs: { total: 2, running: 1, failing: 1 }, cli: { version: pkg.version } });
});

t.test('status: a role that does not run is shown as such; other failures say why; an unreachable API fails', async (t) => {
  const notFound = async () => {
    throw new CorralError('NOT_FOUND', 'Route GET:/api/v1/jobs not found');
  };
  const { h, run } = harness({ listJobs: notFound, info: notFound, listDeployments: async () => { throw new CorralError('INTERNAL', 'boom'); } });
  t.equal(await run('status'), 0, h.stderr);
  t.match(h.stdout, /Jobs: +not running on this cluster/);
  t.match(h.stdout, /Deployments: +boom \(INTERNAL\)/);
  t.match(h.stdout, /Cluster: +http:\/\/127\.0\.0\.1:5050, corral 0\.1\.0\n/, 'the version comes from the nodes without /v2/info');
  t.notMatch(h.stdout, /Leader/);
  const down = harness({ listNodes: async () => { throw new CorralError('API_UNREACHABLE', 'Cannot reach the Corral API at http://127.0.0.1:5050'); } });
  t.equal(await down.run('status'), 1);
  t.match(down.h.stderr, /Cannot reach .* \(API_UNREACHABLE\)/);
});

t.test('status of an empty cluster', async (t) => {
  const s = summarizeStatus(
    { url: undefined, info: { ok: false, absent: true, reason: '' }, nodes: [], apps: { ok: true, value: [] }, deployments: { ok: true, value: [] }, tasks: { ok: true, value: [] }, jobs: { ok: true, value: [] } } satisfies StatusInputs,
    { version: '1.2.3', commit: 'abc' },
  );
  t.equal(formatStatus(s), ['Cluster:      the API', 'Nodes:        none registered', 'Apps:         none', 'Deployments:  none in progress', 'Tasks:        none live', 'Jobs:         none', 'This CLI:     corral 1.2.3 (commit abc)', ''].join('\n'));
});

t.test('version: version, commit and runtime; --json', async (t) => {
  const { h, run } = harness();
  t.equal(await run('version'), 0);
  t.equal(h.stdout, `Version:  ${pkg.version}\nCommit:   dev\nRuntime:  node ${process.version} ${process.platform}-${process.arch}\n`);
  t.same(h.calls, [], 'asks nothing of the API');
  const json = harness();
  await json.run('version', '--json');
  t.same(JSON.parse(json.h.stdout), { version: pkg.version, commit: 'dev', node: process.version, platform: process.platform, arch: process.arch, singleExecutable: false });
});

t.test('completion: the tree covers every command; bash completes commands, subcommands and options', async (t) => {
  const p = buildProgram({} as CliDeps);
  registerUp(p);
  const tree = commandTree(p);
  const top = tree.find((n) => n.path === '')!;
  for (const name of ['app', 'task', 'node', 'status', 'version', 'completion', 'up']) t.ok(top.commands.some((c) => c.name === name), name);
  t.ok(tree.find((n) => n.path === 'up')!.options.some((o) => o.flag === '--join'));
  t.ok(tree.find((n) => n.path === 'app:add')!.options.some((o) => o.flag === '--json'), 'global options complete everywhere');

  const { h, run } = harness();
  t.equal(await run('completion', 'bash'), 0, h.stderr);
  const script = h.stdout;
  const complete = (...words: string[]) => {
    const cword = words.length - 1;
    const r = spawnSync('bash', ['-c', `${script}\nCOMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${cword}; _corral_completion; printf '%s\\n' "\${COMPREPLY[@]}"`], { encoding: 'utf8' });
    t.equal(r.status, 0, r.stderr);
    return r.stdout.split('\n').filter(Boolean).sort();
  };
  t.same(complete('corral', 'sta'), ['status']);
  t.same(complete('corral', 'app', 'sc'), ['scale']);
  t.same(complete('corral', '--json', 'app', 'scale', '/web', '--f'), ['--force']);
  t.same(complete('corral', 'up', '--jo'), ['--join']);
  t.same(complete('corral', 'completion', ''), ['--data-dir', '--help', '--json', '--token', '--url']);
  const shellcheck = spawnSync('shellcheck', ['--version']);
  if (shellcheck.status === 0) {
    const r = spawnSync('shellcheck', ['-s', 'bash', '-'], { input: script, encoding: 'utf8' });
    t.equal(r.status, 0, `shellcheck: ${r.stdout}`);
  }

  const zsh = harness();
  t.equal(await zsh.run('completion', 'zsh'), 0);
  t.match(zsh.h.stdout, /^#compdef corral\n/);
  t.match(zsh.h.stdout, /\(app:scale\) cmds=\(\); opts=\('--force:/);
  // With zsh at hand: the function, run with stand-ins for compsys's _describe and _files, offers
  // the subcommands of the path typed so far (zsh itself filters them by the prefix).
  const zshRun = (...words: string[]) =>
    spawnSync('zsh', ['-c', `compdef() { :; }; _describe() { print -l -- "\${(@P)4}"; }; _files() { print files; }; eval "$SCRIPT"; words=(${words.map((w) => `'${w}'`).join(' ')}); CURRENT=${words.length}; _corral`], {
      encoding: 'utf8',
      env: { ...process.env, SCRIPT: zsh.h.stdout },
    });
  const probe = zshRun('corral', 'app', 'sc');
  if (probe.error === undefined) {
    t.equal(probe.status, 0, probe.stderr);
    t.match(probe.stdout, /^scale:set the number of instances$/m);
    t.notMatch(probe.stdout, /^status:/m, 'only the subcommands of app');
    t.match(zshRun('corral', '--json', 'up', '--jo').stdout, /^--join:masters' cluster addresses/m);
  }

  const bad = harness();
  t.equal(await bad.run('completion', 'fish'), 1);
  t.match(bad.h.stderr, /no completion for 'fish': choose bash or zsh \(INVALID_REQUEST\)/);
});

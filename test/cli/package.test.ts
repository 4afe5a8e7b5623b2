// `corral package ...` against a fake client: what each command asks the API, what it prints
// (tables, notes, --json), and how bad input fails.
import { resolve } from 'node:path';
import t from 'tap';
import { buildProgram, runProgram, type CliClient } from '../../src/cli/program';
import { fakeCliDeps } from './helpers/fake-deps';
import type { PackageClient } from '../../src/cli/package';
import { CorralError } from '../../src/shared/errors';

const DESCRIPTION = {
  packagingVersion: '4.0',
  name: 'redis',
  version: '7.0-1',
  releaseVersion: 0,
  maintainer: 'm',
  description: 'Redis',
  tags: ['db'],
  preInstallNotes: 'Data lives in the sandbox.',
  postInstallNotes: 'redis-cli ping answers PONG.',
  config: { type: 'object', properties: { redis: { type: 'object' } } },
  marathon: { v2AppMustacheTemplate: 'e30=' },
  corral: { requires: { commands: ['redis-server'] } },
};

function harness(over: Partial<PackageClient> = {}) {
  const h = { stdout: '', stderr: '', calls: [] as unknown[][] };
  const record = <T>(name: string, value: T) => async (...args: unknown[]) => {
    h.calls.push([name, ...args]);
    return value;
  };
  const fake: PackageClient = {
    searchPackages: record('searchPackages', { packages: [{ name: 'redis', currentVersion: '7.0-1', versions: { '7.0-1': '0' }, description: 'Redis in-memory store', framework: false, tags: [], selected: true, repository: 'Universe' }] }),
    describePackage: record('describePackage', { package: DESCRIPTION }),
    packageVersions: record('packageVersions', { results: { '7.0-1': '0' } }),
    renderPackage: record('renderPackage', { marathonJson: { id: '/redis', cmd: 'redis-server' } }),
    installPackage: record('installPackage', { packageName: 'redis', packageVersion: '7.0-1', appId: '/redis', deploymentId: 'dep-1', preInstallNotes: 'Data lives in the sandbox.', postInstallNotes: 'redis-cli ping answers PONG.' }),
    uninstallPackage: record('uninstallPackage', { results: [{ packageName: 'redis', appId: '/redis', packageVersion: '7.0-1', postUninstallNotes: 'Gone.' }] }),
    listPackages: record('listPackages', { packages: [{ appId: '/redis', packageInformation: { packageDefinition: { name: 'redis', version: '7.0-1' } } }, { appId: null, jobName: 'backup', packageInformation: { packageDefinition: { name: 'sqlite-backup', version: '1.0-1' } } }] }),
    listRepositories: record('listRepositories', { repositories: [{ name: 'Universe', uri: 'builtin:packages-universe' }] }),
    addRepository: record('addRepository', { repositories: [{ name: 'mine', uri: 'http://r/x.json' }, { name: 'Universe', uri: 'builtin:packages-universe' }] }),
    removeRepository: record('removeRepository', { repositories: [] }),
    ...over,
  };
  const deps = fakeCliDeps(h, fake as unknown as CliClient, { files: { 'opts.json': '{"redis": {"port": 16379}}', 'bad.json': '{nope' }, stdin: '{"service": {"name": "cache"}}' });
  const run = (...args: string[]) => runProgram(buildProgram(deps), args, deps);
  return { h, run };
}

t.test('search, describe (text, --config, --render) and list', async (t) => {
  let { h, run } = harness();
  t.equal(await run('package', 'search', 'red*'), 0);
  t.same(h.calls, [['searchPackages', 'red*']]);
  t.match(h.stdout, /NAME\s+VERSION\s+REPOSITORY\s+DESCRIPTION\nredis\s+7\.0-1\s+Universe\s+Redis in-memory store/);

  ({ h, run } = harness());
  t.equal(await run('package', 'describe', 'redis'), 0);
  t.match(h.stdout, /Name:\s+redis/);
  t.match(h.stdout, /Needs:\s+redis-server/);
  t.match(h.stdout, /Before installing: Data lives in the sandbox\./);
  ({ h, run } = harness());
  t.equal(await run('package', 'describe', 'redis', '--config', '--package-version', '7.0-1'), 0);
  t.same(h.calls, [['describePackage', 'redis', '7.0-1']]);
  t.same(JSON.parse(h.stdout), DESCRIPTION.config, '--config prints the options schema');
  ({ h, run } = harness());
  t.equal(await run('package', 'describe', 'redis', '--render', '--options', 'opts.json', '--app-id', '/c'), 0);
  t.same(h.calls, [['renderPackage', { packageName: 'redis', options: { redis: { port: 16379 } }, appId: '/c' }]]);
  t.same(JSON.parse(h.stdout), { id: '/redis', cmd: 'redis-server' }, '--render prints the app');
  ({ h, run } = harness());
  t.equal(await run('--json', 'package', 'describe', 'redis'), 0);
  t.match(JSON.parse(h.stdout), { package: { name: 'redis' }, versions: { '7.0-1': '0' } });

  ({ h, run } = harness());
  t.equal(await run('package', 'list'), 0);
  t.match(h.stdout, /NAME\s+VERSION\s+APP\s+JOB\nredis\s+7\.0-1\s+\/redis\s+-\nsqlite-backup\s+1\.0-1\s+-\s+backup/);
});

t.test('install and uninstall print the notes; options from a file or stdin', async (t) => {
  let { h, run } = harness();
  t.equal(await run('package', 'install', 'redis', '--options', 'opts.json', '--package-version', '7.0-1', '--app-id', '/cache', '--yes'), 0);
  t.same(h.calls, [['installPackage', { packageName: 'redis', packageVersion: '7.0-1', options: { redis: { port: 16379 } }, appId: '/cache' }]]);
  t.equal(h.stdout, 'Data lives in the sandbox.\nInstalled package redis 7.0-1 as app /redis (deployment dep-1).\nredis-cli ping answers PONG.\n', 'pre-install notes, what was installed, post-install notes');
  ({ h, run } = harness());
  t.equal(await run('package', 'install', 'redis', '--options', '-'), 0);
  t.match(h.calls, [['installPackage', { options: { service: { name: 'cache' } } }]]);
  ({ h, run } = harness());
  t.equal(await run('--json', 'package', 'install', 'redis'), 0);
  t.match(JSON.parse(h.stdout), { appId: '/redis' });

  ({ h, run } = harness());
  t.equal(await run('package', 'uninstall', 'redis', '--all'), 0);
  t.same(h.calls, [['uninstallPackage', { packageName: 'redis', all: true }]]);
  t.equal(h.stdout, 'Uninstalled package redis 7.0-1 (app /redis).\nGone.\n');
  ({ h, run } = harness());
  t.equal(await run('package', 'uninstall', 'redis', '--all', '--app-id', '/x'), 1);
  t.match(h.stderr, /either --app-id or --all.*INVALID_REQUEST/);
});

t.test('repo add (a path made absolute), list and remove', async (t) => {
  let { h, run } = harness();
  t.equal(await run('package', 'repo', 'add', 'mine', 'http://r/x.json', '--index', '0'), 0);
  t.same(h.calls, [['addRepository', 'mine', 'http://r/x.json', 0]]);
  t.match(h.stdout, /Added repository mine\.\nPRIORITY\s+NAME\s+URI\n0\s+mine\s+http:\/\/r\/x\.json\n1\s+Universe/);
  ({ h, run } = harness());
  t.equal(await run('package', 'repo', 'add', 'local', 'some/dir'), 0);
  t.same(h.calls, [['addRepository', 'local', resolve('some/dir'), undefined]]);
  ({ h, run } = harness());
  t.equal(await run('package', 'repo', 'add', 'x', 'u', '--index', '-1'), 2, 'a bad index is a usage error');
  ({ h, run } = harness());
  t.equal(await run('package', 'repo', 'list'), 0);
  t.match(h.stdout, /0\s+Universe\s+builtin:packages-universe/);
  ({ h, run } = harness());
  t.equal(await run('package', 'repo', 'remove', 'Universe'), 0);
  t.same(h.calls, [['removeRepository', 'Universe']]);
});

t.test('errors: the API code is printed, with the option path', async (t) => {
  const { h, run } = harness({
    installPackage: async () => {
      throw new CorralError('PACKAGE_OPTIONS_INVALID', 'Options for redis 7.0-1 break its config schema: /redis/port must be integer', [{ path: '/redis/port', errors: ['must be integer'] }]);
    },
  });
  t.equal(await run('package', 'install', 'redis'), 1);
  t.equal(h.stderr, 'error: Options for redis 7.0-1 break its config schema: /redis/port must be integer (PACKAGE_OPTIONS_INVALID)\n  /redis/port: must be integer\n');
  const bad = harness();
  t.equal(await bad.run('package', 'install', 'redis', '--options', 'bad.json'), 1);
  t.match(bad.h.stderr, /INVALID_JSON/);
  t.same(bad.h.calls, [], 'nothing asked of the API');
  const missing = harness();
  t.equal(await missing.run('package', 'install', 'redis', '--options', 'nope.json'), 1);
  t.match(missing.h.stderr, /FILE_UNREADABLE/);
});

// `corral app versions` and `corral app rollback` against a fake client: what they ask the API, what
// they print, and how they fail.
import t from 'tap';
import type { App } from '../../src/client';
import { buildProgram, runProgram, type CliClient } from '../../src/cli/program';
import { fakeCliDeps } from './helpers/fake-deps';
import { CorralError } from '../../src/shared/errors';

const V1 = '2026-01-01T10:00:00.000Z';
const V2 = '2026-01-02T10:00:00.000Z';
const V3 = '2026-01-03T10:00:00.000Z';

interface Harness {
  stdout: string;
  stderr: string;
  calls: unknown[][];
  run(...args: string[]): Promise<number>;
}

function harness(versions: string[], current: string | undefined, over: Partial<CliClient> = {}): Harness {
  const h: Harness = { stdout: '', stderr: '', calls: [], run: async () => 0 };
  // The methods these tests use; the other commands' methods are left out (a partial fake).
  const fake = {
    getApp: async (id) => {
      h.calls.push(['getApp', id]);
      return { app: { id: '/shop/web', instances: 1, cpus: 1, mem: 128, disk: 0, ...(current ? { version: current } : {}) } as App };
    },
    appVersions: async (id) => {
      h.calls.push(['appVersions', id]);
      return { versions };
    },
    rollbackApp: async (id, version, opts) => {
      h.calls.push(['rollbackApp', id, version, opts]);
      return { deploymentId: 'dep-9', version: '2026-01-04T10:00:00.000Z' };
    },
    ...over,
  } as CliClient;
  const deps = fakeCliDeps(h, fake, { now: Date.parse(V3) });
  h.run = (...args) => runProgram(buildProgram(deps), args, deps);
  return h;
}

t.test('app versions: a table, newest first, marking the current version', async (t) => {
  const h = harness([V3, V2, V1], V3);
  t.equal(await h.run('app', 'versions', 'shop/web'), 0);
  t.equal(h.stdout, `VERSION                   CURRENT\n${V3}  yes\n${V2}\n${V1}\n`);
  t.equal(h.stderr, '');

  const json = harness([V3, V2, V1], V3);
  t.equal(await json.run('app', 'versions', '/shop/web', '--json'), 0);
  t.same(JSON.parse(json.stdout), { versions: [V3, V2, V1] }, "the API's answer");
  t.same(json.calls, [['appVersions', '/shop/web']], 'no second call with --json');
});

t.test('app rollback goes to the version before the current one by default', async (t) => {
  const h = harness([V3, V2, V1], V3);
  t.equal(await h.run('app', 'rollback', 'shop/web'), 0);
  t.same(h.calls.find((c) => c[0] === 'rollbackApp'), ['rollbackApp', 'shop/web', V2, { force: false }]);
  t.equal(h.stdout, `Rolling back app /shop/web to version ${V2} (deployment dep-9).\n`);

  // After a rollback the current version is the newest; "previous" is the one before it in time.
  const toggled = harness([V3, V2, V1], V3);
  await toggled.run('app', 'rollback', 'shop/web', '--force', '--json');
  t.same(toggled.calls.at(-1), ['rollbackApp', 'shop/web', V2, { force: true }]);
  t.same(JSON.parse(toggled.stdout), { deploymentId: 'dep-9', version: '2026-01-04T10:00:00.000Z' });
});

t.test('app rollback --to goes straight to that version', async (t) => {
  const h = harness([V3, V2, V1], V3);
  t.equal(await h.run('app', 'rollback', '/shop/web', '--to', V1), 0);
  t.same(h.calls, [['rollbackApp', '/shop/web', V1, { force: false }]], 'no lookups needed');
  t.match(h.stdout, `to version ${V1}`);
});

t.test('app rollback without an earlier version, or to an unknown one, fails with a code', async (t) => {
  const only = harness([V1], V1);
  t.equal(await only.run('app', 'rollback', 'shop/web'), 1);
  t.equal(only.stderr, `error: App '/shop/web' has no version before ${V1} to roll back to; \`corral app versions /shop/web\` lists what is kept (APP_VERSION_NOT_FOUND)\n`);
  t.notOk(only.calls.some((c) => c[0] === 'rollbackApp'), 'nothing was asked of the API');

  const unknown = harness([V3], V3, { rollbackApp: async () => Promise.reject(new CorralError('APP_VERSION_NOT_FOUND', "App '/shop/web' does not exist in version 2000-01-01T00:00:00.000Z")) });
  t.equal(await unknown.run('app', 'rollback', 'shop/web', '--to', '2000-01-01T00:00:00.000Z'), 1);
  t.equal(unknown.stderr, "error: App '/shop/web' does not exist in version 2000-01-01T00:00:00.000Z (APP_VERSION_NOT_FOUND)\n");

  const noApp = harness([], undefined, { appVersions: async () => Promise.reject(new CorralError('APP_NOT_FOUND', "App '/x' does not exist")) });
  t.equal(await noApp.run('app', 'versions', 'x'), 1);
  t.equal(noApp.stderr, "error: App '/x' does not exist (APP_NOT_FOUND)\n");
});

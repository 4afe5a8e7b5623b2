// The pure cores of the package manager: Universe's packaging rules (3.0 and 4.0), the directory
// layout and repo index (and their round trip), the renderer (defaults, option errors with paths,
// Mustache without escaping, invalid output, labels, app id, jobs), feasibility, and every
// built-in package rendering with its defaults to a valid app or job.
import { chmodSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { detectCommands } from '../../src/kernel/agent/commands';
import { builtinFiles } from '../../src/pkg/builtin';
import { resolvePackage, searchPackages, type CatalogView } from '../../src/pkg/catalog';
import { checkFeasibility } from '../../src/pkg/feasibility';
import { packageJsonDetails, requiredCommands } from '../../src/pkg/format';
import { renderPackage, renderTemplate, schemaDefaults } from '../../src/pkg/render';
import { buildRepoIndex, loadLayout, mapFiles, parseRepoIndex } from '../../src/pkg/repo-layout';
import { PACKAGE_LABELS, type PackageRevision } from '../../src/pkg/types';
import { CorralError } from '../../src/shared/errors';
import { DEMO_PACKAGE, demoRepoFiles } from './helpers/fixtures';

const codeOf = (fn: () => unknown): { code: string; details: unknown; message: string } => {
  try {
    fn();
  } catch (err) {
    if (err instanceof CorralError) return { code: err.code, details: err.details, message: err.message };
    throw err;
  }
  throw new Error('did not throw');
};

t.test('package.json: the rules of packagingVersion 3.0 and 4.0', async (t) => {
  const base = { ...DEMO_PACKAGE, packagingVersion: '3.0', corral: undefined };
  delete (base as Record<string, unknown>).corral;
  const cases: Array<[string, unknown, Array<{ path: string }>]> = [
    ['a valid 3.0 package', base, []],
    ['a valid 4.0 package with upgradesFrom', { ...base, packagingVersion: '4.0', upgradesFrom: ['0.9.0'], downgradesTo: ['*'] }, []],
    ['upgradesFrom is a 4.0 field', { ...base, upgradesFrom: ['0.9.0'] }, [{ path: '/upgradesFrom' }]],
    ['command is a 3.0 field', { ...base, packagingVersion: '4.0', command: { pip: [] } }, [{ path: '/command' }]],
    ['a missing maintainer and tags', { ...base, maintainer: undefined, tags: undefined }, [{ path: '/maintainer' }, { path: '/tags' }]],
    ['an upper-case name', { ...base, name: 'Redis' }, [{ path: '/name' }]],
    ['a name ending in a dash', { ...base, name: 'redis-' }, [{ path: '/name' }]],
    ['an unknown packagingVersion', { ...base, packagingVersion: '2.0' }, [{ path: '/packagingVersion' }]],
    ['no packagingVersion', { ...base, packagingVersion: undefined }, [{ path: '/packagingVersion' }]],
    ['a tag with a space', { ...base, tags: ['two words'] }, [{ path: '/tags/0' }]],
    ['a bad corral extension', { ...base, corral: { requires: { commands: ['rm -rf'] } } }, [{ path: '/corral/requires/commands/0' }]],
    ['not an object', [], [{ path: '/' }]],
  ];
  for (const [what, input, want] of cases) {
    const clean = JSON.parse(JSON.stringify(input)) as unknown;
    t.match(packageJsonDetails(clean), want, what);
    t.equal(packageJsonDetails(clean).length, want.length, `${what}: exactly these problems`);
  }
});

t.test('a directory layout loads, and its repo index round-trips', async (t) => {
  const revisions = loadLayout(mapFiles(demoRepoFiles()));
  t.same(revisions.map((r) => `${r.metadata.name}@${r.metadata.version}#${r.releaseVersion}`).sort(), ['demo-job@1.0.0#0', 'demo@1.0.0#0', 'demo@1.1.0#1']);
  const index = JSON.parse(JSON.stringify(buildRepoIndex(revisions)));
  const entry = index.packages.find((p: { name: string; releaseVersion: number }) => p.name === 'demo' && p.releaseVersion === 0);
  t.equal(Buffer.from(entry.marathon.v2AppMustacheTemplate, 'base64').toString(), revisions.find((r) => r.metadata.name === 'demo')!.marathonTemplate, 'the template is base64 in the index');
  t.ok(index.packages.some((p: { chronos?: unknown }) => p.chronos), 'a job template travels as chronos.v1JobMustacheTemplate');
  t.same(parseRepoIndex(index, 'test'), [...revisions].sort((a, b) => a.metadata.name.localeCompare(b.metadata.name) || a.releaseVersion - b.releaseVersion), 'index → revisions gives back what the directory held');
});

t.test('broken layouts and indexes are refused with the place to fix', async (t) => {
  t.match(codeOf(() => loadLayout(mapFiles({ 'README.md': 'x' }))), { code: 'REPOSITORY_INVALID' }, 'no packages/ directory');
  t.match(codeOf(() => loadLayout(mapFiles(demoRepoFiles({ 'packages/D/demo/0/config.json': '{nope' })))), { code: 'PACKAGE_INVALID', details: [{ path: '/config.json' }] });
  t.match(codeOf(() => loadLayout(mapFiles(demoRepoFiles({ 'packages/D/demo/0/package.json': JSON.stringify({ ...DEMO_PACKAGE, name: 'other' }) })))), {
    code: 'PACKAGE_INVALID',
    details: [{ path: '/package.json/name' }],
  });
  t.match(codeOf(() => loadLayout(mapFiles({ 'packages/X/demo/0/package.json': JSON.stringify(DEMO_PACKAGE), 'packages/X/demo/0/marathon.json.mustache': '{}' }))), { code: 'PACKAGE_INVALID' }, 'the letter directory must match');
  t.match(codeOf(() => loadLayout(mapFiles({ 'packages/D/demo/0/package.json': JSON.stringify(DEMO_PACKAGE) }))), { code: 'PACKAGE_INVALID', details: [{ path: '/marathon.json.mustache' }] }, 'a package needs a template');
  t.match(codeOf(() => loadLayout(mapFiles(demoRepoFiles({ 'packages/D/demo/0/config.json': JSON.stringify({ type: 'nonsense' }) })))), { code: 'PACKAGE_INVALID', details: [{ path: '/config.json' }] });
  t.match(codeOf(() => parseRepoIndex({ hello: 'world' }, 'x')), { code: 'REPOSITORY_INVALID' }, 'not {"packages": [...]}');
  t.match(codeOf(() => parseRepoIndex({ packages: [{ ...DEMO_PACKAGE, name: 'Bad' }] }, 'x')), { code: 'REPOSITORY_INVALID', details: [{ path: '/packages/0/package.json/name' }] });
});

const demo = (): PackageRevision => loadLayout(mapFiles(demoRepoFiles())).find((r) => r.metadata.name === 'demo' && r.releaseVersion === 0)!;
const demoJob = (): PackageRevision => loadLayout(mapFiles(demoRepoFiles())).find((r) => r.metadata.name === 'demo-job')!;

t.test('rendering: defaults, user options merged, no HTML escaping, labels, app id', async (t) => {
  t.same(schemaDefaults(demo().config), { service: { name: 'demo', instances: 1 }, demo: { port: 0, greeting: 'hi & <bye>' } });
  const plain = renderPackage({ revision: demo(), source: 'builtin:x' });
  t.equal(plain.app!.id, '/demo');
  t.equal(plain.app!.cmd, "echo 'hi & <bye>' && sleep 1000", 'values go in as given: no &amp; or &lt;');
  t.equal(plain.app!.labels.custom, 'yes', "the template's own labels stay");
  t.match(plain.app!.labels, { [PACKAGE_LABELS.name]: 'demo', [PACKAGE_LABELS.version]: '1.0.0', [PACKAGE_LABELS.source]: 'builtin:x' });
  t.same(JSON.parse(Buffer.from(plain.app!.labels[PACKAGE_LABELS.options]!, 'base64').toString()), {}, 'DCOS_PACKAGE_OPTIONS: the options the user gave');
  t.match(JSON.parse(Buffer.from(plain.app!.labels[PACKAGE_LABELS.definition]!, 'base64').toString()), { name: 'demo', version: '1.0.0', marathon: {} }, 'DCOS_PACKAGE_DEFINITION: the package');

  const custom = renderPackage({ revision: demo(), source: 's', options: { service: { instances: 3 }, demo: { port: 12000 } }, appId: '/team/demo2' });
  t.equal(custom.app!.instances, 3, 'a nested option overrides its default');
  t.equal(custom.app!.portDefinitions[0]!.port, 12000);
  t.equal(custom.options.demo && (custom.options.demo as { greeting: string }).greeting, 'hi & <bye>', 'siblings keep their defaults');
  t.equal(custom.app!.id, '/team/demo2', 'the app id overrides the rendered id');

  t.equal(renderTemplate('{{a}} {{{a}}} {{&a}}', { a: '"<x>"' }), '"<x>" "<x>" "<x>"');
});

t.test('rendering: bad options and bad templates are clear errors with paths', async (t) => {
  t.match(codeOf(() => renderPackage({ revision: demo(), source: 's', options: { demo: { port: 70000 } } })), { code: 'PACKAGE_OPTIONS_INVALID', details: [{ path: '/demo/port' }] });
  t.match(codeOf(() => renderPackage({ revision: demo(), source: 's', options: { service: { instance: 2 } } })), { code: 'PACKAGE_OPTIONS_INVALID', details: [{ path: '/service/instance' }] }, 'an unknown option is named');
  t.match(codeOf(() => renderPackage({ revision: demo(), source: 's', options: { demo: { greeting: 5 } } })), { code: 'PACKAGE_OPTIONS_INVALID', details: [{ path: '/demo/greeting' }], message: /\/demo\/greeting/ });
  t.match(codeOf(() => renderPackage({ revision: demo(), source: 's', options: [1] })), { code: 'PACKAGE_OPTIONS_INVALID', details: [{ path: '/' }] });
  t.match(codeOf(() => renderPackage({ revision: demo(), source: 's', options: { demo: { greeting: 'say "hi"' } } })), { code: 'PACKAGE_RENDER_FAILED', details: [{ path: '/marathon.json.mustache' }] }, 'a quote in a value breaks the JSON, as in Cosmos');
  const broken = { ...demo(), marathonTemplate: '{"id": "x", "cmd": ' };
  t.match(codeOf(() => renderPackage({ revision: broken, source: 's' })), { code: 'PACKAGE_RENDER_FAILED', details: [{ path: '/marathon.json.mustache', errors: [/invalid JSON/] }] });
  const notApp = { ...demo(), marathonTemplate: '{"id": "x", "instances": -1}' };
  t.match(codeOf(() => renderPackage({ revision: notApp, source: 's' })), { code: 'PACKAGE_RENDER_FAILED', details: [{ path: '/marathon.json.mustache/instances' }] }, 'the result is validated as an app');
  const array = { ...demo(), marathonTemplate: '[1]' };
  t.match(codeOf(() => renderPackage({ revision: array, source: 's' })), { code: 'PACKAGE_RENDER_FAILED' });
  t.match(codeOf(() => renderPackage({ revision: demo(), source: 's', appId: '/Bad_Id' })), { code: 'PACKAGE_RENDER_FAILED', details: [{ path: '/marathon.json.mustache/id' }] });
});

t.test('rendering a job package: the Chronos job is checked', async (t) => {
  const r = renderPackage({ revision: demoJob(), source: 's', options: { job: { word: 'tock' } } });
  t.equal(r.app, undefined, 'no app');
  t.match(r.job, { name: 'demo-job', command: 'echo tock', schedule: 'R/2026-01-01T00:00:00Z/PT1H' });
  const bad = { ...demoJob(), chronosTemplate: '{"name": "bad name!", "command": ""}' };
  t.match(codeOf(() => renderPackage({ revision: bad, source: 's' })), { code: 'PACKAGE_RENDER_FAILED', details: [{ path: '/chronos.json.mustache/name' }, { path: '/chronos.json.mustache/command' }, { path: '/chronos.json.mustache/schedule' }] });
});

t.test('feasibility: the package needs commands some available agent has', async (t) => {
  const agents = [
    { hostname: 'a.example', commands: ['sh', 'redis-server', 'redis-cli'], available: true },
    { hostname: 'b.example', commands: ['sh'], available: true },
    { hostname: 'c.example', commands: ['sh', 'redis-server', 'redis-cli'], available: false },
  ];
  t.same(checkFeasibility('redis', ['redis-server', 'redis-cli'], agents), { capable: ['a.example'], constraint: ['hostname', 'LIKE', 'a\\.example'] }, 'kept on the agents that have them');
  t.same(checkFeasibility('x', ['sh'], agents), { capable: ['a.example', 'b.example'], constraint: undefined }, 'every agent can: no constraint');
  t.same(checkFeasibility('x', [], []), { capable: [], constraint: undefined }, 'no requirement: nothing to check');
  t.match(codeOf(() => checkFeasibility('nginx', ['nginx'], agents)), { code: 'PACKAGE_INFEASIBLE', message: /missing command: nginx/ });
  t.match(codeOf(() => checkFeasibility('x', ['redis-server', 'zsh'], [{ hostname: 'z', commands: ['zsh'], available: true }, ...agents])), { code: 'PACKAGE_INFEASIBLE', message: /no single agent has all/ });
  t.match(codeOf(() => checkFeasibility('x', ['sh'], [])), { code: 'PACKAGE_INFEASIBLE', message: /no agent is available/ });
  t.match(codeOf(() => checkFeasibility('x', ['sh'], [{ hostname: 'old', commands: undefined, available: true }])), { code: 'PACKAGE_INFEASIBLE' }, 'an agent that does not advertise commands has none');
});

t.test('catalog: first repository wins, newest release by default, wildcards in search', async (t) => {
  const demoRevs = loadLayout(mapFiles(demoRepoFiles()));
  const view: CatalogView = {
    repositories: [
      { repository: { name: 'first', uri: 'u1' }, revisions: demoRevs.filter((r) => r.releaseVersion === 0) },
      { repository: { name: 'second', uri: 'u2' }, revisions: demoRevs },
    ],
    failures: [],
  };
  t.equal(resolvePackage(view, 'demo').repository.name, 'first');
  t.equal(resolvePackage(view, 'demo').revision.metadata.version, '1.0.0', 'the first repository has only 1.0.0');
  t.match(codeOf(() => resolvePackage(view, 'demo', '1.1.0')), { code: 'PACKAGE_VERSION_NOT_FOUND' }, 'a name belongs to its first repository');
  t.match(codeOf(() => resolvePackage(view, 'nope')), { code: 'PACKAGE_NOT_FOUND' });
  t.same(searchPackages(view, 'de*').map((p) => p.name), ['demo', 'demo-job']);
  t.same(searchPackages(view, 'JOB').map((p) => p.name), ['demo-job'], 'case-insensitive, description and tags too');
  t.same(searchPackages(view, 'zzz'), []);
  const failing = { repositories: [], failures: [new CorralError('REPOSITORY_UNREACHABLE', 'down')] };
  t.match(codeOf(() => resolvePackage(failing, 'demo')), { code: 'REPOSITORY_UNREACHABLE' }, 'an unreadable repository is named rather than "not found"');
});

t.test('packages-universe: at least eight packages, each valid, each rendering with its defaults', async (t) => {
  const revisions = loadLayout(builtinFiles());
  const names = revisions.map((r) => r.metadata.name).sort();
  t.ok(names.length >= 8, `${names.length} packages: ${names.join(', ')}`);
  for (const want of ['redis', 'nginx', 'memcached', 'prometheus', 'prometheus-node-exporter', 'hello-world', 'sqlite-backup', 'sandbox-log-cleaner']) t.ok(names.includes(want), want);
  for (const rev of revisions) {
    const r = renderPackage({ revision: rev, source: 'builtin:packages-universe', context: { apiUrl: 'http://127.0.0.1:5050', prometheusSdUrl: 'http://127.0.0.1:5050/api/v1/discovery/prometheus', agentCount: 2 } });
    t.ok(r.app ?? r.job, `${rev.metadata.name} renders`);
    t.ok(requiredCommands(rev.metadata).length > 0, `${rev.metadata.name} declares the commands it needs`);
    t.ok(rev.config && Object.keys(schemaDefaults(rev.config) as object).length > 0, `${rev.metadata.name} has a config schema with defaults`);
    if (r.app) t.ok((r.app.healthChecks ?? []).length > 0, `${rev.metadata.name} has a health check`);
  }
  const exporter = renderPackage({ revision: revisions.find((r) => r.metadata.name === 'prometheus-node-exporter')!, source: 's', context: { agentCount: 3 } });
  t.equal(exporter.app!.instances, 3, 'the node exporter runs on every capable agent');
  t.same(exporter.app!.constraints, [['hostname', 'UNIQUE']]);
  const prom = renderPackage({ revision: revisions.find((r) => r.metadata.name === 'prometheus')!, source: 's', context: { prometheusSdUrl: 'http://h:1/api/v1/discovery/prometheus' } });
  t.equal(prom.app!.env.SD_URL, 'http://h:1/api/v1/discovery/prometheus', "Prometheus discovers targets at Corral's SD endpoint");
  const redis = renderPackage({ revision: revisions.find((r) => r.metadata.name === 'redis')!, source: 's', options: { redis: { port: 16379 } } });
  t.match(redis.app, { requirePorts: true, portDefinitions: [{ port: 16379 }] }, 'a fixed port is required as the host port');
});

t.test('an agent advertises the executables on its PATH directories', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-commands-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'tool'), '#!/bin/sh\n');
  chmodSync(join(dir, 'tool'), 0o755);
  writeFileSync(join(dir, 'readme'), 'not executable');
  symlinkSync(join(dir, 'tool'), join(dir, 'alias'));
  symlinkSync(join(dir, 'missing'), join(dir, 'dangling'));
  t.same(detectCommands([dir, join(dir, 'absent')]), ['alias', 'tool'], 'executables and links to them; not plain files, dangling links or absent directories');
  t.ok(detectCommands().includes('sh'), 'this host has sh');
});

// The config loader: precedence flags > CORRAL_* env > file > defaults, clear errors, frozen result.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { loadDaemonConfig, taskBaseEnv } from '../../src/shared/config';

const dir = mkdtempSync(join(tmpdir(), 'corral-config-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

t.test('defaults: dev vs installed data dir, all roles, 127.0.0.1:5050', async (t) => {
  const dev = loadDaemonConfig({ flags: {}, roleFlags: [], env: {}, installed: false });
  t.equal(dev.dataDir, './.corral');
  t.same(dev.roles, ['master', 'agent', 'init', 'cron', 'discovery']);
  t.equal(dev.listenHost, '127.0.0.1');
  t.equal(dev.listenPort, 5050);
  t.same([dev.portRangeStart, dev.portRangeEnd], [10000, 20000]);
  t.ok(Object.isFrozen(dev), 'frozen');
  const installed = loadDaemonConfig({ flags: { dataDir: undefined }, roleFlags: [], env: {}, installed: true });
  t.equal(installed.dataDir, '/var/lib/corral');
});

t.test('precedence: flags > env > file > defaults', async (t) => {
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ listen: '127.0.0.1:7000', logLevel: 'debug', killGraceSeconds: 9, portRange: '3000-3100', roles: ['master'] }));
  const fileOnly = loadDaemonConfig({ flags: { dataDir: dir }, roleFlags: [], env: {}, installed: false });
  t.match(fileOnly, { listenPort: 7000, logLevel: 'debug', killGraceSeconds: 9, portRangeStart: 3000, portRangeEnd: 3100, roles: ['master'] });
  const env = { CORRAL_LISTEN: '0.0.0.0:7001', CORRAL_LOG_LEVEL: 'warn', CORRAL_ROLES: 'master,agent' };
  const withEnv = loadDaemonConfig({ flags: { dataDir: dir }, roleFlags: [], env, installed: false });
  t.match(withEnv, { listenHost: '0.0.0.0', listenPort: 7001, logLevel: 'warn', killGraceSeconds: 9, roles: ['master', 'agent'] });
  const withFlags = loadDaemonConfig({ flags: { dataDir: dir, listen: '[::1]:7002' }, roleFlags: ['master', 'init'], env, installed: false });
  t.match(withFlags, { listenHost: '::1', listenPort: 7002, logLevel: 'warn', roles: ['master', 'init'] });
  const viaEnvDir = loadDaemonConfig({ flags: {}, roleFlags: [], env: { CORRAL_DATA_DIR: dir }, installed: false });
  t.equal(viaEnvDir.listenPort, 7000, 'the file in the env-named data dir is read');
});

t.test('bad values get CONFIG_INVALID with a clear message', async (t) => {
  const cases: Array<[string, Parameters<typeof loadDaemonConfig>[0], RegExp]> = [
    ['listen without port', { flags: { listen: 'localhost' }, roleFlags: [], env: {}, installed: false }, /HOST:PORT/],
    ['port out of range', { flags: { listen: '127.0.0.1:70000' }, roleFlags: [], env: {}, installed: false }, /listen port/],
    ['reversed port range', { flags: { portRange: '20-10' }, roleFlags: [], env: {}, installed: false }, /ends before it starts/],
    ['unknown role', { flags: {}, roleFlags: [], env: { CORRAL_ROLES: 'master,dns' }, installed: false }, /unknown role 'dns'/],
    ['bad log level', { flags: { logLevel: 'loud' }, roleFlags: [], env: {}, installed: false }, /log level/],
    ['negative cpus', { flags: {}, roleFlags: [], env: { CORRAL_AGENT_CPUS: '-1' }, installed: false }, /agent cpus/],
    ['missing config file', { flags: { config: join(dir, 'nope.json') }, roleFlags: [], env: {}, installed: false }, /cannot read config file/],
  ];
  for (const [name, src, message] of cases) {
    t.throws(() => loadDaemonConfig(src), { code: 'CONFIG_INVALID', message }, name);
  }
  writeFileSync(join(dir, 'bad.json'), '{"listen": ');
  t.throws(() => loadDaemonConfig({ flags: { config: join(dir, 'bad.json') }, roleFlags: [], env: {}, installed: false }), /not valid JSON/);
  writeFileSync(join(dir, 'unknown.json'), '{"colour": "blue"}');
  t.throws(() => loadDaemonConfig({ flags: { config: join(dir, 'unknown.json') }, roleFlags: [], env: {}, installed: false }), /unknown setting 'colour'/);
});

t.test('agent attributes: NAME=VALUE pairs from flag, env or file; strict', async (t) => {
  const load = (flags: Record<string, string>, env: Record<string, string> = {}) => loadDaemonConfig({ flags: { dataDir: join(dir, 'none'), ...flags }, roleFlags: [], env, installed: false });
  t.same(load({}).agentAttributes, {}, 'none by default');
  t.same(load({ agentAttributes: 'rack=r1,zone=a' }).agentAttributes, { rack: 'r1', zone: 'a' });
  t.same(load({ agentAttributes: ' rack=r1 , region=eu-west.1 ' }).agentAttributes, { rack: 'r1', region: 'eu-west.1' }, 'spaces around pairs are ignored');
  t.same(load({}, { CORRAL_ATTRIBUTES: 'zone=b' }).agentAttributes, { zone: 'b' }, 'CORRAL_ATTRIBUTES');
  t.same(load({ agentAttributes: 'zone=a' }, { CORRAL_ATTRIBUTES: 'zone=b,rack=r2' }).agentAttributes, { zone: 'a' }, 'the flag wins as a whole');
  t.ok(Object.isFrozen(load({ agentAttributes: 'zone=a' }).agentAttributes), 'frozen with the config');
  writeFileSync(join(dir, 'attrs.json'), JSON.stringify({ agentAttributes: { rack: 'r3', zone: 'c' } }));
  t.same(load({ config: join(dir, 'attrs.json') }).agentAttributes, { rack: 'r3', zone: 'c' }, 'an object in the config file');
  writeFileSync(join(dir, 'attrs-list.json'), JSON.stringify({ agentAttributes: ['rack=r4', 'zone=d'] }));
  t.same(load({ config: join(dir, 'attrs-list.json') }).agentAttributes, { rack: 'r4', zone: 'd' }, 'a list in the config file');
  const bad: Array<[string, RegExp]> = [
    ['', /must not be empty/],
    ['rack', /'rack' must be NAME=VALUE/],
    ['rack=r1,', /'' must be NAME=VALUE/],
    ['rack=r1,,zone=a', /'' must be NAME=VALUE/],
    ['rack=a=b', /'rack=a=b' must be NAME=VALUE/],
    ['=r1', /attribute name '' must be/],
    ['ra ck=r1', /attribute name 'ra ck' must be/],
    ['@zone=a', /attribute name '@zone' must be/],
    ['rack=', /attribute 'rack' needs a value/],
    ['rack=r 1', /attribute 'rack' needs a value/],
    ['rack=r1,rack=r2', /'rack' is given twice/],
    ['hostname=h1', /'hostname' is reserved/],
    ['{"rack": 1}', /attribute 'rack' needs a value/],
    ['{"rack": ', /attributes must be a JSON object/],
  ];
  for (const [raw, message] of bad) t.throws(() => load({ agentAttributes: raw }), { code: 'CONFIG_INVALID', message }, `'${raw}'`);
  t.throws(() => load({}, { CORRAL_ATTRIBUTES: 'zone' }), { code: 'CONFIG_INVALID', message: /must be NAME=VALUE/ }, 'from the environment too');
});

t.test('tasks inherit only a safe part of the environment', async (t) => {
  const env = taskBaseEnv({ PATH: '/bin', HOME: '/root', CORRAL_TOKEN: 'secret', AWS_SECRET_ACCESS_KEY: 'x' });
  t.same(env, { PATH: '/bin', HOME: '/root' });
  t.ok(taskBaseEnv({}).PATH, 'a default PATH');
});

t.test('framework roles: weights and quota limits from the config file or CORRAL_FRAMEWORK_ROLES', async (t) => {
  writeFileSync(join(dir, 'roles.json'), JSON.stringify({ frameworkRoles: { web: { weight: 3, quota: { cpus: 4 } }, batch: {} } }));
  const fromFile = loadDaemonConfig({ flags: { config: join(dir, 'roles.json') }, roleFlags: [], env: {}, installed: false });
  t.same(fromFile.frameworkRoles, { web: { weight: 3, quota: { cpus: 4 } }, batch: {} });
  const fromEnv = loadDaemonConfig({ flags: {}, roleFlags: [], env: { CORRAL_FRAMEWORK_ROLES: '{"ml": {"weight": 0.5}}' }, installed: false });
  t.same(fromEnv.frameworkRoles, { ml: { weight: 0.5 } });
  for (const [bad, message] of [
    ['[1]', /JSON object/],
    ['{"web": {"weight": -1}}', /weight must be a positive number/],
    ['{"web": {"quota": {"gpus": 1}}}', /unknown resource 'gpus'/],
    ['{"web": {"share": 1}}', /unknown setting 'share'/],
    ['{"we b": {}}', /role name/],
  ] as const) {
    t.throws(() => loadDaemonConfig({ flags: {}, roleFlags: [], env: { CORRAL_FRAMEWORK_ROLES: bad }, installed: false }), { code: 'CONFIG_INVALID', message }, bad);
  }
});

t.test('agent reservations: per role, from the config file or CORRAL_AGENT_RESERVATIONS', async (t) => {
  const ok = loadDaemonConfig({ flags: {}, roleFlags: [], env: { CORRAL_AGENT_RESERVATIONS: '{"web": {"cpus": 1, "mem": 512}}' }, installed: false });
  t.same(ok.agentReservations, { web: { cpus: 1, mem: 512, disk: 0 } });
  t.throws(() => loadDaemonConfig({ flags: {}, roleFlags: [], env: { CORRAL_AGENT_RESERVATIONS: '{"*": {"cpus": 1}}' }, installed: false }), { code: 'CONFIG_INVALID', message: /unreserved pool/ });
  t.throws(() => loadDaemonConfig({ flags: {}, roleFlags: [], env: { CORRAL_AGENT_RESERVATIONS: '{"web": {"cpus": -1}}' }, installed: false }), { code: 'CONFIG_INVALID', message: /cpus must be a number >= 0/ });
});

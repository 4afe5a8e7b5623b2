// Issue 9: scripts/install.sh and scripts/uninstall.sh against scratch root directories (--root,
// which never starts anything). Pins every file the installer writes (path, mode, content), that a
// second run changes nothing, that systemd accepts the unit (`systemd-analyze verify`), that a
// joining node gets the join settings and no token of its own, that bad settings fail before
// anything is written, that a binary can come from a URL, and that the uninstaller leaves the root
// exactly as it was (the data only with --purge). The binary here is a stand-in script: the real
// one is exercised by test/e2e/binary.test.ts and test/e2e/install-join.test.ts.
import { execFile, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import t from 'tap';

const SCRIPTS = resolve(__dirname, '..', 'scripts');
const INSTALL = join(SCRIPTS, 'install.sh');
const UNINSTALL = join(SCRIPTS, 'uninstall.sh');

const base = mkdtempSync(join(tmpdir(), 'corral-install-'));
t.teardown(() => rmSync(base, { recursive: true, force: true }));

// A stand-in for corral-linux-x64: install.sh only runs `--version` on it.
const fakeBinary = join(base, 'corral-linux-x64');
writeFileSync(fakeBinary, '#!/bin/sh\n[ "$1" = --version ] && echo "9.9.9 (commit test)"\n', { mode: 0o755 });

/** A scratch root with what a real machine has that the installer must not disturb. */
function scratchRoot(name: string): string {
  const root = join(base, name);
  mkdirSync(join(root, 'usr', 'local', 'bin'), { recursive: true });
  writeFileSync(join(root, 'usr', 'local', 'bin', 'other-tool'), 'keep me\n');
  mkdirSync(join(root, 'etc'), { recursive: true });
  writeFileSync(join(root, 'etc', 'hostname'), 'node1\n');
  // systemd's own units, so `systemd-analyze verify --root` finds sysinit.target and friends.
  if (existsSync('/usr/lib/systemd/system')) cpSync('/usr/lib/systemd/system', join(root, 'usr', 'lib', 'systemd', 'system'), { recursive: true, verbatimSymlinks: true });
  return root;
}

/** Every path under root → `mode type sha256|link target`, for exact before/after comparisons. */
function snapshot(root: string, skip = 'usr/lib/systemd/system/'): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string) => {
    for (const name of readdirSync(join(root, rel))) {
      const r = rel === '' ? name : `${rel}/${name}`;
      if (`${r}/`.startsWith(skip) && r !== skip.slice(0, -1)) continue;
      const st = lstatSync(join(root, r));
      const mode = (st.mode & 0o7777).toString(8);
      if (st.isSymbolicLink()) out[r] = `link -> ${readlinkSync(join(root, r))}`;
      else if (st.isDirectory()) {
        out[r] = `${mode} dir`;
        walk(r);
      } else out[r] = `${mode} ${createHash('sha256').update(readFileSync(join(root, r))).digest('hex').slice(0, 16)}`;
    }
  };
  walk('');
  return out;
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}
function sh(script: string, args: string[], env: Record<string, string> = {}): Promise<Run> {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CORRAL_')));
  return new Promise((res) => {
    execFile('sh', [script, ...args], { env: { ...clean, ...env }, timeout: 60_000 }, (err, stdout, stderr) => {
      res({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

const TOKEN_RE = /^[0-9a-f]{64}\n$/;

t.test('shellcheck: both scripts are POSIX sh without findings', async (t) => {
  const probe = spawnSync('shellcheck', ['--version']);
  if (probe.error) {
    if (process.env.CI) t.fail('shellcheck is not installed (.ci/run installs it)');
    else t.comment('skipped: shellcheck is not installed (apt-get install shellcheck)');
    return;
  }
  const r = spawnSync('shellcheck', ['-s', 'sh', INSTALL, UNINSTALL], { encoding: 'utf8' });
  t.equal(r.status, 0, r.stdout);
});

t.test('a first master: every file, its mode and content; the join command; a second run changes nothing', async (t) => {
  const root = scratchRoot('master');
  const before = snapshot(root);
  const r = await sh(INSTALL, ['--root', root, '--no-start'], { CORRAL_BINARY: fakeBinary, CORRAL_CLUSTER_HOST: '10.0.0.5' });
  t.equal(r.code, 0, r.stderr);
  const after = snapshot(root);
  const added = Object.fromEntries(Object.entries(after).filter(([k]) => before[k] === undefined));
  const hash = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex').slice(0, 16);
  t.same(
    Object.keys(added).sort(),
    [
      'etc/corral',
      'etc/corral/corral.env',
      'etc/corral/installed-dirs',
      'etc/systemd',
      'etc/systemd/system',
      'etc/systemd/system/corral.service',
      'etc/systemd/system/multi-user.target.wants',
      'etc/systemd/system/multi-user.target.wants/corral.service',
      'usr/local/bin/corral',
      'usr/local/bin/corral-uninstall.sh',
      'var',
      'var/cache',
      'var/cache/corral',
      'var/lib',
      'var/lib/corral',
      'var/lib/corral/cluster.token',
    ],
    'exactly these paths are added',
  );
  t.same(
    Object.entries(before).filter(([k, v]) => after[k] !== v),
    [],
    'nothing that was there is changed',
  );
  t.equal(added['usr/local/bin/corral'], `755 ${hash(fakeBinary)}`, 'the binary, 0755');
  t.equal(added['usr/local/bin/corral-uninstall.sh'], `755 ${hash(UNINSTALL)}`, 'the uninstaller beside it');
  t.equal(added['etc/corral'], '755 dir');
  t.equal(added['var/lib/corral'], '700 dir', 'data dir 0700');
  t.equal(added['var/cache/corral'], '700 dir', 'addon cache 0700');
  t.equal(added['etc/corral/corral.env']!.split(' ')[0], '600', 'the settings are 0600 (they may hold the token)');
  t.equal(added['var/lib/corral/cluster.token']!.split(' ')[0], '600');
  t.equal(added['etc/systemd/system/multi-user.target.wants/corral.service'], 'link -> /etc/systemd/system/corral.service', 'enabled');

  const token = readFileSync(join(root, 'var/lib/corral/cluster.token'), 'utf8');
  t.match(token, TOKEN_RE, 'a new cluster token: 64 hex characters');
  const envFile = readFileSync(join(root, 'etc/corral/corral.env'), 'utf8');
  t.same(
    envFile.split('\n').filter((l) => l && !l.startsWith('#')),
    ['CORRAL_DATA_DIR=/var/lib/corral', 'XDG_CACHE_HOME=/var/cache', 'CORRAL_CLUSTER_HOST=10.0.0.5'],
    'a first master: every role (no CORRAL_ROLES), its cluster address',
  );
  const unit = readFileSync(join(root, 'etc/systemd/system/corral.service'), 'utf8');
  for (const line of ['EnvironmentFile=/etc/corral/corral.env', 'ExecStart=/usr/local/bin/corral up', 'Restart=always', 'KillMode=process', 'Delegate=yes', 'WantedBy=multi-user.target', 'After=network-online.target']) {
    t.ok(unit.split('\n').includes(line), line);
  }
  t.same(readFileSync(join(root, 'etc/corral/installed-dirs'), 'utf8').split('\n').filter(Boolean).sort(), [
    '/etc/corral', '/etc/systemd', '/etc/systemd/system', '/etc/systemd/system/multi-user.target.wants', '/var', '/var/cache', '/var/cache/corral', '/var/lib', '/var/lib/corral',
  ]);
  t.ok(r.stdout.includes(`CORRAL_JOIN=10.0.0.5:49737 CORRAL_TOKEN=${token.trim()} CORRAL_BINARY=`), `prints the join command:\n${r.stdout}`);
  t.match(r.stdout, /installed corral 9\.9\.9 \(commit test\)/);

  const again = await sh(INSTALL, ['--root', root, '--no-start'], { CORRAL_BINARY: fakeBinary });
  t.equal(again.code, 0, again.stderr);
  t.notMatch(again.stdout, /wrote|enabled/, `a second run writes nothing:\n${again.stdout}`);
  t.same(snapshot(root), after, 'and the tree is the same (the settings of the first run are kept)');

  // systemd accepts the unit (ExecStart resolved inside the root).
  const verify = spawnSync('systemd-analyze', ['verify', `--root=${root}`, '/etc/systemd/system/corral.service'], { encoding: 'utf8' });
  if (verify.error) {
    if (process.env.CI) t.fail('systemd-analyze is not installed (.ci/run installs systemd)');
    else t.comment('skipped: systemd-analyze is not installed (apt-get install systemd)');
  } else {
    t.equal(verify.status, 0, verify.stderr);
    t.equal(verify.stderr.trim(), '', 'no warning either');
  }

  // A line of the operator's own is kept; a new setting replaces the old one.
  writeFileSync(join(root, 'etc/corral/corral.env'), envFile + 'CORRAL_AGENT_CPUS=3\n', { mode: 0o600 });
  const third = await sh(INSTALL, ['--root', root, '--no-start'], { CORRAL_BINARY: fakeBinary, CORRAL_LISTEN: '10.0.0.5:5050' });
  t.equal(third.code, 0, third.stderr);
  const env3 = readFileSync(join(root, 'etc/corral/corral.env'), 'utf8').split('\n').filter((l) => l && !l.startsWith('#'));
  t.same(env3, ['CORRAL_DATA_DIR=/var/lib/corral', 'XDG_CACHE_HOME=/var/cache', 'CORRAL_CLUSTER_HOST=10.0.0.5', 'CORRAL_LISTEN=10.0.0.5:5050', 'CORRAL_AGENT_CPUS=3']);
  t.equal(readFileSync(join(root, 'var/lib/corral/cluster.token'), 'utf8'), token, 'the token is never replaced');

  // Uninstalled: without --purge the data stays; with it, the root is as it was.
  const un = await sh(join(root, 'usr/local/bin/corral-uninstall.sh'), ['--root', root]);
  t.equal(un.code, 0, un.stderr);
  const kept = snapshot(root);
  t.same(
    Object.keys(kept).filter((k) => before[k] === undefined).sort(),
    ['var', 'var/lib', 'var/lib/corral', 'var/lib/corral/.installed-dirs', 'var/lib/corral/cluster.token'],
    'without --purge only the data is left',
  );
  const purge = await sh(UNINSTALL, ['--root', root, '--purge']);
  t.equal(purge.code, 0, purge.stderr);
  t.same(snapshot(root), before, 'with --purge the root is exactly as it was found');
});

t.test('a joining node: agent role, the join settings, no token of its own; uninstall --purge restores the root', async (t) => {
  const root = scratchRoot('agent');
  const before = snapshot(root);
  const token = 'ab'.repeat(32);
  const r = await sh(INSTALL, ['--root', root, '--no-start'], { CORRAL_BINARY: fakeBinary, CORRAL_JOIN: '10.0.0.5:49737', CORRAL_TOKEN: token, CORRAL_CLUSTER_HOST: '10.0.0.6' });
  t.equal(r.code, 0, r.stderr);
  t.same(
    readFileSync(join(root, 'etc/corral/corral.env'), 'utf8').split('\n').filter((l) => l && !l.startsWith('#')),
    ['CORRAL_DATA_DIR=/var/lib/corral', 'XDG_CACHE_HOME=/var/cache', 'CORRAL_ROLES=agent', 'CORRAL_JOIN=10.0.0.5:49737', `CORRAL_TOKEN=${token}`, 'CORRAL_CLUSTER_HOST=10.0.0.6'],
  );
  t.notOk(existsSync(join(root, 'var/lib/corral/cluster.token')), 'a joining node writes no token of its own');
  t.match(r.stdout, /joins the cluster at 10\.0\.0\.5:49737 as agent/);
  t.notMatch(r.stdout, /CORRAL_JOIN=/, 'no join command on an agent');

  // CORRAL_ROLES picks the roles.
  const roles = await sh(INSTALL, ['--root', root, '--no-start'], { CORRAL_BINARY: fakeBinary, CORRAL_ROLES: 'agent,cron' });
  t.equal(roles.code, 0, roles.stderr);
  t.match(readFileSync(join(root, 'etc/corral/corral.env'), 'utf8'), /^CORRAL_ROLES=agent,cron$/m);
  t.match(readFileSync(join(root, 'etc/corral/corral.env'), 'utf8'), /^CORRAL_JOIN=10\.0\.0\.5:49737$/m, 'the join settings are kept');

  const purge = await sh(UNINSTALL, ['--root', root, '--purge']);
  t.equal(purge.code, 0, purge.stderr);
  t.same(snapshot(root), before, 'the root is as it was');
});

t.test('bad settings fail before anything is written', async (t) => {
  const root = scratchRoot('bad');
  const before = snapshot(root);
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ CORRAL_JOIN: '10.0.0.5:49737' }, /CORRAL_JOIN needs CORRAL_TOKEN/],
    [{ CORRAL_TOKEN: 'abc' }, /CORRAL_TOKEN must be 64 hexadecimal characters/],
    [{ CORRAL_ROLES: 'agent,boss' }, /unknown role 'boss'/],
    [{ CORRAL_CLUSTER_HOST: 'node-1' }, /CORRAL_CLUSTER_HOST must be an IPv4 address/],
    [{ CORRAL_LISTEN: '0.0.0.0:5050 x' }, /CORRAL_LISTEN has characters other than/],
    [{ CORRAL_BINARY: join(base, 'nope') }, /cannot read/],
    [{ CORRAL_BINARY_SHA256: '0'.repeat(64) }, /SHA-256 is [0-9a-f]{64}, not CORRAL_BINARY_SHA256/],
  ];
  for (const [env, message] of cases) {
    const r = await sh(INSTALL, ['--root', root, '--no-start'], { CORRAL_BINARY: fakeBinary, CORRAL_CLUSTER_HOST: '10.0.0.5', ...env });
    t.equal(r.code, 1, JSON.stringify(env));
    t.match(r.stderr, message);
  }
  t.match((await sh(INSTALL, ['--root', 'relative/dir'])).stderr, /--root must be an absolute path/);
  t.match((await sh(INSTALL, ['--bogus'])).stderr, /unknown option '--bogus'/);
  t.match((await sh(INSTALL, ['--help'])).stdout, /CORRAL_JOIN/);
  // The binary failures happen after the directories for it exist: uninstall puts them back.
  await sh(UNINSTALL, ['--root', root, '--purge']);
  t.same(snapshot(root), before, 'nothing is left behind');
});

t.test('the binary can come from a URL (e.g. served by the first master)', async (t) => {
  const root = scratchRoot('url');
  const before = snapshot(root);
  const body = readFileSync(fakeBinary);
  const server = createServer((req, res) => {
    if (req.url === '/corral') res.end(body);
    else res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => server.close());
  const { port } = server.address() as { port: number };
  const sha = createHash('sha256').update(body).digest('hex');
  const r = await sh(INSTALL, ['--root', root, '--no-start'], { CORRAL_BINARY: `http://127.0.0.1:${port}/corral`, CORRAL_BINARY_SHA256: sha, CORRAL_CLUSTER_HOST: '10.0.0.5' });
  t.equal(r.code, 0, r.stderr);
  t.same(readFileSync(join(root, 'usr/local/bin/corral')), body);
  const missing = await sh(INSTALL, ['--root', root, '--no-start'], { CORRAL_BINARY: `http://127.0.0.1:${port}/nope` });
  t.equal(missing.code, 1);
  t.match(missing.stderr, /could not download/);
  await sh(UNINSTALL, ['--root', root, '--purge']);
  t.same(snapshot(root), before);
});

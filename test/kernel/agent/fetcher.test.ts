// The fetcher against a real local HTTP server, real files and the system's tar/unzip: what lands in
// the sandbox, what is refused (always FETCH_FAILED naming the URI), and how the cache behaves.
import t, { type Test } from 'tap';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import { FakeClock } from '../../../src/shared/clock';
import { isCorralError } from '../../../src/shared/errors';
import { FetchCache } from '../../../src/kernel/agent/fetch-cache';
import { fetchArtifacts, type FetchOptions } from '../../../src/kernel/agent/fetcher';
import type { FetchUri } from '../../../src/kernel/types';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

const python = spawnSync('python3', ['-c', 'import tarfile, zipfile']).status === 0;
const noPython = python ? false : 'python3 with tarfile/zipfile is not installed; cannot build the archive';
const isRoot = process.getuid?.() === 0;

function tempDir(t: Test, prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `corral-fetch-${prefix}-`));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A server on 127.0.0.1 whose routes are handlers; `hits` counts requests per path. */
async function serve(t: Test, routes: Record<string, Handler>): Promise<{ base: string; hits: Map<string, number> }> {
  const hits = new Map<string, number>();
  const server = createServer((req, res) => {
    const path = req.url ?? '/';
    hits.set(path, (hits.get(path) ?? 0) + 1);
    const route = routes[path];
    if (route) route(req, res);
    else res.writeHead(404).end('no such thing');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  return { base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, hits };
}

const body = (text: string | Buffer): Handler => (_req, res) => res.end(text);

async function fails(t: Test, p: Promise<unknown>, uri: string, what: RegExp): Promise<void> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  t.ok(isCorralError(err) && err.code === 'FETCH_FAILED' && err.status === 502, 'FETCH_FAILED');
  const message = err instanceof Error ? err.message : String(err);
  t.match(message, `'${uri}'`, 'the message names the URI');
  t.match(message, what);
}

function fetchInto(sandbox: string, uris: FetchUri[], extra: Partial<FetchOptions> = {}) {
  return fetchArtifacts(uris, { sandbox, cache: undefined, ...extra });
}

/** Builds an archive with python (members given as name → content; content `->x` is a symlink to x). */
function pyArchive(path: string, members: Record<string, string>): void {
  const script = `
import io, sys, json, tarfile, zipfile
path, members = sys.argv[1], json.loads(sys.argv[2])
if path.endswith('.zip'):
    with zipfile.ZipFile(path, 'w') as z:
        for name, data in members.items(): z.writestr(name, data)
else:
    with tarfile.open(path, 'w:gz') as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            if data.startswith('->'):
                info.type, info.linkname = tarfile.SYMTYPE, data[2:]
                tf.addfile(info)
            else:
                info.size = len(data.encode())
                tf.addfile(info, io.BytesIO(data.encode()))
`;
  const r = spawnSync('python3', ['-c', script, path, JSON.stringify(members)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
}

function tarOf(dir: string, archive: string, flag: string): void {
  const r = spawnSync('tar', [flag, '-f', archive, '-C', dir, '.'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
}

t.test('http: downloads, follows redirects, names the file after the URI, leaves no temp files', async (t) => {
  const { base } = await serve(t, {
    '/files/hello%20world.txt': body('hello'),
    '/old': (_req, res) => res.writeHead(302, { location: '/files/hello%20world.txt' }).end(),
    '/': body('root'),
  });
  const sandbox = tempDir(t, 'sb');
  const got = await fetchInto(sandbox, [{ uri: `${base}/files/hello%20world.txt` }, { uri: `${base}/old` }, { uri: `${base}/` }]);
  t.same(got.map((a) => [a.path, a.bytes, a.cached]), [[join(sandbox, 'hello world.txt'), 5, false], [join(sandbox, 'old'), 5, false], [join(sandbox, 'artifact'), 4, false]]);
  t.equal(readFileSync(join(sandbox, 'old'), 'utf8'), 'hello');
  t.same(readdirSync(sandbox).sort(), ['artifact', 'hello world.txt', 'old']);
});

t.test('http failures: status, timeout, size limit, cancel, unreachable', async (t) => {
  let arrived!: () => void;
  const hanging = new Promise<void>((resolve) => (arrived = resolve));
  const { base } = await serve(t, {
    '/hang': () => arrived(),
    '/big': body(Buffer.alloc(1000)),
    '/chunked': (_req, res) => {
      for (let i = 0; i < 10; i++) res.write(Buffer.alloc(100));
      res.end();
    },
  });
  const sandbox = tempDir(t, 'sb');
  await fails(t, fetchInto(sandbox, [{ uri: `${base}/missing.tgz` }]), `${base}/missing.tgz`, /HTTP 404/);

  const clock = new FakeClock();
  const slow = fetchInto(sandbox, [{ uri: `${base}/hang` }], { clock, timeoutMs: 2000 });
  await hanging;
  clock.advance(2000);
  await fails(t, slow, `${base}/hang`, /timed out after 2000 ms/);

  await fails(t, fetchInto(sandbox, [{ uri: `${base}/big` }], { maxBytes: 999 }), `${base}/big`, /too big: 1000 bytes, over the 999-byte limit/);
  await fails(t, fetchInto(sandbox, [{ uri: `${base}/chunked` }], { maxBytes: 250 }), `${base}/chunked`, /too big: more than the 250-byte limit/);
  await fails(t, fetchInto(sandbox, [{ uri: `${base}/big` }], { signal: AbortSignal.abort() }), `${base}/big`, /cancelled/);
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const refused = `http://127.0.0.1:${(closed.address() as AddressInfo).port}/x`;
  await new Promise((resolve) => closed.close(resolve));
  await fails(t, fetchInto(sandbox, [{ uri: refused }]), refused, /could not download: .*ECONNREFUSED/);
  await fails(t, fetchInto(sandbox, [{ uri: 'ftp://example.com/x' }]), 'ftp://example.com/x', /unsupported scheme 'ftp'/);
  t.same(readdirSync(sandbox), [], 'nothing half-written is left behind');
});

t.test('file:// and absolute paths are copied; a missing file fails', async (t) => {
  const src = tempDir(t, 'src');
  const sandbox = tempDir(t, 'sb');
  writeFileSync(join(src, 'a.conf'), 'alpha');
  const got = await fetchInto(sandbox, [{ uri: pathToFileURL(join(src, 'a.conf')).href }, { uri: join(src, 'a.conf'), destPath: 'etc/b.conf' }]);
  t.same(got.map((a) => a.path), [join(sandbox, 'a.conf'), join(sandbox, 'etc', 'b.conf')]);
  t.equal(readFileSync(join(sandbox, 'etc', 'b.conf'), 'utf8'), 'alpha');
  await fails(t, fetchInto(sandbox, [{ uri: join(src, 'nope') }]), join(src, 'nope'), /no such file/);
});

t.test('destPath must stay inside the sandbox, also through symlinks', async (t) => {
  const src = tempDir(t, 'src');
  const outside = tempDir(t, 'outside');
  const sandbox = tempDir(t, 'sb');
  const file = join(src, 'f');
  writeFileSync(file, 'x');
  for (const destPath of ['../f', '/tmp/f', 'a/../../f', '..']) {
    await fails(t, fetchInto(sandbox, [{ uri: file, destPath }]), file, /unsafe path: destPath/);
  }
  symlinkSync(outside, join(sandbox, 'link'));
  await fails(t, fetchInto(sandbox, [{ uri: file, destPath: 'link/f' }]), file, /unsafe path: 'link' leads outside the sandbox/);
  t.same(readdirSync(outside), []);
});

t.test('archives are unpacked with tar, unzip and zlib; others kept as is', async (t) => {
  const src = tempDir(t, 'src');
  const tree = join(src, 'tree');
  mkdirSync(join(tree, 'bin'), { recursive: true });
  writeFileSync(join(tree, 'bin', 'run.sh'), '#!/bin/sh\n');
  tarOf(tree, join(src, 'app.tar.gz'), '-cz');
  tarOf(tree, join(src, 'app.txz'), '-cJ');
  writeFileSync(join(src, 'notes.txt.gz'), gzipSync('notes'));
  writeFileSync(join(src, 'keep.tgz'), 'not unpacked');
  const sandbox = tempDir(t, 'sb');
  const got = await fetchInto(sandbox, [
    { uri: join(src, 'app.tar.gz') },
    { uri: join(src, 'app.txz'), destPath: 'xz/here' },
    { uri: join(src, 'notes.txt.gz'), destPath: 'docs' },
    { uri: join(src, 'keep.tgz'), extract: false },
  ]);
  t.same(got.map((a) => a.path), [sandbox, join(sandbox, 'xz', 'here'), join(sandbox, 'docs'), join(sandbox, 'keep.tgz')]);
  t.equal(readFileSync(join(sandbox, 'bin', 'run.sh'), 'utf8'), '#!/bin/sh\n');
  t.ok(existsSync(join(sandbox, 'xz', 'here', 'bin', 'run.sh')));
  t.equal(readFileSync(join(sandbox, 'docs', 'notes.txt'), 'utf8'), 'notes');
  t.equal(readFileSync(join(sandbox, 'keep.tgz'), 'utf8'), 'not unpacked');
  t.notOk(existsSync(join(sandbox, 'app.tar.gz')), 'the unpacked archive itself is not kept');

  writeFileSync(join(src, 'bad.tar.gz'), 'garbage');
  await fails(t, fetchInto(sandbox, [{ uri: join(src, 'bad.tar.gz') }]), join(src, 'bad.tar.gz'), /bad archive: 'tar -t' exited with 2/);
  t.same(readdirSync(sandbox).sort(), ['bin', 'docs', 'keep.tgz', 'xz'], 'no staging left behind');
});

t.test('zip archives unpack with unzip', { skip: noPython }, async (t) => {
  const src = tempDir(t, 'src');
  const sandbox = tempDir(t, 'sb');
  pyArchive(join(src, 'site.zip'), { 'www/index.html': '<p>hi</p>' });
  await fetchInto(sandbox, [{ uri: join(src, 'site.zip') }]);
  t.equal(readFileSync(join(sandbox, 'www', 'index.html'), 'utf8'), '<p>hi</p>');
});

t.test('archives that would write outside the sandbox are refused whole', { skip: noPython }, async (t) => {
  const src = tempDir(t, 'src');
  const sandbox = join(tempDir(t, 'sb'), 'sandbox');
  mkdirSync(sandbox);
  const cases: Array<[string, Record<string, string>, RegExp]> = [
    ['evil.tar.gz', { ok: 'fine', '../evil': 'x' }, /unsafe path: archive member '\.\.\/evil'/],
    ['evil.zip', { ok: 'fine', '../evil': 'x' }, /unsafe path: archive member '\.\.\/evil'/],
    ['abs.tar.gz', { '/tmp/corral-evil': 'x' }, /unsafe path: archive member '\/tmp\/corral-evil'/],
    ['link.tar.gz', { ok: 'fine', etc: '->/etc' }, /unsafe path: archive member 'etc' is a symlink to '\/etc'/],
    ['climb.tar.gz', { up: '->../..' }, /is a symlink to '\.\.\/\.\.', outside the sandbox/],
  ];
  for (const [name, members, what] of cases) {
    pyArchive(join(src, name), members);
    await fails(t, fetchInto(sandbox, [{ uri: join(src, name) }]), join(src, name), what);
  }
  t.same(readdirSync(sandbox), [], 'not even the safe members were written');
  t.notOk(existsSync(join(sandbox, '..', 'evil')));
});

t.test('executable files are chmod 0755 and not unpacked', async (t) => {
  const src = tempDir(t, 'src');
  const sandbox = tempDir(t, 'sb');
  writeFileSync(join(src, 'tool.tgz'), 'binary');
  chmodSync(join(src, 'tool.tgz'), 0o600);
  const [got] = await fetchInto(sandbox, [{ uri: join(src, 'tool.tgz'), executable: true, destPath: 'bin/tool' }]);
  t.equal(statSync(join(sandbox, 'bin', 'tool')).mode & 0o777, 0o755);
  t.equal(got?.path, join(sandbox, 'bin', 'tool'));
});

t.test('cache: hits, LRU eviction, too-big artifacts, rebuilt index, one download for concurrent fetches', async (t) => {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let slowArrived!: () => void;
  const slowRequested = new Promise<void>((resolve) => (slowArrived = resolve));
  const { base, hits } = await serve(t, {
    '/a': body(Buffer.alloc(100, 'a')),
    '/b': body(Buffer.alloc(100, 'b')),
    '/c': body(Buffer.alloc(100, 'c')),
    '/huge': body(Buffer.alloc(300, 'h')),
    '/slow': (_req, res) => {
      slowArrived();
      void released.then(() => res.end('slow'));
    },
  });
  const dir = tempDir(t, 'cache');
  const cache = new FetchCache({ dir, maxBytes: 250 });
  const get = async (path: string, c: FetchCache = cache) => {
    const [got] = await fetchInto(tempDir(t, 'sb'), [{ uri: `${base}${path}`, cache: true }], { cache: c });
    return got!;
  };
  t.same([(await get('/a')).cached, (await get('/a')).cached], [false, true], 'second fetch served from cache');
  t.equal(hits.get('/a'), 1);
  const hit = await get('/a');
  t.equal(readFileSync(hit.path, 'utf8'), 'a'.repeat(100));

  await get('/b');
  await get('/a'); // a is now more recent than b
  await get('/c'); // 300 bytes > 250: the least recently used (b) goes
  t.same([cache.usedBytes, (await get('/a')).cached, (await get('/b')).cached], [200, true, false]);
  t.equal(hits.get('/b'), 2);

  t.same([(await get('/huge')).cached, (await get('/huge')).cached], [false, false], 'bigger than the cache: fetched, not kept');

  writeFileSync(join(dir, '.tmp-leftover'), 'crashed copy');
  const later = new Date(Date.now() + 60_000);
  for (const name of readdirSync(dir)) utimesSync(join(dir, name), later, later);
  const reopened = new FetchCache({ dir, maxBytes: 250 });
  t.equal(reopened.usedBytes, 200, 'index rebuilt from the directory');
  t.notOk(existsSync(join(dir, '.tmp-leftover')), 'interrupted copies are removed');
  t.equal((await get('/a', reopened)).cached, true);
  t.equal(hits.get('/a'), 1);

  const together = Promise.all([get('/slow'), get('/slow'), get('/slow')]);
  await slowRequested;
  release();
  const results = await together;
  t.equal(hits.get('/slow'), 1, 'three concurrent fetches, one download');
  t.same(results.map((r) => r.cached).sort(), [false, true, true]);
  t.same(results.map((r) => readFileSync(r.path, 'utf8')), ['slow', 'slow', 'slow']);
});

t.test('owner: everything fetched or unpacked is chowned; file:// is read as the owner', { skip: isRoot ? false : 'needs root to chown' }, async (t) => {
  const owner = { uid: 65534, gid: 65534 };
  const src = tempDir(t, 'src');
  const sandbox = tempDir(t, 'sb');
  chmodSync(src, 0o755);
  const tree = join(src, 'tree');
  mkdirSync(join(tree, 'lib'), { recursive: true });
  writeFileSync(join(tree, 'lib', 'x.so'), 'x');
  tarOf(tree, join(src, 'pkg.tar'), '-c');
  writeFileSync(join(src, 'readable'), 'r');
  chmodSync(join(src, 'readable'), 0o644);
  await fetchInto(sandbox, [{ uri: join(src, 'pkg.tar'), destPath: 'opt/pkg' }, { uri: join(src, 'readable'), destPath: 'conf/r' }], { owner });
  for (const p of ['opt', 'opt/pkg', 'opt/pkg/lib', 'opt/pkg/lib/x.so', 'conf', 'conf/r']) {
    const st = statSync(join(sandbox, p));
    t.same([st.uid, st.gid], [65534, 65534], `${p} belongs to the owner`);
  }
  writeFileSync(join(src, 'secret'), 's');
  chmodSync(join(src, 'secret'), 0o600);
  await fails(t, fetchInto(sandbox, [{ uri: join(src, 'secret') }], { owner }), join(src, 'secret'), /cannot read .* as uid 65534: .*Permission denied/);
});

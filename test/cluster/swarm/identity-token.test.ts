// Pins the files of a node's identity and of the cluster token: formats, 0600 modes, atomic
// creation, refusal to overwrite, clear error codes, and keys derived from the token that never
// reveal it.
import { chmod, mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { inspect } from 'node:util';
import t from 'tap';
import HyperDHT from 'hyperdht';
import { identityFromSeed, loadOrCreateIdentity, NODE_SEED_FILE } from '../../../src/cluster/identity';
import { CLUSTER_TOKEN_FILE, ClusterToken, createClusterToken, parseClusterToken, readClusterToken } from '../../../src/cluster/token';
import { isCorralError } from '../../../src/shared/errors';

const mode = async (path: string): Promise<number> => (await stat(path)).mode & 0o777;

async function codeOf(p: Promise<unknown> | (() => unknown)): Promise<string> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (err) {
    return isCorralError(err) ? err.code : `not a CorralError: ${String(err)}`;
  }
  return 'no error';
}

t.test('identity: created once as 64 hex characters, mode 0600, stable across loads', async (t) => {
  const dir = join(t.testdir(), 'nested', 'data');
  const first = await loadOrCreateIdentity(dir);
  const path = join(dir, NODE_SEED_FILE);
  t.equal(await mode(path), 0o600, 'node.seed is 0600');
  const text = await readFile(path, 'utf8');
  t.match(text, /^[0-9a-f]{64}\n$/, 'the seed is hex text with a newline');
  t.match(first.nodeId, /^[0-9a-f]{64}$/, 'the node id is the hex public key');
  t.equal(first.keyPair.publicKey.toString('hex'), first.nodeId);

  const again = await loadOrCreateIdentity(dir);
  t.equal(again.nodeId, first.nodeId, 'a second load gives the same id');
  const viaDht = HyperDHT.keyPair(Buffer.from(text.trim(), 'hex'));
  t.ok(viaDht.publicKey.equals(first.keyPair.publicKey) && viaDht.secretKey.equals(first.keyPair.secretKey), "the key pair is hyperdht's own derivation of the seed");
  t.same(await readdir(dir), [NODE_SEED_FILE], 'no temporary file is left behind');
});

t.test('identity: concurrent first starts agree on one seed', async (t) => {
  const dir = t.testdir();
  const ids = await Promise.all(Array.from({ length: 8 }, () => loadOrCreateIdentity(dir)));
  t.equal(new Set(ids.map((i) => i.nodeId)).size, 1, 'every caller got the id of the seed that won');
  t.same(await readdir(dir), [NODE_SEED_FILE]);
});

t.test('identity: a readable seed is tightened to 0600, a corrupt one is a clear error', async (t) => {
  const dir = t.testdir();
  const { nodeId } = await loadOrCreateIdentity(dir);
  const path = join(dir, NODE_SEED_FILE);
  await chmod(path, 0o644);
  t.equal((await loadOrCreateIdentity(dir)).nodeId, nodeId);
  t.equal(await mode(path), 0o600, 'mode put back to 0600');

  await writeFile(path, 'not a seed\n');
  t.equal(await codeOf(loadOrCreateIdentity(dir)), 'NODE_SEED_INVALID');
  t.equal(await codeOf(() => identityFromSeed(Buffer.alloc(16))), 'NODE_SEED_INVALID', 'a seed must be 32 bytes');

  const blocked = join(t.testdir(), 'file-in-the-way');
  await writeFile(blocked, '');
  t.equal(await codeOf(loadOrCreateIdentity(join(blocked, 'data'))), 'DATA_DIR_UNUSABLE', 'a data dir that cannot be created');
  t.equal(await codeOf(createClusterToken(join(blocked, 'data'))), 'DATA_DIR_UNUSABLE');

  const unreadable = join(t.testdir(), 'dir-as-seed');
  await mkdir(join(unreadable, NODE_SEED_FILE), { recursive: true });
  t.equal(await codeOf(loadOrCreateIdentity(unreadable)), 'NODE_SEED_INVALID', 'a seed path that cannot be read');
});

t.test('token: created 0600 as hex by the first master, never overwritten, read back equal', async (t) => {
  const dir = join(t.testdir(), 'data');
  const { token, path } = await createClusterToken(dir);
  t.equal(path, join(dir, CLUSTER_TOKEN_FILE));
  t.equal(await mode(path), 0o600, 'cluster.token is 0600');
  t.match(await readFile(path, 'utf8'), /^[0-9a-f]{64}\n$/);
  t.ok((await readClusterToken(path)).equals(token), 'reads back as the same token');
  t.equal(await codeOf(createClusterToken(dir)), 'CLUSTER_TOKEN_EXISTS', 'a second create is refused');
  t.ok((await readClusterToken(path)).equals(token), 'and the file is unchanged');

  const given = ClusterToken.generate();
  const other = await createClusterToken(join(t.testdir(), 'second'), given);
  t.ok(other.token.equals(given), 'a token given on the command line can be stored');
});

t.test('token: parse accepts 64 hex characters with surrounding whitespace, rejects the rest with stable codes', async (t) => {
  const hex = 'Ab'.repeat(32);
  t.equal(ClusterToken.parse(`  ${hex}\n`).toText(), hex.toLowerCase());
  t.equal(parseClusterToken(hex).toText(), hex.toLowerCase());
  const cases: [string | undefined, string][] = [
    [undefined, 'CLUSTER_TOKEN_MISSING'],
    ['', 'CLUSTER_TOKEN_MISSING'],
    ['  \n', 'CLUSTER_TOKEN_MISSING'],
    ['ab'.repeat(31), 'CLUSTER_TOKEN_INVALID'],
    ['ab'.repeat(33), 'CLUSTER_TOKEN_INVALID'],
    [`${'ab'.repeat(31)}zz`, 'CLUSTER_TOKEN_INVALID'],
    [Buffer.alloc(32, 7).toString('base64'), 'CLUSTER_TOKEN_INVALID'],
  ];
  for (const [text, code] of cases) t.equal(await codeOf(() => parseClusterToken(text)), code, `${JSON.stringify(text)} → ${code}`);
  t.equal(await codeOf(readClusterToken(join(t.testdir(), 'missing.token'))), 'CLUSTER_TOKEN_MISSING', 'a missing --token-file');
  t.equal(await codeOf(readClusterToken(t.testdir())), 'CLUSTER_TOKEN_MISSING', 'an unreadable --token-file');
  const bad = join(t.testdir(), 'bad.token');
  await writeFile(bad, 'hello\n');
  t.equal(await codeOf(readClusterToken(bad)), 'CLUSTER_TOKEN_INVALID');
});

t.test('token: topic and auth key are keyed hashes that never reveal the token, and it stays out of logs', async (t) => {
  const token = ClusterToken.generate();
  const copy = ClusterToken.parse(token.toText());
  t.ok(token.topic().equals(copy.topic()), 'the same token gives the same topic on every node');
  t.equal(token.topic().length, 32, 'a 32-byte topic, as hyperswarm wants');
  t.not(token.topic().toString('hex'), token.toText(), 'the topic is not the token');
  t.notOk(token.topic().equals(token.authKey()), 'topic and auth key differ (domain separation)');
  t.notOk(token.topic().equals(ClusterToken.generate().topic()), 'another token, another topic');
  t.equal(String(token), 'ClusterToken(<redacted>)');
  t.equal(JSON.stringify({ token }), '{"token":"<redacted>"}');
  t.notMatch(inspect({ token }), token.toText());
});

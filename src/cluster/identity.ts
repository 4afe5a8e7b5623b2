// A node's identity: an ed25519 key pair derived from a 32-byte seed kept in <data-dir>/node.seed.
// The node id is the public key in hex. The seed goes through hyperdht's own derivation
// (HyperDHT.keyPair(seed)), so the key pair the swarm uses for its Noise handshakes and DHT records
// is exactly the one named by the node id.
//
// node.seed holds the seed as 64 hexadecimal characters and a newline, mode 0600. It is created
// once, atomically (written to a temporary file, then hard-linked into place, which fails rather
// than overwrites if another process won the race), and never rewritten: losing it gives the node
// a new id.
import { randomBytes } from 'node:crypto';
import { chmod, link, mkdir, open, readFile, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import HyperDHT from 'hyperdht';
import { CorralError } from '../shared/errors';

export const NODE_SEED_FILE = 'node.seed';

export interface KeyPair {
  readonly publicKey: Buffer;
  readonly secretKey: Buffer;
}

export interface NodeIdentity {
  /** Hex of the ed25519 public key: the node's name everywhere in the cluster. */
  readonly nodeId: string;
  readonly keyPair: KeyPair;
}

const SEED_BYTES = 32;
const HEX_SEED = /^[0-9a-fA-F]{64}$/;

/** The identity for a seed; the same seed always gives the same node id. */
export function identityFromSeed(seed: Buffer): NodeIdentity {
  if (seed.length !== SEED_BYTES) throw new CorralError('NODE_SEED_INVALID', `A node seed is ${SEED_BYTES} bytes, got ${seed.length}`);
  const keyPair = HyperDHT.keyPair(seed);
  return { nodeId: keyPair.publicKey.toString('hex'), keyPair };
}

/** Reads <dataDir>/node.seed, creating it (and dataDir) first when it does not exist. */
export async function loadOrCreateIdentity(dataDir: string): Promise<NodeIdentity> {
  const path = join(dataDir, NODE_SEED_FILE);
  let text = await readIfExists(path);
  if (text === undefined) {
    const created = await unusableDirAs(dataDir, async () => {
      await mkdir(dataDir, { recursive: true });
      return writeSecretFile(path, `${randomBytes(SEED_BYTES).toString('hex')}\n`);
    });
    // Another process may have created it between our read and our link: its seed wins.
    if (!created) text = await readIfExists(path);
  }
  if (text === undefined) text = await readFile(path, 'utf8');
  await tightenMode(path);
  const hex = text.trim();
  if (!HEX_SEED.test(hex)) {
    throw new CorralError('NODE_SEED_INVALID', `${path} does not hold a 32-byte seed as 64 hexadecimal characters; restore it from a backup, or delete it to give this node a new identity`);
  }
  return identityFromSeed(Buffer.from(hex, 'hex'));
}

/**
 * Writes `content` to `path` with mode 0600 unless `path` already exists. Returns false (and
 * leaves the existing file alone) when it does. Readers never see a partly written file.
 */
export async function writeSecretFile(path: string, content: string): Promise<boolean> {
  const tmp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  const fh = await open(tmp, 'wx', 0o600);
  try {
    await fh.writeFile(content, 'utf8');
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await link(tmp, path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
}

/** Runs `fn`, turning a file-system failure into DATA_DIR_UNUSABLE for `dataDir`. */
export async function unusableDirAs<T>(dataDir: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof CorralError) throw err;
    throw new CorralError('DATA_DIR_UNUSABLE', `Cannot write to the data directory ${dataDir}: ${(err as Error).message}`);
  }
}

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    if (code === 'ENOTDIR') throw new CorralError('DATA_DIR_UNUSABLE', `Cannot use the data directory of ${path}: ${(err as Error).message}`);
    throw new CorralError('NODE_SEED_INVALID', `Cannot read ${path}: ${(err as Error).message}`);
  }
}

/** A seed readable by others is no secret; put it back to 0600 rather than refuse to start. */
async function tightenMode(path: string): Promise<void> {
  const { mode } = await stat(path);
  if ((mode & 0o077) !== 0) await chmod(path, 0o600);
}

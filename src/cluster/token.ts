// The cluster token: a 32-byte secret every node of one cluster holds. The first master creates it
// in <data-dir>/cluster.token; other nodes get it through CORRAL_TOKEN or --token-file (read by
// the config loader, which hands the text here).
//
// Text form: 64 hexadecimal characters (either case); surrounding whitespace, such as the newline
// at the end of a file, is ignored. cluster.token is written with mode 0600.
//
// The token itself never leaves the node. The swarm uses two keys derived from it with
// HMAC-SHA256 under fixed context strings: the topic nodes announce on the DHT (public, so it must
// not reveal the token) and the key of the per-connection proofs (swarm/auth.ts).
import { createHmac, randomBytes } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { CorralError } from '../shared/errors';
import { unusableDirAs, writeSecretFile } from './identity';

export const CLUSTER_TOKEN_FILE = 'cluster.token';

const TOKEN_BYTES = 32;
const HEX_TOKEN = /^[0-9a-fA-F]{64}$/;
/** Context strings of the derived keys. Changing one splits every cluster in two: version them. */
const TOPIC_CONTEXT = 'corral/swarm-topic/v1';
const AUTH_CONTEXT = 'corral/peer-auth/v1';

export class ClusterToken {
  readonly #secret: Buffer;

  private constructor(secret: Buffer) {
    this.#secret = Buffer.from(secret);
  }

  /** A new random token. */
  static generate(): ClusterToken {
    return new ClusterToken(randomBytes(TOKEN_BYTES));
  }

  /** Parses the text form; `source` names where the text came from, for the error message. */
  static parse(text: string, source = 'the cluster token'): ClusterToken {
    const hex = text.trim();
    if (hex === '') throw new CorralError('CLUSTER_TOKEN_MISSING', `${source} is empty`);
    if (!HEX_TOKEN.test(hex)) {
      throw new CorralError('CLUSTER_TOKEN_INVALID', `${source} must be 64 hexadecimal characters (32 bytes), got ${hex.length} characters${/^[0-9a-fA-F]*$/.test(hex) ? '' : ' including non-hex ones'}`);
    }
    return new ClusterToken(Buffer.from(hex, 'hex'));
  }

  /** The text form written to cluster.token and given to other nodes. */
  toText(): string {
    return this.#secret.toString('hex');
  }

  /** The 32-byte topic the swarm announces and looks up on the DHT. */
  topic(): Buffer {
    return this.derive(TOPIC_CONTEXT);
  }

  /** The 32-byte key of the handshake proofs (swarm/auth.ts). */
  authKey(): Buffer {
    return this.derive(AUTH_CONTEXT);
  }

  equals(other: ClusterToken): boolean {
    return this.#secret.equals(other.#secret);
  }

  private derive(context: string): Buffer {
    return createHmac('sha256', this.#secret).update(context, 'utf8').digest();
  }

  // Keep the secret out of logs, JSON and console.log.
  toString(): string {
    return 'ClusterToken(<redacted>)';
  }

  toJSON(): string {
    return '<redacted>';
  }

  [inspect.custom](): string {
    return this.toString();
  }
}

/** Parses a token given as text (CORRAL_TOKEN's value, or a --token-file's content). */
export function parseClusterToken(text: string | undefined, source = 'CORRAL_TOKEN'): ClusterToken {
  if (text === undefined) throw new CorralError('CLUSTER_TOKEN_MISSING', 'No cluster token: set CORRAL_TOKEN or pass --token-file <path> (the first master writes one to <data-dir>/cluster.token)');
  return ClusterToken.parse(text, source);
}

/** Reads a token file (--token-file, or <data-dir>/cluster.token). */
export async function readClusterToken(path: string): Promise<ClusterToken> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new CorralError('CLUSTER_TOKEN_MISSING', `The cluster token file ${path} does not exist`);
    throw new CorralError('CLUSTER_TOKEN_MISSING', `Cannot read the cluster token file ${path}: ${(err as Error).message}`);
  }
  return ClusterToken.parse(text, path);
}

/**
 * Writes <dataDir>/cluster.token (a new random token, or `token` when given) and returns it with
 * its path. Refuses with CLUSTER_TOKEN_EXISTS when the file exists: a token is never replaced,
 * since every node that holds the old one would be locked out.
 */
export async function createClusterToken(dataDir: string, token: ClusterToken = ClusterToken.generate()): Promise<{ token: ClusterToken; path: string }> {
  const path = join(dataDir, CLUSTER_TOKEN_FILE);
  const written = await unusableDirAs(dataDir, async () => {
    await mkdir(dataDir, { recursive: true });
    return writeSecretFile(path, `${token.toText()}\n`);
  });
  if (!written) {
    throw new CorralError('CLUSTER_TOKEN_EXISTS', `${path} already exists; Corral never overwrites a cluster token (delete it by hand only if no node uses it)`);
  }
  return { token, path };
}

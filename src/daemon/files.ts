// Files `corral up` keeps in its data dir: the admin token, the node id and the endpoint file
// the CLI reads to find the API.
import { chmodSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync, accessSync, constants } from 'node:fs';
import { join } from 'node:path';
import { CorralError } from '../shared/errors';
import { secretToken, uuid } from '../shared/ids';

export const ADMIN_TOKEN_FILE = 'admin.token';
export const ENDPOINT_FILE = 'api.json';
const NODE_ID_FILE = 'node.id';

/**
 * The data dir is 0711: task users must traverse it to reach their own sandbox, but may not list
 * it; everything private in it (tokens, the store, checkpoints) is 0600/0700 on its own.
 */
export function prepareDataDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o711 });
    chmodSync(dir, 0o711);
    accessSync(dir, constants.W_OK);
  } catch (err) {
    throw new CorralError('DATA_DIR_UNUSABLE', `Data dir ${dir} cannot be created or written: ${(err as Error).message}`);
  }
}

/** Reads `<dir>/<name>`, or creates it with `make()` (mode 0600, written atomically). */
function readOrCreate(dir: string, name: string, make: () => string): string {
  const path = join(dir, name);
  try {
    const existing = readFileSync(path, 'utf8').trim();
    if (existing !== '') return existing;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new CorralError('DATA_DIR_UNUSABLE', `Cannot read ${path}: ${(err as Error).message}`);
  }
  const value = make();
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, value + '\n', { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
  return value;
}

export function adminToken(dir: string): { token: string; path: string } {
  return { token: readOrCreate(dir, ADMIN_TOKEN_FILE, secretToken), path: join(dir, ADMIN_TOKEN_FILE) };
}

/** A stable id for this node's agent (the cluster plane will replace it with the node's public key). */
export function nodeId(dir: string): string {
  return readOrCreate(dir, NODE_ID_FILE, uuid);
}

export function writeEndpoint(dir: string, url: string): void {
  const path = join(dir, ENDPOINT_FILE);
  writeFileSync(`${path}.tmp`, JSON.stringify({ url, pid: process.pid }) + '\n', { mode: 0o644 });
  renameSync(`${path}.tmp`, path);
}

export function removeEndpoint(dir: string): void {
  rmSync(join(dir, ENDPOINT_FILE), { force: true });
}

/** Makes the store's files private (SQLite creates them 0644; its -wal/-shm copy the database's mode). */
export function restrictStoreFiles(dir: string, file: string): void {
  for (const suffix of ['', '-wal', '-shm']) {
    try {
      chmodSync(join(dir, file + suffix), 0o600);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
}

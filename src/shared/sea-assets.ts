// Files the single executable carries as SEA assets (scripts/build-binary.mjs): the native addons
// (better-sqlite3, sodium-native, udx-native, the DNS server's corral-udp) and the agent's exec helper (dist/corral-exec).
// Node can only dlopen or exec a real file, so each is written once to a cache directory keyed by
// its SHA-256 and used from there on every later start:
//
//   $XDG_CACHE_HOME/corral/<sha256[0..32]>/<name>     (else ~/.cache/corral/..., else a private
//                                                       per-user directory under the temp dir)
//
// A file is written to a temporary name and renamed into place, so a crash or two processes starting
// at once never leave a half-written addon behind; its hash is checked once, when it is written.
// Nothing here runs at import time: an addon is extracted when its package first loads it, the exec
// helper when the agent starts. Outside a single executable (node dist/corral.js, tap) there are no
// assets and every function says so (undefined / false).
import { createHash } from 'node:crypto';
import { lstatSync, mkdirSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';

/** What the build stamps for each asset: its hash, size and file mode. */
export interface EmbeddedAsset {
  /** SHA-256 of the bytes, hex. */
  sha256: string;
  bytes: number;
  /** File mode of the extracted copy, e.g. 0o755 for the exec helper. */
  mode: number;
}

declare const __CORRAL_SEA_ASSETS__: Readonly<Record<string, EmbeddedAsset>> | undefined;

/** Hex digits of the hash in the cache directory's name (128 bits: collisions are not a concern). */
const KEY_CHARS = 32;

interface SeaApi {
  getRawAsset(key: string): string | ArrayBuffer;
}

let seaApi: SeaApi | undefined | null = null;

/** node:sea when running as a single executable; undefined otherwise (or on a Node without it). */
function sea(): SeaApi | undefined {
  if (seaApi !== null) return seaApi;
  try {
    // Loaded lazily: Node < 20.12 has no node:sea.
    const mod = require('node:sea') as typeof import('node:sea');
    seaApi = mod.isSea() ? mod : undefined;
  } catch {
    seaApi = undefined;
  }
  return seaApi;
}

/** The asset table stamped into this build, or undefined when it is not the single executable's bundle. */
export function embeddedAssetTable(): Readonly<Record<string, EmbeddedAsset>> | undefined {
  return typeof __CORRAL_SEA_ASSETS__ === 'object' && __CORRAL_SEA_ASSETS__ !== null ? __CORRAL_SEA_ASSETS__ : undefined;
}

/** True inside the single executable (dist/corral-linux-x64) with its assets. */
export function isSingleExecutable(): boolean {
  return embeddedAssetTable() !== undefined && sea() !== undefined;
}

/**
 * Candidate cache roots, best first. Read here and not through the config loader: an addon is
 * loaded when its package is first required, which may be before (or without) any config.
 */
export function assetCacheRoots(env: NodeJS.ProcessEnv = process.env): string[] {
  const roots: string[] = [];
  const xdg = env.XDG_CACHE_HOME;
  if (xdg !== undefined && isAbsolute(xdg)) roots.push(join(xdg, 'corral'));
  try {
    roots.push(join(homedir(), '.cache', 'corral'));
  } catch {
    // no home directory for this user (homedir() throws when neither HOME nor passwd has one)
  }
  const uid = typeof process.getuid === 'function' ? process.getuid() : 0;
  roots.push(join(tmpdir(), `corral-cache-${uid}`));
  return roots;
}

/** Creates `dir` (0700); for a root under the shared temp dir, also insists that we own it and it is no symlink. */
function usableDir(dir: string, shared: boolean): boolean {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (!shared) return true;
    const st = lstatSync(dir);
    const uid = typeof process.getuid === 'function' ? process.getuid() : st.uid;
    return st.isDirectory() && st.uid === uid && (st.mode & 0o077) === 0;
  } catch {
    return false;
  }
}

function assetBytes(name: string): Uint8Array {
  const api = sea();
  if (api === undefined) throw new Error(`asset '${name}': not running as a single executable`);
  const raw = api.getRawAsset(name);
  return typeof raw === 'string' ? Buffer.from(raw, 'utf8') : new Uint8Array(raw);
}

/** Writes the asset into `dir` unless a file of the right size is already there; returns its path. */
function extractInto(dir: string, name: string, asset: EmbeddedAsset): string {
  const path = join(dir, name);
  try {
    if (statSync(path).size === asset.bytes) return path;
  } catch {
    // not extracted yet
  }
  const bytes = assetBytes(name);
  const sha = createHash('sha256').update(bytes).digest('hex');
  if (sha !== asset.sha256) throw new Error(`asset '${name}' does not match its build hash (${sha} != ${asset.sha256}): the binary is damaged`);
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, bytes, { mode: asset.mode });
    renameSync(tmp, path);
  } catch (err) {
    try {
      unlinkSync(tmp);
    } catch {
      // never written
    }
    throw err;
  }
  return path;
}

const extracted = new Map<string, string>();

/**
 * The path of the embedded file `name` (extracted on first use), or undefined outside the single
 * executable or for a name it does not carry. Throws when no cache directory is writable.
 */
export function embeddedAssetPath(name: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const known = extracted.get(name);
  if (known !== undefined) return known;
  const asset = embeddedAssetTable()?.[name];
  if (asset === undefined || sea() === undefined) return undefined;
  const roots = assetCacheRoots(env);
  const failures: string[] = [];
  for (const [i, root] of roots.entries()) {
    const dir = join(root, asset.sha256.slice(0, KEY_CHARS));
    if (!usableDir(root, i === roots.length - 1) || !usableDir(dir, false)) {
      failures.push(`${dir}: cannot create it`);
      continue;
    }
    try {
      const path = extractInto(dir, name, asset);
      extracted.set(name, path);
      return path;
    } catch (err) {
      failures.push(`${dir}: ${(err as Error).message}`);
    }
  }
  throw new Error(`cannot extract the embedded '${name}' to a cache directory (set XDG_CACHE_HOME to a writable one): ${failures.join('; ')}`);
}

/** Loads the embedded native addon `name` (e.g. 'better_sqlite3.node') and returns its exports. */
export function loadEmbeddedAddon(name: string): unknown {
  const path = embeddedAssetPath(name);
  if (path === undefined) throw new Error(`native addon '${name}' is not embedded in this build`);
  const mod = { exports: {} as unknown };
  process.dlopen(mod, path);
  return mod.exports;
}

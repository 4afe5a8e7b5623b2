// The agent's fetcher (Mesos's fetcher, Marathon's `fetch`): puts a task's artifacts into its sandbox
// before the task starts. Sources are http(s) (Node's fetch, redirects followed), file:// and
// absolute paths. Every download streams into a temp file in the sandbox and is renamed into place,
// so no half-written artifact ever carries its final name. Every failure is a FETCH_FAILED error whose
// message names the URI and what went wrong; the agent ends the task with it.
import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { createReadStream, createWriteStream, promises as fsp } from 'node:fs';
import { basename, dirname, isAbsolute, join, posix, relative, resolve, sep } from 'node:path';
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { systemClock, type Clock } from '../../shared/clock';
import { CorralError } from '../../shared/errors';
import type { FetchUri } from '../types';
import { archiveKind, mergeInto, unpack } from './fetch-archive';
import { fetchCacheKey, type FetchCache } from './fetch-cache';

/** Per-URI time limit, in ms: download, copy and unpacking together (5 minutes). */
export const DEFAULT_FETCH_TIMEOUT_MS = 5 * 60_000;
/** Largest single download, in bytes (2 GiB). */
export const DEFAULT_FETCH_MAX_BYTES = 2 * 1024 ** 3;

export interface FetchOptions {
  /** The task's sandbox directory; must exist. */
  sandbox: string;
  /** Used only for URIs with `cache: true`. */
  cache: FetchCache | undefined;
  /** When set, everything fetched or unpacked is chowned to it, and file:// sources are read as it. */
  owner?: { uid: number; gid: number };
  /** Whom the task runs as, half of the cache key. Default: the owner's uid, else '' (the agent's user). */
  user?: string;
  /** Per URI, in ms; default DEFAULT_FETCH_TIMEOUT_MS. */
  timeoutMs?: number;
  /** Per download, in bytes; default DEFAULT_FETCH_MAX_BYTES. */
  maxBytes?: number;
  /** Aborts the fetch (say, the task was killed while staging). */
  signal?: AbortSignal;
  clock?: Clock;
}

export interface FetchedArtifact {
  uri: string;
  /** The file written, or the directory an archive was unpacked into. */
  path: string;
  /** Bytes downloaded (the archive's size, for unpacked archives). */
  bytes: number;
  /** Served from the fetch cache without a download. */
  cached: boolean;
}

type Source = { kind: 'file'; path: string } | { kind: 'http'; url: URL };

/** Fetches `uris` into the sandbox in order; the first failure stops and is thrown as FETCH_FAILED. */
export async function fetchArtifacts(uris: readonly FetchUri[], opts: FetchOptions): Promise<FetchedArtifact[]> {
  const fetched: FetchedArtifact[] = [];
  for (const item of uris) fetched.push(await fetchOne(item, opts));
  return fetched;
}

async function fetchOne(item: FetchUri, opts: FetchOptions): Promise<FetchedArtifact> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_FETCH_TIMEOUT_MS;
  const maxBytes = opts.maxBytes ?? DEFAULT_FETCH_MAX_BYTES;
  const timer = new AbortController();
  const deadline = (opts.clock ?? systemClock).setTimeout(() => timer.abort(), timeoutMs);
  const signal = opts.signal ? AbortSignal.any([opts.signal, timer.signal]) : timer.signal;
  const tag = `.fetch-${randomBytes(6).toString('hex')}`;
  let root: string | undefined;
  try {
    const source = parseSource(item.uri);
    const name = source.kind === 'file' ? artifactName(basename(source.path)) : artifactName(posix.basename(source.url.pathname));
    const problem = item.destPath === undefined ? undefined : destPathProblem(item.destPath);
    if (problem) throw new Error(problem);
    const archive = item.extract !== false && !item.executable ? archiveKind(name) : undefined;
    root = await fsp.realpath(opts.sandbox).catch(() => {
      throw new Error(`the sandbox '${opts.sandbox}' does not exist`);
    });
    const temp = join(root, tag);
    const download = (dest: string): Promise<number> => transfer(source, dest, maxBytes, signal, opts.owner);
    let bytes: number;
    let cached = false;
    if (item.cache && opts.cache) {
      const user = opts.user ?? (opts.owner ? String(opts.owner.uid) : '');
      ({ bytes, hit: cached } = await opts.cache.fetch(fetchCacheKey(item.uri, user), temp, download, signal));
    } else {
      bytes = await download(temp);
    }
    let path: string;
    if (archive) {
      path = item.destPath === undefined ? root : await ensureDir(root, resolve(root, item.destPath), opts.owner);
      const staging = `${temp}.d`;
      await fsp.mkdir(staging);
      await unpack(temp, archive.kind, archive.stem, staging, signal, opts.owner);
      await mergeInto(staging, path);
    } else {
      const target = resolve(root, item.destPath ?? name);
      if (target === root) throw new Error(`destPath '${item.destPath}' names the sandbox itself, not a file in it`);
      path = join(await ensureDir(root, dirname(target), opts.owner), basename(target));
      if (item.executable) await fsp.chmod(temp, 0o755);
      if (opts.owner) await fsp.chown(temp, opts.owner.uid, opts.owner.gid);
      await fsp.rename(temp, path);
    }
    return { uri: item.uri, path: join(opts.sandbox, relative(root, path)), bytes, cached };
  } catch (err) {
    const what = timer.signal.aborted ? `timed out after ${timeoutMs} ms` : opts.signal?.aborted ? 'cancelled' : describe(err);
    throw new CorralError('FETCH_FAILED', `Fetching '${item.uri}' failed: ${what}`);
  } finally {
    deadline.cancel();
    if (root) {
      await fsp.rm(join(root, tag), { force: true });
      await fsp.rm(join(root, `${tag}.d`), { recursive: true, force: true });
    }
  }
}

/** Where `uri` points; throws an Error naming the problem for anything not fetchable. */
export function parseSource(uri: string): Source {
  const supported = 'use http://, https://, file:// or an absolute path';
  if (uri.startsWith('/')) return { kind: 'file', path: uri };
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw new Error(`not a valid URI (${supported})`);
  }
  if (url.protocol === 'http:' || url.protocol === 'https:') return { kind: 'http', url };
  if (url.protocol === 'file:') {
    try {
      return { kind: 'file', path: fileURLToPath(url) };
    } catch (err) {
      throw new Error(`not a usable file:// URI: ${(err as Error).message}`);
    }
  }
  throw new Error(`unsupported scheme '${url.protocol.slice(0, -1)}' (${supported})`);
}

/** A safe file name from a URI's last path segment: URL-decoded, no separators or control characters. */
export function artifactName(segment: string): string {
  let name = segment;
  try {
    name = decodeURIComponent(segment);
  } catch {
    // Not valid percent-encoding: keep it as written.
  }
  name = name.replace(/[/\\\x00-\x1f]/g, '_');
  return name === '' || name === '.' || name === '..' ? 'artifact' : name;
}

/** Why `destPath` cannot be used, or undefined when it stays inside the sandbox. */
export function destPathProblem(destPath: string): string | undefined {
  if (destPath === '' || destPath.includes('\0')) return 'unsafe path: destPath is empty or holds a NUL character';
  if (isAbsolute(destPath)) return `unsafe path: destPath '${destPath}' must be relative to the sandbox`;
  const norm = posix.normalize(destPath);
  if (norm === '..' || norm.startsWith('../')) return `unsafe path: destPath '${destPath}' leaves the sandbox`;
  return undefined;
}

function inside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel);
}

/**
 * Creates `dir` (under the real sandbox path `root`), chowns the directories it created, and
 * returns its real path, refusing one that a symlink (say, from an earlier archive) leads outside.
 */
async function ensureDir(root: string, dir: string, owner: FetchOptions['owner']): Promise<string> {
  const first = await fsp.mkdir(dir, { recursive: true });
  const real = await fsp.realpath(dir);
  if (!inside(root, real)) throw new Error(`unsafe path: '${relative(root, dir)}' leads outside the sandbox through a symlink`);
  if (owner && first) {
    for (let d = dir; inside(first, d) && d !== root; d = dirname(d)) await fsp.chown(d, owner.uid, owner.gid);
  }
  return real;
}

/** Writes the artifact at `source` to `dest`, returning its size in bytes. */
async function transfer(source: Source, dest: string, maxBytes: number, signal: AbortSignal, owner: FetchOptions['owner']): Promise<number> {
  if (source.kind === 'file') {
    const st = await fsp.stat(source.path).catch((err: NodeJS.ErrnoException) => {
      throw new Error(err.code === 'ENOENT' ? `no such file '${source.path}'` : `cannot read '${source.path}': ${err.message}`);
    });
    if (!st.isFile()) throw new Error(`'${source.path}' is not a regular file`);
    if (st.size > maxBytes) throw tooBig(st.size, maxBytes);
    // The agent runs as root; read as the task's user so a task cannot fetch what its user may not read.
    return streamTo(owner ? readAs(source.path, owner) : createReadStream(source.path), dest, maxBytes, signal);
  }
  const res = await fetch(source.url, { redirect: 'follow', signal });
  if (!res.ok) {
    await res.body?.cancel().catch(() => undefined);
    throw new Error(`the server answered HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}`);
  }
  const declared = Number(res.headers.get('content-length') ?? 0);
  if (declared > maxBytes) {
    await res.body?.cancel().catch(() => undefined);
    throw tooBig(declared, maxBytes);
  }
  const body = res.body ? Readable.fromWeb(res.body as unknown as WebReadableStream<Uint8Array>) : Readable.from([]);
  return streamTo(body, dest, maxBytes, signal);
}

async function streamTo(source: Readable, dest: string, maxBytes: number, signal: AbortSignal): Promise<number> {
  let bytes = 0;
  await pipeline(
    source,
    async function* (chunks: AsyncIterable<Buffer>) {
      for await (const chunk of chunks) {
        bytes += chunk.length;
        if (bytes > maxBytes) throw tooBig(bytes, maxBytes, true);
        yield chunk;
      }
    },
    createWriteStream(dest, { mode: 0o644 }),
    { signal },
  );
  return bytes;
}

/** The file's bytes read by `cat` running as `owner`, so the kernel checks that user's permissions. */
function readAs(path: string, owner: { uid: number; gid: number }): Readable {
  const child = spawn('cat', ['--', path], { uid: owner.uid, gid: owner.gid, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const out = new Readable({ read: () => void child.stdout.resume() });
  child.stdout.on('data', (chunk: Buffer) => {
    if (!out.push(chunk)) child.stdout.pause();
  });
  child.on('error', (err) => out.destroy(err));
  child.on('close', (code) => {
    if (code === 0) out.push(null);
    else out.destroy(new Error(`cannot read '${path}' as uid ${owner.uid}: ${stderr.trim() || `cat exited with ${code}`}`));
  });
  out.on('close', () => child.kill());
  return out;
}

function tooBig(bytes: number, maxBytes: number, streaming = false): Error {
  return new Error(streaming ? `too big: more than the ${maxBytes}-byte limit` : `too big: ${bytes} bytes, over the ${maxBytes}-byte limit`);
}

function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = (err as Error & { cause?: unknown }).cause;
  if (err.message === 'fetch failed' && cause instanceof Error) return `could not download: ${cause.message}`;
  return err.message;
}

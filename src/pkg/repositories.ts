// Package repositories: the built-in one plus any added by URL or path, in priority order, kept in
// the store (`/pkg/repositories`). A repository is read when added — one that cannot be fetched or
// is not a Universe repository is refused and nothing is written — and again when packages are
// looked up: a directory every time, a URL at most once per `cacheMs` (an unreachable URL falls
// back to what was read last).
import { statSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Clock } from '../shared/clock';
import { CorralError, errors } from '../shared/errors';
import type { JsonValue, Store } from '../store/types';
import { BUILTIN_REPOSITORY, BUILTIN_URI, builtinFiles } from './builtin';
import { diskFiles, loadLayout, parseRepoIndex, REPO_INDEX_MEDIA_TYPE, type RepoFiles } from './repo-layout';
import type { PackageRevision, RepositoryRef } from './types';

const KEY = '/pkg/repositories';
/** How long a repository fetched over HTTP is reused before it is fetched again (ms). */
export const DEFAULT_CACHE_MS = 60_000;
/** How long a fetch of a repository over HTTP may take (ms). */
export const DEFAULT_FETCH_TIMEOUT_MS = 10_000;
/** Largest repo index accepted (bytes): Universe's whole index is about 10 MB. */
const MAX_INDEX_BYTES = 64 * 1024 * 1024;

export interface RepositoriesOptions {
  store: Store;
  clock: Clock;
  fetch?: typeof fetch;
  /** The built-in repository's files (tests pass their own). */
  builtin?: () => RepoFiles;
  cacheMs?: number;
  fetchTimeoutMs?: number;
}

export interface LoadedRepository {
  repository: RepositoryRef;
  revisions: PackageRevision[];
}

export class Repositories {
  private readonly cache = new Map<string, { at: number; revisions: PackageRevision[] }>();
  private readonly fetchFn: typeof fetch;

  constructor(private readonly opts: RepositoriesOptions) {
    this.fetchFn = opts.fetch ?? fetch;
  }

  /** The repositories in priority order (the built-in one alone until the list is first changed). */
  async list(): Promise<RepositoryRef[]> {
    return (await this.read()).list;
  }

  /** Adds a repository at `index` (default: last) after reading it; refused if unreachable or not a repository. */
  async add(ref: RepositoryRef, index?: number): Promise<RepositoryRef[]> {
    const { list, revision } = await this.read();
    if (list.some((r) => r.name === ref.name)) throw new CorralError('REPOSITORY_EXISTS', `A repository named '${ref.name}' is already added`);
    if (list.some((r) => r.uri === ref.uri)) throw new CorralError('REPOSITORY_EXISTS', `The repository ${ref.uri} is already added (as '${list.find((r) => r.uri === ref.uri)!.name}')`);
    if (index !== undefined && (!Number.isInteger(index) || index < 0 || index > list.length)) {
      throw errors.validation([{ path: '/index', errors: [`must be a whole number from 0 to ${list.length}`] }]);
    }
    checkUri(ref.uri);
    this.cache.delete(ref.uri);
    await this.revisions(ref);
    const next = [...list];
    next.splice(index ?? list.length, 0, { name: ref.name, uri: ref.uri });
    await this.write(next, revision);
    return next;
  }

  /** Removes the repository with this name (or URI). */
  async remove(which: { name?: string; uri?: string }): Promise<RepositoryRef[]> {
    const { list, revision } = await this.read();
    const found = list.find((r) => (which.name !== undefined && r.name === which.name) || (which.uri !== undefined && r.uri === which.uri));
    if (!found) throw new CorralError('REPOSITORY_NOT_FOUND', `No repository ${which.name !== undefined ? `named '${which.name}'` : `with URI ${which.uri}`}`);
    const next = list.filter((r) => r !== found);
    await this.write(next, revision);
    this.cache.delete(found.uri);
    return next;
  }

  /** Every repository with its packages, in priority order. */
  async loadAll(): Promise<LoadedRepository[]> {
    const out: LoadedRepository[] = [];
    for (const repository of await this.list()) out.push({ repository, revisions: await this.revisions(repository) });
    return out;
  }

  /** The revisions a repository holds; REPOSITORY_UNREACHABLE / REPOSITORY_INVALID when it cannot be read. */
  async revisions(ref: RepositoryRef): Promise<PackageRevision[]> {
    const cached = this.cache.get(ref.uri);
    const now = this.opts.clock.now();
    if (ref.uri === BUILTIN_URI) {
      if (!cached) this.cache.set(ref.uri, { at: now, revisions: asRepository(ref, () => loadLayout((this.opts.builtin ?? builtinFiles)())) });
      return this.cache.get(ref.uri)!.revisions;
    }
    if (!isHttp(ref.uri)) return asRepository(ref, () => loadPath(localPath(ref.uri)));
    if (cached && now - cached.at < (this.opts.cacheMs ?? DEFAULT_CACHE_MS)) return cached.revisions;
    try {
      const revisions = await this.fetchIndex(ref);
      this.cache.set(ref.uri, { at: now, revisions });
      return revisions;
    } catch (err) {
      if (cached && err instanceof CorralError && err.code === 'REPOSITORY_UNREACHABLE') return cached.revisions;
      throw err;
    }
  }

  private async fetchIndex(ref: RepositoryRef): Promise<PackageRevision[]> {
    const controller = new AbortController();
    const timeoutMs = this.opts.fetchTimeoutMs ?? DEFAULT_FETCH_TIMEOUT_MS;
    const timer = this.opts.clock.setTimeout(() => controller.abort(), timeoutMs);
    let text: string;
    try {
      const res = await this.fetchFn(ref.uri, { headers: { accept: `${REPO_INDEX_MEDIA_TYPE},application/json;q=0.9` }, signal: controller.signal });
      if (!res.ok) throw new CorralError('REPOSITORY_UNREACHABLE', `Repository '${ref.name}' (${ref.uri}) answered HTTP ${res.status}`);
      const length = Number(res.headers.get('content-length') ?? 0);
      if (length > MAX_INDEX_BYTES) throw new CorralError('REPOSITORY_INVALID', `Repository '${ref.name}' (${ref.uri}) is larger than ${MAX_INDEX_BYTES} bytes`);
      text = await res.text();
    } catch (err) {
      if (err instanceof CorralError) throw err;
      const why = controller.signal.aborted ? `no answer within ${timeoutMs} ms` : networkCause(err);
      throw new CorralError('REPOSITORY_UNREACHABLE', `Repository '${ref.name}' (${ref.uri}) cannot be fetched: ${why}`);
    } finally {
      timer.cancel();
    }
    return asRepository(ref, () => parseRepoIndex(parseIndexText(text, ref), `Repository '${ref.name}' (${ref.uri})`));
  }

  private async read(): Promise<{ list: RepositoryRef[]; revision: number }> {
    const entry = await this.opts.store.get<{ repositories: RepositoryRef[] }>(KEY);
    return entry ? { list: entry.value.repositories, revision: entry.modRevision } : { list: [BUILTIN_REPOSITORY], revision: 0 };
  }

  private async write(list: RepositoryRef[], revision: number): Promise<void> {
    await this.opts.store.put(KEY, { repositories: list } as unknown as JsonValue, { expectedRevision: revision });
  }
}

function parseIndexText(text: string, ref: RepositoryRef): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new CorralError('REPOSITORY_INVALID', `Repository '${ref.name}' (${ref.uri}) did not answer with JSON (a Universe repo index): ${text.slice(0, 80).replace(/\s+/g, ' ')}`);
  }
}

/** Runs a load, turning a broken package into REPOSITORY_INVALID for the repository as a whole. */
function asRepository(ref: RepositoryRef, load: () => PackageRevision[]): PackageRevision[] {
  try {
    return load();
  } catch (err) {
    if (err instanceof CorralError && (err.code === 'PACKAGE_INVALID' || err.code === 'REPOSITORY_INVALID')) {
      throw new CorralError('REPOSITORY_INVALID', `Repository '${ref.name}' (${ref.uri}): ${err.message}`, err.details);
    }
    throw err;
  }
}

const isHttp = (uri: string) => /^https?:\/\//i.test(uri);

/** Accepted URIs: http(s) URLs, file:// URLs and absolute paths (the CLI makes a relative path absolute), and the built-in. */
export function checkUri(uri: string): void {
  if (uri === BUILTIN_URI) return;
  if (isHttp(uri)) {
    try {
      new URL(uri);
      return;
    } catch {
      // falls through to the error
    }
  } else if (uri.startsWith('file://') || isAbsolute(uri)) return;
  throw errors.validation([{ path: '/uri', errors: ['must be an http(s) URL, a file:// URL or an absolute path'] }]);
}

function localPath(uri: string): string {
  return uri.startsWith('file://') ? fileURLToPath(uri) : uri;
}

/** A directory in the Universe layout, or a repo index file. */
function loadPath(path: string): PackageRevision[] {
  let isDir: boolean;
  try {
    isDir = statSync(path).isDirectory();
  } catch (err) {
    throw new CorralError('REPOSITORY_UNREACHABLE', `Repository path ${path} cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  if (isDir) return loadLayout(diskFiles(path));
  const text = diskFiles('/').read(path.replace(/^\/+/, ''));
  if (text === undefined) throw new CorralError('REPOSITORY_UNREACHABLE', `Repository path ${path} cannot be read`);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new CorralError('REPOSITORY_INVALID', `${path} is neither a directory in the Universe layout nor a JSON repo index`);
  }
  return parseRepoIndex(body, path);
}

/** undici wraps the socket error in TypeError('fetch failed', {cause}). */
function networkCause(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (err as Error).message ?? String(err);
}

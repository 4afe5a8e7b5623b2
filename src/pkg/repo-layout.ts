// The two forms a Universe repository takes: the directory layout
// (`packages/<L>/<name>/<rev>/package.json, config.json, resource.json, marathon.json.mustache`,
// plus Corral's `chronos.json.mustache`) and the repo index JSON (`{"packages": [...]}`, templates
// base64-encoded) served over HTTP. Pure over a `RepoFiles` view, so the built-in repository
// embedded in the binary and a directory on disk load the same way.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CorralError, type ErrorDetail } from '../shared/errors';
import { checkRevision, invalidPackage } from './format';
import type { PackageMetadata, PackageRevision } from './types';

/** Read access to a repository's files by '/'-separated relative path. */
export interface RepoFiles {
  /** Names in a directory; [] when it is absent. */
  list(dir: string): string[];
  /** A file's text; undefined when it is absent. */
  read(path: string): string | undefined;
}

/** Universe's media type of a repo index. */
export const REPO_INDEX_MEDIA_TYPE = 'application/vnd.dcos.universe.repo+json;charset=utf-8;version=v4';

export function diskFiles(root: string): RepoFiles {
  return {
    list: (dir) => {
      try {
        return readdirSync(join(root, dir)).sort();
      } catch {
        return [];
      }
    },
    read: (path) => {
      try {
        return statSync(join(root, path)).isFile() ? readFileSync(join(root, path), 'utf8') : undefined;
      } catch {
        return undefined;
      }
    },
  };
}

/** Files given as a map of relative path → text (the repository embedded in the bundle). */
export function mapFiles(files: Readonly<Record<string, string>>): RepoFiles {
  return {
    list: (dir) => {
      const prefix = dir === '' ? '' : dir.replace(/\/$/, '') + '/';
      const names = new Set<string>();
      for (const p of Object.keys(files)) if (p.startsWith(prefix)) names.add(p.slice(prefix.length).split('/')[0]!);
      return [...names].sort();
    },
    read: (path) => files[path],
  };
}

/** Whether the files hold a Universe layout (`packages/` at the top, or under `repo/` as in Universe's git repository). */
export function layoutRoot(files: RepoFiles): string | undefined {
  if (files.list('packages').length > 0) return 'packages';
  if (files.list('repo/packages').length > 0) return 'repo/packages';
  return undefined;
}

function parseJsonFile(files: RepoFiles, path: string, where: string, file: string): unknown {
  const text = files.read(path);
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch (err) {
    throw invalidPackage(where, [{ path: `/${file}`, errors: [`is not valid JSON: ${(err as Error).message}`] }]);
  }
}

/** Every revision of every package in a directory layout, each checked; PACKAGE_INVALID names the first broken one. */
export function loadLayout(files: RepoFiles): PackageRevision[] {
  const root = layoutRoot(files);
  if (root === undefined) throw new CorralError('REPOSITORY_INVALID', 'The repository has no packages/ directory (Universe layout: packages/<L>/<name>/<rev>/package.json)');
  const out: PackageRevision[] = [];
  for (const letter of files.list(root)) {
    for (const name of files.list(`${root}/${letter}`)) {
      for (const rev of files.list(`${root}/${letter}/${name}`)) {
        const dir = `${root}/${letter}/${name}/${rev}`;
        if (files.read(`${dir}/package.json`) === undefined) continue;
        out.push(loadRevision(files, dir, name, rev));
      }
    }
  }
  return out;
}

function loadRevision(files: RepoFiles, dir: string, dirName: string, rev: string): PackageRevision {
  const where = `${dirName} (revision ${rev})`;
  const metadata = parseJsonFile(files, `${dir}/package.json`, where, 'package.json') as PackageMetadata;
  const config = parseJsonFile(files, `${dir}/config.json`, where, 'config.json') as Record<string, unknown> | undefined;
  const resource = parseJsonFile(files, `${dir}/resource.json`, where, 'resource.json') as Record<string, unknown> | undefined;
  const marathonTemplate = files.read(`${dir}/marathon.json.mustache`);
  const chronosTemplate = files.read(`${dir}/chronos.json.mustache`);
  const revision: PackageRevision = {
    metadata,
    releaseVersion: /^\d+$/.test(rev) ? Number(rev) : NaN,
    ...(config !== undefined ? { config } : {}),
    ...(resource !== undefined ? { resource } : {}),
    ...(marathonTemplate !== undefined ? { marathonTemplate } : {}),
    ...(chronosTemplate !== undefined ? { chronosTemplate } : {}),
  };
  checkRevision(revision, where);
  if (metadata.name !== dirName) throw invalidPackage(where, [{ path: '/package.json/name', errors: [`must match its directory '${dirName}'`] }]);
  const letter = dir.split('/').slice(-3)[0]!;
  if (letter !== dirName[0]!.toUpperCase()) throw invalidPackage(where, [{ path: '/', errors: [`must be under packages/${dirName[0]!.toUpperCase()}/, not packages/${letter}/`] }]);
  return revision;
}

const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');
const unb64 = (text: string) => Buffer.from(text, 'base64').toString('utf8');

/** One revision as a repo index entry (Universe's shape; Corral's job template under `chronos`). */
export function indexEntry(rev: PackageRevision): Record<string, unknown> {
  return {
    ...rev.metadata,
    releaseVersion: rev.releaseVersion,
    ...(rev.config !== undefined ? { config: rev.config } : {}),
    ...(rev.resource !== undefined ? { resource: rev.resource } : {}),
    ...(rev.marathonTemplate !== undefined ? { marathon: { v2AppMustacheTemplate: b64(rev.marathonTemplate) } } : {}),
    ...(rev.chronosTemplate !== undefined ? { chronos: { v1JobMustacheTemplate: b64(rev.chronosTemplate) } } : {}),
  };
}

/** The repo index of a set of revisions, sorted by name then release. */
export function buildRepoIndex(revisions: readonly PackageRevision[]): { packages: Array<Record<string, unknown>> } {
  const sorted = [...revisions].sort((a, b) => a.metadata.name.localeCompare(b.metadata.name) || a.releaseVersion - b.releaseVersion);
  return { packages: sorted.map(indexEntry) };
}

/** A repo index as revisions, each checked; REPOSITORY_INVALID when it is not one, with each broken entry's path. */
export function parseRepoIndex(body: unknown, source: string): PackageRevision[] {
  const packages = typeof body === 'object' && body !== null && !Array.isArray(body) ? (body as { packages?: unknown }).packages : undefined;
  if (!Array.isArray(packages)) throw new CorralError('REPOSITORY_INVALID', `${source} is not a Universe repo index: expected {"packages": [...]}`);
  const out: PackageRevision[] = [];
  const details: ErrorDetail[] = [];
  packages.forEach((entry: unknown, i) => {
    try {
      out.push(revisionOfEntry(entry, i));
    } catch (err) {
      if (!(err instanceof CorralError)) throw err;
      details.push(...(err.details ?? [{ path: '/', errors: [err.message] }]).map((d) => ({ path: `/packages/${i}${d.path === '/' ? '' : d.path}`, errors: d.errors })));
    }
  });
  if (details.length > 0) throw new CorralError('REPOSITORY_INVALID', `${source} holds packages that break the Universe packaging rules`, details);
  return out;
}

function revisionOfEntry(entry: unknown, i: number): PackageRevision {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) throw invalidPackage(`#${i}`, [{ path: '/', errors: ['must be a JSON object'] }]);
  const { releaseVersion, config, resource, marathon, chronos, ...rest } = entry as Record<string, unknown>;
  const template = (v: unknown, key: string) => (typeof v === 'object' && v !== null && typeof (v as Record<string, unknown>)[key] === 'string' ? unb64((v as Record<string, string>)[key]!) : undefined);
  const marathonTemplate = template(marathon, 'v2AppMustacheTemplate');
  const chronosTemplate = template(chronos, 'v1JobMustacheTemplate');
  const rev: PackageRevision = {
    metadata: rest as unknown as PackageMetadata,
    releaseVersion: typeof releaseVersion === 'number' ? releaseVersion : i,
    ...(config !== undefined ? { config: config as Record<string, unknown> } : {}),
    ...(resource !== undefined ? { resource: resource as Record<string, unknown> } : {}),
    ...(marathonTemplate !== undefined ? { marathonTemplate } : {}),
    ...(chronosTemplate !== undefined ? { chronosTemplate } : {}),
  };
  // The inline fields are checked here against package.json's schema, the templates by checkRevision.
  const meta = { ...rest, ...(marathon !== undefined ? { marathon } : {}), ...(chronos !== undefined ? { chronos } : {}) };
  return checkRevision({ ...rev, metadata: meta as unknown as PackageMetadata }, `#${i}`) && rev;
}

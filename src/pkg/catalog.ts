// Looking packages up across repositories, as Cosmos does: a name belongs to the first repository
// (in priority order) that has it; a version is a package.json `version`, and the highest
// releaseVersion (revision) wins when none is asked for. Pure over the loaded repositories.
import { CorralError } from '../shared/errors';
import type { LoadedRepository } from './repositories';
import type { PackageRevision, ResolvedPackage } from './types';

export interface CatalogView {
  repositories: LoadedRepository[];
  /** Repositories that could not be read this time, with why. */
  failures: CorralError[];
}

/** The revisions of `name` in the first repository that has it, newest release last. */
function revisionsOf(view: CatalogView, name: string): { found: LoadedRepository; revisions: PackageRevision[] } | undefined {
  for (const repo of view.repositories) {
    const revisions = repo.revisions.filter((r) => r.metadata.name === name).sort((a, b) => a.releaseVersion - b.releaseVersion);
    if (revisions.length > 0) return { found: repo, revisions };
  }
  return undefined;
}

export function resolvePackage(view: CatalogView, name: string, version?: string): ResolvedPackage {
  const hit = revisionsOf(view, name);
  if (!hit) {
    // A repository that could not be read may be the one that has it: say so rather than "not found".
    if (view.failures.length > 0) throw view.failures[0]!;
    throw new CorralError('PACKAGE_NOT_FOUND', `Package [${name}] not found in any repository (${view.repositories.map((r) => r.repository.name).join(', ') || 'none added'})`);
  }
  const candidates = version === undefined ? hit.revisions : hit.revisions.filter((r) => r.metadata.version === version);
  const revision = candidates[candidates.length - 1];
  if (!revision) {
    const known = [...new Set(hit.revisions.map((r) => r.metadata.version))].join(', ');
    throw new CorralError('PACKAGE_VERSION_NOT_FOUND', `Version [${version}] of package [${name}] not found (versions: ${known})`);
  }
  return { revision, repository: hit.found.repository };
}

/** Cosmos's list-versions answer: version → releaseVersion (as a string). */
export function packageVersions(view: CatalogView, name: string): Record<string, string> {
  const { revision } = resolvePackage(view, name);
  const revisions = revisionsOf(view, revision.metadata.name)!.revisions;
  return Object.fromEntries(revisions.map((r) => [r.metadata.version, String(r.releaseVersion)]));
}

export interface SearchResult {
  name: string;
  currentVersion: string;
  versions: Record<string, string>;
  description: string;
  framework: boolean;
  tags: string[];
  selected: boolean;
  images?: unknown;
  /** Corral: the repository it comes from. */
  repository: string;
}

/** Cosmos's wildcard query: `*` matches anything; otherwise a case-insensitive substring of name, description or a tag. */
function matcher(query: string): (text: string) => boolean {
  const q = query.trim().toLowerCase();
  if (q === '') return () => true;
  if (q.includes('*')) {
    const re = new RegExp('^' + q.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*') + '$');
    return (text) => re.test(text.toLowerCase());
  }
  return (text) => text.toLowerCase().includes(q);
}

export function searchPackages(view: CatalogView, query = ''): SearchResult[] {
  const matches = matcher(query);
  const seen = new Set<string>();
  const out: SearchResult[] = [];
  for (const repo of view.repositories) {
    const names = [...new Set(repo.revisions.map((r) => r.metadata.name))].sort();
    for (const name of names) {
      if (seen.has(name)) continue;
      seen.add(name);
      const revisions = repo.revisions.filter((r) => r.metadata.name === name).sort((a, b) => a.releaseVersion - b.releaseVersion);
      const current = revisions[revisions.length - 1]!.metadata;
      if (![current.name, current.description, ...current.tags].some(matches)) continue;
      out.push({
        name,
        currentVersion: current.version,
        versions: Object.fromEntries(revisions.map((r) => [r.metadata.version, String(r.releaseVersion)])),
        description: current.description,
        framework: current.framework ?? false,
        tags: current.tags,
        selected: current.selected ?? false,
        ...((current as { images?: unknown }).images !== undefined ? { images: (current as { images?: unknown }).images } : {}),
        repository: repo.repository.name,
      });
    }
  }
  return out;
}

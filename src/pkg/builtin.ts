// The built-in repository, packages-universe/. scripts/bundle.mjs embeds its files in the binary
// (esbuild `define`), so an installed corral needs no directory beside it; unbundled (tap, tsx) it
// is read from the checkout, found by walking up from this file.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { diskFiles, mapFiles, type RepoFiles } from './repo-layout';
import type { RepositoryRef } from './types';

declare const __CORRAL_PACKAGES_UNIVERSE__: Record<string, string> | undefined;

export const BUILTIN_DIR = 'packages-universe';
export const BUILTIN_URI = 'builtin:packages-universe';
/** The repository every cluster starts with (Cosmos's default is also named Universe). */
export const BUILTIN_REPOSITORY: RepositoryRef = { name: 'Universe', uri: BUILTIN_URI };

/** The built-in repository's files: embedded when bundled, else the nearest packages-universe/ above this file. */
export function builtinFiles(): RepoFiles {
  const files = embeddedFiles();
  if (files) return mapFiles(files);
  return diskFiles(findBuiltinDir(__dirname) ?? join(__dirname, BUILTIN_DIR));
}

export function findBuiltinDir(from: string): string | undefined {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, BUILTIN_DIR, 'packages'))) return join(dir, BUILTIN_DIR);
    if (dirname(dir) === dir) return undefined;
  }
}

/** The embedded files; one reference to the define, so the bundle holds them once. */
function embeddedFiles(): Record<string, string> | undefined {
  try {
    return __CORRAL_PACKAGES_UNIVERSE__;
  } catch {
    return undefined; // not bundled: the name is not defined
  }
}

// Where the agent finds dist/corral-exec (native/corral-exec.c), the static program that ends a
// task's launch. Missing (no C compiler at build time) means the slower shell chain.
import { accessSync, constants } from 'node:fs';
import { join, resolve } from 'node:path';
import { embeddedAssetPath } from '../../shared/sea-assets';

/** Next to the bundle (dist/corral.js), or dist/ of the checkout when running from sources. */
const CANDIDATES = [join(__dirname, 'corral-exec'), resolve(__dirname, '..', '..', '..', 'dist', 'corral-exec')];

/** The single executable carries the helper as an asset: its extracted copy, else the files above. */
function defaultCandidates(): string[] {
  try {
    const embedded = embeddedAssetPath('corral-exec');
    if (embedded !== undefined) return [embedded];
  } catch {
    // no writable cache directory: the shell chain still works
  }
  return CANDIDATES;
}

export function locateExecHelper(candidates: string[] = defaultCandidates()): string | undefined {
  return candidates.find((path) => {
    try {
      accessSync(path, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

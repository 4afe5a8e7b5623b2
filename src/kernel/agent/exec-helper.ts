// Where the agent finds dist/corral-exec (native/corral-exec.c), the static program that ends a
// task's launch. Missing (no C compiler at build time) means the slower shell chain.
import { accessSync, constants } from 'node:fs';
import { join, resolve } from 'node:path';

/** Next to the bundle (dist/corral.js), or dist/ of the checkout when running from sources. */
const CANDIDATES = [join(__dirname, 'corral-exec'), resolve(__dirname, '..', '..', '..', 'dist', 'corral-exec')];

export function locateExecHelper(candidates: string[] = CANDIDATES): string | undefined {
  return candidates.find((path) => {
    try {
      accessSync(path, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

// The version this build reports (package.json), plus the commit when bundled.
import pkg from '../../package.json';
import { buildCommit } from '../shared/build-info';

export const VERSION: string = pkg.version;
export const COMMIT: string = buildCommit();

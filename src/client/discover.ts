// Finds the API a CLI on this machine should talk to. Explicit values (flags, CORRAL_URL,
// CORRAL_TOKEN) win; otherwise the files `corral up` writes into its data dir say where it listens
// (api.json) and what the admin token is (admin.token).
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { CorralError } from '../shared/errors';

export interface EndpointSources {
  url?: string | undefined;
  token?: string | undefined;
  /** From `--data-dir` or CORRAL_DATA_DIR; searched before the default locations. */
  dataDir?: string | undefined;
}

export interface Endpoint {
  url: string;
  token: string;
}

export interface DiscoverOptions {
  /** Where to look after the given data dir; default `./.corral` (development) then `/var/lib/corral` (installed). */
  fallbackDirs?: readonly string[];
}

export const DEFAULT_DATA_DIRS: readonly string[] = ['./.corral', '/var/lib/corral'];

export async function discoverEndpoint(src: EndpointSources, opts: DiscoverOptions = {}): Promise<Endpoint> {
  if (src.url !== undefined && src.token !== undefined) return { url: src.url, token: src.token };
  const dirs = [...(src.dataDir !== undefined ? [src.dataDir] : []), ...(opts.fallbackDirs ?? DEFAULT_DATA_DIRS)];

  // With the URL given only a token is missing: the first dir that has one supplies it.
  const wanted = src.url === undefined ? 'api.json' : 'admin.token';
  let dir: string | undefined;
  let found: string | undefined;
  for (const d of dirs) {
    found = await readIfPresent(join(d, wanted));
    if (found !== undefined) {
      dir = d;
      break;
    }
  }
  if (dir === undefined || found === undefined) {
    const where = dirs.map((d) => join(resolve(d), wanted)).join(', ');
    if (src.url !== undefined) {
      throw new CorralError('UNAUTHORIZED', `No admin token for ${src.url}: looked for ${where}. Pass --token or set CORRAL_TOKEN.`);
    }
    throw new CorralError(
      'API_UNREACHABLE',
      `Cannot find where the Corral API listens: looked for ${where}. ` +
        '`corral up` starts a cluster (and writes this file); or set CORRAL_URL and CORRAL_TOKEN (--url, --token).',
    );
  }

  const url = src.url ?? urlFromApiJson(join(dir, 'api.json'), found);
  // Only read admin.token when needed: it is often readable by its owner only (mode 0600).
  const token = src.token ?? (src.url === undefined ? await readIfPresent(join(dir, 'admin.token')) : found)?.trim();
  if (token === undefined || token === '') {
    throw new CorralError(
      'UNAUTHORIZED',
      `No admin token: ${join(resolve(dir), 'admin.token')} is missing or empty. Pass --token or set CORRAL_TOKEN.`,
    );
  }
  return { url, token };
}

function urlFromApiJson(path: string, text: string): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new CorralError('INVALID_JSON', `${path} is not valid JSON (${(err as Error).message}); restarting \`corral up\` rewrites it.`);
  }
  const url = typeof parsed === 'object' && parsed !== null ? (parsed as { url?: unknown }).url : undefined;
  if (typeof url !== 'string' || url === '') {
    throw new CorralError('CONFIG_INVALID', `${path} has no "url" string; restarting \`corral up\` rewrites it.`);
  }
  return url;
}

/** The file's text, or undefined when it does not exist; other read failures are FILE_UNREADABLE. */
async function readIfPresent(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    const hint = code === 'EACCES' ? ' (it is readable only by the user running `corral up`; use sudo or pass --token)' : '';
    throw new CorralError('FILE_UNREADABLE', `Cannot read ${path}: ${(err as Error).message}${hint}`);
  }
}

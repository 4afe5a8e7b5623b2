// GET /v2/apps/{id}/versions → {"versions": [newest, ...]} and GET /v2/apps/{id}/versions/{version}
// → the app JSON as it was, in Marathon's shapes. App ids hold slashes, so a router cannot tell
// `/v2/apps/a/b/versions` from an app: these paths arrive at the /v2/apps/* route of routes.ts,
// which asks versionsRequest first. Rollback is a PUT of the app (app-versions.ts).
import type { AppVersions } from './app-versions';
import { marathonAppDefinition } from './marathon-json';

export interface VersionsRequest {
  appId: string;
  /** Absent: the list. */
  version?: string;
}

// Characters of app id segments; a timestamp has ':' and upper case, so it is never one.
const APP_SEGMENT_CHARS = /^[a-z0-9.-]+$/;

/**
 * The versions request a /v2/apps/* path names, or undefined for any other path. Marathon forbids
 * app ids ending in `versions`, so `<id>/versions` is always the list; `<id>/versions/<v>` is a
 * version when `<v>` could not be an app id segment (else it is the app `<id>/versions/<v>`).
 */
export function versionsRequest(path: string): VersionsRequest | undefined {
  const segments = path.split('/').filter((s) => s !== '');
  const last = segments[segments.length - 1];
  if (last === undefined) return undefined;
  if (last === 'versions' && segments.length >= 2) return { appId: segments.slice(0, -1).join('/') };
  if (segments[segments.length - 2] === 'versions' && segments.length >= 3 && !APP_SEGMENT_CHARS.test(last)) {
    return { appId: segments.slice(0, -2).join('/'), version: last };
  }
  return undefined;
}

export async function answerVersionsRequest(req: VersionsRequest, versions: AppVersions): Promise<Record<string, unknown>> {
  if (req.version === undefined) return { versions: await versions.list(req.appId) };
  return marathonAppDefinition(await versions.get(req.appId, req.version));
}

// Marathon's version history of an app: every definition written is kept (AppRepo), listed newest
// first, readable as it was, and deployable again. A rollback is Marathon's `PUT /v2/apps/{id}` with
// a body of just `{"version": "<old version>"}` (an `id` may come along): the app becomes the kept
// definition under a new version, deployed like any other update.
import { CorralError, errors } from '../shared/errors';
import { normalizeAppId } from './app';
import type { AppRepo } from './app-repo';
import type { AppDefinition, StoredApp } from './types';

// Marathon accepts any ISO 8601 instant; Corral writes `toISOString()` (UTC, milliseconds).
const ISO_8601 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/;

/** `raw` as Corral writes versions (`2026-01-02T03:04:05.678Z`), or undefined if it is no ISO 8601 instant. */
export function canonicalVersion(raw: string): string | undefined {
  if (!ISO_8601.test(raw)) return undefined;
  const ms = Date.parse(raw);
  return Number.isFinite(ms) ? new Date(ms).toISOString() : undefined;
}

function invalidVersion(why: string): CorralError {
  return errors.validation([{ path: '/version', errors: [why] }]);
}

/**
 * The version an app update body asks to roll back to, or undefined for an ordinary update. As in
 * Marathon, `version` may come only with `id` (422 otherwise); `"version": null` is no rollback.
 */
export function rollbackVersion(body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return undefined;
  const { version, id: _id, ...rest } = body as Record<string, unknown>;
  if (version === undefined || version === null) return undefined;
  if (Object.keys(rest).length > 0) throw invalidVersion("The 'version' field may only be combined with the 'id' field.");
  const canonical = typeof version === 'string' ? canonicalVersion(version) : undefined;
  if (canonical === undefined) throw invalidVersion('must be an ISO 8601 timestamp, e.g. 2026-01-02T03:04:05.678Z');
  return canonical;
}

/** The app as it was at `version`: APP_NOT_FOUND without `current`, APP_VERSION_NOT_FOUND when that version is not kept. */
export async function storedVersion(repo: AppRepo, appId: string, current: StoredApp | undefined, version: string): Promise<StoredApp> {
  if (!current) throw errors.appNotFound(appId);
  // An app written before versions were kept has no history yet, but its current version is known.
  if (current.version === version) return current;
  const kept = await repo.version(appId, version);
  if (!kept) throw errors.appVersionNotFound(appId, version);
  return kept;
}

/** The definition to deploy for a rollback to `version`: a full replacement body for the update path. */
export async function rollbackDefinition(repo: AppRepo, appId: string, current: StoredApp | undefined, version: string): Promise<AppDefinition> {
  const { app } = await storedVersion(repo, appId, current, version);
  // A `version` inside the definition would read as another rollback request.
  const { version: _stray, ...definition } = app;
  return definition as AppDefinition;
}

/** The read side behind GET /v2/apps/{id}/versions[/{version}]. */
export class AppVersions {
  constructor(
    private readonly repo: AppRepo,
    /** The app as init currently has it, undefined if there is none. */
    private readonly current: (appId: string) => StoredApp | undefined,
  ) {}

  /** Kept versions, newest first; the current one is always among them. */
  async list(rawId: string): Promise<string[]> {
    const id = normalizeAppId(rawId);
    const current = this.current(id);
    if (!current) throw errors.appNotFound(id);
    const kept = await this.repo.versions(id);
    return kept.includes(current.version) ? kept : [current.version, ...kept];
  }

  async get(rawId: string, rawVersion: string): Promise<StoredApp> {
    const id = normalizeAppId(rawId);
    const current = this.current(id);
    if (!current) throw errors.appNotFound(id);
    const version = canonicalVersion(rawVersion);
    if (version === undefined) throw errors.appVersionNotFound(id, rawVersion);
    return storedVersion(this.repo, id, current, version);
  }
}

// The Universe package format as pure checks: package.json by the rules of its packagingVersion
// (3.0 or 4.0: required fields, the name pattern, fields only the other version has), config.json
// as a JSON Schema, and Corral's `corral.requires` extension. Every problem becomes a detail with
// the path inside the file, so a broken package says exactly what to fix.
import Ajv, { type ErrorObject } from 'ajv';
import { CorralError, type ErrorDetail } from '../shared/errors';
import type { PackageMetadata, PackageRevision } from './types';

/** Universe's package name rule. */
export const PACKAGE_NAME = /^[a-z][a-z0-9-]*[a-z0-9]$/;

const notes = { type: 'string' } as const;
const common = {
  packagingVersion: { type: 'string' },
  name: { type: 'string', pattern: PACKAGE_NAME.source },
  version: { type: 'string', minLength: 1 },
  maintainer: { type: 'string', minLength: 1 },
  description: { type: 'string', minLength: 1 },
  tags: { type: 'array', items: { type: 'string', pattern: '^[^\\s]+$' } },
  scm: { type: 'string' },
  website: { type: 'string' },
  framework: { type: 'boolean' },
  preInstallNotes: notes,
  postInstallNotes: notes,
  postUninstallNotes: notes,
  selected: { type: 'boolean' },
  licenses: { type: 'array', items: { type: 'object', required: ['name', 'url'], properties: { name: { type: 'string' }, url: { type: 'string' } } } },
  minDcosReleaseVersion: { type: 'string', pattern: '^\\d+(\\.\\d+){0,2}$' },
  hasKnownIssues: { type: 'boolean' },
  lastUpdated: { type: 'integer' },
  corral: {
    type: 'object',
    additionalProperties: false,
    properties: {
      requires: {
        type: 'object',
        additionalProperties: false,
        properties: { commands: { type: 'array', items: { type: 'string', pattern: '^[A-Za-z0-9_.+-]+$' } } },
      },
    },
  },
  // Fields a repo index carries inline; a package directory has them as files beside package.json.
  releaseVersion: { type: 'integer', minimum: 0 },
  config: { type: 'object' },
  resource: { type: 'object' },
  marathon: { type: 'object', properties: { v2AppMustacheTemplate: { type: 'string' } } },
  chronos: { type: 'object', properties: { v1JobMustacheTemplate: { type: 'string' } } },
  images: { type: 'object' },
} as const;
const REQUIRED = ['packagingVersion', 'name', 'version', 'maintainer', 'description', 'tags'];

const ajv = new Ajv({ allErrors: true, strict: false });
const versionList = { type: 'array', items: { type: 'string' } } as const;
const validators = {
  // 3.0 predates upgrades: `upgradesFrom`/`downgradesTo` are 4.0 fields (and `command`, the old CLI
  // hook, is 3.0 only).
  '3.0': ajv.compile({ type: 'object', required: REQUIRED, properties: { ...common, command: { type: 'object' } }, additionalProperties: false }),
  '4.0': ajv.compile({ type: 'object', required: REQUIRED, properties: { ...common, upgradesFrom: versionList, downgradesTo: versionList }, additionalProperties: false }),
};
export const PACKAGING_VERSIONS = Object.keys(validators) as Array<keyof typeof validators>;

const checkSchema = new Ajv({ strict: false, allErrors: true });

/** ajv's errors as Marathon-style details: one entry per path, `required` and unknown fields named. */
export function ajvDetails(errs: readonly ErrorObject[], prefix = ''): ErrorDetail[] {
  const byPath = new Map<string, string[]>();
  for (const e of errs) {
    const params = e.params as { missingProperty?: string; additionalProperty?: string };
    const extra = e.keyword === 'required' ? `/${params.missingProperty}` : e.keyword === 'additionalProperties' ? `/${params.additionalProperty}` : '';
    const path = `${prefix}${e.instancePath}${extra}` || '/';
    const message = e.keyword === 'required' ? 'is required' : e.keyword === 'additionalProperties' ? 'is not a known property here' : e.message ?? 'is invalid';
    byPath.set(path, [...(byPath.get(path) ?? []), message]);
  }
  return [...byPath].map(([path, errors]) => ({ path, errors }));
}

/** package.json by the rules of its packagingVersion; problems as details (empty when valid). */
export function packageJsonDetails(input: unknown): ErrorDetail[] {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return [{ path: '/', errors: ['must be a JSON object'] }];
  const version = (input as { packagingVersion?: unknown }).packagingVersion;
  if (version === undefined) return [{ path: '/packagingVersion', errors: ['is required'] }];
  if (typeof version !== 'string' || !(version in validators)) return [{ path: '/packagingVersion', errors: [`must be one of ${PACKAGING_VERSIONS.join(', ')}`] }];
  const validate = validators[version as keyof typeof validators];
  return validate(input) ? [] : ajvDetails(validate.errors ?? []);
}

/** config.json must itself be a JSON Schema that compiles (an object schema, as Universe's are). */
export function configDetails(config: unknown): ErrorDetail[] {
  if (config === undefined) return [];
  if (typeof config !== 'object' || config === null || Array.isArray(config)) return [{ path: '/', errors: ['must be a JSON Schema object'] }];
  try {
    checkSchema.compile(config as object);
  } catch (err) {
    return [{ path: '/', errors: [`is not a valid JSON Schema: ${(err as Error).message}`] }];
  }
  return [];
}

export function invalidPackage(where: string, details: ErrorDetail[]): CorralError {
  return new CorralError('PACKAGE_INVALID', `Package ${where} is not valid`, details);
}

/**
 * Checks a whole revision (as loaded from a directory or a repo index) and returns it; throws
 * PACKAGE_INVALID naming `where` and each file's problems (paths like `/package.json/name`).
 */
export function checkRevision(rev: PackageRevision, where: string): PackageRevision {
  const details: ErrorDetail[] = [];
  const add = (file: string, ds: ErrorDetail[]) => details.push(...ds.map((d) => ({ path: `/${file}${d.path === '/' ? '' : d.path}`, errors: d.errors })));
  add('package.json', packageJsonDetails(rev.metadata));
  add('config.json', configDetails(rev.config));
  if (rev.marathonTemplate === undefined && rev.chronosTemplate === undefined) {
    details.push({ path: '/marathon.json.mustache', errors: ['is required (or chronos.json.mustache, for a job package)'] });
  }
  if (!Number.isInteger(rev.releaseVersion) || rev.releaseVersion < 0) details.push({ path: '/releaseVersion', errors: ['must be a whole number >= 0 (the revision directory)'] });
  if (details.length > 0) throw invalidPackage(where, details);
  return rev;
}

/** The commands a package needs on an agent (Corral's extension); none when it says nothing. */
export function requiredCommands(meta: PackageMetadata): string[] {
  return [...new Set(meta.corral?.requires?.commands ?? [])];
}

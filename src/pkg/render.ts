// The package renderer, a pure function as Cosmos's is: the defaults of config.json's JSON Schema,
// deep-merged with the user's options and validated (errors name the option path); then the
// Mustache templates rendered without HTML escaping, parsed as JSON, labelled as Universe labels
// them, and validated as a Marathon app (and a Chronos job, Corral's extension).
import Ajv, { type ValidateFunction } from 'ajv';
import Mustache from 'mustache';
import { validateApp } from '../init/app';
import type { AppDefinition } from '../init/types';
import { CorralError, type ErrorDetail } from '../shared/errors';
import { ajvDetails } from './format';
import { indexEntry } from './repo-layout';
import { PACKAGE_LABELS, type ChronosJob, type PackageRevision } from './types';

/** What Corral adds to the rendering view under `corral` (a package's own options win on a clash). */
export interface RenderContext {
  /** The API's base URL as the cluster sees it, e.g. http://127.0.0.1:5050. */
  apiUrl?: string;
  /** Prometheus HTTP service discovery endpoint of Corral's discovery (apiUrl + PROMETHEUS_SD_PATH). */
  prometheusSdUrl?: string;
  /** Agents that can run the package (have its commands): packages that run one instance per agent use it. */
  agentCount?: number;
}

export interface RenderRequest {
  revision: PackageRevision;
  /** The repository URI the revision came from (label DCOS_PACKAGE_SOURCE). */
  source: string;
  options?: unknown;
  /** Overrides the rendered app's id. */
  appId?: string;
  context?: RenderContext;
}

export interface Rendered {
  /** The validated app, Marathon's defaults filled; absent for a job-only package. */
  app?: AppDefinition;
  /** The app as the template rendered it (labels and app id applied), before defaults. */
  marathonJson?: Record<string, unknown>;
  job?: ChronosJob;
  /** Defaults merged with the user's options, as validated. */
  options: Record<string, unknown>;
}

const ajv = new Ajv({ allErrors: true, strict: false, useDefaults: true });
const compiled = new WeakMap<object, ValidateFunction>();

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The defaults a JSON Schema declares, nested objects built from their properties' defaults. */
export function schemaDefaults(schema: unknown): unknown {
  if (!isObject(schema)) return undefined;
  if (schema.default !== undefined) return structuredClone(schema.default);
  if (!isObject(schema.properties)) return undefined;
  const out: Record<string, unknown> = {};
  for (const [key, sub] of Object.entries(schema.properties)) {
    const d = schemaDefaults(sub);
    if (d !== undefined) out[key] = d;
  }
  return out;
}

/** `over` merged into `base`: objects key by key, anything else replaced. */
export function deepMerge(base: unknown, over: unknown): unknown {
  if (!isObject(base) || !isObject(over)) return over === undefined ? base : over;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = deepMerge(base[k], v);
  return out;
}

/** Defaults merged with `options`, validated against the package's config schema. */
export function resolveOptions(revision: PackageRevision, options: unknown): Record<string, unknown> {
  if (options !== undefined && !isObject(options)) throw optionsInvalid(revision, [{ path: '/', errors: ['must be a JSON object'] }]);
  const config = revision.config;
  const merged = deepMerge(schemaDefaults(config) ?? {}, options ?? {}) as Record<string, unknown>;
  if (!config) return merged;
  let validate = compiled.get(config);
  if (!validate) {
    validate = ajv.compile(config);
    compiled.set(config, validate);
  }
  if (!validate(merged)) throw optionsInvalid(revision, ajvDetails(validate.errors ?? []));
  return merged;
}

function optionsInvalid(revision: PackageRevision, details: ErrorDetail[]): CorralError {
  const where = details.map((d) => `${d.path} ${d.errors.join(', ')}`).join('; ');
  return new CorralError('PACKAGE_OPTIONS_INVALID', `Options for ${revision.metadata.name} ${revision.metadata.version} break its config schema: ${where}`, details);
}

function renderFailed(revision: PackageRevision, details: ErrorDetail[]): CorralError {
  return new CorralError('PACKAGE_RENDER_FAILED', `Package ${revision.metadata.name} ${revision.metadata.version} did not render to a valid definition`, details);
}

/** Mustache without HTML escaping: values go into the JSON text exactly as given, as in Cosmos. */
export function renderTemplate(template: string, view: Record<string, unknown>): string {
  return Mustache.render(template, view, {}, { escape: (value: unknown) => String(value) });
}

function renderJson(revision: PackageRevision, file: string, template: string, view: Record<string, unknown>): Record<string, unknown> {
  let text: string;
  try {
    text = renderTemplate(template, view);
  } catch (err) {
    throw renderFailed(revision, [{ path: `/${file}`, errors: [`is not a valid Mustache template: ${(err as Error).message}`] }]);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw renderFailed(revision, [{ path: `/${file}`, errors: [`rendered to invalid JSON: ${(err as Error).message}`] }]);
  }
  if (!isObject(parsed)) throw renderFailed(revision, [{ path: `/${file}`, errors: ['must render to a JSON object'] }]);
  return parsed;
}

const b64json = (v: unknown) => Buffer.from(JSON.stringify(v), 'utf8').toString('base64');

/** Universe's labels: which package, version and repository an app came from, with what options. */
export function packageLabels(revision: PackageRevision, source: string, options: unknown): Record<string, string> {
  return {
    [PACKAGE_LABELS.name]: revision.metadata.name,
    [PACKAGE_LABELS.version]: revision.metadata.version,
    [PACKAGE_LABELS.source]: source,
    [PACKAGE_LABELS.options]: b64json(options ?? {}),
    [PACKAGE_LABELS.definition]: b64json(indexEntry(revision)),
  };
}

export function renderPackage(req: RenderRequest): Rendered {
  const { revision } = req;
  const options = resolveOptions(revision, req.options);
  const view = { corral: { ...req.context }, ...options, resource: revision.resource ?? {} };
  const out: Rendered = { options };
  if (revision.marathonTemplate !== undefined) {
    const json = renderJson(revision, 'marathon.json.mustache', revision.marathonTemplate, view);
    const labels = isObject(json.labels) ? json.labels : {};
    const marathonJson = { ...json, ...(req.appId !== undefined ? { id: req.appId } : {}), labels: { ...labels, ...packageLabels(revision, req.source, req.options) } };
    try {
      out.app = validateApp(marathonJson);
    } catch (err) {
      if (err instanceof CorralError && err.code === 'VALIDATION_FAILED') throw renderFailed(revision, (err.details ?? []).map((d) => ({ path: `/marathon.json.mustache${d.path === '/' ? '' : d.path}`, errors: d.errors })));
      throw err;
    }
    out.marathonJson = marathonJson;
  }
  if (revision.chronosTemplate !== undefined) {
    const json = renderJson(revision, 'chronos.json.mustache', revision.chronosTemplate, view);
    const details = jobDetails(json);
    if (details.length > 0) throw renderFailed(revision, details.map((d) => ({ path: `/chronos.json.mustache${d.path}`, errors: d.errors })));
    out.job = json as ChronosJob;
  }
  return out;
}

/** Chronos's rules a job must meet before cron sees it (cron validates the rest). */
export function jobDetails(job: Record<string, unknown>): ErrorDetail[] {
  const details: ErrorDetail[] = [];
  if (typeof job.name !== 'string' || !/^[\w.-]+$/.test(job.name)) details.push({ path: '/name', errors: ['must be letters, digits, _, . and - (Chronos job names)'] });
  if (typeof job.command !== 'string' || job.command.trim() === '') details.push({ path: '/command', errors: ['is required'] });
  const hasSchedule = typeof job.schedule === 'string' && job.schedule !== '';
  const hasParents = Array.isArray(job.parents) && job.parents.length > 0;
  if (hasSchedule === hasParents) details.push({ path: '/schedule', errors: ['a job needs exactly one of schedule or parents'] });
  return details;
}

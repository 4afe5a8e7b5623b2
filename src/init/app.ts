// The Marathon app definition: validation with Marathon's rules and defaults, as pure functions.
// Fields Corral does not act on yet are validated loosely and kept, so app JSON round-trips.
import Ajv, { type ErrorObject } from 'ajv';
import { CorralError, type ErrorDetail } from '../shared/errors';
import { appSchema } from './app-schema';
import { fullRegex, isKnownField } from './constraints';
import { readinessDetails, withReadinessDefaults } from './readiness';
import { CONSTRAINT_OPERATORS, DEFAULT_UNREACHABLE_STRATEGY, DEFAULT_UPGRADE_STRATEGY, type AppDefinition, type AppHealthCheck, type PortDefinition, type ReadinessCheck, type UnreachableStrategy, type UpgradeStrategy } from './types';

const ajv = new Ajv({ allErrors: true, strict: false });
const validateSchema = ajv.compile(appSchema);

const SEGMENT = /^(([a-z0-9]|[a-z0-9][a-z0-9-]*[a-z0-9])\.)*([a-z0-9]|[a-z0-9][a-z0-9-]*[a-z0-9])$/;
const RESERVED_LAST_SEGMENTS = new Set(['restart', 'tasks', 'versions']);

/** `foo/bar`, `/foo/bar/` -> `/foo/bar`. Throws VALIDATION_FAILED for an id Marathon would reject. */
export function normalizeAppId(raw: string, path = '/id'): string {
  const segments = raw.split('/').filter((s) => s !== '');
  const problems: string[] = [];
  if (segments.length === 0) problems.push('must not be empty');
  for (const s of segments) {
    if (!SEGMENT.test(s)) problems.push(`path segment '${s}' must be lowercase letters, digits, '-' and '.', and may not start or end with '-' or '.'`);
  }
  const last = segments[segments.length - 1];
  if (last && RESERVED_LAST_SEGMENTS.has(last)) problems.push(`must not end with '${last}'`);
  if (problems.length > 0) throw new CorralError('VALIDATION_FAILED', 'Object is not valid', [{ path, errors: problems }]);
  return '/' + segments.join('/');
}

function toDetails(errs: readonly ErrorObject[]): ErrorDetail[] {
  const byPath = new Map<string, string[]>();
  for (const e of errs) {
    const missing = e.keyword === 'required' ? `/${String((e.params as { missingProperty: string }).missingProperty)}` : '';
    const path = (e.instancePath || '') + missing || '/';
    const message = e.keyword === 'required' ? 'is required' : e.keyword === 'additionalProperties' ? `unknown property '${String((e.params as { additionalProperty: string }).additionalProperty)}'` : e.message ?? 'is invalid';
    byPath.set(path, [...(byPath.get(path) ?? []), message]);
  }
  return [...byPath].map(([path, errors]) => ({ path, errors }));
}

export interface ValidateOptions {
  /** The id from the URL (PUT /v2/apps/{id}); wins over the body's id. */
  id?: string;
}

/**
 * Validates a Marathon app definition and fills Marathon's defaults. Service ports given as 0
 * stay 0 here; the controller assigns them (they must be unique across apps).
 */
export function validateApp(input: unknown, opts: ValidateOptions = {}): AppDefinition {
  const body: Record<string, unknown> = typeof input === 'object' && input !== null && !Array.isArray(input) ? { ...(input as Record<string, unknown>) } : {};
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new CorralError('VALIDATION_FAILED', 'Object is not valid', [{ path: '/', errors: ['must be a JSON object'] }]);
  }
  if (opts.id !== undefined) body.id = opts.id;
  if (!validateSchema(body)) throw new CorralError('VALIDATION_FAILED', 'Object is not valid', toDetails(validateSchema.errors ?? []));
  const details: ErrorDetail[] = [];
  const hasCmd = typeof body.cmd === 'string' && body.cmd !== '';
  const hasArgs = Array.isArray(body.args) && body.args.length > 0;
  if (hasCmd === hasArgs) details.push({ path: '/cmd', errors: [hasCmd ? "AppDefinition must not set both 'cmd' and 'args'" : "AppDefinition must supply exactly one of 'cmd' or 'args'"] });
  // Marathon takes both when they agree or one is empty: its GET returns both, and that JSON must post back.
  const legacyPorts = body.ports as number[] | undefined;
  const definitions = body.portDefinitions as PortDefinition[] | undefined;
  if (legacyPorts?.length && definitions?.length && JSON.stringify(definitions.map((p) => p.port)) !== JSON.stringify(legacyPorts)) {
    details.push({ path: '/ports', errors: ["You cannot specify both 'ports' and 'portDefinitions'"] });
  }
  const healthChecks = (body.healthChecks as Array<Partial<AppHealthCheck>> | undefined)?.map(withHealthCheckDefaults);
  details.push(...healthCheckDetails(healthChecks ?? [], definitions?.length || legacyPorts?.length || 0));
  details.push(...constraintDetails((body.constraints as string[][] | undefined) ?? []));
  details.push(...upgradeStrategyDetails(body.upgradeStrategy as Partial<UpgradeStrategy> | undefined));
  const id = normalizeAppId(String(body.id));
  const dependencies = resolveDependencies(id, (body.dependencies as string[] | undefined) ?? [], details);
  if (details.length > 0) throw new CorralError('VALIDATION_FAILED', 'Object is not valid', details);

  const portDefinitions: PortDefinition[] =
    definitions?.length || legacyPorts === undefined
      ? (definitions ?? []).map((p) => ({ protocol: 'tcp', ...p }))
      : legacyPorts.map((port) => ({ port, protocol: 'tcp' }));
  const names = portDefinitions.map((p) => p.name).filter((n): n is string => n !== undefined);
  if (new Set(names).size !== names.length) throw new CorralError('VALIDATION_FAILED', 'Object is not valid', [{ path: '/portDefinitions', errors: ['port names must be unique'] }]);
  const fixed = portDefinitions.map((p) => p.port).filter((p) => p !== 0);
  if (new Set(fixed).size !== fixed.length) throw new CorralError('VALIDATION_FAILED', 'Object is not valid', [{ path: '/portDefinitions', errors: ['ports must be unique'] }]);
  const readinessChecks = (body.readinessChecks as Array<Partial<ReadinessCheck>> | undefined)?.map(withReadinessDefaults);
  const readinessProblems = readinessDetails(readinessChecks ?? [], portDefinitions);
  if (readinessProblems.length > 0) throw new CorralError('VALIDATION_FAILED', 'Object is not valid', readinessProblems);
  const { ports: _legacyPorts, ...rest } = body;
  return {
    ...rest,
    id,
    instances: (body.instances as number | undefined) ?? 1,
    cpus: (body.cpus as number | undefined) ?? 1,
    mem: (body.mem as number | undefined) ?? 128,
    disk: (body.disk as number | undefined) ?? 0,
    gpus: (body.gpus as number | undefined) ?? 0,
    portDefinitions,
    requirePorts: (body.requirePorts as boolean | undefined) ?? false,
    env: (body.env as Record<string, string> | undefined) ?? {},
    labels: (body.labels as Record<string, string> | undefined) ?? {},
    backoffSeconds: (body.backoffSeconds as number | undefined) ?? 1,
    backoffFactor: (body.backoffFactor as number | undefined) ?? 1.15,
    maxLaunchDelaySeconds: (body.maxLaunchDelaySeconds as number | undefined) ?? 300,
    unreachableStrategy: (body.unreachableStrategy as UnreachableStrategy | undefined) ?? DEFAULT_UNREACHABLE_STRATEGY,
    upgradeStrategy: { ...DEFAULT_UPGRADE_STRATEGY, ...(body.upgradeStrategy as Partial<UpgradeStrategy> | undefined) },
    dependencies,
    ...(healthChecks ? { healthChecks } : {}),
    ...(readinessChecks ? { readinessChecks } : {}),
  } as AppDefinition;
}

/** Marathon's rule: both ratios within 0..1 (its wording); deadlineSeconds > 0 is checked by the schema. */
function upgradeStrategyDetails(strategy: Partial<UpgradeStrategy> | undefined): ErrorDetail[] {
  const details: ErrorDetail[] = [];
  for (const field of ['minimumHealthCapacity', 'maximumOverCapacity'] as const) {
    const v = strategy?.[field];
    if (v === undefined) continue;
    if (v > 1) details.push({ path: `/upgradeStrategy/${field}`, errors: ['is greater than 1'] });
    if (v < 0) details.push({ path: `/upgradeStrategy/${field}`, errors: ['is less than 0'] });
  }
  return details;
}

/** The upgradeStrategy an app runs with: Marathon's default for apps stored before it was filled. */
export function upgradeStrategyOf(app: AppDefinition): UpgradeStrategy {
  return app.upgradeStrategy ?? DEFAULT_UPGRADE_STRATEGY;
}

/**
 * Dependencies as absolute ids: a relative one (`db`, `../db`) is relative to the app's group, as
 * in Marathon. An app that depends on itself is refused (the smallest cycle; deployment planning
 * refuses longer ones).
 */
function resolveDependencies(appId: string, raw: readonly string[], details: ErrorDetail[]): string[] {
  const group = appId.split('/').filter((s) => s !== '').slice(0, -1);
  const out: string[] = [];
  raw.forEach((dep, i) => {
    const segments = dep.startsWith('/') ? [] : [...group];
    for (const s of dep.split('/').filter((x) => x !== '' && x !== '.')) {
      if (s === '..') segments.pop();
      else segments.push(s);
    }
    try {
      const id = normalizeAppId('/' + segments.join('/'), `/dependencies/${i}`);
      if (id === appId) details.push({ path: `/dependencies/${i}`, errors: ['Dependency graph has cyclic dependencies.'] });
      else if (!out.includes(id)) out.push(id);
    } catch (err) {
      details.push(...((err as CorralError).details ?? []));
    }
  });
  return out;
}

const HTTP_PROTOCOLS = new Set(['HTTP', 'HTTPS', 'MESOS_HTTP', 'MESOS_HTTPS']);

/**
 * Marathon's health check defaults: HTTP, grace 300 s, interval 60 s, timeout 20 s, 3 failures,
 * delay 15 s, and portIndex 0 for every protocol but COMMAND when no port is given. One deviation:
 * a timeout left out stays below a shorter interval ({"intervalSeconds": 10} gets 9 s, not 20 s), so
 * such Marathon JSON stays valid under Corral's timeout < interval rule.
 */
export function withHealthCheckDefaults(raw: Partial<AppHealthCheck>): AppHealthCheck {
  const protocol = raw.protocol ?? 'HTTP';
  const intervalSeconds = raw.intervalSeconds ?? 60;
  const check: AppHealthCheck = {
    ...raw,
    protocol,
    gracePeriodSeconds: raw.gracePeriodSeconds ?? 300,
    intervalSeconds,
    timeoutSeconds: raw.timeoutSeconds ?? Math.max(1, Math.min(20, intervalSeconds - 1)),
    maxConsecutiveFailures: raw.maxConsecutiveFailures ?? 3,
    delaySeconds: raw.delaySeconds ?? 15,
  };
  if (protocol !== 'COMMAND' && check.port === undefined && check.portIndex === undefined) check.portIndex = 0;
  if (HTTP_PROTOCOLS.has(protocol) && check.ignoreHttp1xx === undefined) check.ignoreHttp1xx = false;
  return check;
}

/** Marathon's rules between a check's fields and the app's ports (`portCount` host ports per task). */
function healthCheckDetails(checks: readonly AppHealthCheck[], portCount: number): ErrorDetail[] {
  const details: ErrorDetail[] = [];
  checks.forEach((c, i) => {
    const at = `/healthChecks/${i}`;
    if (c.protocol === 'COMMAND') {
      if (!c.command?.value) details.push({ path: `${at}/command`, errors: ['A command is required when using the COMMAND health check protocol.'] });
    } else if (c.port !== undefined && c.portIndex !== undefined) {
      details.push({ path: at, errors: ['HealthCheck must specify either a port or a portIndex'] });
    } else if (c.portIndex !== undefined && c.portIndex >= portCount) {
      details.push({ path: `${at}/portIndex`, errors: ['Health check port indices must address an element of the ports array or container port mappings.'] });
    }
    if (c.timeoutSeconds >= c.intervalSeconds) details.push({ path: `${at}/timeoutSeconds`, errors: [`must be less than intervalSeconds (${c.intervalSeconds})`] });
  });
  return details;
}

const POSITIVE_INTEGER = /^[1-9][0-9]*$/;

/** Marathon's rules for `[field, operator, value?]`; an empty value counts as none. */
function constraintDetails(constraints: readonly string[][]): ErrorDetail[] {
  const details: ErrorDetail[] = [];
  constraints.forEach((c, i) => {
    const problem = constraintProblem(c);
    if (problem) details.push({ path: `/constraints/${i}`, errors: [problem] });
  });
  return details;
}

function constraintProblem(c: readonly string[]): string | undefined {
  if (c.length < 2 || c.length > 3) return 'Each constraint must have either 2 or 3 fields';
  const [field, operator] = c as [string, string];
  const value = c[2] === '' ? undefined : c[2];
  if (field === '') return 'Missing field';
  if (!isKnownField(field)) return `Unknown field '${field}': use hostname, @hostname, @region, @zone or an agent attribute name`;
  if (!(CONSTRAINT_OPERATORS as readonly string[]).includes(operator)) return `Constraint operator must be one of the following ${CONSTRAINT_OPERATORS.join(', ')}`;
  switch (operator) {
    case 'UNIQUE':
      return value === undefined ? undefined : 'UNIQUE takes no value';
    case 'GROUP_BY':
      return value === undefined || POSITIVE_INTEGER.test(value) ? undefined : 'GROUP_BY takes no value or a positive integer (the number of groups)';
    case 'MAX_PER':
      return value !== undefined && POSITIVE_INTEGER.test(value) ? undefined : 'MAX_PER requires a positive integer value';
    case 'LIKE':
    case 'UNLIKE':
      if (value === undefined) return `${operator} requires a regular expression value`;
      try {
        fullRegex(value);
        return undefined;
      } catch (err) {
        return `'${value}' is not a valid regular expression: ${(err as Error).message}`;
      }
    case 'IS':
      return value === undefined ? 'IS requires a value' : undefined;
    default:
      return undefined; // CLUSTER: any value, or none
  }
}

/**
 * Fields whose change needs new tasks (labels too: they are in the task environment; health checks:
 * the agent gets them with the task; constraints: running instances must come to meet them, as in
 * Marathon, where any change but scaling restarts); the rest, e.g. instances, applies in place.
 */
const RESTART_FIELDS = ['cmd', 'args', 'cpus', 'mem', 'disk', 'gpus', 'portDefinitions', 'requirePorts', 'env', 'labels', 'user', 'fetch', 'healthChecks', 'constraints'] as const;

/** Compared with defaults filled: no checks and [] are the same, and so are apps stored before defaults were. */
const comparable = (app: AppDefinition, f: (typeof RESTART_FIELDS)[number]): unknown =>
  f === 'healthChecks' ? (app.healthChecks ?? []).map(withHealthCheckDefaults) : f === 'constraints' ? app.constraints ?? [] : app[f] ?? null;

export function needsRestart(before: AppDefinition, after: AppDefinition): boolean {
  return RESTART_FIELDS.some((f) => canonicalJson(comparable(before, f)) !== canonicalJson(comparable(after, f)));
}

/** JSON with object keys sorted: `env` {A,B} and {B,A} are the same map (array order still counts). */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  );
}

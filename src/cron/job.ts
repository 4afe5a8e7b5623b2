// Chronos's job JSON: validation with Chronos's rules and defaults, as pure functions. Fields
// Corral does not act on (container, softError, highPriority, ...) are kept as given, so job JSON
// round-trips; the read-only counters a client may send back (successCount, lastError, ...) are
// dropped, since the scheduler owns them.
import Ajv, { type ErrorObject } from 'ajv';
import { Duration } from 'luxon';
import { CorralError, type ErrorDetail } from '../shared/errors';
import { checkZone, parseSchedule } from './schedule';
import type { ConcurrencyPolicy, JobDefinition, StoredJob } from './types';

/** Chronos's name rule, with a bound so task ids (`ct:<ms>:<n>:<name>:`) stay within 200 characters. */
export const JOB_NAME = /^[\w.-]{1,150}$/;

const READ_ONLY = ['successCount', 'errorCount', 'lastSuccess', 'lastError', 'errorsSinceLastSuccess'];

const jobSchema = {
  type: 'object',
  required: ['name', 'command'],
  properties: {
    name: { type: 'string', pattern: JOB_NAME.source },
    command: { type: 'string' },
    arguments: { type: 'array', items: { type: 'string' } },
    shell: { type: 'boolean' },
    schedule: { type: 'string' },
    parents: { type: 'array', items: { type: 'string', pattern: JOB_NAME.source } },
    scheduleTimeZone: { type: ['string', 'null'] },
    epsilon: { type: 'string' },
    owner: { type: ['string', 'null'] },
    ownerName: { type: ['string', 'null'] },
    description: { type: ['string', 'null'] },
    async: { type: 'boolean' },
    retries: { type: 'integer', minimum: 0, maximum: 100 },
    disabled: { type: 'boolean' },
    concurrent: { type: 'boolean' },
    concurrencyPolicy: { enum: ['ALLOW', 'FORBID', 'REPLACE'] },
    missedRuns: { enum: ['RUN_ONCE', 'SKIP'] },
    cpus: { type: 'number', minimum: 0 },
    mem: { type: 'number', minimum: 0 },
    disk: { type: 'number', minimum: 0 },
    environmentVariables: {
      type: 'array',
      items: { type: 'object', required: ['name', 'value'], properties: { name: { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]*$' }, value: { type: 'string' } } },
    },
    fetch: {
      type: 'array',
      items: {
        type: 'object',
        required: ['uri'],
        properties: { uri: { type: 'string', minLength: 1 }, extract: { type: 'boolean' }, executable: { type: 'boolean' }, cache: { type: 'boolean' }, destPath: { type: 'string' } },
      },
    },
    uris: { type: 'array', items: { type: 'string', minLength: 1 } },
    constraints: { type: 'array', items: { type: 'array', minItems: 3, maxItems: 3, items: [{ type: 'string' }, { enum: ['EQUALS', 'LIKE', 'UNLIKE'] }, { type: 'string' }] } },
    runAsUser: { type: ['string', 'null'] },
    maxCompletionTime: { type: 'integer', minimum: 0 },
  },
} as const;

const ajv = new Ajv({ allErrors: true, strict: false });
const validateSchema = ajv.compile(jobSchema);

function toDetails(errs: readonly ErrorObject[]): ErrorDetail[] {
  const byPath = new Map<string, string[]>();
  for (const e of errs) {
    const missing = e.keyword === 'required' ? `/${String((e.params as { missingProperty: string }).missingProperty)}` : '';
    const path = (e.instancePath || '') + missing || '/';
    const message = e.keyword === 'required' ? 'is required' : (e.message ?? 'is invalid');
    byPath.set(path, [...(byPath.get(path) ?? []), message]);
  }
  return [...byPath].map(([path, errors]) => ({ path, errors }));
}

const invalid = (details: ErrorDetail[]) => new CorralError('VALIDATION_FAILED', 'Object is not valid', details);
const KNOWN = new Set([...Object.keys(jobSchema.properties), ...READ_ONLY]);

/** The epsilon as ms (an ISO 8601 duration such as PT60S). */
export function epsilonMs(epsilon: string): number {
  return Duration.fromISO(epsilon).as('milliseconds');
}

/**
 * Validates a Chronos job and fills Chronos's defaults. `kind` says which endpoint it came to:
 * `/iso8601` wants a schedule, `/dependency` parents, the native API either (exactly one of them).
 */
export function validateJob(input: unknown, kind: 'scheduled' | 'dependent' | 'any' = 'any'): JobDefinition {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw invalid([{ path: '/', errors: ['must be a JSON object'] }]);
  const body = input as Record<string, unknown>;
  if (!validateSchema(body)) throw invalid(toDetails(validateSchema.errors ?? []));
  const details: ErrorDetail[] = [];
  const schedule = typeof body.schedule === 'string' && body.schedule.trim() !== '' ? body.schedule.trim() : undefined;
  const parents = Array.isArray(body.parents) && body.parents.length > 0 ? [...new Set(body.parents as string[])] : undefined;
  if ((schedule === undefined) === (parents === undefined)) details.push({ path: '/schedule', errors: ["a job has exactly one of 'schedule' (a scheduled job) or 'parents' (a dependent job)"] });
  else if (kind === 'scheduled' && !schedule) details.push({ path: '/schedule', errors: ['POST /v1/scheduler/iso8601 needs a schedule; dependent jobs go to /v1/scheduler/dependency'] });
  else if (kind === 'dependent' && !parents) details.push({ path: '/parents', errors: ['POST /v1/scheduler/dependency needs parents; scheduled jobs go to /v1/scheduler/iso8601'] });
  if (parents?.includes(body.name as string)) details.push({ path: '/parents', errors: ['a job cannot be its own parent'] });
  const epsilon = typeof body.epsilon === 'string' ? body.epsilon : 'PT60S';
  const eps = Duration.fromISO(epsilon);
  if (!eps.isValid || !(eps.as('milliseconds') >= 0)) details.push({ path: '/epsilon', errors: [`'${epsilon}' is not an ISO 8601 duration (e.g. PT60S)`] });
  const zone = typeof body.scheduleTimeZone === 'string' ? body.scheduleTimeZone : '';
  for (const check of [() => checkZone(zone), () => schedule && parseSchedule(schedule, zone, 0)]) {
    try {
      check();
    } catch (err) {
      if (err instanceof CorralError && err.details) details.push(...err.details);
      else throw err;
    }
  }
  if (details.length > 0) throw invalid(details);
  const concurrent = body.concurrent === true;
  const fetch = [...((body.fetch as JobDefinition['fetch'] | undefined) ?? []), ...((body.uris as string[] | undefined) ?? []).map((uri) => ({ uri }))];
  const extra = Object.fromEntries(Object.entries(body).filter(([k]) => !KNOWN.has(k)));
  const job: JobDefinition = {
    name: body.name as string,
    command: body.command as string,
    arguments: (body.arguments as string[] | undefined) ?? [],
    shell: body.shell !== false,
    ...(schedule ? { schedule } : {}),
    ...(parents ? { parents } : {}),
    scheduleTimeZone: zone,
    epsilon,
    owner: (body.owner as string | null | undefined) ?? '',
    ownerName: (body.ownerName as string | null | undefined) ?? '',
    description: (body.description as string | null | undefined) ?? '',
    async: body.async === true,
    retries: (body.retries as number | undefined) ?? 2,
    disabled: body.disabled === true,
    concurrent,
    concurrencyPolicy: (body.concurrencyPolicy as ConcurrencyPolicy | undefined) ?? (concurrent ? 'ALLOW' : 'FORBID'),
    missedRuns: (body.missedRuns as JobDefinition['missedRuns'] | undefined) ?? 'RUN_ONCE',
    cpus: (body.cpus as number | undefined) ?? 0.1,
    mem: (body.mem as number | undefined) ?? 128,
    disk: (body.disk as number | undefined) ?? 256,
    environmentVariables: (body.environmentVariables as JobDefinition['environmentVariables'] | undefined) ?? [],
    fetch,
    constraints: (body.constraints as JobDefinition['constraints'] | undefined) ?? [],
    runAsUser: (body.runAsUser as string | null | undefined) ?? '',
    maxCompletionTime: (body.maxCompletionTime as number | undefined) ?? 0,
  };
  if (Object.keys(extra).length > 0) job.extra = extra;
  return job;
}

/** The stored form of a job validated at `now` (parses its schedule, fixing an empty ISO start to now). */
export function storedJob(job: JobDefinition, now: number, previous?: StoredJob): StoredJob {
  // An unchanged schedule keeps its parsed form, so an update does not move an empty start.
  const keep = previous && previous.job.schedule === job.schedule && previous.job.scheduleTimeZone === job.scheduleTimeZone ? previous.schedule : undefined;
  const schedule = job.schedule ? (keep ?? parseSchedule(job.schedule, job.scheduleTimeZone, now)) : undefined;
  return { job, ...(schedule ? { schedule } : {}), createdAt: previous?.createdAt ?? now, updatedAt: now };
}

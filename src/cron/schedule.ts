// The schedule maths, pure: when a job's occurrences fall. Two notations share one model:
// Chronos's ISO 8601 repeating interval `R[n]/[start]/period` and a cron expression (node-cron
// syntax: 5 fields, or 6 with seconds first) with an IANA time zone. A job's progress through its
// schedule is a Cursor (the next occurrence not yet handled and how many were handled), so
// "Rn counting down" is the count left, and nothing here reads a clock: `now` is an argument.
//
// DST (docs/cron.md): a wall time that does not exist (the skipped hour of spring-forward) runs at
// the same offset after the gap (02:30 → 03:30); a repeated hour (fall-back) runs once, in its first
// pass, for schedules that name the hour (cron `0 30 1 * * *`, ISO `P1D`), while schedules
// stepping through every hour or finer keep stepping in real time and so fire in both passes.
import { CronExpressionParser, type CronExpression } from 'cron-parser';
import { DateTime, Duration, IANAZone } from 'luxon';
import { CorralError } from '../shared/errors';

export interface IsoSchedule {
  kind: 'iso';
  /** Occurrences in total from `start`; undefined repeats forever (`R`). */
  repeats: number | undefined;
  /** The first occurrence, ms since the epoch (an empty start was resolved to the submission time). */
  start: number;
  /** ISO 8601 duration between occurrences, e.g. `PT2H`, `P1D`. */
  period: string;
  /** Calendar units of `period` are added in this zone (wall-clock days and months). */
  zone: string;
}

export interface CronSchedule {
  kind: 'cron';
  /** 5 or 6 fields (seconds first when 6), names and @macros as cron-parser reads them. */
  expression: string;
  zone: string;
}

export type Schedule = IsoSchedule | CronSchedule;

/** Where a job is in its schedule. */
export interface Cursor {
  /** The next occurrence not yet run or recorded missed (ms); undefined when the schedule is exhausted. */
  next: number | undefined;
  /** Occurrences handled so far (for `Rn`, what is left is n - index). */
  index: number;
}

const OFFSET = /(?<=T[\d:.,]+)(?:[zZ]|[+-]\d\d(?::?\d\d)?)$/;
const ISO_REPEATING = /^R(\d*)\/([^/]*)\/(P[^/]+)$/;

function invalid(message: string, path = '/schedule'): CorralError {
  return new CorralError('VALIDATION_FAILED', 'Object is not valid', [{ path, errors: [message] }]);
}

/** True for text in Chronos's ISO 8601 notation (otherwise it is read as a cron expression). */
export function isIsoSchedule(text: string): boolean {
  return /^R\d*\//.test(text.trim());
}

/** Checks an IANA zone name; undefined or '' is UTC. */
export function checkZone(zone: string | undefined): string {
  if (zone === undefined || zone === '') return 'UTC';
  if (!IANAZone.isValidZone(zone)) throw invalid(`unknown time zone '${zone}' (use an IANA name such as Europe/Berlin or UTC)`, '/scheduleTimeZone');
  return zone;
}

/**
 * Parses a schedule. `now` resolves an empty ISO start. With a `zone`, an ISO start is read as wall
 * time in that zone (an offset written in it is ignored, as Chronos's scheduleTimeZone does);
 * without one, as written (no offset: UTC).
 */
export function parseSchedule(text: string, zoneName: string | undefined, now: number): Schedule {
  const zone = checkZone(zoneName);
  const trimmed = text.trim();
  if (isIsoSchedule(trimmed)) return parseIso(trimmed, zone, zoneName !== undefined && zoneName !== '', now);
  return parseCron(trimmed, zone);
}

function parseIso(text: string, zone: string, zoneGiven: boolean, now: number): IsoSchedule {
  const m = ISO_REPEATING.exec(text);
  if (!m) throw invalid(`'${text}' is not an ISO 8601 repeating interval R[n]/[start]/period (e.g. R/2026-01-01T00:00:00Z/PT1H, R5//P1D)`);
  const repeats = m[1] === '' ? undefined : Number(m[1]);
  const duration = Duration.fromISO(m[3]!);
  if (!duration.isValid) throw invalid(`'${m[3]}' is not an ISO 8601 duration (e.g. PT30S, PT2H, P1D, P1M)`);
  const units = duration.toObject();
  if (Object.values(units).some((v) => v !== undefined && v < 0) || !(duration.as('milliseconds') > 0)) throw invalid(`the period '${m[3]}' must be longer than zero`);
  let start: number;
  if (m[2] === '') start = now;
  else {
    // With a zone the written offset gives way to it (Chronos: scheduleTimeZone takes precedence).
    const dt = zoneGiven ? DateTime.fromISO(m[2]!.replace(OFFSET, ''), { zone }) : DateTime.fromISO(m[2]!, { zone: 'UTC' });
    if (!dt.isValid) throw invalid(`the start '${m[2]}' is not an ISO 8601 date-time (e.g. 2026-01-01T08:00:00Z)`);
    start = dt.toMillis();
  }
  return { kind: 'iso', repeats, start, period: m[3]!, zone };
}

function parseCron(expression: string, zone: string): CronSchedule {
  const fields = expression.split(/\s+/).filter((f) => f !== '');
  if (!expression.startsWith('@') && (fields.length < 5 || fields.length > 6)) {
    throw invalid(`'${expression}' is neither an ISO 8601 repeating interval (R[n]/start/period) nor a cron expression of 5 or 6 fields (seconds first)`);
  }
  try {
    CronExpressionParser.parse(expression, { tz: zone, currentDate: 0 }).next();
  } catch (err) {
    throw invalid(`'${expression}' is not a valid cron expression: ${(err as Error).message}`);
  }
  return { kind: 'cron', expression: fields.join(' '), zone };
}

/** A fixed length in ms when the period has only time units (then DST cannot change it). */
function fixedMs(period: string): number | undefined {
  if (fixedCache.has(period)) return fixedCache.get(period);
  const u = Duration.fromISO(period).toObject();
  const fixed = u.years || u.quarters || u.months || u.weeks || u.days ? undefined : Duration.fromISO(period).as('milliseconds');
  if (fixedCache.size >= PARSED_LIMIT) fixedCache.clear();
  fixedCache.set(period, fixed);
  return fixed;
}
const fixedCache = new Map<string, number | undefined>();

/** The k-th occurrence (0-based) of an ISO schedule, counted from its start (no drift from month ends). */
export function isoOccurrence(s: IsoSchedule, k: number): number {
  const fixed = fixedMs(s.period);
  if (fixed !== undefined) return s.start + k * fixed;
  const u = Duration.fromISO(s.period).toObject();
  const scaled: Record<string, number> = {};
  for (const [unit, v] of Object.entries(u)) if (v) scaled[unit] = v * k;
  return DateTime.fromMillis(s.start, { zone: s.zone }).plus(scaled).toMillis();
}

/** The smallest k with isoOccurrence(s, k) >= t (k >= 0). */
function isoIndexAtOrAfter(s: IsoSchedule, t: number): number {
  if (t <= s.start) return 0;
  const fixed = fixedMs(s.period);
  if (fixed !== undefined) return Math.ceil((t - s.start) / fixed);
  let k = Math.max(0, Math.floor((t - s.start) / Duration.fromISO(s.period).as('milliseconds')) - 2);
  while (k > 0 && isoOccurrence(s, k) >= t) k--;
  while (isoOccurrence(s, k) < t) k++;
  return k;
}

/** Parsed expressions by zone and text: parsing costs ~10x a step, and a job steps every occurrence. */
const parsed = new Map<string, CronExpression>();
const PARSED_LIMIT = 10_000;

/** The parsed expression, its iterator moved to `t` (cron-parser iterates from its current date). */
function cronAt(s: CronSchedule, t: number): CronExpression {
  const key = `${s.zone} ${s.expression}`;
  let expr = parsed.get(key);
  if (!expr) {
    if (parsed.size >= PARSED_LIMIT) parsed.clear();
    expr = CronExpressionParser.parse(s.expression, { tz: s.zone, currentDate: t });
    parsed.set(key, expr);
  } else expr.reset(new Date(t));
  return expr;
}

function cronNextAfter(s: CronSchedule, t: number): number | undefined {
  try {
    return cronAt(s, t).next().getTime();
  } catch {
    // Out of the time span (a date that never comes again, e.g. Feb 30).
    return undefined;
  }
}

/** The first occurrence at or after `t`, as a cursor (a job created at `t` starts here). */
export function cursorAt(s: Schedule, t: number): Cursor {
  if (s.kind === 'cron') return { next: cronNextAfter(s, t - 1), index: 0 };
  const k = isoIndexAtOrAfter(s, t);
  return { next: s.repeats !== undefined && k >= s.repeats ? undefined : isoOccurrence(s, k), index: k };
}

/** The cursor after handling its current occurrence. */
export function advance(s: Schedule, c: Cursor): Cursor {
  if (c.next === undefined) return c;
  if (s.kind === 'cron') return { next: cronNextAfter(s, c.next), index: c.index + 1 };
  const k = c.index + 1;
  return { next: s.repeats !== undefined && k >= s.repeats ? undefined : isoOccurrence(s, k), index: k };
}

/** Skips every occurrence before `t` (those are not to be handled one by one). */
export function skipTo(s: Schedule, c: Cursor, t: number): Cursor {
  if (c.next === undefined || c.next >= t) return c;
  if (s.kind === 'iso') {
    const k = isoIndexAtOrAfter(s, t);
    return { next: s.repeats !== undefined && k >= s.repeats ? undefined : isoOccurrence(s, k), index: k };
  }
  const next = cronNextAfter(s, t - 1);
  return { next, index: c.index + 1 };
}

/** Repetitions left (`Rn` counting down); undefined when unbounded. */
export function remaining(s: Schedule, c: Cursor): number | undefined {
  if (s.kind === 'cron' || s.repeats === undefined) return undefined;
  return Math.max(0, s.repeats - c.index);
}

/** The schedule as Chronos shows it: `R<left>/<next occurrence>/<period>`, or the cron expression. */
export function scheduleText(s: Schedule, c: Cursor): string {
  if (s.kind === 'cron') return s.expression;
  const left = remaining(s, c);
  const next = c.next ?? isoOccurrence(s, c.index);
  const at = s.zone === 'UTC' ? new Date(next).toISOString() : (DateTime.fromMillis(next, { zone: s.zone }).toISO() ?? new Date(next).toISOString());
  return `R${left === undefined ? '' : left}/${at}/${s.period}`;
}

/** The last occurrence at or before `t`, or undefined when there is none. */
export function latestAtOrBefore(s: Schedule, t: number): number | undefined {
  if (s.kind === 'cron') {
    try {
      return cronAt(s, t + 1).prev().getTime();
    } catch {
      return undefined;
    }
  }
  let k = isoIndexAtOrAfter(s, t + 1) - 1;
  if (s.repeats !== undefined) k = Math.min(k, s.repeats - 1);
  return k < 0 ? undefined : isoOccurrence(s, k);
}

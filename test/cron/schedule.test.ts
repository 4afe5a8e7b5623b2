// The schedule maths, pinned with a fake clock: ISO 8601 repeating intervals (R, Rn counting down,
// empty start), cron with seconds, time zones, DST gaps and overlaps, and the due/missed planner.
import t from 'tap';
import { decideConcurrency, overdueRuns, planDue, retryDelayMs, runIdOf, shouldRetry, taskIdOf } from '../../src/cron/due';
import { advance, cursorAt, isoOccurrence, latestAtOrBefore, parseSchedule, remaining, scheduleText, skipTo, type Cursor, type Schedule } from '../../src/cron/schedule';
import type { JobRun } from '../../src/cron/types';
import { FakeClock } from '../../src/shared/clock';
import { CorralError } from '../../src/shared/errors';

const at = (iso: string) => Date.parse(iso);
const isoOf = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());

/** The first `n` occurrences at or after `from`. */
function take(s: Schedule, from: number, n: number): Array<string | undefined> {
  const out: Array<string | undefined> = [];
  let c = cursorAt(s, from);
  for (let i = 0; i < n; i++) {
    out.push(isoOf(c.next));
    c = advance(s, c);
  }
  return out;
}

t.test('ISO 8601: R forever, Rn, empty start = now, and the start as written', async (t) => {
  const clock = new FakeClock(at('2026-01-01T00:00:00Z'));
  const forever = parseSchedule('R/2014-03-08T20:00:00.000Z/PT2H', undefined, clock.now());
  t.same(take(forever, at('2014-03-08T20:00:00Z'), 3), ['2014-03-08T20:00:00.000Z', '2014-03-08T22:00:00.000Z', '2014-03-09T00:00:00.000Z']);
  t.equal(remaining(forever, cursorAt(forever, clock.now())), undefined, 'R alone repeats forever');

  const empty = parseSchedule('R3//PT30S', undefined, clock.now());
  t.equal(empty.kind === 'iso' && empty.start, clock.now(), 'an empty start is the submission time');
  t.same(take(empty, clock.now(), 4), ['2026-01-01T00:00:00.000Z', '2026-01-01T00:00:30.000Z', '2026-01-01T00:01:00.000Z', undefined], 'R3 gives three occurrences, then none');

  const offset = parseSchedule('R/2026-01-01T10:00:00+02:00/P1D', undefined, 0);
  t.equal(isoOf(isoOccurrence(offset as never, 0)), '2026-01-01T08:00:00.000Z', 'an offset in the start is honoured without a zone');
  const bare = parseSchedule('R/2026-01-01T10:00:00/P1D', undefined, 0);
  t.equal(isoOf(isoOccurrence(bare as never, 0)), '2026-01-01T10:00:00.000Z', 'no offset and no zone: UTC');
  const dateOnly = parseSchedule('R/2026-01-05/P1W', 'Europe/Berlin', 0);
  t.equal(isoOf(isoOccurrence(dateOnly as never, 1)), '2026-01-11T23:00:00.000Z', 'a date-only start is midnight in the zone; P1W adds a week');

  const months = parseSchedule('R/2026-01-31T10:00:00Z/P1M', undefined, 0);
  t.same(take(months, 0, 3), ['2026-01-31T10:00:00.000Z', '2026-02-28T10:00:00.000Z', '2026-03-31T10:00:00.000Z'], 'months count from the start: no drift after a short month');
});

t.test('ISO 8601: Rn counts down as occurrences are handled, and the shown schedule follows', async (t) => {
  const s = parseSchedule('R3/2026-01-01T00:00:00Z/PT1H', undefined, 0);
  let c: Cursor = cursorAt(s, at('2026-01-01T00:00:00Z'));
  t.equal(scheduleText(s, c), 'R3/2026-01-01T00:00:00.000Z/PT1H');
  c = advance(s, c);
  t.equal(scheduleText(s, c), 'R2/2026-01-01T01:00:00.000Z/PT1H');
  c = advance(s, advance(s, c));
  t.equal(remaining(s, c), 0);
  t.equal(c.next, undefined, 'exhausted');
  t.equal(scheduleText(s, c), 'R0/2026-01-01T03:00:00.000Z/PT1H');
  t.same(advance(s, c), c, 'an exhausted cursor stays put');

  const late = cursorAt(s, at('2026-01-01T01:30:00Z'));
  t.equal(remaining(s, late), 1, 'a job created after two occurrences passed has one left');
  t.equal(scheduleText(parseSchedule('R/2026-01-01T09:00:00/P1D', 'Europe/Berlin', 0), cursorAt(parseSchedule('R/2026-01-01T09:00:00/P1D', 'Europe/Berlin', 0), 0)), 'R/2026-01-01T09:00:00.000+01:00/P1D', 'shown in the zone');
});

t.test('cron: 5 and 6 fields (seconds first), macros, time zones', async (t) => {
  const start = at('2026-01-01T00:00:00Z');
  t.same(take(parseSchedule('*/2 * * * * *', undefined, 0), start, 3), ['2026-01-01T00:00:00.000Z', '2026-01-01T00:00:02.000Z', '2026-01-01T00:00:04.000Z'], 'every 2 s, the current second included');
  t.same(take(parseSchedule('15 10 * * * *', undefined, 0), start, 2), ['2026-01-01T00:10:15.000Z', '2026-01-01T01:10:15.000Z']);
  t.same(take(parseSchedule('0 9 * * 1-5', 'America/New_York', 0), start, 2), ['2026-01-01T14:00:00.000Z', '2026-01-02T14:00:00.000Z'], '09:00 New York on weekdays (EST)');
  t.same(take(parseSchedule('0 0 1 jan,jul *', 'UTC', 0), start, 2), ['2026-01-01T00:00:00.000Z', '2026-07-01T00:00:00.000Z'], 'month names');
  t.same(take(parseSchedule('@daily', 'Asia/Tokyo', 0), start, 1), ['2026-01-01T15:00:00.000Z'], '@daily at midnight Tokyo');
  t.equal(cursorAt(parseSchedule('*/2 * * * * *', undefined, 0), start + 500).next, start + 2000, 'mid-second: the next even second');
  const fired = parseSchedule('0 * * * * *', undefined, 0);
  t.equal(latestAtOrBefore(fired, at('2026-01-01T00:05:00Z')), at('2026-01-01T00:05:00Z'), 'an occurrence at exactly t counts as at or before t');
  t.equal(latestAtOrBefore(fired, at('2026-01-01T00:05:59.999Z')), at('2026-01-01T00:05:00Z'));
});

t.test('DST gap (spring forward): a skipped wall time runs once, an hour later in wall time', async (t) => {
  // America/New_York, 2026-03-08: 02:00 EST becomes 03:00 EDT.
  const from = at('2026-03-07T12:00:00Z');
  t.same(take(parseSchedule('0 30 2 * * *', 'America/New_York', 0), from, 3), ['2026-03-08T07:30:00.000Z', '2026-03-09T06:30:00.000Z', '2026-03-10T06:30:00.000Z'], 'cron 02:30 → 03:30 EDT on the day of the gap, once');
  t.same(take(parseSchedule('0 */30 * * * *', 'America/New_York', 0), at('2026-03-08T06:10:00Z'), 4), ['2026-03-08T06:30:00.000Z', '2026-03-08T07:00:00.000Z', '2026-03-08T07:30:00.000Z', '2026-03-08T08:00:00.000Z'], 'every 30 min keeps real-time steps across the gap');
  const iso = parseSchedule('R/2026-03-07T02:30:00/P1D', 'America/New_York', 0);
  t.same(take(iso, 0, 3), ['2026-03-07T07:30:00.000Z', '2026-03-08T07:30:00.000Z', '2026-03-09T06:30:00.000Z'], 'ISO P1D: 02:30 → 03:30 EDT on the gap day, then 02:30 again');
  const hours = parseSchedule('R/2026-03-07T02:30:00/PT24H', 'America/New_York', 0);
  t.same(take(hours, 0, 2), ['2026-03-07T07:30:00.000Z', '2026-03-08T07:30:00.000Z'], 'PT24H is 24 real hours (03:30 EDT), not a wall-clock day');
  t.equal(isoOccurrence(hours as never, 2), at('2026-03-09T07:30:00Z'), '…and stays at 03:30 EDT afterwards');
});

t.test('DST overlap (fall back): a named hour runs once, in its first pass; finer steps run in both', async (t) => {
  // America/New_York, 2026-11-01: 02:00 EDT becomes 01:00 EST, so 01:00-01:59 happens twice.
  const from = at('2026-10-31T12:00:00Z');
  t.same(take(parseSchedule('0 30 1 * * *', 'America/New_York', 0), from, 2), ['2026-11-01T05:30:00.000Z', '2026-11-02T06:30:00.000Z'], 'cron 01:30 once, at 01:30 EDT');
  t.same(take(parseSchedule('0 */30 * * * *', 'America/New_York', 0), at('2026-11-01T04:50:00Z'), 6), ['2026-11-01T05:00:00.000Z', '2026-11-01T05:30:00.000Z', '2026-11-01T06:00:00.000Z', '2026-11-01T06:30:00.000Z', '2026-11-01T07:00:00.000Z', '2026-11-01T07:30:00.000Z'], 'every 30 min fires in both passes of 01:xx');
  const iso = parseSchedule('R/2026-10-31T01:30:00/P1D', 'America/New_York', 0);
  t.same(take(iso, 0, 3), ['2026-10-31T05:30:00.000Z', '2026-11-01T05:30:00.000Z', '2026-11-02T06:30:00.000Z'], 'ISO P1D: 01:30 EDT (first pass) on the overlap day');
});

t.test('bad schedules and zones are 422 VALIDATION_FAILED at the field', async (t) => {
  const bad: Array<[string, string | undefined, string]> = [
    ['R/2026-01-01T00:00:00Z/PX', undefined, '/schedule'],
    ['R/2026-13-01T00:00:00Z/PT1H', undefined, '/schedule'],
    ['R/2026-01-01T00:00:00Z/PT0S', undefined, '/schedule'],
    ['Rx/2026-01-01T00:00:00Z/PT1H', undefined, '/schedule'],
    ['61 * * * *', undefined, '/schedule'],
    ['* * * * * * *', undefined, '/schedule'],
    ['every day', undefined, '/schedule'],
    ['* * * * *', 'Mars/Olympus', '/scheduleTimeZone'],
  ];
  for (const [text, zone, path] of bad) {
    const err = (() => {
      try {
        parseSchedule(text, zone, 0);
      } catch (e) {
        return e as CorralError;
      }
      return undefined;
    })();
    t.equal(err?.code, 'VALIDATION_FAILED', `${text} ${zone ?? ''} is rejected`);
    t.equal(err?.details?.[0]?.path, path);
  }
});

t.test('planDue: on time, late within epsilon, after downtime, SKIP policy, exhausted Rn', async (t) => {
  const s = parseSchedule('*/2 * * * * *', undefined, 0);
  const base = at('2026-01-01T00:00:00Z');
  const c = cursorAt(s, base);
  t.same(planDue(s, c, base - 1, 60_000, 'RUN_ONCE'), { run: undefined, missed: [], uncounted: false, cursor: c }, 'nothing before the occurrence');
  const onTime = planDue(s, c, base + 3, 60_000, 'RUN_ONCE');
  t.equal(onTime.run, base, 'runs the occurrence');
  t.same(onTime.missed, []);
  t.equal(onTime.cursor.next, base + 2000, 'cursor past it');

  // Down from base-1 to base+5.5 s: occurrences at 0, 2, 4 s passed.
  const after = planDue(s, c, base + 5500, 60_000, 'RUN_ONCE');
  t.equal(after.run, base + 4000, 'only the latest occurrence runs on recovery');
  t.same(after.missed, [base, base + 2000], 'the older ones are recorded missed');
  t.equal(after.cursor.next, base + 6000);

  const tooLate = planDue(s, c, base + 5500, 1000, 'RUN_ONCE');
  t.equal(tooLate.run, undefined, 'older than epsilon: not run');
  t.same(tooLate.missed, [base, base + 2000, base + 4000], 'every occurrence recorded missed');
  const skip = planDue(s, c, base + 4100, 60_000, 'SKIP');
  t.equal(skip.run, undefined, 'SKIP never runs a late occurrence');
  t.same(skip.missed, [base, base + 2000, base + 4000]);

  const r2 = parseSchedule('R2/2026-01-01T00:00:00Z/PT1S', undefined, 0);
  const done = planDue(r2, cursorAt(r2, base), base + 10_000, 60_000, 'RUN_ONCE');
  t.equal(done.run, base + 1000, 'the last of R2');
  t.same(done.missed, [base]);
  t.equal(done.cursor.next, undefined, 'R2 is exhausted');
  t.equal(remaining(r2, done.cursor), 0);

  const week = planDue(s, c, base + 7 * 86_400_000, 60_000, 'RUN_ONCE');
  t.equal(week.missed.length, 1000, 'a week of missed seconds: the first 1000 are recorded');
  t.ok(week.uncounted, 'the rest are counted as not recorded');
  t.equal(week.run, base + 7 * 86_400_000, 'and the latest still runs once');
  t.equal(skipTo(s, c, base + 10_000).next, base + 10_000);
});

t.test('concurrency, retries, overdue runs and ids', async (t) => {
  const run = (id: string, status: JobRun['status'], launchedAt?: number): JobRun => ({ id, job: 'j', trigger: 'schedule', scheduledAt: 0, status, attempt: 1, createdAt: 0, attempts: launchedAt === undefined ? [] : [{ attempt: 1, taskId: 't', launchedAt }] });
  t.same(decideConcurrency('FORBID', []), { action: 'start' });
  t.same(decideConcurrency('ALLOW', [run('a', 'running')]), { action: 'start' });
  t.equal(decideConcurrency('FORBID', [run('a', 'running')]).action, 'skip');
  t.same(decideConcurrency('REPLACE', [run('a', 'running')]), { action: 'replace', kill: ['a'] });
  t.same([1, 2, 3, 7, 20].map(retryDelayMs), [1000, 2000, 4000, 60_000, 60_000]);
  t.same([1, 2, 3].map((a) => shouldRetry(a, 2)), [true, true, false], 'retries 2: three attempts in all');
  t.same(overdueRuns([run('a', 'running', 0), run('b', 'running', 500), run('c', 'queued')], () => 600, 1000).map((r) => r.id), ['a']);
  t.same(overdueRuns([run('a', 'running', 0)], () => 0, 1e9), [], 'maxCompletionTime 0 is no limit');
  t.equal(runIdOf('backup', 1767225600000), 'backup:1767225600000');
  t.equal(runIdOf('backup', 1767225600000, true), 'backup:1767225600000:manual');
  t.equal(taskIdOf({ id: 'backup:5', job: 'backup', scheduledAt: 5 }, 2), 'ct:5:1:backup:', "Chronos's ct:<ms>:<attempt>:<job>:<args>");
});

// The cron shell's indexes, table by table: the run book (by job, by task, the ready queue in
// scheduled order, retries and deadlines in heaps, retention), the due queue of next occurrences,
// the child index of the dependency graph, and the pure offer helpers.
import t from 'tap';
import { DueQueue } from '../../src/cron/due-queue';
import { ChildIndex } from '../../src/cron/graph';
import { offersWantedFrom, takeOffer } from '../../src/cron/launch';
import { RunBook } from '../../src/cron/run-book';
import type { JobDefinition, JobRun } from '../../src/cron/types';
import type { Offer, Resources } from '../../src/kernel/types';

const run = (job: string, at: number, more: Partial<JobRun> = {}): JobRun => ({ id: `${job}:${at}`, job, trigger: 'schedule', scheduledAt: at, status: 'queued', attempt: 1, createdAt: at, attempts: [], ...more });

t.test('run book: by job and task, ready runs placed oldest first, a refused run stays ready', async (t) => {
  const book = new RunBook();
  const [a2, a1, b1] = [run('a', 2000), run('a', 1000), run('b', 1000)];
  for (const r of [a2, a1, b1]) book.track(r);
  t.same(book.ofJob('a').map((r) => r.id), ['a:2000', 'a:1000'], 'by job, in tracking order');
  t.equal(book.readyCount, 3);
  const order: string[] = [];
  book.placeReady((r) => (order.push(r.id), r.job === 'a'));
  t.same(order, ['a:1000', 'b:1000', 'a:2000'], 'scheduled time, then id');
  t.equal(book.readyCount, 1, 'b was refused: still ready');
  a1.status = 'launching';
  a1.attempts.push({ attempt: 1, taskId: 'ct:1000:0:a:', launchedAt: 1000 });
  book.bindTask('ct:1000:0:a:', a1);
  t.equal(book.runOfTask('ct:1000:0:a:'), a1);
  book.untrack(a1);
  t.equal(book.runOfTask('ct:1000:0:a:'), undefined, 'untracking unbinds its tasks');
  t.equal(book.countOf('a'), 1);
  book.untrack(b1);
  let calls = 0;
  book.placeReady(() => (calls++, true));
  t.equal(calls, 0, 'an untracked run is not offered again');
});

t.test('run book: a full agent costs at most maxMisfits tries, however long the queue', async (t) => {
  const book = new RunBook();
  for (let i = 0; i < 10_000; i++) book.track(run('j', i));
  let tries = 0;
  book.placeReady(() => (tries++, false), 64);
  t.equal(tries, 64);
  t.equal(book.readyCount, 10_000, 'nothing lost');
  const placed: number[] = [];
  book.placeReady((r) => (placed.push(r.scheduledAt), placed.length <= 3));
  t.same(placed.slice(0, 3), [0, 1, 2], 'the refused ones come back in order');
});

t.test('run book: retries wait out their backoff; deadlines follow the attempt and the current limit', async (t) => {
  const book = new RunBook();
  const r = run('j', 0, { notBefore: 5000 });
  book.track(r);
  t.equal(book.readyCount, 0, 'in backoff: not ready');
  t.equal(book.nextWake(), 5000);
  t.notOk(book.releaseRetries(4999));
  t.ok(book.releaseRetries(5000));
  t.equal(r.notBefore, undefined);
  t.equal(book.readyCount, 1);

  const live = run('k', 0, { status: 'running', attempts: [{ attempt: 1, taskId: 'k1', launchedAt: 1000 }] });
  book.track(live);
  book.watchDeadline(live, 500);
  t.same(book.takeOverdue(1500, () => 500), [], 'not past the limit yet (strictly longer)');
  t.same(book.takeOverdue(1501, () => 1000), [], 'the limit was raised meanwhile');
  t.same(book.takeOverdue(2001, () => 1000).map((x) => x.id), ['k:0']);
  const retried = run('m', 0, { status: 'running', attempts: [{ attempt: 1, taskId: 'm1', launchedAt: 0 }] });
  book.track(retried);
  book.watchDeadline(retried, 100);
  retried.attempt = 2;
  t.same(book.takeOverdue(10_000, () => 100), [], 'a deadline belongs to its attempt');
});

t.test('run book: retention keeps the newest ended ids per job', async (t) => {
  const book = new RunBook();
  book.loadEnded('j', ['j:1', 'j:2']);
  book.remember({ id: 'j:3', job: 'j' });
  t.ok(book.hasEnded('j', 'j:2'));
  t.same(book.takeBeyond('j', 2), ['j:1']);
  t.same(book.takeBeyond('j', 2), []);
  book.forgetJob('j');
  t.notOk(book.hasEnded('j', 'j:3'));
});

t.test('due queue: earliest first, only current entries, jobs leave until set again', async (t) => {
  const due = new DueQueue();
  due.set('b', 2000);
  due.set('a', 1000);
  due.set('c', 1000);
  due.set('c', 3000); // moved: the entry at 1000 is stale
  due.set('d', 500);
  due.set('d', undefined); // disabled or deleted
  t.equal(due.earliest(), 1000);
  t.same(due.takeDue(2000), ['a', 'b']);
  t.same(due.takeDue(2000), [], 'taken jobs wait until set again');
  t.equal(due.earliest(), 3000);
  due.set('a', 1000);
  due.set('a', undefined);
  due.set('a', 1000);
  t.same(due.takeDue(1000), ['a'], 'one entry per job, even when set twice to the same time');
});

t.test('child index follows parent changes; offer helpers', async (t) => {
  const idx = new ChildIndex();
  idx.set('c', ['a', 'b']);
  idx.set('d', ['a']);
  t.same(idx.of('a'), ['c', 'd']);
  idx.set('c', ['b']);
  t.same(idx.of('a'), ['d']);
  t.same(idx.of('b'), ['c']);
  idx.set('c', undefined);
  t.same(idx.of('b'), []);

  t.equal(offersWantedFrom(1000, 2, 5000, undefined, 200), 1000, 'runs waiting: now');
  t.equal(offersWantedFrom(1000, 0, 5000, 3000, 200), 2800, 'the lead before the earliest of due time and retry');
  t.equal(offersWantedFrom(1000, 0, undefined, undefined, 200), undefined, 'nothing ahead: no offers');

  const res = (cpus: number): Resources => ({ cpus, mem: 1000, disk: 1000, ports: [] });
  const offers = [{ id: 'o1', agentId: 'a1', hostname: 'h1', attributes: {}, resources: res(0.15) }, { id: 'o2', agentId: 'a2', hostname: 'h2', attributes: { rack: 'r2' }, resources: res(1) }] as unknown as Offer[];
  const job = { cpus: 0.1, mem: 10, disk: 0, constraints: [] } as unknown as JobDefinition;
  const left = new Map<string, Resources>();
  t.equal(takeOffer(offers, left, job)?.id, 'o1');
  t.equal(takeOffer(offers, left, job)?.id, 'o2', 'o1 has 0.05 cpus left');
  t.equal(takeOffer(offers, left, { ...job, constraints: [['rack', 'EQUALS', 'r9']] })?.id, undefined, 'constraints');
});

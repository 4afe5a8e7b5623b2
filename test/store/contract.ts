// The one behaviour contract every Store implementation must meet (memory, SQLite, later etcd).
// Watch assertions wait for events instead of assuming synchronous delivery, so a networked
// implementation can run the same suite; "nothing else arrived" is checked with a later sentinel.
// Only for tap's global `tap` type namespace (tap.Test).
import type {} from 'tap';
import type { JsonValue, Store, WatchEvent } from '../../src/store/types';

type Test = tap.Test;
export type MakeStore = () => Promise<{ store: Store; cleanup: () => Promise<void> }>;

/** Records watch events; `next(n)` resolves once n events in total have arrived. */
function recorder() {
  const events: WatchEvent[] = [];
  let waiting: { n: number; resolve: () => void } | undefined;
  const onEvent = (ev: WatchEvent): void => {
    events.push(ev);
    if (waiting && events.length >= waiting.n) {
      waiting.resolve();
      waiting = undefined;
    }
  };
  const next = (n: number): Promise<WatchEvent[]> =>
    events.length >= n ? Promise.resolve(events.slice(0, n)) : new Promise((resolve) => (waiting = { n, resolve: () => resolve(events.slice(0, n)) }));
  return { events, onEvent, next };
}

const brief = (evs: WatchEvent[]) => evs.map((e) => [e.type, e.key, e.revision, e.value ?? null]);

export function runStoreContract(t: Test, name: string, makeStore: MakeStore): Promise<unknown> {
  return t.test(`${name}: Store contract`, async (t) => {
    const open = async (t: Test): Promise<Store> => {
      const { store, cleanup } = await makeStore();
      t.teardown(cleanup);
      return store;
    };
    const code = (c: string) => ({ code: c });

    t.test('an empty store is at revision 0 and holds nothing', async (t) => {
      const s = await open(t);
      t.equal(await s.revision(), 0);
      t.equal(await s.get('/nope'), undefined);
      t.same(await s.list(''), []);
    });

    t.test('every write bumps the revision by one; entries carry create/mod revision and version', async (t) => {
      const s = await open(t);
      t.equal(await s.put('/a', 1), 1);
      t.equal(await s.put('/b', 'x'), 2);
      t.equal(await s.put('/a', 2), 3);
      t.same(await s.get('/a'), { key: '/a', value: 2, createRevision: 1, modRevision: 3, version: 2 });
      t.same(await s.get('/b'), { key: '/b', value: 'x', createRevision: 2, modRevision: 2, version: 1 });
      t.equal(await s.delete('/a'), true);
      t.equal(await s.revision(), 4);
      t.equal(await s.put('/a', { back: true }), 5);
      t.same(await s.get('/a'), { key: '/a', value: { back: true }, createRevision: 5, modRevision: 5, version: 1 }, 'a re-created key starts over');
    });

    t.test('a value is taken when put or txn is called: changing the object afterwards changes nothing stored', async (t) => {
      const s = await open(t);
      const run = { status: 'queued', attempts: [] as number[] };
      const put = s.put('/run', run);
      run.status = 'running';
      await put;
      const txn = s.txn({ compare: [], success: [{ type: 'put', key: '/run2', value: run }] });
      run.attempts.push(1);
      await txn;
      t.same((await s.get('/run'))?.value, { status: 'queued', attempts: [] });
      t.same((await s.get('/run2'))?.value, { status: 'running', attempts: [] });
    });

    t.test('deleting a missing key returns false and does not bump the revision', async (t) => {
      const s = await open(t);
      await s.put('/a', 1);
      t.equal(await s.delete('/missing'), false);
      t.equal(await s.revision(), 1);
    });

    t.test('bad keys and values are refused and write nothing', async (t) => {
      const s = await open(t);
      await t.rejects(s.put('', 1), code('INVALID_REQUEST'));
      await t.rejects(s.get(''), code('INVALID_REQUEST'));
      await t.rejects(s.put('/undef', undefined as unknown as JsonValue), code('INVALID_REQUEST'));
      const loop: Record<string, unknown> = {};
      loop.self = loop;
      await t.rejects(s.put('/loop', loop as JsonValue), code('INVALID_REQUEST'));
      await s.put('/lone', 1);
      await t.rejects(s.put('/x\uD800', 1), code('INVALID_REQUEST'), 'a lone surrogate cannot be stored as UTF-8');
      await t.rejects(s.txn({ compare: [], success: [{ type: 'deletePrefix', prefix: '' }] }), code('INVALID_REQUEST'));
      t.equal(await s.revision(), 1);
      t.same((await s.list('')).map((e) => e.key), ['/lone']);
    });

    t.test('put with expectedRevision is compare-and-set; a conflict writes nothing', async (t) => {
      const s = await open(t);
      const r1 = await s.put('/k', 'v1', { expectedRevision: 0 });
      await t.rejects(s.put('/k', 'again', { expectedRevision: 0 }), code('REVISION_CONFLICT'), '0 means must not exist');
      await t.rejects(s.put('/k', 'stale', { expectedRevision: r1 + 7 }), code('REVISION_CONFLICT'));
      await t.rejects(s.put('/other', 'x', { expectedRevision: r1 }), code('REVISION_CONFLICT'), 'a missing key has modRevision 0');
      t.equal(await s.revision(), r1);
      t.equal((await s.get('/k'))?.value, 'v1');
      const r2 = await s.put('/k', 'v2', { expectedRevision: r1 });
      t.equal(r2, r1 + 1);
      await t.rejects(s.put('/k', 'v3', { expectedRevision: r1 }), code('REVISION_CONFLICT'), 'the old revision is stale now');
      t.same(await s.get('/k'), { key: '/k', value: 'v2', createRevision: r1, modRevision: r2, version: 2 });
    });

    t.test('delete with expectedRevision is compare-and-delete', async (t) => {
      const s = await open(t);
      const r = await s.put('/k', 1);
      await t.rejects(s.delete('/k', { expectedRevision: r + 1 }), code('REVISION_CONFLICT'));
      await t.rejects(s.delete('/k', { expectedRevision: 0 }), code('REVISION_CONFLICT'));
      t.ok(await s.get('/k'), 'still there after the conflicts');
      t.equal(await s.revision(), r);
      t.equal(await s.delete('/k', { expectedRevision: r }), true);
      t.equal(await s.delete('/k', { expectedRevision: 0 }), false, 'must-not-exist holds for a missing key');
      t.equal(await s.revision(), r + 1);
    });

    t.test('list returns the keys under a prefix, sorted, honouring prefix boundaries', async (t) => {
      const s = await open(t);
      for (const k of ['/apps/b', '/apps/ab', '/apps/a/2', '/apps/a', '/apps/a/1', '/apps', '/appsx', '/tasks/1']) await s.put(k, k);
      const keys = async (p: string) => (await s.list(p)).map((e) => e.key);
      t.same(await keys('/apps/a/'), ['/apps/a/1', '/apps/a/2'], '/apps/a/ excludes /apps/ab');
      t.same(await keys('/apps/a'), ['/apps/a', '/apps/a/1', '/apps/a/2', '/apps/ab']);
      t.same(await keys('/apps/'), ['/apps/a', '/apps/a/1', '/apps/a/2', '/apps/ab', '/apps/b']);
      t.same(await keys(''), ['/apps', '/apps/a', '/apps/a/1', '/apps/a/2', '/apps/ab', '/apps/b', '/appsx', '/tasks/1']);
      t.same(await keys('/none/'), []);
      const [first] = await s.list('/apps/a/1');
      t.same(first, { key: '/apps/a/1', value: '/apps/a/1', createRevision: 5, modRevision: 5, version: 1 });
    });

    t.test('keys sort in code point (UTF-8 byte) order, also beyond U+FFFF', async (t) => {
      const s = await open(t);
      const keys = ['/u/\u{1F600}', '/u/\uFF21', '/u/z', '/u/\u{10FFFF}', '/u/\u{10FFFF}x', '/u/\u00e9'];
      for (const k of keys) await s.put(k, 1);
      t.same((await s.list('/u/')).map((e) => e.key), ['/u/z', '/u/\u00e9', '/u/\uFF21', '/u/\u{1F600}', '/u/\u{10FFFF}', '/u/\u{10FFFF}x']);
      t.same((await s.list('/u/\u{10FFFF}')).map((e) => e.key), ['/u/\u{10FFFF}', '/u/\u{10FFFF}x']);
      t.same((await s.list('/u/\u{1F600}')).map((e) => e.key), ['/u/\u{1F600}']);
    });

    t.test('a txn whose compares hold runs success as one revision', async (t) => {
      const s = await open(t);
      const r = await s.put('/app', { v: 1 });
      const res = await s.txn({
        compare: [
          { key: '/app', target: 'modRevision', op: '=', value: r },
          { key: '/lock', target: 'exists', value: false },
        ],
        success: [
          { type: 'put', key: '/app', value: { v: 2 } },
          { type: 'put', key: '/lock', value: 'me' },
        ],
        failure: [{ type: 'put', key: '/failed', value: true }],
      });
      t.same(res, { succeeded: true, revision: r + 1 });
      t.same(await s.get('/app'), { key: '/app', value: { v: 2 }, createRevision: r, modRevision: r + 1, version: 2 });
      t.equal((await s.get('/lock'))?.modRevision, r + 1, 'every key of a txn shares its revision');
      t.equal(await s.get('/failed'), undefined);
    });

    t.test('a txn whose compares fail runs failure and nothing of success', async (t) => {
      const s = await open(t);
      const r = await s.put('/app', 1);
      const res = await s.txn({
        compare: [{ key: '/app', target: 'modRevision', op: '=', value: r + 10 }],
        success: [{ type: 'put', key: '/app', value: 2 }],
        failure: [{ type: 'put', key: '/failed', value: true }],
      });
      t.same(res, { succeeded: false, revision: r + 1 });
      t.equal((await s.get('/app'))?.value, 1);
      t.equal((await s.get('/failed'))?.value, true);
      const none = await s.txn({ compare: [{ key: '/app', target: 'exists', value: false }], success: [{ type: 'delete', key: '/app' }] });
      t.same(none, { succeeded: false, revision: r + 1 }, 'no failure branch: no write, no new revision');
    });

    t.test('txn compares: modRevision operators, and a missing key at modRevision 0', async (t) => {
      const s = await open(t);
      const r = await s.put('/k', 1);
      const holds = async (compare: Parameters<Store['txn']>[0]['compare']) => (await s.txn({ compare, success: [] })).succeeded;
      t.equal(await holds([{ key: '/k', target: 'modRevision', op: '<', value: r + 1 }]), true);
      t.equal(await holds([{ key: '/k', target: 'modRevision', op: '>', value: r }]), false);
      t.equal(await holds([{ key: '/k', target: 'modRevision', op: '!=', value: r }]), false);
      t.equal(await holds([{ key: '/k', target: 'exists', value: true }]), true);
      t.equal(await holds([{ key: '/none', target: 'modRevision', op: '=', value: 0 }]), true);
      t.equal(await holds([{ key: '/none', target: 'exists', value: true }]), false);
      t.equal(await holds([]), true, 'no compares always holds');
      t.equal(await s.revision(), r, 'a txn that writes nothing does not bump the revision');
    });

    t.test('deletePrefix in a txn removes every key under the prefix in one revision', async (t) => {
      const s = await open(t);
      for (const k of ['/apps/a', '/apps/a/1', '/apps/a/2', '/apps/ab']) await s.put(k, 1);
      const res = await s.txn({ compare: [], success: [{ type: 'deletePrefix', prefix: '/apps/a/' }, { type: 'put', key: '/apps/a', value: 2 }] });
      t.same(res, { succeeded: true, revision: 5 });
      t.same((await s.list('')).map((e) => [e.key, e.modRevision]), [['/apps/a', 5], ['/apps/ab', 4]]);
      const empty = await s.txn({ compare: [], success: [{ type: 'deletePrefix', prefix: '/apps/a/' }, { type: 'delete', key: '/gone' }] });
      t.same(empty, { succeeded: true, revision: 5 }, 'deleting nothing is not a write');
    });

    t.test('ops in a txn see the ones before them', async (t) => {
      const s = await open(t);
      await s.txn({ compare: [], success: [{ type: 'put', key: '/k', value: 1 }, { type: 'put', key: '/k', value: 2 }, { type: 'put', key: '/d', value: 1 }, { type: 'delete', key: '/d' }] });
      t.same(await s.get('/k'), { key: '/k', value: 2, createRevision: 1, modRevision: 1, version: 2 });
      t.equal(await s.get('/d'), undefined);
      t.equal(await s.revision(), 1);
    });

    t.test('a txn with an invalid op writes nothing at all', async (t) => {
      const s = await open(t);
      await s.put('/keep', 1);
      const bad = s.txn({ compare: [], success: [{ type: 'put', key: '/new', value: 1 }, { type: 'put', key: '', value: 2 }] });
      await t.rejects(bad, code('INVALID_REQUEST'));
      const badFailureBranch = s.txn({ compare: [], success: [{ type: 'delete', key: '/keep' }], failure: [{ type: 'delete', key: '' }] });
      await t.rejects(badFailureBranch, code('INVALID_REQUEST'), 'both branches are validated');
      t.equal(await s.get('/new'), undefined);
      t.ok(await s.get('/keep'));
      t.equal(await s.revision(), 1);
    });

    t.test('watch delivers committed changes under its prefix, in revision order', async (t) => {
      const s = await open(t);
      const w = recorder();
      const stop = await s.watch('/apps/a/', w.onEvent);
      t.teardown(stop);
      await s.put('/apps/a/1', { n: 1 });
      await s.put('/apps/ab', 'not mine');
      await s.put('/apps/a/1', { n: 2 });
      await s.txn({ compare: [], success: [{ type: 'put', key: '/apps/a/2', value: 'x' }, { type: 'deletePrefix', prefix: '/apps/a/' }] });
      t.same(brief(await w.next(5)), [
        ['put', '/apps/a/1', 1, { n: 1 }],
        ['put', '/apps/a/1', 3, { n: 2 }],
        ['put', '/apps/a/2', 4, 'x'],
        ['delete', '/apps/a/1', 4, null],
        ['delete', '/apps/a/2', 4, null],
      ], '/apps/ab (revision 2) is outside the prefix');
    });

    t.test('watch with fromRevision replays retained history, then goes live', async (t) => {
      const s = await open(t);
      await s.put('/a/1', 1);
      await s.put('/b/1', 1);
      await s.put('/a/2', 2);
      await s.delete('/a/1');
      const w = recorder();
      t.teardown(await s.watch('/a/', w.onEvent, { fromRevision: 1 }));
      await s.put('/a/3', 3);
      t.same(brief(await w.next(3)), [['put', '/a/2', 3, 2], ['delete', '/a/1', 4, null], ['put', '/a/3', 5, 3]]);
      const all = recorder();
      t.teardown(await s.watch('/a/', all.onEvent, { fromRevision: 0 }));
      t.same((await all.next(4)).map((e) => e.revision), [1, 3, 4, 5], 'fromRevision 0 replays from the beginning');
      const ahead = recorder();
      t.teardown(await s.watch('/a/', ahead.onEvent, { fromRevision: 6 }));
      await s.put('/a/4', 4);
      await s.put('/a/5', 5);
      t.same((await ahead.next(1)).map((e) => e.revision), [7], 'changes at or before fromRevision are skipped');
    });

    t.test('unsubscribing stops delivery', async (t) => {
      const s = await open(t);
      const gone = recorder();
      const kept = recorder();
      const stop = await s.watch('/k', gone.onEvent);
      t.teardown(await s.watch('/k', kept.onEvent));
      await s.put('/k', 1);
      await gone.next(1);
      stop();
      stop();
      await s.put('/k', 2);
      await kept.next(2);
      t.equal(gone.events.length, 1);
    });

    t.test('a throwing watcher breaks neither the store nor the other watchers', async (t) => {
      const s = await open(t);
      let calls = 0;
      t.teardown(await s.watch('/', () => {
        calls++;
        throw new Error('watcher bug');
      }));
      const ok = recorder();
      t.teardown(await s.watch('/', ok.onEvent));
      t.equal(await s.put('/a', 1), 1);
      t.equal(await s.put('/b', 2), 2);
      t.same((await ok.next(2)).map((e) => e.key), ['/a', '/b']);
      t.equal(calls, 2, 'the throwing watcher still gets later events');
      t.equal((await s.get('/b'))?.value, 2);
    });

    t.test('a watcher that writes from its callback still sees revision order', async (t) => {
      const s = await open(t);
      const seen = recorder();
      t.teardown(await s.watch('/', (ev) => {
        seen.onEvent(ev);
        if (ev.key.startsWith('/in/')) void s.put(`/out/${ev.revision}`, ev.revision);
      }));
      await s.put('/in/1', 1);
      await s.put('/in/2', 2);
      const revs = (await seen.next(4)).map((e) => e.revision);
      t.same(revs, [...revs].sort((a, b) => a - b));
      t.same(revs, [1, 2, 3, 4]);
    });

    t.test('values are deep copies: mutating what goes in or comes out changes nothing stored', async (t) => {
      const s = await open(t);
      const input = { list: [1, 2], nested: { a: 'x' } };
      await s.put('/obj', input);
      input.list.push(3);
      input.nested.a = 'changed';
      const got = await s.get<typeof input>('/obj');
      t.same(got?.value, { list: [1, 2], nested: { a: 'x' } });
      got!.value.list.push(99);
      (await s.list<typeof input>('/'))[0]!.value.nested.a = 'mutated';
      t.same((await s.get('/obj'))?.value, { list: [1, 2], nested: { a: 'x' } });
      const w1 = recorder();
      const w2 = recorder();
      t.teardown(await s.watch('/', (ev) => {
        (ev.value as { list: number[] }).list.push(42);
        w1.onEvent(ev);
      }));
      t.teardown(await s.watch('/', w2.onEvent));
      await s.put('/obj2', { list: [] });
      await w1.next(1);
      t.same((await w2.next(1))[0]?.value, { list: [] }, 'one watcher cannot change what another sees');
      t.same((await s.get('/obj2'))?.value, { list: [] });
    });

    t.test('after close every operation fails with STORE_CLOSED; closing again is fine', async (t) => {
      const s = await open(t);
      await s.put('/k', 1);
      await s.close();
      await s.close();
      await t.rejects(s.revision(), code('STORE_CLOSED'));
      await t.rejects(s.get('/k'), code('STORE_CLOSED'));
      await t.rejects(s.put('/k', 2), code('STORE_CLOSED'));
      await t.rejects(s.delete('/k'), code('STORE_CLOSED'));
      await t.rejects(s.list('/'), code('STORE_CLOSED'));
      await t.rejects(s.txn({ compare: [], success: [] }), code('STORE_CLOSED'));
      await t.rejects(s.watch('/', () => {}), code('STORE_CLOSED'));
    });
  });
}

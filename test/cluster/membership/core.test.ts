// The pure parts of membership, table-driven: merge rules, event classification, Lifeguard's
// suspicion timeout and awareness, retransmit and push-pull scaling, the broadcast queue, the
// member table's probe order, config validation and the seeded generator.
import t from 'tap';
import { SimClock } from '../../../src/cluster/sim-clock';
import { Awareness } from '../../../src/cluster/membership/awareness';
import { BroadcastQueue, retransmitLimit } from '../../../src/cluster/membership/broadcast-queue';
import { defaultMembershipConfig, localClusterConfig, membershipConfig, scaledPushPullInterval } from '../../../src/cluster/membership/config';
import { MemberIndex, MemberTable } from '../../../src/cluster/membership/member-table';
import { mergeVerdict, type MergeVerdict } from '../../../src/cluster/membership/merge';
import { deriveSeed, seededRandom, shuffleInPlace } from '../../../src/cluster/membership/rng';
import { Suspicion, suspicionBounds, suspicionTimeout } from '../../../src/cluster/membership/suspicion';
import { changeType } from '../../../src/cluster/membership/view';
import { StateCode, type MemberRecord, type MemberUpdate } from '../../../src/cluster/membership/wire';
import { isCorralError } from '../../../src/shared/errors';

const { Alive: A, Suspect: S, Dead: D, Left: L } = StateCode;
const NAMES = ['alive', 'suspect', 'dead', 'left'];
const rec = (id: string, inc: number, st: StateCode, meta = '{}'): MemberRecord => ({ id, inc, st, meta });
const upd = (id: string, inc: number, st: StateCode, from?: string): MemberUpdate => ({ id, inc, st, from, meta: st === A ? '{}' : undefined });

t.test('merge rules: higher incarnation wins, suspect beats alive at the same one, dead beats both, left is final', async (t) => {
  type Row = [current: [StateCode, number] | undefined, update: [StateCode, number], want: MergeVerdict];
  const rows: Row[] = [
    // unknown member: only alive introduces it
    [undefined, [A, 0], 'accept'],
    [undefined, [S, 3], 'ignore'],
    [undefined, [D, 3], 'ignore'],
    [undefined, [L, 3], 'ignore'],
    // alive: strictly newer incarnation only
    [[A, 2], [A, 1], 'ignore'],
    [[A, 2], [A, 2], 'ignore'],
    [[A, 2], [A, 3], 'accept'],
    [[S, 2], [A, 2], 'ignore'],
    [[S, 2], [A, 3], 'accept'],
    [[D, 2], [A, 2], 'ignore'],
    [[D, 2], [A, 3], 'accept'],
    [[L, 2], [A, 2], 'ignore'],
    [[L, 2], [A, 3], 'accept'],
    // suspect
    [[A, 2], [S, 1], 'ignore'],
    [[A, 2], [S, 2], 'accept'],
    [[A, 2], [S, 3], 'accept'],
    [[S, 2], [S, 1], 'ignore'],
    [[S, 2], [S, 2], 'confirm'],
    [[S, 2], [S, 3], 'accept'],
    [[D, 2], [S, 3], 'ignore'],
    [[L, 2], [S, 3], 'ignore'],
    // dead
    [[A, 2], [D, 1], 'ignore'],
    [[A, 2], [D, 2], 'accept'],
    [[S, 2], [D, 2], 'accept'],
    [[S, 2], [D, 5], 'accept'],
    [[D, 2], [D, 2], 'ignore'],
    [[D, 2], [D, 3], 'accept'],
    [[L, 2], [D, 9], 'ignore'],
    // left
    [[A, 2], [L, 1], 'ignore'],
    [[A, 2], [L, 2], 'accept'],
    [[S, 2], [L, 2], 'accept'],
    [[D, 2], [L, 2], 'accept'],
    [[L, 2], [L, 2], 'ignore'],
    [[L, 2], [L, 3], 'accept'],
  ];
  for (const [cur, [st, inc], want] of rows) {
    const name = `${cur ? `${NAMES[cur[0]]}(${cur[1]})` : 'unknown'} + ${NAMES[st]}(${inc}) → ${want}`;
    t.equal(mergeVerdict(cur && { st: cur[0], inc: cur[1] }, { st, inc }), want, name);
  }
});

t.test('changeType names the event a state change is', async (t) => {
  const rows: Array<[MemberRecord | undefined, MemberRecord, string | undefined]> = [
    [undefined, rec('x', 0, A), 'join'],
    [rec('x', 0, D), rec('x', 1, A), 'join'],
    [rec('x', 0, L), rec('x', 1, A), 'join'],
    [rec('x', 0, S), rec('x', 1, A), 'alive'],
    [rec('x', 0, A), rec('x', 1, A, '{"v":2}'), 'update'],
    [rec('x', 0, A), { ...rec('x', 1, A), addr: 'elsewhere' }, 'update'],
    [rec('x', 0, A), rec('x', 1, A), undefined],
    [rec('x', 0, A), rec('x', 0, S), 'suspect'],
    [rec('x', 0, S), rec('x', 1, S), undefined],
    [rec('x', 0, A), rec('x', 0, D), 'dead'],
    [rec('x', 0, S), rec('x', 0, D), 'dead'],
    [rec('x', 0, D), rec('x', 1, D), undefined],
    [rec('x', 0, A), rec('x', 0, L), 'leave'],
    [rec('x', 0, D), rec('x', 0, L), 'leave'],
    [rec('x', 0, L), rec('x', 1, L), undefined],
  ];
  for (const [prev, next, want] of rows) t.equal(changeType(prev, next), want, `${prev ? NAMES[prev.st] : 'unknown'} → ${NAMES[next.st]}`);
});

t.test('suspicion bounds follow memberlist: mult × max(1, log10 n) × interval, max = maxMult × min', async (t) => {
  const cfg = { suspicionMult: 4, suspicionMaxTimeoutMult: 6, probeInterval: 1000 };
  const rows: Array<[n: number, min: number, max: number, k: number]> = [
    [1, 4000, 4000, 0], // nobody could confirm: the floor from the start
    [3, 4000, 4000, 0], // n − 2 < k
    [4, 4000, 24000, 2],
    [10, 4000, 24000, 2],
    [100, 8000, 48000, 2],
    [1000, 12000, 72000, 2],
    [10000, 16000, 96000, 2],
  ];
  for (const [n, min, max, k] of rows) t.same(suspicionBounds(cfg, n), { min, max, k }, `n = ${n}`);
  t.same(suspicionBounds({ ...cfg, suspicionMult: 2 }, 50), { min: Math.floor(2 * Math.log10(50) * 1000), max: Math.floor(2 * Math.log10(50) * 1000), k: 0 }, 'suspicionMult 2 expects no confirmations');
});

t.test('the suspicion timeout shrinks with the log of independent confirmations', async (t) => {
  const b = { min: 16000, max: 96000, k: 2 };
  const rows: Array<[confirmations: number, want: number]> = [
    [0, 96000],
    [1, Math.floor(96000 - (Math.log(2) / Math.log(3)) * 80000)], // 45,525 ms
    [2, 16000],
    [5, 16000], // never below the floor
  ];
  for (const [c, want] of rows) t.equal(suspicionTimeout(b, c), want, `${c} confirmations`);
  t.equal(suspicionTimeout({ min: 4000, max: 4000, k: 0 }, 0), 4000, 'k = 0 means the floor');
});

t.test('Suspicion: confirmations from new reporters shorten the running timer, repeats do not', async (t) => {
  const clock = new SimClock(0);
  let firedAt = -1;
  const s = new Suspicion(clock, 'a', { min: 16000, max: 96000, k: 2 }, () => (firedAt = clock.now()));
  clock.advance(10000);
  t.equal(s.confirm('a'), false, 'the starter does not confirm itself');
  t.equal(s.confirm('b'), true, 'a new reporter confirms');
  t.equal(s.confirm('b'), false, 'the same reporter once');
  t.equal(s.confirmations, 1);
  clock.advance(35000);
  t.equal(firedAt, -1, 'not yet at 45 s');
  clock.advance(1000);
  t.equal(firedAt, Math.floor(96000 - (Math.log(2) / Math.log(3)) * 80000), 'fires at the 1-confirmation timeout, measured from the start');
  t.equal(s.confirm('c'), false, 'nothing to shorten after firing');

  const late = new Suspicion(clock, 'a', { min: 16000, max: 96000, k: 2 }, () => (firedAt = clock.now()));
  const start = clock.now();
  clock.advance(30000);
  late.confirm('b');
  late.confirm('c');
  t.equal(late.confirm('d'), false, 'confirmations beyond k are not counted');
  clock.advance(0);
  t.equal(firedAt - start, 30000, 'a timeout already passed fires at once');

  const cancelled = new Suspicion(clock, 'a', { min: 10, max: 10, k: 0 }, () => t.fail('cancelled suspicion fired'));
  cancelled.cancel();
  clock.advance(100);
});

t.test('awareness: score clamps to 0 … max − 1 and multiplies timeouts by score + 1', async (t) => {
  const a = new Awareness(8);
  const rows: Array<[delta: number, score: number, scaled: number]> = [
    [-1, 0, 500],
    [1, 1, 1000],
    [3, 4, 2500],
    [10, 7, 4000],
    [-2, 5, 3000],
    [-9, 0, 500],
  ];
  for (const [delta, score, scaled] of rows) {
    a.apply(delta);
    t.equal(a.score, score, `after ${delta}`);
    t.equal(a.scale(500), scaled);
  }
});

t.test('retransmit limit and push-pull interval scale with cluster size', async (t) => {
  const rows: Array<[n: number, retransmits: number, pushPull: number]> = [
    [1, 4, 30000],
    [10, 8, 30000],
    [32, 8, 30000],
    [33, 8, 60000],
    [100, 12, 90000],
    [1000, 16, 180000],
    [10000, 20, 300000],
  ];
  for (const [n, r, p] of rows) {
    t.equal(retransmitLimit(4, n), r, `retransmits at n = ${n}`);
    t.equal(scaledPushPullInterval(30000, n), p, `push-pull at n = ${n}`);
  }
});

t.test('broadcast queue: freshest first, newest first among equals, retransmit limit, one entry per member', async (t) => {
  let limit = 3;
  const q = new BroadcastQueue(() => limit, 1000);
  const done: string[] = [];
  q.enqueue(upd('a', 0, A), (sent) => done.push(`a:${sent}`));
  q.enqueue(upd('b', 0, A), (sent) => done.push(`b:${sent}`));
  q.enqueue(upd('c', 0, A));
  t.same(q.take(10_000).map((u) => u.id), ['c', 'b', 'a'], 'newest first when none was sent');
  q.enqueue(upd('d', 0, S, 'x'));
  t.same(q.take(10_000).map((u) => u.id), ['d', 'c', 'b', 'a'], 'the unsent one first');
  t.equal(q.transmitsOf('a'), 2);
  q.enqueue(upd('a', 1, S, 'y'), (sent) => done.push(`a1:${sent}`));
  t.same(done, ['a:false'], 'a newer update about a member replaces the queued one');
  t.same(q.take(10_000).map((u) => `${u.id}${u.inc}`), ['a1', 'd1', 'c0', 'b0'].map((s) => s.replace('d1', 'd0')), 'replacement starts from zero transmissions');
  t.same(done, ['a:false', 'b:true'], 'b reached 3 transmissions and left');
  t.equal(q.size, 2, 'so did c');
  t.equal(q.transmitsOf('b'), undefined);
  t.equal(q.transmitsOf('d'), 2);

  // byte budget: updates that do not fit are skipped, smaller later ones still go
  const big = new BroadcastQueue(() => 10, 1000);
  big.enqueue({ id: 'm1', inc: 0, st: A, meta: JSON.stringify({ pad: 'x'.repeat(200) }) });
  big.enqueue(upd('s1', 0, A));
  big.enqueue({ id: 'm2', inc: 0, st: A, meta: JSON.stringify({ pad: 'y'.repeat(200) }) });
  t.same(big.take(300).map((u) => u.id), ['m2', 's1'], 'm1 no longer fits after m2 and s1');
  t.same(big.take(30).map((u) => u.id), [], 'nothing fits in 30 bytes');
  big.enqueue({ id: 'huge', inc: 0, st: A, meta: JSON.stringify({ pad: 'z'.repeat(2000) }) }, (sent) => done.push(`huge:${sent}`));
  t.equal(done.at(-1), 'huge:false', 'an update larger than any datagram is dropped (push-pull carries it)');

  // the limit follows the cluster size
  limit = 1;
  t.equal(q.take(10_000).length, 2);
  t.equal(q.size, 0, 'a lower limit retires everything sent');
  q.enqueue(upd('z', 0, A), (sent) => done.push(`z:${sent}`));
  q.clear();
  t.equal(done.at(-1), 'z:false', 'clear() reports unsent updates');
});

t.test('broadcast queue matches a sort-based reference under random enqueues, replacements and takes', async (t) => {
  const rng = seededRandom(99);
  const limit = 5;
  const q = new BroadcastQueue(() => limit, 1000);
  type Ref = { update: MemberUpdate; bytes: number; order: number; transmits: number };
  let ref: Ref[] = [];
  let order = 0;
  let mismatches = 0;
  for (let step = 0; step < 3000; step++) {
    if (rng.next() < 0.55) {
      const id = `m${Math.floor(rng.next() * 40)}`;
      const update: MemberUpdate = { id, inc: step, st: A, meta: JSON.stringify({ pad: 'x'.repeat(Math.floor(rng.next() * 120)) }) };
      q.enqueue(update);
      ref = ref.filter((r) => r.update.id !== id);
      ref.push({ update, bytes: JSON.stringify(update).length, order: order++, transmits: 0 });
    } else {
      const budget = 40 + Math.floor(rng.next() * 600);
      const got = q.take(budget).map((u) => `${u.id}/${u.inc}`);
      ref.sort((a, b) => a.transmits - b.transmits || b.order - a.order);
      const want: string[] = [];
      let left = budget;
      for (const r of ref) {
        const cost = r.bytes + (want.length > 0 ? 1 : 0);
        if (cost > left) continue;
        left -= cost;
        want.push(`${r.update.id}/${r.update.inc}`);
        r.transmits++;
      }
      ref = ref.filter((r) => r.transmits < limit);
      if (got.join() !== want.join()) mismatches++;
    }
  }
  t.equal(mismatches, 0, 'same picks, same order, at every step');
  t.equal(q.size, ref.length);
});

t.test('member table: each live member is probed once per pass, in a shuffled order, dead ones skipped then dropped', async (t) => {
  const clock = new SimClock(0);
  const table = new MemberTable(new MemberIndex(), 'self', seededRandom(3), { gossipToTheDeadTime: 30_000, tombstoneRetention: 3600_000 });
  table.put(rec('self', 0, A), 0);
  for (let i = 0; i < 10; i++) table.put(rec(`m${i}`, 0, A), 0);
  table.put(rec('m3', 0, D), 0);
  table.put(rec('m4', 0, L), 0);
  table.put(rec('m5', 0, S), 0);
  t.equal(table.liveCount, 9, '7 alive + 1 suspect + self');
  t.same([table.count(A), table.count(S), table.count(D), table.count(L)], [8, 1, 1, 1]);
  const pass = (): string[] => Array.from({ length: 8 }, () => table.nextProbeTarget(clock.now())!.id);
  const first = pass();
  t.same([...first].sort(), ['m0', 'm1', 'm2', 'm5', 'm6', 'm7', 'm8', 'm9'], 'every live member once, self and dead skipped');
  const second = pass();
  t.same([...second].sort(), [...first].sort());
  t.not(second.join(), first.join(), 'reshuffled between passes');
  t.equal(table.randomMembers(3, (r) => r.st === A).length, 3);
  t.same(table.randomMembers(5, (r) => r.id === 'm5').map((r) => r.id), ['m5'], 'never the same member twice');
  t.same(table.deadMembers().map((r) => r.id), ['m3']);
  t.equal(table.downSince('m3'), 0);
  t.equal(table.downSince('m1'), undefined);

  // past gossipToTheDeadTime a reset drops dead members from the order; past retention they are forgotten
  pass();
  clock.advance(31_000);
  pass();
  t.notOk(table.randomMembers(20, () => true).some((r) => r.id === 'm3' || r.id === 'm4'), 'old dead members leave the order');
  t.equal(table.get('m3')?.st, D, 'but are remembered');
  table.put(rec('m3', 1, A), clock.now());
  t.ok(pass().includes('m3'), 'a dead member that comes back is probed again');
  clock.advance(3600_000);
  pass();
  pass();
  t.equal(table.get('m4'), undefined, 'tombstone forgotten after retention');
  t.equal(table.count(L), 0);
  t.equal(table.snapshot().length, 10);
});

t.test('config: defaults are memberlist LAN values, frozen; overrides are validated', async (t) => {
  const d = defaultMembershipConfig();
  t.ok(Object.isFrozen(d));
  t.match(d, { probeInterval: 1000, probeTimeout: 500, indirectChecks: 3, suspicionMult: 4, suspicionMaxTimeoutMult: 6, awarenessMaxMultiplier: 8, gossipInterval: 200, gossipNodes: 3, retransmitMult: 4, pushPullInterval: 30000, gossipToTheDeadTime: 30000, maxPacketBytes: 1400 });
  const local = localClusterConfig();
  t.ok(Object.isFrozen(local));
  t.ok(local.probeInterval < d.probeInterval && local.suspicionMult < d.suspicionMult);
  t.equal(membershipConfig({ gossipNodes: 4 }).gossipNodes, 4);
  const bad: Array<[Record<string, unknown>, RegExp]> = [
    [{ probeInterval: 0 }, /probeInterval must be a positive number/],
    [{ gossipNodes: 2.5 }, /gossipNodes must be an integer/],
    [{ probeTimeout: 1000 }, /probeTimeout .* must be shorter than probeInterval/],
    [{ maxPacketBytes: 100 }, /maxPacketBytes must be at least 256/],
    [{ suspicionMaxTimeoutMult: 0.5 }, /suspicionMaxTimeoutMult must be an integer/],
    [{ probeIntervall: 5 }, /has no field probeIntervall/],
  ];
  for (const [overrides, message] of bad) {
    try {
      membershipConfig(overrides as never);
      t.fail(`accepted ${JSON.stringify(overrides)}`);
    } catch (err) {
      t.ok(isCorralError(err) && err.code === 'CONFIG_INVALID', `CONFIG_INVALID for ${JSON.stringify(overrides)}`);
      t.match((err as Error).message, message);
    }
  }
});

t.test('seeded generator: same seed, same sequence; derived seeds differ; shuffle is a permutation', async (t) => {
  const a = seededRandom(42);
  const b = seededRandom(42);
  const xs = Array.from({ length: 5 }, () => a.next());
  t.same(Array.from({ length: 5 }, () => b.next()), xs);
  t.ok(xs.every((x) => x >= 0 && x < 1));
  t.not(seededRandom(43).next(), xs[0]);
  t.not(deriveSeed(1, 0), deriveSeed(1, 1));
  const r = seededRandom(7);
  let sum = 0;
  for (let i = 0; i < 10000; i++) sum += r.next();
  t.ok(Math.abs(sum / 10000 - 0.5) < 0.02, 'roughly uniform');
  const items = Int32Array.from({ length: 50 }, (_, i) => i);
  shuffleInPlace(seededRandom(1), items);
  t.same([...items].sort((x, y) => x - y), Array.from({ length: 50 }, (_, i) => i));
});

#!/usr/bin/env node
// bench/gossip: the REAL membership core (src/cluster/membership, SWIM + Lifeguard) on 1,000 and
// 10,000 simulated nodes over MockNetwork, on simulated time (SimClock, a binary heap of timers).
// No processes, no sockets; one Node process holds every node.
//
//   node bench/gossip.mjs [--nodes 1000,10000] [--seed 1] [--large 5000]
//                         [--soak-minutes 10] [--storm-minutes 2] [--large-soak-minutes 2] [--large-storm-minutes 0]
//                         [--datagram-only-minutes 2] [--delay 1] [--jitter 2] [--json]
//
// The TypeScript sources are bundled on the fly with esbuild (a dev dependency) into
// node_modules/.cache/corral-bench/, as bench/allocator.mjs does; no build step is needed.
//
// Per cluster size, with memberlist's LAN defaults (gossip every 200 ms to 3 members, probe every
// 1 s, retransmit 4 × ceil(log10(n + 1)), stream probe fallback on), 64-hex node ids and ~150-byte
// metadata, starting from a converged cluster (every node seeded with the full member list, as
// after a push-pull):
//   1. update:  one node publishes new metadata; time until 99% / 99.99% of the others have it
//               (this is what Serf's convergence simulator models);
//   2. join:    a new node joins through one seed (push-pull); time until 99% / 99.99% know it;
//   3. failure: one node is killed; time to its first dead declaration, and until 99% / 99.99%
//               of the others hold it dead;
//   4. soak:    datagram loss 0%, 10% (--soak-minutes) and 30% (--storm-minutes) of simulated time;
//               above --large nodes --large-soak-minutes and --large-storm-minutes (0 = skipped),
//               because a 30%-loss soak of 10,000 nodes turns into a suspicion storm that costs
//               ~14 real seconds and ~0.5 GB of heap per simulated second. False positives = dead
//               events about live nodes, by anyone. Messages and bytes per node per second count
//               datagrams plus requests (push-pull and stream probes).
//   5. the same soaks with streamProbeFallback off (datagrams only: SWIM's indirect probes and
//      Lifeguard alone), for clusters up to --large nodes, --datagram-only-minutes each (at most 1
//      at 30% loss). 0 skips them.
// MockNetwork never loses a request: each lost segment of one costs a 200 ms retransmission.

import { createHash } from 'node:crypto';
import { build } from 'esbuild';
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { values: args } = parseArgs({
  options: {
    nodes: { type: 'string', default: '1000,10000' },
    seed: { type: 'string', default: '1' },
    'soak-minutes': { type: 'string', default: '10' },
    'storm-minutes': { type: 'string', default: '2' },
    'large-soak-minutes': { type: 'string', default: '2' },
    'large-storm-minutes': { type: 'string', default: '0' },
    large: { type: 'string', default: '5000' },
    'datagram-only-minutes': { type: 'string', default: '2' },
    delay: { type: 'string', default: '1' },
    jitter: { type: 'string', default: '2' },
    json: { type: 'boolean', default: false },
  },
});
const SIZES = args.nodes.split(',').map(Number);
const SEED = Number(args.seed);
const LINK = { delayMs: Number(args.delay), jitterMs: Number(args.jitter) };
const BASELINE = { 30: [1.2, 1.8], 1000: [1.6, 2.2], 10000: [2.0, 2.6] }; // Serf simulator, 0.2 s, fanout 3: 99% / 99.99% in s
const log = (...a) => console.error('[gossip]', ...a);

async function loadCorral() {
  const outfile = join(root, 'node_modules/.cache/corral-bench/gossip.cjs');
  mkdirSync(dirname(outfile), { recursive: true });
  const contents = [
    "export { Membership } from './src/cluster/membership/membership';",
    "export { MemberIndex } from './src/cluster/membership/member-table';",
    "export { membershipConfig } from './src/cluster/membership/config';",
    "export { deriveSeed, seededRandom } from './src/cluster/membership/rng';",
    "export { StateCode } from './src/cluster/membership/wire';",
    "export { MockNetwork } from './src/cluster/mock-network';",
    "export { SimClock } from './src/cluster/sim-clock';",
  ].join('\n');
  await build({ stdin: { contents, resolveDir: root, loader: 'ts', sourcefile: 'bench-gossip-entry.ts' }, bundle: true, platform: 'node', format: 'cjs', target: 'node20', packages: 'external', outfile, sourcemap: 'inline', logLevel: 'error' });
  return createRequire(import.meta.url)(outfile);
}

const C = await loadCorral();
const hexId = (i) => createHash('sha256').update(`corral-bench-node-${i}`).digest('hex');
const metaOf = (i) => ({ roles: i % 100 === 0 ? ['master', 'agent'] : ['agent'], api: `http://10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}:5050`, version: '0.1.0', resources: { cpus: 32, mem: 131072, disk: 1000000 }, zone: `rack-${i % 40}` });

/** First simulated time (ms after `start`) at which `count` reached each fraction of `total`. */
function tracker(total, fractions) {
  const need = fractions.map((f) => Math.ceil(f * total));
  return { count: 0, need, at: need.map(() => undefined), start: 0 };
}
function hit(tr, now) {
  tr.count++;
  for (let i = 0; i < tr.need.length; i++) if (tr.at[i] === undefined && tr.count >= tr.need[i]) tr.at[i] = now - tr.start;
}

class Sim {
  constructor(n, config = C.membershipConfig()) {
    this.n = n;
    this.clock = new C.SimClock(Date.UTC(2026, 10, 21));
    this.net = new C.MockNetwork({ clock: this.clock, seed: SEED, link: LINK });
    this.config = config;
    this.index = new C.MemberIndex();
    this.nodes = [];
    this.live = new Set();
    this.watch = undefined; // { subject, type, tracker }
    this.falseDeaths = 0;
    this.falseDeathSubjects = new Set();
    this.suspects = 0;
    this.created = 0;
  }

  add(i) {
    const id = hexId(i);
    const node = new C.Membership({ id, transport: this.net.transport(id), clock: this.clock, config: this.config, meta: metaOf(i), random: C.seededRandom(C.deriveSeed(SEED, i)), index: this.index });
    node.onEvent((e) => this.onEvent(e));
    this.nodes[i] = node;
    this.live.add(id);
    return node;
  }

  onEvent(e) {
    const w = this.watch;
    if (w && e.type === w.type && e.member.id === w.subject) hit(w.tracker, this.clock.now());
    if (e.type === 'suspect') this.suspects++;
    if (e.type === 'dead' && this.live.has(e.member.id)) {
      this.falseDeaths++;
      this.falseDeathSubjects.add(e.member.id);
    }
  }

  /** n converged nodes: each is seeded with one shared list of member records, then started. */
  setup() {
    const t0 = performance.now();
    const records = [];
    for (let i = 0; i < this.n; i++) records.push({ id: hexId(i), inc: 0, st: C.StateCode.Alive, meta: JSON.stringify(metaOf(i)) });
    for (let i = 0; i < this.n; i++) this.add(i).seedState(records);
    for (const node of this.nodes) node.start();
    this.created = this.n;
    return performance.now() - t0;
  }

  traffic() {
    const t = this.net.totals;
    return { messages: t.datagramsSent + t.requestsSent, bytes: t.datagramBytesSent + t.requestBytesSent, datagramBytes: t.datagramBytesSent, at: this.clock.now() };
  }

  /** Runs until the watched change reached every fraction, or `maxMs` of simulated time passed. */
  async until(tr, maxMs) {
    const end = this.clock.now() + maxMs;
    while (tr.at.some((x) => x === undefined) && this.clock.now() < end) await this.clock.run(50, 10);
  }
}

const fmt = (ms) => (ms === undefined ? 'not reached' : `${(ms / 1000).toFixed(2)} s`);
const perNodeSec = (a, b, nodes) => {
  const per = (x) => x / nodes / ((b.at - a.at) / 1000);
  return { messages: per(b.messages - a.messages), bytes: per(b.bytes - a.bytes), datagramBytes: per(b.datagramBytes - a.datagramBytes) };
};

async function benchSize(n) {
  const realStart = performance.now();
  const sim = new Sim(n);
  const setupMs = sim.setup();
  log(`${n} nodes seeded and started in ${(setupMs / 1000).toFixed(1)} s; heap ${(process.memoryUsage().heapUsed / 2 ** 20).toFixed(0)} MiB`);
  await sim.clock.run(15_000); // every node's self-announcement drains; probes settle
  const result = { nodes: n, setupSeconds: setupMs / 1000 };

  // 1. dissemination of one update
  const updater = sim.nodes[1];
  const upd = tracker(n - 1, [0.99, 0.9999, 1]);
  upd.start = sim.clock.now();
  sim.watch = { subject: updater.id, type: 'update', tracker: upd };
  updater.setMeta({ ...metaOf(1), leader: hexId(0) });
  await sim.until(upd, 30_000);
  result.update = { t99: upd.at[0], t9999: upd.at[1], tAll: upd.at[2], reached: upd.count, of: n - 1 };
  log(`${n}: update 99% ${fmt(upd.at[0])}, 99.99% ${fmt(upd.at[1])}, all ${fmt(upd.at[2])}`);
  await sim.clock.run(5000);

  // 2. a join through one seed
  const joiner = sim.add(n);
  sim.created++;
  const jn = tracker(n, [0.99, 0.9999, 1]);
  jn.start = sim.clock.now();
  sim.watch = { subject: joiner.id, type: 'join', tracker: jn };
  const answered = joiner.join([sim.nodes[2].id]);
  await sim.until(jn, 30_000);
  result.join = { t99: jn.at[0], t9999: jn.at[1], tAll: jn.at[2], reached: jn.count, of: n, seedAnswered: await answered };
  log(`${n}: join 99% ${fmt(jn.at[0])}, 99.99% ${fmt(jn.at[1])}, all ${fmt(jn.at[2])}`);
  await sim.clock.run(5000);

  // 3. a failure
  const victim = sim.nodes[3];
  sim.live.delete(victim.id);
  sim.net.kill(victim.id);
  victim.stop();
  const others = n; // n + 1 nodes now, minus the victim
  const fail = tracker(others, [1 / others, 0.99, 0.9999, 1]);
  fail.start = sim.clock.now();
  let firstSuspect;
  sim.watch = { subject: victim.id, type: 'dead', tracker: fail };
  const suspectWatch = (e) => {
    if (firstSuspect === undefined && e.type === 'suspect' && e.member.id === victim.id) firstSuspect = sim.clock.now() - fail.start;
  };
  const offs = sim.nodes.filter((x) => x !== victim).map((node) => node.onEvent(suspectWatch));
  await sim.until(fail, 180_000);
  for (const off of offs) off();
  result.failure = { firstSuspect, firstDead: fail.at[0], t99: fail.at[1], t9999: fail.at[2], tAll: fail.at[3], reached: fail.count, of: others };
  log(`${n}: failure first suspect ${fmt(firstSuspect)}, first dead ${fmt(fail.at[0])}, 99% ${fmt(fail.at[1])}, 99.99% ${fmt(fail.at[2])}`);
  sim.watch = undefined;
  await sim.clock.run(10_000);

  // 4. soaks
  const large = n > Number(args.large);
  const soakMinutes = Number(args[large ? 'large-soak-minutes' : 'soak-minutes']);
  const stormMinutes = Number(args[large ? 'large-storm-minutes' : 'storm-minutes']);
  result.soak = await soaks(sim, (loss) => (loss >= 0.3 ? stormMinutes : soakMinutes), n);
  for (const node of sim.nodes) node.stop();

  // 5. the same without the stream fallback
  if (Number(args['datagram-only-minutes']) > 0 && !large) {
    const plain = new Sim(n, C.membershipConfig({ streamProbeFallback: false }));
    plain.setup();
    await plain.clock.run(15_000);
    const dm = Number(args['datagram-only-minutes']);
    result.datagramOnlySoak = await soaks(plain, (loss) => (loss >= 0.3 ? Math.min(1, dm) : dm), n, 'datagrams only');
    for (const node of plain.nodes) node.stop();
  }
  result.realSeconds = (performance.now() - realStart) / 1000;
  result.heapMiB = process.memoryUsage().heapUsed / 2 ** 20;
  result.rssMiB = process.memoryUsage().rss / 2 ** 20;
  return result;
}

async function soaks(sim, minutesFor, n, label = 'stream fallback') {
  const rows = [];
  for (const loss of [0, 0.1, 0.3]) {
    const minutes = minutesFor(loss);
    if (!(minutes > 0)) {
      rows.push({ loss, minutes: 0, skipped: true });
      continue;
    }
    sim.net.setDefaultLink({ loss });
    const deaths0 = sim.falseDeaths;
    const suspects0 = sim.suspects;
    const stats0 = sumStats(sim);
    const t0 = sim.traffic();
    const real0 = performance.now();
    await sim.clock.run(minutes * 60_000);
    const traffic = perNodeSec(t0, sim.traffic(), sim.live.size);
    const stats1 = sumStats(sim);
    const row = {
      loss,
      minutes,
      falsePositives: sim.falseDeaths - deaths0,
      falselyDeadMembers: sim.falseDeathSubjects.size,
      suspectEvents: sim.suspects - suspects0,
      probeFailures: stats1.probeFailures - stats0.probeFailures,
      streamProbes: stats1.streamProbes - stats0.streamProbes,
      refutations: stats1.refutations - stats0.refutations,
      ...traffic,
      realSeconds: (performance.now() - real0) / 1000,
    };
    sim.falseDeathSubjects.clear();
    rows.push(row);
    log(`${n} (${label}): soak ${loss * 100}% loss ${minutes} min: false positives ${row.falsePositives}, suspect events ${row.suspectEvents}, ${row.messages.toFixed(2)} msg/node/s, ${row.bytes.toFixed(0)} B/node/s (${row.realSeconds.toFixed(1)} s real)`);
  }
  sim.net.setDefaultLink({ loss: 0 });
  return rows;
}

function sumStats(sim) {
  const out = { probeFailures: 0, streamProbes: 0, refutations: 0 };
  for (const node of sim.nodes) {
    const s = node.stats();
    out.probeFailures += s.probeFailures;
    out.streamProbes += s.streamProbes;
    out.refutations += s.refutations;
  }
  return out;
}

const results = [];
for (const n of SIZES) results.push(await benchSize(n));

const target = results.find((r) => r.nodes === 10000);
const soak10 = target?.soak.find((s) => s.loss === 0.1 && !s.skipped);
const verdict = target && {
  updateWithin26s: target.update.t9999 !== undefined && target.update.t9999 <= 2600,
  noFalsePositivesAt10: soak10 === undefined ? undefined : soak10.falsePositives === 0,
};
if (args.json) {
  console.log(JSON.stringify({ link: LINK, seed: SEED, results, verdict }));
} else {
  console.log(`bench/gossip: memberlist LAN defaults (gossip 200 ms × 3, probe 1 s, retransmit 4 × ceil(log10(n+1))), link ${LINK.delayMs} ms + 0–${LINK.jitterMs} ms, stream retransmission 200 ms, seed ${SEED}, node ${process.version}`);
  for (const r of results) {
    const base = BASELINE[r.nodes];
    console.log(`\n${r.nodes} nodes (setup ${r.setupSeconds.toFixed(1)} s, run ${r.realSeconds.toFixed(0)} s real, heap ${r.heapMiB.toFixed(0)} MiB, RSS ${r.rssMiB.toFixed(0)} MiB)`);
    console.log(`  update dissemination   99% ${fmt(r.update.t99)}   99.99% ${fmt(r.update.t9999)}   all ${fmt(r.update.tAll)}${base ? `   (Serf simulator: ${base[0]} / ${base[1]} s)` : ''}`);
    console.log(`  join                   99% ${fmt(r.join.t99)}   99.99% ${fmt(r.join.t9999)}   all ${fmt(r.join.tAll)}`);
    const f = r.failure;
    const after = (t) => (t === undefined || f.firstDead === undefined ? '–' : `+${((t - f.firstDead) / 1000).toFixed(2)} s`);
    console.log(`  failure                first suspect ${fmt(f.firstSuspect)}, first dead ${fmt(f.firstDead)}, 99% ${fmt(f.t99)}, 99.99% ${fmt(f.t9999)}, all ${fmt(f.tAll)} (from the kill)`);
    console.log(`  dead verdict spreading 99% ${after(f.t99)}   99.99% ${after(f.t9999)}   (after the first declaration)`);
    const soakLine = (s) =>
      s.skipped ? `    ${String(s.loss * 100).padStart(2)}% loss: skipped (see the header of bench/gossip.mjs)` :
      `    ${String(s.loss * 100).padStart(2)}% loss, ${s.minutes} min: false positives ${s.falsePositives} (${s.falselyDeadMembers} members), suspect events ${s.suspectEvents}, failed probes ${s.probeFailures}, stream probes ${s.streamProbes}, refutations ${s.refutations}; ${s.messages.toFixed(2)} msg/node/s, ${s.bytes.toFixed(0)} B/node/s (datagrams ${s.datagramBytes.toFixed(0)})`;
    console.log('  soak (defaults: stream fallback on)');
    for (const s of r.soak) console.log(soakLine(s));
    if (r.datagramOnlySoak) {
      console.log('  soak (datagrams only: streamProbeFallback off)');
      for (const s of r.datagramOnlySoak) console.log(soakLine(s));
    }
  }
  const word = (ok) => (ok === undefined ? 'not run' : ok ? 'PASS' : 'FAIL');
  if (verdict) console.log(`\ntarget 10,000 nodes: update at 99.99% ≤ 2.6 s: ${word(verdict.updateWithin26s)}; zero false positives at 10% loss: ${word(verdict.noFalsePositivesAt10)}`);
}

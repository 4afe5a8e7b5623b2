// The DNS answerer as a pure function of (catalog, query bytes): records, negative answers, the
// zone's edge, malformed queries, truncation, EDNS and the reply cache.
import { decode, encode, RECURSION_DESIRED, TRUNCATED_RESPONSE, AUTHORITATIVE_ANSWER, type Packet } from 'dns-packet';
import t from 'tap';
import { DnsAnswerer } from '../../src/discovery/answer';
import { baseState, catalogOf, taskView, withTasks } from './helpers/state';

const three = () =>
  catalogOf(
    withTasks(baseState(), [
      taskView({ id: 't1', host: 'node-a', resources: { cpus: 1, mem: 1, disk: 0, ports: [{ begin: 31000, end: 31000 }] } }),
      taskView({ id: 't2', host: 'node-a', resources: { cpus: 1, mem: 1, disk: 0, ports: [{ begin: 31001, end: 31001 }] } }),
      taskView({ id: 't3', agentId: 'agent-b', host: 'node-b', resources: { cpus: 1, mem: 1, disk: 0, ports: [{ begin: 31002, end: 31002 }] } }),
    ]),
  );

function query(name: string, type: string, opts: { id?: number; edns?: number; klass?: string; flags?: number } = {}): Buffer {
  const packet: Packet = { type: 'query', id: opts.id ?? 42, flags: opts.flags ?? RECURSION_DESIRED, questions: [{ name, type: type as 'A', class: (opts.klass ?? 'IN') as 'IN' }] };
  if (opts.edns !== undefined) packet.additionals = [{ type: 'OPT', name: '.', udpPayloadSize: opts.edns } as never];
  return encode(packet);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- records of any type, read field by field
type Rec = { type: string; name: string; ttl?: number; data: any };
interface Reply {
  id: number;
  flags: number;
  questions: Array<{ name: string }>;
  answers: Rec[];
  authorities: Rec[];
  additionals: Rec[];
}

function ask(a: DnsAnswerer, q: Buffer, udp = true) {
  const r = a.answer(q, udp);
  if (r.kind !== 'reply') throw new Error(`expected a reply, got ${r.kind}`);
  return { raw: r.packet, packet: decode(r.packet) as unknown as Reply };
}

const rcode = (raw: Buffer) => raw.readUInt16BE(2) & 0xf;

t.test('A and SRV: every address and port, glue for SRV targets, id, RD, AA and case kept', async (t) => {
  const a = new DnsAnswerer(three(), { forwardOutside: false });
  const { raw, packet } = ask(a, query('Hello.Corral-Init.corral', 'A', { id: 777 }));
  t.equal(packet.id, 777);
  t.equal(rcode(raw), 0);
  t.ok(packet.flags! & AUTHORITATIVE_ANSWER, 'authoritative');
  t.ok(packet.flags! & RECURSION_DESIRED, 'RD copied');
  t.equal(packet.questions![0]!.name, 'Hello.Corral-Init.corral', "the question in the client's case");
  t.same(packet.answers!.map((x) => [x.type, x.name, x.ttl, x.data]), [
    ['A', 'hello.corral-init.corral', 5, '10.0.0.1'],
    ['A', 'hello.corral-init.corral', 5, '10.0.0.2'],
  ]);
  const srv = ask(a, query('_hello._tcp.corral-init.corral', 'SRV')).packet;
  t.same(srv.answers!.map((x) => (x.type === 'SRV' ? `${x.data.target}:${x.data.port}` : '')).sort(), ['node-a.node.corral:31000', 'node-a.node.corral:31001', 'node-b.node.corral:31002']);
  t.same(srv.additionals!.map((x) => [x.name, x.data]), [['node-a.node.corral', '10.0.0.1'], ['node-b.node.corral', '10.0.0.2']]);
});

t.test('negative answers: NXDOMAIN for unknown names, NOERROR without data for other types, both with the SOA', async (t) => {
  const a = new DnsAnswerer(three(), { forwardOutside: false });
  const nx = ask(a, query('nope.corral-init.corral', 'A'));
  t.equal(rcode(nx.raw), 3);
  t.equal(nx.packet.answers!.length, 0);
  t.equal(nx.packet.authorities![0]!.type, 'SOA');
  const nodata = ask(a, query('hello.corral-init.corral', 'AAAA'));
  t.equal(rcode(nodata.raw), 0);
  t.equal(nodata.packet.answers!.length, 0);
  t.equal(nodata.packet.authorities![0]!.type, 'SOA');
  const ent = ask(a, query('corral-init.corral', 'A'));
  t.equal(rcode(ent.raw), 0, 'an empty non-terminal exists');
  const unknownType = ask(a, query('hello.corral-init.corral', 'UNKNOWN_65'));
  t.equal(rcode(unknownType.raw), 0, 'a type dns-packet has no name for');
  t.equal(unknownType.raw.readUInt16BE(12 + 'hello.corral-init.corral'.length + 2), 65, 'its type echoed');
});

t.test('the apex: SOA, NS with glue, ANY', async (t) => {
  const a = new DnsAnswerer(three(), { forwardOutside: false });
  const soa = ask(a, query('corral', 'SOA')).packet.answers![0]!;
  t.equal(soa.type, 'SOA');
  if (soa.type === 'SOA') t.match(soa.data, { mname: 'ns1.corral', rname: 'hostmaster.corral', serial: 1000, minimum: 5 });
  const ns = ask(a, query('corral.', 'NS')).packet;
  t.same(ns.answers!.map((x) => x.data), ['ns1.corral']);
  t.same(ns.additionals!.map((x) => [x.name, x.data]), [['ns1.corral', '10.0.0.9']]);
  const any = ask(a, query('corral', 'ANY')).packet;
  t.same(any.answers!.map((x) => x.type).sort(), ['NS', 'SOA']);
  const leader = ask(a, query('leader.corral', 'A')).packet;
  t.same(leader.answers!.map((x) => x.data), ['10.0.0.9']);
});

t.test('outside the zone: REFUSED without upstreams, forwarded with them', async (t) => {
  const refuse = new DnsAnswerer(three(), { forwardOutside: false });
  const r = ask(refuse, query('example.com', 'A'));
  t.equal(rcode(r.raw), 5);
  t.notOk(r.packet.flags! & AUTHORITATIVE_ANSWER, 'not authoritative outside the zone');
  const forward = new DnsAnswerer(three(), { forwardOutside: true });
  const f = forward.answer(query('example.com', 'A'), true);
  t.equal(f.kind, 'forward');
  t.equal(ask(forward, query('leader.corral', 'A')).packet.answers!.length, 1, 'the zone is still answered');
});

t.test('class other than IN in the zone: REFUSED; zone transfers: NOTIMP', async (t) => {
  const a = new DnsAnswerer(three(), { forwardOutside: false });
  t.equal(rcode(ask(a, query('leader.corral', 'A', { klass: 'CH' })).raw), 5);
  t.equal(rcode(ask(a, query('corral', 'AXFR')).raw), 4);
});

t.test('malformed queries: dropped or FORMERR/NOTIMP, never thrown', async (t) => {
  const a = new DnsAnswerer(three(), { forwardOutside: false });
  const good = query('leader.corral', 'A', { id: 0x1234 });
  t.equal(a.answer(Buffer.alloc(5), true).kind, 'drop', 'shorter than a header');
  const response = Buffer.from(good);
  response[2] = response[2]! | 0x80;
  t.equal(a.answer(response, true).kind, 'drop', 'a reply (QR set) is not answered');
  const noQuestion = Buffer.from(good.subarray(0, 12));
  noQuestion.writeUInt16BE(0, 4);
  t.equal(rcode(ask(a, noQuestion).raw), 1, 'no question');
  const twoQuestions = Buffer.from(good);
  twoQuestions.writeUInt16BE(2, 4);
  t.equal(rcode(ask(a, twoQuestions).raw), 1, 'two questions announced, one present');
  t.equal(rcode(ask(a, Buffer.concat([good, Buffer.from([1, 2, 3])])).raw), 1, 'trailing bytes');
  t.equal(rcode(ask(a, good.subarray(0, good.length - 2)).raw), 1, 'question cut short');
  const notify = Buffer.from(good);
  notify[2] = (notify[2]! & 0x87) | (4 << 3);
  t.equal(rcode(ask(a, notify).raw), 4, 'opcode NOTIFY: NOTIMP');
  // A question name that points at itself.
  const loop = Buffer.from([0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1]);
  t.equal(rcode(ask(a, loop).raw), 1, 'compression loop');
  const forward = Buffer.from([0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 30, 0, 1, 0, 1]);
  t.equal(rcode(ask(a, forward).raw), 1, 'pointer past the end');
  const formerr = ask(a, noQuestion).packet;
  t.equal(formerr.id, 0x1234);
});

t.test('a compressed question name (legal, unusual) is read by dns-packet and answered', async (t) => {
  const a = new DnsAnswerer(three(), { forwardOutside: false });
  // Answer count 1 carrying the name; the question points into it? Pointers must go backwards, so
  // the question's name points into itself: "leader" + pointer to "corral" written first in a label.
  const q = Buffer.from([0, 7, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 6, ...Buffer.from('leader'), 6, ...Buffer.from('corral'), 0, 0, 1, 0, 1]);
  t.equal(ask(a, q).packet.answers!.length, 1, 'plain');
  const extra = encode({ type: 'query', id: 9, questions: [{ name: 'leader.corral', type: 'A' }], additionals: [{ type: 'A', name: 'x.corral', ttl: 1, data: '1.2.3.4' }] });
  const r = ask(a, extra);
  t.equal(r.packet.answers!.length, 1, 'extra records: the slow path still answers');
  t.equal(r.packet.questions![0]!.name, 'leader.corral');
});

t.test('truncation: a reply over 512 bytes (or the EDNS size) has TC over UDP and is whole over TCP', async (t) => {
  const tasks = Array.from({ length: 20 }, (_, i) => {
    const agent = `agent-${i}`;
    return taskView({ id: `t${i}`, agentId: agent, host: `10.1.0.${i + 1}` });
  });
  const state = withTasks(baseState(), tasks);
  for (let i = 0; i < 20; i++) state.agents.set(`agent-${i}`, { id: `agent-${i}`, hostname: `10.1.0.${i + 1}`, reachable: true });
  const a = new DnsAnswerer(catalogOf(state), { forwardOutside: false });
  const udp = ask(a, query('_hello._tcp.corral-init.corral', 'SRV'));
  t.ok(udp.packet.flags! & TRUNCATED_RESPONSE, 'TC set');
  t.ok(udp.raw.length <= 512);
  t.equal(udp.packet.answers!.length, 0);
  const plainA = ask(a, query('hello.corral-init.corral', 'A'));
  t.ok(plainA.packet.flags! & TRUNCATED_RESPONSE, '20 A records do not fit in 512 bytes');
  const edns = ask(a, query('hello.corral-init.corral', 'A', { edns: 4096 }));
  t.notOk(edns.packet.flags! & TRUNCATED_RESPONSE, 'but they fit in 1232 bytes');
  t.equal(edns.packet.answers!.length, 20);
  t.ok(edns.packet.additionals!.some((x) => x.type === 'OPT'), 'EDNS answered with OPT');
  const tcp = ask(a, query('_hello._tcp.corral-init.corral', 'SRV'), false);
  t.notOk(tcp.packet.flags! & TRUNCATED_RESPONSE);
  t.equal(tcp.packet.answers!.length, 20);
  t.equal(tcp.packet.additionals!.length, 20, 'glue for every node');
  t.ok(tcp.raw.length > 1232);
});

t.test('the reply cache: same bytes but the id; a new catalog answers anew', async (t) => {
  const a = new DnsAnswerer(three(), { forwardOutside: false });
  const one = ask(a, query('hello.corral-init.corral', 'A', { id: 1 })).raw;
  const two = ask(a, query('hello.corral-init.corral', 'A', { id: 2 })).raw;
  t.same(one.subarray(2), two.subarray(2));
  t.equal(two.readUInt16BE(0), 2);
  const noRd = ask(a, query('hello.corral-init.corral', 'A', { flags: 0 })).packet;
  t.notOk(noRd.flags! & RECURSION_DESIRED, 'RD follows each query, not the cached one');
  a.setCatalog(catalogOf(withTasks(baseState(), [])));
  t.equal(rcode(ask(a, query('hello.corral-init.corral', 'A')).raw), 3, 'gone after the catalog changed');
});

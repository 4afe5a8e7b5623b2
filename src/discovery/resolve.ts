// What the zone says about one question: a pure function from (catalog, name, type) to the answer,
// authority and additional records of the reply (dns-packet's record objects) and its rcode. Names
// outside the zone are not answered here (the server forwards or refuses them).
import type { Answer } from 'dns-packet';
import { canonicalName, inZone, zoneNames } from './names';
import type { Catalog, NameRecords } from './types';

export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;
export const QTYPE = { A: 1, NS: 2, SOA: 6, AAAA: 28, SRV: 33, OPT: 41, IXFR: 251, AXFR: 252, ANY: 255 } as const;
export const QCLASS = { IN: 1, ANY: 255 } as const;

export interface ZoneAnswer {
  rcode: number;
  answers: Answer[];
  authorities: Answer[];
  additionals: Answer[];
}

/** SOA timers (seconds): how often secondaries would refresh, retry and give up; Corral has none. */
const SOA_REFRESH = 60;
const SOA_RETRY = 600;
const SOA_EXPIRE = 86400;

function soaRecord(catalog: Catalog): Answer {
  const names = zoneNames(catalog.domain);
  return {
    type: 'SOA',
    name: catalog.domain,
    ttl: catalog.ttl,
    data: { mname: names.ns, rname: names.hostmaster, serial: catalog.serial >>> 0, refresh: SOA_REFRESH, retry: SOA_RETRY, expire: SOA_EXPIRE, minimum: catalog.ttl },
  };
}

function aRecords(name: string, entry: NameRecords | undefined, ttl: number): Answer[] {
  return (entry?.a ?? []).map((ip) => ({ type: 'A', name, ttl, data: ip }));
}

/** A records of the targets of `answers` (SRV and NS), for the additional section. */
function glue(catalog: Catalog, answers: readonly Answer[]): Answer[] {
  const out: Answer[] = [];
  const seen = new Set<string>();
  for (const rr of answers) {
    const target = rr.type === 'SRV' ? rr.data.target : rr.type === 'NS' ? rr.data : undefined;
    if (target === undefined || seen.has(target)) continue;
    seen.add(target);
    out.push(...aRecords(target, catalog.records.get(target), catalog.ttl));
  }
  return out;
}

function recordsOf(catalog: Catalog, name: string, entry: NameRecords, qtype: number): Answer[] {
  const ttl = catalog.ttl;
  const out: Answer[] = [];
  const any = qtype === QTYPE.ANY;
  if (any || qtype === QTYPE.A) out.push(...aRecords(name, entry, ttl));
  if (any || qtype === QTYPE.SRV) for (const s of entry.srv) out.push({ type: 'SRV', name, ttl, data: { priority: s.priority, weight: s.weight, port: s.port, target: s.target } });
  if (any || qtype === QTYPE.NS) for (const ns of entry.ns) out.push({ type: 'NS', name, ttl, data: ns });
  if ((any || qtype === QTYPE.SOA) && entry.soa) out.push(soaRecord(catalog));
  return out;
}

/**
 * The answer for `rawName` (any case, trailing dot or not) of type `qtype` and class `qclass`, or
 * undefined when the name is outside the zone. Unknown names get NXDOMAIN, known names without
 * records of the type NOERROR with no answers (both with the SOA, for negative caching).
 */
export function resolveInZone(catalog: Catalog, rawName: string, qtype: number, qclass: number): ZoneAnswer | undefined {
  const name = canonicalName(rawName);
  if (!inZone(name, catalog.domain)) return undefined;
  const empty: ZoneAnswer = { rcode: RCODE.NOERROR, answers: [], authorities: [], additionals: [] };
  if (qclass !== QCLASS.IN && qclass !== QCLASS.ANY) return { ...empty, rcode: RCODE.REFUSED };
  // Zone transfers are not offered (the zone changes every second; ask the HTTP API instead).
  if (qtype === QTYPE.AXFR || qtype === QTYPE.IXFR) return { ...empty, rcode: RCODE.NOTIMP };
  const entry = catalog.records.get(name);
  if (!entry) return { ...empty, rcode: RCODE.NXDOMAIN, authorities: [soaRecord(catalog)] };
  const answers = recordsOf(catalog, name, entry, qtype);
  if (answers.length === 0) return { ...empty, authorities: [soaRecord(catalog)] };
  return { ...empty, answers, additionals: glue(catalog, answers) };
}

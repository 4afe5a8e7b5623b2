// Marathon's placement constraints as one pure decision: may one more instance of an app go to a
// candidate agent, given where its instances already are? Fields: `hostname` (or `@hostname`) is
// the agent's hostname, `@region` and `@zone` are its `region` and `zone` attributes (Corral has no
// Mesos fault-domain fields, so those attributes stand in for them), anything else an attribute.
// An agent without the field meets only UNLIKE, as in Marathon.
import type { AppConstraint } from './types';

/** Where an instance is, or could go: an agent, its hostname and attributes. */
export interface Placement {
  agentId: string;
  hostname: string;
  /** Absent on tasks stored before attributes were kept: they count as having none. */
  attributes?: Readonly<Record<string, string>>;
}

/** The fields Marathon reads from Mesos's agent info or fault domain, and the attribute each is here. */
const SPECIAL_FIELDS: Readonly<Record<string, string | null>> = { hostname: null, '@hostname': null, '@region': 'region', '@zone': 'zone' };

export function isKnownField(field: string): boolean {
  return !field.startsWith('@') || field in SPECIAL_FIELDS;
}

/** The field's value at `p`, or undefined when the agent has no such attribute. */
export function fieldValue(field: string, p: Placement): string | undefined {
  const special = SPECIAL_FIELDS[field];
  if (special === null) return p.hostname;
  return p.attributes?.[special ?? field];
}

/** Marathon (Java's String.matches) matches the whole value, so the pattern is anchored. */
export function fullRegex(pattern: string): RegExp {
  return new RegExp(`^(?:${pattern})$`);
}

/** A constraint's value; "" counts as none, as Marathon's checks read it. */
const valueOf = (c: AppConstraint): string | undefined => (c[2] === undefined || c[2] === '' ? undefined : c[2]);

/**
 * Whether one more instance may go to `candidate`. `placed`: the app's instances that count
 * (including those placed earlier in the same batch of offers). `offered`: the other places this
 * instance could go now — GROUP_BY counts their values as groups with no instance yet.
 */
export function meetsConstraint(c: AppConstraint, candidate: Placement, placed: readonly Placement[], offered: readonly Placement[] = []): boolean {
  const [field, operator] = c;
  const value = valueOf(c);
  const here = fieldValue(field, candidate);
  if (here === undefined) return operator === 'UNLIKE';
  const values = (ps: readonly Placement[]) => ps.map((p) => fieldValue(field, p)).filter((v): v is string => v !== undefined);
  switch (operator) {
    case 'UNIQUE':
      return !values(placed).includes(here);
    case 'CLUSTER':
      // Without a value the first instance picks it; instances on agents without the field have none to follow.
      return value !== undefined ? here === value : values(placed).every((v) => v === here);
    case 'GROUP_BY':
      return groupByAllows(here, values(placed), values(offered), value === undefined ? 0 : Number(value));
    case 'MAX_PER':
      return values(placed).filter((v) => v === here).length < Number(value);
    case 'LIKE':
      return fullRegex(value ?? '').test(here);
    case 'UNLIKE':
      return !fullRegex(value ?? '').test(here);
    case 'IS':
      return here === value;
    default:
      return false;
  }
}

/**
 * GROUP_BY: a value may take one more instance only while it has no more than the least-used value
 * seen (placed or offered; a value offered but unused has 0). With `expected` groups (the
 * constraint's value), values not seen yet count as 0 until that many are seen — so existing
 * groups wait for the missing ones, as in Marathon.
 */
function groupByAllows(here: string, placed: readonly string[], offered: readonly string[], expected: number): boolean {
  const counts = new Map<string, number>();
  for (const v of placed) counts.set(v, (counts.get(v) ?? 0) + 1);
  const seen = new Set([...counts.keys(), ...offered, here]);
  const least = seen.size < expected ? 0 : Math.min(...[...seen].map((v) => counts.get(v) ?? 0));
  return (counts.get(here) ?? 0) <= least;
}

/**
 * The candidates (in order) where one more instance may go. GROUP_BY counts as groups only the
 * candidates the other constraints allow: a zone the app may not use is no group to wait for.
 */
export function whereAllowed<P extends Placement>(constraints: readonly AppConstraint[], candidates: readonly P[], placed: readonly Placement[]): P[] {
  if (constraints.length === 0) return [...candidates];
  const groupBy = constraints.filter((c) => c[1] === 'GROUP_BY');
  const others = constraints.filter((c) => c[1] !== 'GROUP_BY');
  const eligible = candidates.filter((p) => others.every((c) => meetsConstraint(c, p, placed)));
  return eligible.filter((p) => groupBy.every((c) => meetsConstraint(c, p, placed, eligible)));
}

/**
 * Which `count` of `order` (the kill selection's order, first to go first) to kill on a scale-down
 * so that GROUP_BY spreads stay even, as Marathon's scale-down does: each kill comes from the most
 * crowded value of the GROUP_BY fields (the first field decides, the next ones break ties), and the
 * kill selection picks among its instances. Without GROUP_BY: the first `count`.
 */
export function spreadKeepingKills<T>(constraints: readonly AppConstraint[], order: readonly T[], count: number, at: (t: T) => Placement): T[] {
  const fields = constraints.filter((c) => c[1] === 'GROUP_BY').map((c) => c[0]);
  if (fields.length === 0) return order.slice(0, count);
  const left = [...order];
  const kills: T[] = [];
  while (kills.length < count && left.length > 0) {
    const counts = fields.map((f) => {
      const m = new Map<string | undefined, number>();
      for (const t of left) m.set(fieldValue(f, at(t)), (m.get(fieldValue(f, at(t))) ?? 0) + 1);
      return m;
    });
    const crowd = (t: T) => fields.map((f, i) => counts[i]!.get(fieldValue(f, at(t))) ?? 0);
    let best = 0;
    for (let i = 1; i < left.length; i++) {
      const a = crowd(left[i]!);
      const b = crowd(left[best]!);
      const j = a.findIndex((x, k) => x !== b[k]);
      if (j >= 0 && a[j]! > b[j]!) best = i;
    }
    kills.push(left.splice(best, 1)[0]!);
  }
  return kills;
}

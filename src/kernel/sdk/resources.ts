// Pure arithmetic on Resources (scalars plus port ranges). Shared by the master's allocator and
// by frameworks that carve tasks out of offers.
import type { PortRange, Resources } from '../types';

/** Scalars are compared with this slack so 0.1 + 0.2 fits in 0.3. */
const EPSILON = 1e-9;

export function normalizeRanges(ranges: readonly PortRange[]): PortRange[] {
  // Fast paths: most tasks have no ports and most agents one range (launches call this per task).
  if (ranges.length === 0) return [];
  if (ranges.length === 1) return ranges[0]!.end >= ranges[0]!.begin ? [{ begin: ranges[0]!.begin, end: ranges[0]!.end }] : [];
  const sorted = ranges.filter((r) => r.end >= r.begin).map((r) => ({ ...r })).sort((a, b) => a.begin - b.begin);
  const out: PortRange[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && r.begin <= last.end + 1) last.end = Math.max(last.end, r.end);
    else out.push(r);
  }
  return out;
}

export function subtractRanges(from: readonly PortRange[], remove: readonly PortRange[]): PortRange[] {
  if (remove.length === 0 || from.length === 0) return normalizeRanges(from);
  let current = normalizeRanges(from);
  for (const cut of normalizeRanges(remove)) {
    const next: PortRange[] = [];
    for (const r of current) {
      if (cut.end < r.begin || cut.begin > r.end) {
        next.push(r);
        continue;
      }
      if (cut.begin > r.begin) next.push({ begin: r.begin, end: cut.begin - 1 });
      if (cut.end < r.end) next.push({ begin: cut.end + 1, end: r.end });
    }
    current = next;
  }
  return current;
}

export function rangesContain(outer: readonly PortRange[], inner: readonly PortRange[]): boolean {
  if (inner.length === 0) return true;
  return subtractRanges(inner, outer).length === 0;
}

export function portCount(ranges: readonly PortRange[]): number {
  return ranges.reduce((n, r) => n + (r.end - r.begin + 1), 0);
}

/** Individual ports as single-port ranges, merged. */
export function portsToRanges(ports: readonly number[]): PortRange[] {
  return normalizeRanges(ports.map((p) => ({ begin: p, end: p })));
}

export function addResources(a: Resources, b: Resources): Resources {
  return { cpus: a.cpus + b.cpus, mem: a.mem + b.mem, disk: a.disk + b.disk, ports: normalizeRanges([...a.ports, ...b.ports]) };
}

/** a − b, clamped at zero (callers check `fits` first when it matters). */
export function subtractResources(a: Resources, b: Resources): Resources {
  const clamp = (n: number) => (Math.abs(n) < EPSILON ? 0 : Math.max(0, n));
  return { cpus: clamp(a.cpus - b.cpus), mem: clamp(a.mem - b.mem), disk: clamp(a.disk - b.disk), ports: subtractRanges(a.ports, b.ports) };
}

/** Does `need` fit inside `have`? */
export function fits(need: Resources, have: Resources): boolean {
  return (
    need.cpus <= have.cpus + EPSILON &&
    need.mem <= have.mem + EPSILON &&
    need.disk <= have.disk + EPSILON &&
    rangesContain(have.ports, need.ports)
  );
}

/** True when nothing worth offering is left (no cpu or no memory). */
export function isEmpty(r: Pick<Resources, 'cpus' | 'mem'>): boolean {
  return r.cpus < 0.01 - EPSILON || r.mem < 1 - EPSILON;
}

/** The first `count` free ports of `ranges`, lowest first; undefined if there are fewer. */
export function takePorts(ranges: readonly PortRange[], count: number): number[] | undefined {
  const out: number[] = [];
  for (const r of normalizeRanges(ranges)) {
    for (let p = r.begin; p <= r.end && out.length < count; p++) out.push(p);
    if (out.length === count) return out;
  }
  return out.length === count ? out : undefined;
}

/** The share of the scalar resources of `total` that `used` takes up, by its largest fraction (DRF). */
export function dominantShare(used: Resources, total: Resources): number {
  const share = (u: number, t: number) => (t > 0 ? u / t : 0);
  return Math.max(share(used.cpus, total.cpus), share(used.mem, total.mem), share(used.disk, total.disk));
}

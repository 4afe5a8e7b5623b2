// The dependency graph of jobs, pure: a job with `parents` runs after all of them succeeded for the
// same upstream run. Submissions that would close a cycle or name a missing parent are rejected
// before anything is written; Chronos's /graph/dot and /graph/csv are rendered from here.
import { CorralError } from '../shared/errors';
import type { JobDefinition } from './types';

export type JobLookup = ReadonlyMap<string, Pick<JobDefinition, 'name' | 'parents'>>;
/** One job's parents by name (a JobLookup is one); enough to check a submission. */
export type ParentLookup = Pick<JobLookup, 'has' | 'get'>;

/** Children of each job (jobs naming it as a parent), sorted by name. */
export function childrenOf(jobs: JobLookup): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const j of [...jobs.values()].sort((a, b) => (a.name < b.name ? -1 : 1))) {
    for (const p of j.parents ?? []) out.set(p, [...(out.get(p) ?? []), j.name]);
  }
  return out;
}

/** Children per parent, kept up to date job by job (rebuilding childrenOf per run would be O(jobs)). */
export class ChildIndex {
  private readonly children = new Map<string, Set<string>>();
  private readonly parents = new Map<string, readonly string[]>();

  /** The job now has these parents (none: it is removed from the graph or scheduled). */
  set(job: string, parents: readonly string[] | undefined): void {
    for (const p of this.parents.get(job) ?? []) this.children.get(p)?.delete(job);
    if (!parents || parents.length === 0) {
      this.parents.delete(job);
      return;
    }
    this.parents.set(job, parents);
    for (const p of parents) {
      let set = this.children.get(p);
      if (!set) this.children.set(p, (set = new Set()));
      set.add(job);
    }
  }

  /** Jobs naming `parent`, sorted by name. */
  of(parent: string): string[] {
    return [...(this.children.get(parent) ?? [])].sort();
  }
}

/**
 * Checks that putting `job` into `jobs` (replacing one of the same name) keeps a DAG whose parents
 * all exist. Throws JOB_PARENT_NOT_FOUND or JOB_DEPENDENCY_CYCLE (with the cycle's path).
 */
export function checkDependencies(jobs: ParentLookup, job: Pick<JobDefinition, 'name' | 'parents'>): void {
  const missing = (job.parents ?? []).filter((p) => !jobs.has(p));
  if (missing.length > 0) throw new CorralError('JOB_PARENT_NOT_FOUND', `Job '${job.name}' names parents that do not exist: ${missing.join(', ')}`);
  // The graph with `job` in it, read through: only its ancestors are visited, not every job.
  const withJob: ParentLookup = { has: (n) => n === job.name || jobs.has(n), get: (n) => (n === job.name ? job : jobs.get(n)) };
  const cycle = findCycle(withJob, job.name);
  if (cycle) throw new CorralError('JOB_DEPENDENCY_CYCLE', `Job '${job.name}' would close a dependency cycle: ${cycle.join(' -> ')}`);
}

/** A cycle through `from` following parent links, as names from `from` back to it; undefined if none. */
export function findCycle(jobs: ParentLookup, from: string): string[] | undefined {
  const path: string[] = [];
  const done = new Set<string>();
  const visit = (name: string): string[] | undefined => {
    if (path.includes(name)) return name === from ? [...path, name] : undefined;
    if (done.has(name)) return undefined;
    path.push(name);
    for (const p of jobs.get(name)?.parents ?? []) {
      const found = visit(p);
      if (found) return found;
    }
    path.pop();
    done.add(name);
    return undefined;
  };
  return visit(from);
}

/** Jobs that would be left with a missing parent if `name` were deleted. */
export function dependents(jobs: JobLookup, name: string): string[] {
  return childrenOf(jobs).get(name) ?? [];
}

/** Chronos's last-run word per job: success, failure or fresh (never ran). */
export type LastRun = 'success' | 'failure' | 'fresh';

/** Graphviz text of the graph (Chronos's /graph/dot). */
export function graphDot(jobs: JobLookup): string {
  const quote = (s: string) => `"${s.replace(/"/g, '\\"')}"`;
  const lines = ['digraph G {'];
  for (const name of [...jobs.keys()].sort()) lines.push(`  ${quote(name)};`);
  for (const j of [...jobs.values()].sort((a, b) => (a.name < b.name ? -1 : 1))) {
    for (const p of j.parents ?? []) lines.push(`  ${quote(p)} -> ${quote(j.name)};`);
  }
  lines.push('}');
  return lines.join('\n') + '\n';
}

/**
 * Chronos's /graph/csv: `node,<name>,<success|failure|fresh>,<idle|queued|running>` per job and
 * `link,<parent>,<child>` per edge.
 */
export function graphCsv(jobs: JobLookup, lastRun: (name: string) => LastRun, state: (name: string) => string): string {
  const lines: string[] = [];
  const names = [...jobs.keys()].sort();
  for (const name of names) lines.push(`node,${name},${lastRun(name)},${state(name)}`);
  for (const name of names) for (const p of jobs.get(name)?.parents ?? []) lines.push(`link,${p},${name}`);
  return lines.map((l) => l + '\n').join('');
}

// Pure placement of queued runs on offers: each run takes its job's cpus/mem/disk from the first
// offer it fits in whose agent meets the job's Chronos constraints, and becomes a kernel task.
import { fits, subtractResources } from '../kernel/sdk/resources';
import type { Offer, Resources, TaskLaunch } from '../kernel/types';
import { taskIdOf } from './due';
import type { JobConstraint, JobDefinition, JobRun } from './types';

/** Chronos's constraints: EQUALS an attribute value, LIKE / UNLIKE a whole-value regex; `hostname` is the agent's. */
export function meetsJobConstraints(constraints: readonly JobConstraint[], offer: Pick<Offer, 'hostname' | 'attributes'>): boolean {
  return constraints.every(([field, op, value]) => {
    const here = field === 'hostname' ? offer.hostname : offer.attributes[field];
    if (here === undefined) return op === 'UNLIKE';
    if (op === 'EQUALS') return here === value;
    let re: RegExp;
    try {
      re = new RegExp(`^(?:${value})$`);
    } catch {
      return false;
    }
    return op === 'LIKE' ? re.test(here) : !re.test(here);
  });
}

export function jobResources(job: Pick<JobDefinition, 'cpus' | 'mem' | 'disk'>): Resources {
  return { cpus: job.cpus, mem: job.mem, disk: job.disk, ports: [] };
}

/** The kernel task of one attempt of `run` (Chronos's environment names included). */
export function runTask(job: JobDefinition, run: JobRun, attempt: number): TaskLaunch {
  const args = run.arguments ?? job.arguments;
  const environment: Record<string, string> = {
    CHRONOS_JOB_NAME: job.name,
    CHRONOS_JOB_OWNER: job.owner,
    CHRONOS_JOB_RUN_TIME: new Date(run.scheduledAt).toISOString(),
    CHRONOS_JOB_RUN_ATTEMPT: String(attempt - 1),
    CORRAL_JOB_RUN_ID: run.id,
  };
  for (const v of job.environmentVariables) environment[v.name] = v.value;
  const quote = (a: string) => `'${a.replace(/'/g, `'\\''`)}'`;
  const command = job.shell
    ? { shell: true, value: args.length > 0 ? `${job.command} ${args.map(quote).join(' ')}` : job.command, environment }
    : { shell: false, value: job.command, arguments: args, environment };
  const launch: TaskLaunch = {
    taskId: taskIdOf(run, attempt),
    name: `ChronosTask:${job.name}`,
    resources: jobResources(job),
    labels: { 'corral.job': job.name, 'corral.run': run.id },
    command: job.runAsUser ? { ...command, user: job.runAsUser } : command,
  };
  if (job.fetch.length > 0) launch.fetch = job.fetch.map((f) => ({ ...f }));
  return launch;
}

export interface Placed {
  run: JobRun;
  offer: Offer;
  launch: TaskLaunch;
}

/**
 * The first of `offers` that still holds `job`'s resources (what is `left` of each, by offer id)
 * and whose agent meets its constraints; takes the resources from `left`. Undefined if none.
 */
export function takeOffer(offers: readonly Offer[], left: Map<string, Resources>, job: JobDefinition): Offer | undefined {
  const need = jobResources(job);
  for (const o of offers) {
    const free = left.get(o.id) ?? o.resources;
    if (!fits(need, free) || !meetsJobConstraints(job.constraints, o)) continue;
    left.set(o.id, subtractResources(free, need));
    return o;
  }
  return undefined;
}

/**
 * From when the shell wants offers: now while runs wait for one; else `leadMs` before the next
 * occurrence or end of a retry's backoff, so an offer is at hand when it comes; undefined: not at all.
 */
export function offersWantedFrom(now: number, readyRuns: number, nextDue: number | undefined, nextRetry: number | undefined, leadMs: number): number | undefined {
  if (readyRuns > 0) return now;
  const next = nextDue === undefined ? nextRetry : nextRetry === undefined ? nextDue : Math.min(nextDue, nextRetry);
  return next === undefined ? undefined : next - leadMs;
}

// `corral job ...`: scheduled and dependent batch jobs (Chronos job JSON) through /api/v1/jobs,
// their run history, and the dependency graph.
import { InvalidArgumentError, type Command } from 'commander';
import type { CorralClient } from '../client';
import type { JobDefinition, JobRun, NativeJob } from '../client/cron-types';
import { readDefinition } from './app-input';
import { defineAction, type CliDeps, type CommandContext } from './context';
import { formatAge, renderFields, renderTable, toMillis, truncate } from './table';

/** The client methods `corral job` uses (the real client has them; test fakes provide them). */
export type JobClient = Pick<CorralClient, 'putJob' | 'listJobs' | 'getJob' | 'runJob' | 'jobRuns' | 'killJob' | 'deleteJob' | 'jobGraph'>;

const jobClient = async (ctx: CommandContext): Promise<JobClient> => ctx.client();

function parseLimit(raw: string): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a whole number >= 1');
  return n;
}

const when = (iso: string | null | undefined) => iso ?? '-';
const triggerOf = (j: NativeJob) => j.schedule ?? `after ${(j.parents ?? []).join(', ')}`;

function runRows(runs: readonly JobRun[], now: number): string[][] {
  return runs.map((r) => [r.id, r.status, when(r.scheduledAt), formatAge(toMillis(r.startedAt), now), r.exitCode === null ? '-' : String(r.exitCode), String(r.attempt), r.taskId ?? '-']);
}
const RUN_HEADERS = ['RUN', 'STATUS', 'SCHEDULED', 'STARTED', 'EXIT', 'ATTEMPT', 'TASK'];

export function registerJobCommands(program: Command, deps: CliDeps): void {
  const job = program.command('job').description('manage scheduled and dependent batch jobs (Chronos job JSON)');

  job
    .command('add')
    .description('create or replace a job from its JSON definition (Chronos job JSON; schedule: ISO 8601 R[n]/start/period or cron)')
    .argument('<file>', "job definition; '-' reads standard input")
    .action(
      defineAction(deps, async (ctx, [file]) => {
        const def = (await readDefinition(ctx, file!, 'Job definition')) as unknown as JobDefinition;
        const res = await (await jobClient(ctx)).putJob(def);
        if (await ctx.printJson(res)) return;
        const next = res.job.nextRunAt ? `; next run ${res.job.nextRunAt}` : '';
        await ctx.print(`Saved job ${res.job.name} (${triggerOf(res.job)}${next}).\n`);
      }),
    );

  job
    .command('list')
    .description('list every job with its schedule or parents, state and last result')
    .action(
      defineAction(deps, async (ctx) => {
        const { jobs } = await (await jobClient(ctx)).listJobs();
        if (await ctx.printJson({ jobs })) return;
        if (jobs.length === 0) return ctx.print('No jobs. Create one with `corral job add FILE`.\n');
        const rows = jobs.map((j) => [j.name, truncate(triggerOf(j), 40), j.disabled ? 'disabled' : j.state, j.status, when(j.nextRunAt), `${j.successCount}/${j.errorCount}`]);
        await ctx.print(renderTable(['NAME', 'SCHEDULE', 'STATE', 'LAST', 'NEXT RUN', 'OK/ERR'], rows));
      }),
    );

  job
    .command('show')
    .description('show a job: its definition, counters and newest runs')
    .argument('<name>', 'job name')
    .action(
      defineAction(deps, async (ctx, [name]) => {
        const res = await (await jobClient(ctx)).getJob(name!, { limit: 10 });
        if (await ctx.printJson(res)) return;
        const j = res.job;
        const fields: Array<[string, string]> = [
          ['NAME', j.name],
          ['COMMAND', truncate([j.command, ...j.arguments].join(' '), 80)],
          [j.schedule ? 'SCHEDULE' : 'PARENTS', triggerOf(j)],
          ['TIME ZONE', j.scheduleTimeZone || 'UTC'],
          ['NEXT RUN', when(j.nextRunAt)],
          ['STATE', j.disabled ? 'disabled' : j.state],
          ['CONCURRENCY', j.concurrencyPolicy],
          ['RETRIES', String(j.retries)],
          ['RESOURCES', `cpus ${j.cpus}, mem ${j.mem} MiB, disk ${j.disk} MiB`],
          ['SUCCESSES', `${j.successCount} (last ${j.lastSuccess || '-'})`],
          ['ERRORS', `${j.errorCount} (last ${j.lastError || '-'})`],
        ];
        let out = renderFields(fields) + '\n';
        const runs = res.runs ?? [];
        out += runs.length === 0 ? 'No runs yet.\n' : renderTable(RUN_HEADERS, runRows(runs, ctx.deps.clock.now()));
        await ctx.print(out);
      }),
    );

  job
    .command('run')
    .description('start a run of the job now (whatever its schedule and concurrency policy)')
    .argument('<name>', 'job name')
    .argument('[args...]', "arguments instead of the job's own")
    .action(
      defineAction<[string, string[]]>(deps, async (ctx, [name, args]) => {
        const res = await (await jobClient(ctx)).runJob(name, args.length > 0 ? args : undefined);
        if (await ctx.printJson(res)) return;
        await ctx.print(`Started run ${res.run.id}.\n`);
      }),
    );

  job
    .command('history')
    .description("the job's kept runs, newest first: scheduled time, status, exit code, attempt, task")
    .argument('<name>', 'job name')
    .option('--limit <n>', 'at most this many runs', parseLimit, 20)
    .action(
      defineAction(deps, async (ctx, [name]) => {
        const res = await (await jobClient(ctx)).jobRuns(name!, { limit: ctx.opts.limit as number });
        if (await ctx.printJson(res)) return;
        if (res.runs.length === 0) return ctx.print(`Job ${name} has no runs yet.\n`);
        await ctx.print(renderTable(RUN_HEADERS, runRows(res.runs, ctx.deps.clock.now())));
      }),
    );

  job
    .command('kill')
    .description("kill the job's unfinished runs")
    .argument('<name>', 'job name')
    .action(
      defineAction(deps, async (ctx, [name]) => {
        const res = await (await jobClient(ctx)).killJob(name!);
        if (await ctx.printJson(res)) return;
        await ctx.print(res.killed === 0 ? `Job ${name} has no unfinished runs.\n` : `Killing ${res.killed} run${res.killed === 1 ? '' : 's'} of ${name}.\n`);
      }),
    );

  job
    .command('remove')
    .description('delete the job and its history (its unfinished runs are killed)')
    .argument('<name>', 'job name')
    .action(
      defineAction(deps, async (ctx, [name]) => {
        const res = await (await jobClient(ctx)).deleteJob(name!);
        if (await ctx.printJson(res)) return;
        await ctx.print(`Removed job ${name}.\n`);
      }),
    );

  job
    .command('graph')
    .description('the dependency graph: Graphviz dot (default) or CSV')
    .option('--csv', "Chronos's CSV: node,<name>,<last>,<state> and link,<parent>,<child> lines")
    .action(
      defineAction(deps, async (ctx) => {
        const text = await (await jobClient(ctx)).jobGraph(ctx.opts.csv ? 'csv' : 'dot');
        if (await ctx.printJson({ format: ctx.opts.csv ? 'csv' : 'dot', graph: text })) return;
        await ctx.print(text);
      }),
    );
}

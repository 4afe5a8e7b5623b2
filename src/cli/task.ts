// `corral task ...`: tasks as the kernel sees them (native /api/v1/tasks), their logs, kills.
import { InvalidArgumentError, type Command } from 'commander';
import { absoluteAppId, defineAction, type CliDeps } from './context';
import { formatAge, renderTable, shortState, toMillis } from './table';

export function registerTaskCommands(program: Command, deps: CliDeps): void {
  const task = program.command('task').description('inspect tasks, read their logs, kill them');

  task
    .command('list')
    .description('list live tasks of every framework (--all adds recently ended ones)')
    .option('--app <id>', 'only the tasks of this app')
    .option('--all', 'also list tasks that have ended')
    .action(
      defineAction(deps, async (ctx) => {
        const app = typeof ctx.opts.app === 'string' ? absoluteAppId(ctx.opts.app) : undefined;
        const all = await (await ctx.client()).listTasks(app === undefined ? {} : { app });
        const res = ctx.opts.all === true ? all : { ...all, tasks: all.tasks.filter((t) => !ENDED.has(t.state)) };
        if (await ctx.printJson(res)) return;
        if (res.tasks.length === 0) return ctx.print(app === undefined ? 'No tasks.\n' : `No tasks of ${app}.\n`);
        const now = ctx.deps.clock.now();
        const rows = res.tasks.map((t) => [
          t.id,
          t.appId ?? '-',
          shortState(t.state),
          t.host || '-',
          t.ports.join(',') || '-',
          formatAge(toMillis(t.startedAt), now),
        ]);
        await ctx.print(renderTable(['ID', 'APP', 'STATE', 'HOST', 'PORTS', 'STARTED'], rows));
      }),
    );

  task
    .command('logs')
    .description("print a task's stdout (or stderr) as raw bytes; --json does not apply")
    .argument('<task>', 'task id')
    .option('--stderr', 'read stderr instead of stdout')
    .option('-f, --follow', 'keep printing new output until the task has ended')
    .option('--offset <bytes>', 'start at this byte; negative counts back from the end', parseOffset)
    .action(
      defineAction(deps, async (ctx, [id]) => {
        const offset = ctx.opts.offset as number | undefined;
        const stream = await (await ctx.client()).taskLogs(id!, {
          stream: ctx.opts.stderr ? 'stderr' : 'stdout',
          follow: ctx.opts.follow === true,
          ...(offset === undefined ? {} : { offset }),
        });
        for await (const chunk of stream) await ctx.deps.stdout(chunk);
      }),
    );

  task
    .command('kill')
    .description('ask the kernel to kill a task (its framework decides whether to replace it)')
    .argument('<task>', 'task id')
    .action(
      defineAction(deps, async (ctx, [id]) => {
        const res = await (await ctx.client()).killTask(id!);
        if (await ctx.printJson(res)) return;
        await ctx.print(`Kill requested for task ${res.task.id} (now ${shortState(res.task.state)}); its framework decides whether to replace it.\n`);
      }),
    );
}

/** Mesos's terminal task states (the wire names; the CLI does not import kernel code). */
const ENDED = new Set(['TASK_FINISHED', 'TASK_FAILED', 'TASK_KILLED', 'TASK_ERROR', 'TASK_LOST', 'TASK_DROPPED', 'TASK_GONE', 'TASK_GONE_BY_OPERATOR']);

function parseOffset(raw: string): number {
  if (!/^-?\d+$/.test(raw)) throw new InvalidArgumentError('The offset must be a whole number of bytes.');
  return Number(raw);
}

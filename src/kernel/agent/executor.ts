// What a task runs and with which environment (pure). The process side — supervisor, namespaces,
// users — is in supervisor.ts and task-run.ts.
import { accessSync, constants as fsConstants, statSync } from 'node:fs';
import { delimiter, resolve } from 'node:path';
import type { CommandInfo } from '../types';

/** argv of a command: `/bin/sh -c value` for shell commands, `value arguments…` otherwise. */
export function commandArgv(command: CommandInfo): string[] {
  return command.shell ? ['/bin/sh', '-c', command.value] : [command.value, ...(command.arguments ?? [])];
}

export interface TaskEnvironmentInput {
  /** The agent's own base environment (PATH, HOME, LANG, …), chosen by whoever builds the agent. */
  base: Readonly<Record<string, string>>;
  command: CommandInfo;
  taskId: string;
  sandbox: string;
  /** The agent's hostname, given to the task as HOST unless the framework set HOST itself. */
  hostname: string;
  /** The user the task is switched to, if any: USER and LOGNAME name it (the base names the agent's). */
  user?: string;
}

/**
 * A task's environment: base, then the framework's (PORTx, MARATHON_*, …), then the agent's own
 * names, which the framework cannot override because they describe where the task really runs.
 */
export function taskEnvironment(input: TaskEnvironmentInput): Record<string, string> {
  const env: Record<string, string> = { ...input.base, HOST: input.hostname, ...input.command.environment };
  env.CORRAL_TASK_ID = input.taskId;
  env.CORRAL_SANDBOX = input.sandbox;
  env.MESOS_TASK_ID = input.taskId;
  env.MESOS_SANDBOX = input.sandbox;
  if (input.user !== undefined) Object.assign(env, { USER: input.user, LOGNAME: input.user });
  return env;
}

/**
 * Why the task's program cannot be exec'd, or undefined. Checked before the supervisor starts, so a
 * missing program fails the launch instead of becoming exit status 127. A relative path is looked
 * up in the sandbox (the task's working directory), where fetched artifacts land.
 */
export function missingProgram(program: string, sandbox: string, path: string): string | undefined {
  const candidates = program.includes('/') ? [resolve(sandbox, program)] : path.split(delimiter).filter(Boolean).map((dir) => resolve(sandbox, dir, program));
  const found = candidates.some((path) => {
    try {
      accessSync(path, fsConstants.X_OK);
      return statSync(path).isFile();
    } catch {
      return false;
    }
  });
  return found ? undefined : `Cannot start '${program}': ENOENT (no such executable${program.includes('/') ? '' : ' in PATH'})`;
}

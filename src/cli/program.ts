// The `corral` command line: global options, the command groups, and how failures become exit codes
// (0 ok, 1 a command failed, 2 the command line itself was wrong).
import { Command, CommanderError } from 'commander';
import { isCorralError } from '../shared/errors';
import { registerAppCommands } from './app';
import type { CliDeps } from './context';
import { registerDeploymentCommands } from './deployment';
import { registerDnsCommands } from './dns';
import { registerGroupCommands } from './group';
import { registerJobCommands } from './job';
import { registerNodeCommands } from './node';
import { registerPackageCommands } from './package';
import { registerServiceCommands } from './service';
import { registerCompletionCommand } from './completion';
import { registerStatusCommand } from './status';
import { registerVersionCommand, versionLine } from './version';
import { registerTaskCommands } from './task';

export type { CliClient, CliDeps } from './context';

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

/** The program with every API command registered. Nothing runs until it is parsed. */
export function buildProgram(deps: CliDeps): Command {
  const program = new Command('corral');
  // Set before adding commands: subcommands copy these settings when they are created.
  program
    .description('Corral: a datacenter operating system in one executable')
    .version(versionLine(), '-V, --version', 'print the version and commit')
    .exitOverride()
    .configureOutput({
      writeOut: (text) => void deps.stdout(text),
      writeErr: (text) => deps.stderr(text),
    })
    .option('--json', "print the API's JSON answer instead of text")
    .option('--url <url>', 'API URL (overrides CORRAL_URL and api.json)')
    .option('--token <token>', 'API bearer token (overrides CORRAL_TOKEN and admin.token)')
    .option('--data-dir <dir>', 'data dir of a local cluster, to find api.json and admin.token (overrides CORRAL_DATA_DIR)');

  registerAppCommands(program, deps);
  registerGroupCommands(program, deps);
  registerTaskCommands(program, deps);
  registerNodeCommands(program, deps);
  registerDeploymentCommands(program, deps);
  registerDnsCommands(program, deps);
  registerServiceCommands(program, deps);
  registerJobCommands(program, deps);
  registerPackageCommands(program, deps);
  // binary (issue 9): status, version, completion.
  registerStatusCommand(program, deps);
  registerVersionCommand(program, deps);
  registerCompletionCommand(program, deps);
  return program;
}

/** Parses `args` (without node and script) and runs the command; resolves to the exit code. */
export async function runProgram(program: Command, args: readonly string[], deps: Pick<CliDeps, 'stderr'>): Promise<number> {
  try {
    await program.parseAsync([...args], { from: 'user' });
    return EXIT_OK;
  } catch (err) {
    // commander has already written its own message (usage error, help, version).
    if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
    deps.stderr(formatError(err));
    return EXIT_FAILED;
  }
}

/** `error: <message> (<CODE>)` plus one `  <path>: <errors>` line per validation detail. */
export function formatError(err: unknown): string {
  if (!isCorralError(err)) return `error: ${err instanceof Error ? err.message : String(err)} (INTERNAL)\n`;
  let out = `error: ${err.message} (${err.code})\n`;
  for (const d of err.details ?? []) out += `  ${d.path || '/'}: ${d.errors.join('; ')}\n`;
  const holding = err.extra?.deployments;
  if (Array.isArray(holding)) {
    for (const d of holding as Array<{ id?: unknown }>) out += `  deployment in progress: ${String(d.id)} (corral deployment watch ${String(d.id)})\n`;
  }
  return out;
}

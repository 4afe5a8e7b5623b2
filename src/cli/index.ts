// Entry of the command line: wires the real process I/O, environment and HTTP client into the
// program. Reading the environment happens here, once, through clientEnv().
import { readFile } from 'node:fs/promises';
import { CorralClient, discoverEndpoint } from '../client';
import { systemClock } from '../shared/clock';
import { clientEnv } from '../shared/config';
import type { CliDeps } from './context';
import { buildProgram, runProgram } from './program';
import { registerUp } from './up';

export { buildProgram, runProgram, formatError, EXIT_OK, EXIT_FAILED, EXIT_USAGE } from './program';
export type { CliDeps, CliClient } from './context';

/** Runs the CLI on `argv` as node hands it over (node, script, args...); resolves to the exit code. */
export async function runCli(argv: readonly string[], overrides: Partial<CliDeps> = {}): Promise<number> {
  const deps: CliDeps = { ...processDeps(), ...overrides };
  const program = buildProgram(deps);
  registerUp(program);
  return runProgram(program, argv.slice(2), deps);
}

function processDeps(): CliDeps {
  // `corral task logs -f ID | head` closes the pipe early: that is a normal end, not a crash.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
  return {
    stdout: (chunk) => {
      if (process.stdout.write(chunk)) return;
      return new Promise<void>((resolve) => process.stdout.once('drain', resolve));
    },
    stderr: (text) => void process.stderr.write(text),
    client: async (src) => new CorralClient(await discoverEndpoint(src)),
    readFile: (path) => readFile(path, 'utf8'),
    readStdin: async () => {
      const chunks: Buffer[] = [];
      for await (const chunk of process.stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
      return Buffer.concat(chunks).toString('utf8');
    },
    env: clientEnv(),
    clock: systemClock,
  };
}

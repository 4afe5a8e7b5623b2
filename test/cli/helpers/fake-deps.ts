// CliDeps around a fake client, for the CLI tests: what the program prints is appended to `out`,
// files come from `files` (any other path: ENOENT), standard input and the clock's time are given.
import type { CliClient, CliDeps } from '../../../src/cli/program';

export interface FakeDepsOptions {
  files?: Record<string, string>;
  stdin?: string;
  /** What the clock says, ms since the epoch. */
  now?: number;
  sleep?: CliDeps['sleep'];
}

export function fakeCliDeps(out: { stdout: string; stderr: string }, client: CliClient, opts: FakeDepsOptions = {}): CliDeps {
  return {
    stdout: (chunk) => void (out.stdout += String(chunk)),
    stderr: (text) => void (out.stderr += text),
    client: () => client,
    readFile: async (path) => {
      const text = opts.files?.[path];
      if (text === undefined) throw new Error(`ENOENT: ${path}`);
      return text;
    },
    readStdin: async () => opts.stdin ?? '',
    env: {},
    clock: { now: () => opts.now ?? 0 },
    ...(opts.sleep ? { sleep: opts.sleep } : {}),
  };
}

// What every command needs: injected I/O, the API client for the endpoint the flags point at, and
// the two output modes (human text, or the API's JSON with --json).
import type { Command } from 'commander';
import type { CorralClient, EndpointSources } from '../client';
import type { Clock } from '../shared/clock';

/** The client methods the CLI uses; tests pass a fake implementing them. */
export type CliClient = Pick<
  CorralClient,
  'listApps' | 'getApp' | 'createApp' | 'updateApp' | 'deleteApp' | 'appVersions' | 'rollbackApp' | 'appTasks' | 'listTasks' | 'getTask' | 'killTask' | 'taskLogs' | 'listNodes' | 'drainNode' | 'undrainNode'
  // Deployments: dry runs, restarts and `corral deployment`.
  | 'planApp' | 'planAppUpdate' | 'restartApp' | 'listDeployments' | 'getDeployment' | 'rollbackDeployment'
  // Groups: `corral group`.
  | 'getGroup' | 'createGroup' | 'updateGroup' | 'deleteGroup' | 'groupVersions' | 'rollbackGroup'
  // Jobs: `corral job`.
  | 'putJob' | 'listJobs' | 'getJob' | 'runJob' | 'jobRuns' | 'killJob' | 'deleteJob' | 'jobGraph'
  // Discovery: `corral dns`, `corral service`.
  | 'dnsLookup' | 'listServices'
  // Packages: `corral package`.
  | 'searchPackages' | 'describePackage' | 'packageVersions' | 'renderPackage' | 'installPackage' | 'uninstallPackage' | 'listPackages' | 'listRepositories' | 'addRepository' | 'removeRepository'
  // `corral status`.
  | 'info'
>;

export interface CliDeps {
  /** Standard output; may return a promise to apply back-pressure (log streaming awaits it). */
  stdout: (chunk: string | Uint8Array) => void | Promise<void>;
  stderr: (text: string) => void;
  /** Builds a client for the endpoint the merged flags and environment describe. */
  client: (src: EndpointSources) => CliClient | Promise<CliClient>;
  /** Reads a file named on the command line as UTF-8. */
  readFile: (path: string) => Promise<string>;
  /** Reads all of standard input as UTF-8 (for `-` as a file name). */
  readStdin: () => Promise<string>;
  /** CORRAL_URL / CORRAL_TOKEN / CORRAL_DATA_DIR, as clientEnv() read them. */
  env: EndpointSources;
  clock: Pick<Clock, 'now'>;
  /** Waits between polls (`corral deployment watch`); a timer when left out. */
  sleep?: (ms: number) => Promise<void>;
}

export interface GlobalOptions {
  json?: boolean;
  url?: string;
  token?: string;
  dataDir?: string;
}

export interface CommandContext {
  deps: CliDeps;
  /** Global and command options, merged. */
  opts: GlobalOptions & Record<string, unknown>;
  client(): Promise<CliClient>;
  /** Human output: written only without --json. */
  print(text: string): Promise<void>;
  /** With --json writes `value` pretty-printed and returns true; otherwise returns false. */
  printJson(value: unknown): Promise<boolean>;
}

/**
 * Flags beat the environment. A `--data-dir` flag names the cluster whose files live there, so it
 * also shadows CORRAL_URL / CORRAL_TOKEN unless --url / --token are given as well.
 */
export function endpointSources(opts: GlobalOptions, env: EndpointSources): EndpointSources {
  if (opts.dataDir !== undefined) return { url: opts.url, token: opts.token, dataDir: opts.dataDir };
  return { url: opts.url ?? env.url, token: opts.token ?? env.token, dataDir: env.dataDir };
}

/**
 * Adapts a command body to commander's action callback (positional args..., options, command).
 * Errors propagate to runProgram, which prints them.
 */
export function defineAction<A extends unknown[] = string[]>(deps: CliDeps, body: (ctx: CommandContext, args: A) => Promise<void>) {
  return async (...raw: unknown[]): Promise<void> => {
    const cmd = raw[raw.length - 1] as Command;
    const args = raw.slice(0, -2) as A;
    const opts = cmd.optsWithGlobals<GlobalOptions & Record<string, unknown>>();
    let client: Promise<CliClient> | undefined;
    const ctx: CommandContext = {
      deps,
      opts,
      client: () => (client ??= Promise.resolve(deps.client(endpointSources(opts, deps.env)))),
      print: async (text) => {
        if (!opts.json) await deps.stdout(text);
      },
      printJson: async (value) => {
        if (!opts.json) return false;
        await deps.stdout(JSON.stringify(value, null, 2) + '\n');
        return true;
      },
    };
    await body(ctx, args);
  };
}

/** App ids are absolute paths; users may type them without the leading slash. */
export function absoluteAppId(id: string): string {
  return '/' + id.replace(/^\/+/, '');
}

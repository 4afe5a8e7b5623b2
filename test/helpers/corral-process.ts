// Runs the real `corral` bundle (dist/corral.js) as child processes for end-to-end tests:
// `corral up` on a free port in a temp data dir, and CLI commands against it.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { readFileSync, readdirSync, rmdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const ROOT = resolve(__dirname, '..', '..');
export const CORRAL = join(ROOT, 'dist', 'corral.js');

export interface RunningCorral {
  proc: ChildProcess;
  url: string;
  token: string;
  dataDir: string;
  output: () => string;
  /** SIGTERM, then wait for exit; resolves to the exit code. */
  stop: () => Promise<number | null>;
}

/** Where a daemon runs: `exec` prefixes the command (e.g. `ip netns exec NS`), `listen` is its API address. */
export interface PlaceOptions {
  exec?: string[];
  listen?: string;
}

function spawnCorral(args: string[], env: NodeJS.ProcessEnv, exec: string[] = []): ChildProcess {
  const argv = [...exec, process.execPath, CORRAL, ...args];
  return spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], env });
}

export async function startCorral(dataDir: string, extraArgs: string[] = [], place: PlaceOptions = {}): Promise<RunningCorral> {
  // Every node runs a DNS server (discovery): a free port, so that test daemons never collide on 8600.
  const dns = extraArgs.includes('--dns-listen') ? [] : ['--dns-listen', '127.0.0.1:0'];
  const proc = spawnCorral(['up', '--data-dir', dataDir, '--listen', place.listen ?? '127.0.0.1:0', '--log-level', 'warn', ...dns, ...extraArgs], cleanEnv(), place.exec);
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((res) => proc.on('exit', (code) => res(code)));
  const url = await new Promise<string>((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`corral up did not start in 20 s:\n${out}`)), 20_000);
    const check = () => {
      const m = /API:\s+(http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        res(m[1]!);
      }
    };
    proc.stdout!.on('data', check);
    void exited.then((code) => rej(new Error(`corral up exited with ${code}:\n${out}`)));
  });
  const token = readFileSync(join(dataDir, 'admin.token'), 'utf8').trim();
  return {
    proc,
    url,
    token,
    dataDir,
    output: () => out,
    stop: async () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      return exited;
    },
  };
}

export interface RunningAgent {
  proc: ChildProcess;
  dataDir: string;
  output: () => string;
  /** SIGTERM, then wait for exit; resolves to the exit code. */
  stop: () => Promise<number | null>;
}

/**
 * `corral up --agent --join …` of a cluster: no API; resolves once it printed that it is up (it
 * keeps looking for its master by itself). `env` carries CORRAL_TOKEN.
 */
export async function startCorralAgent(dataDir: string, args: string[], env: Record<string, string>, place: PlaceOptions = {}): Promise<RunningAgent> {
  const proc = spawnCorral(['up', '--agent', '--data-dir', dataDir, '--log-level', 'info', ...args], { ...cleanEnv(), ...env }, place.exec);
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((res) => proc.on('exit', (code) => res(code)));
  await new Promise<void>((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`corral agent did not start in 20 s:\n${out}`)), 20_000);
    proc.stdout!.on('data', () => /is up/.test(out) && (clearTimeout(timer), res()));
    void exited.then((code) => (clearTimeout(timer), rej(new Error(`corral agent exited with ${code}:\n${out}`))));
  });
  return {
    proc,
    dataDir,
    output: () => out,
    stop: async () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      return exited;
    },
  };
}

/** The test's environment without anything that would point the CLI at another cluster. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('CORRAL_')) delete env[k];
  return env;
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `corral <args>` the way a user would on the same machine (finds the API via --data-dir). */
export function corralCli(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return new Promise((res) => {
    execFile(process.execPath, [CORRAL, ...args], { env: { ...cleanEnv(), ...env }, timeout: 30_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 1) : 0;
      res({ code, stdout, stderr });
    });
  });
}

/** Polls `check` every 50 ms until it returns a value other than undefined, or fails after `ms`. */
export async function waitFor<T>(what: string, ms: number, check: () => Promise<T | undefined> | T | undefined): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Entries of `dir`, or none when it cannot be read (absent, not a cgroup mount). */
function entries(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** rmdir that ignores a cgroup still in use (or already gone): a live one is never touched. */
function tryRmdir(dir: string): void {
  try {
    rmdirSync(dir);
  } catch {
    // absent, or still in use
  }
}

/**
 * Removes the daemon's parent cgroup (`corral`) in each v1 hierarchy if it is empty, so tests
 * leave no cgroup behind. rmdir of a cgroup that still has children fails, which keeps one in use
 * by another test file (or a real daemon) safe; a daemon that finds it gone makes it again.
 */
export function removeEmptyCorralCgroups(root = '/sys/fs/cgroup'): void {
  for (const h of entries(root)) {
    // Each agent's tasks live under corral/<agent>: those parents first, then corral itself.
    for (const agent of entries(join(root, h, 'corral'))) tryRmdir(join(root, h, 'corral', agent));
    tryRmdir(join(root, h, 'corral'));
  }
}

/**
 * Removes the task cgroups (`corral/<agent>/<taskId>`) whose task id starts with `prefix`: a test
 * that SIGKILLs a whole agent (and so every task of it) leaves them behind, empty.
 */
export function removeTaskCgroups(prefix: string, root = '/sys/fs/cgroup'): void {
  for (const h of entries(root)) {
    for (const agent of entries(join(root, h, 'corral'))) {
      const parent = join(root, h, 'corral', agent);
      for (const task of entries(parent).filter((name) => name.startsWith(prefix))) tryRmdir(join(parent, task));
    }
  }
}

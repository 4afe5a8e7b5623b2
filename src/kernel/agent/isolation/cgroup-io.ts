// The small I/O shell shared by the cgroup backends: reading and writing control files, signalling
// the pids a cgroup lists, and removing cgroup directories. Waits here are on the kernel (processes
// dying, cgroups emptying), so they use real time with a bound, never an injected clock.
//
// Control files live in memory (cgroupfs), so reads and writes are done synchronously behind the
// async signatures: a few µs each in the kernel, where a round trip through libuv's thread pool
// costs far more and, with a thousand tasks created at once, queues every container behind all the
// others (bench/RESULTS.md, launch). Creating and removing cgroup directories take the
// kernel's cgroup lock, which is contended under load (milliseconds): cgroup v1 does those through
// the thread pool, all of a container's at once (makeDirsAsync).
// Waits and rmdir retries stay asynchronous.
import { accessSync, mkdirSync, promises as fsp, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CorralError } from '../../../shared/errors';
import { parseFlatKeyed, parseNumber, parsePidList } from './formats';

/** How long signalAll('SIGKILL') keeps killing until a cgroup is empty, in ms. */
export const KILL_TIMEOUT_MS = 5_000;
/** How long destroy() retries removing a busy cgroup (exiting processes), in ms. */
export const RMDIR_TIMEOUT_MS = 2_000;
/** Poll interval for the waits above, in ms. */
export const POLL_MS = 10;

/** Names of the directories select() creates to prove a parent is writable; never task ids. */
export const PROBE_PREFIX = '.corral-probe-';

function errno(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

/** A control file's text, or undefined when the file (or its cgroup) does not exist. */
export async function readOptional(path: string): Promise<string | undefined> {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    if (errno(err) === 'ENOENT' || errno(err) === 'ENODEV') return undefined;
    throw err;
  }
}

export async function readKeyed(path: string): Promise<Record<string, number> | undefined> {
  const text = await readOptional(path);
  return text === undefined ? undefined : parseFlatKeyed(text);
}

export async function readNumber(path: string): Promise<number | undefined> {
  return parseNumber(await readOptional(path));
}

/** The pids a `cgroup.procs`-style file lists; none when the cgroup is gone. */
export async function readPids(path: string): Promise<number[]> {
  const text = await readOptional(path);
  return text === undefined ? [] : parsePidList(text);
}

export async function countLines(path: string): Promise<number | undefined> {
  const text = await readOptional(path);
  return text === undefined ? undefined : parsePidList(text).length;
}

export async function writeValue(path: string, value: string | number): Promise<void> {
  try {
    writeFileSync(path, String(value));
  } catch (err) {
    throw new CorralError('INTERNAL', `Cannot write '${value}' to ${path}: ${(err as Error).message}`);
  }
}

export async function exists(path: string): Promise<boolean> {
  try {
    accessSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Sends `signal` to each pid; returns how many still existed. */
export function signalPids(pids: number[], signal: NodeJS.Signals): number {
  let sent = 0;
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
      sent++;
    } catch (err) {
      if (errno(err) !== 'ESRCH') throw err;
    }
  }
  return sent;
}

/** Polls `done` every POLL_MS until it holds or `timeoutMs` passes; resolves to whether it held. */
export async function pollUntil(done: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await done()) return true;
    if (Date.now() >= deadline) return false;
    await sleep(POLL_MS);
  }
}

/**
 * SIGKILLs whatever `procsFile` lists until it lists nothing (a forking task can add processes
 * between a read and the kills). Resolves to the number of distinct pids killed, counting those
 * already in `killed`.
 */
export async function killUntilEmpty(procsFile: string, killed = new Set<number>(), timeoutMs = KILL_TIMEOUT_MS): Promise<number> {
  await pollUntil(async () => {
    const pids = await readPids(procsFile);
    signalPids(pids, 'SIGKILL');
    for (const pid of pids) killed.add(pid);
    return pids.length === 0;
  }, timeoutMs);
  return killed.size;
}

/**
 * Removes a cgroup directory, retrying while the kernel still reports it busy (processes exiting).
 * A missing directory is fine: destroy() is idempotent.
 */
export async function removeCgroupDir(dir: string, timeoutMs = RMDIR_TIMEOUT_MS): Promise<void> {
  let last: unknown;
  const removed = await pollUntil(async () => {
    try {
      await fsp.rmdir(dir);
      return true;
    } catch (err) {
      if (errno(err) === 'ENOENT') return true;
      if (errno(err) !== 'EBUSY') throw err;
      last = err;
      return false;
    }
  }, timeoutMs);
  if (!removed) {
    const left = await readPids(join(dir, 'cgroup.procs'));
    throw new CorralError('INTERNAL', `Cannot remove cgroup ${dir}: ${(last as Error).message}; processes left: ${left.join(' ') || 'none'}`);
  }
}

/**
 * mkdir that tolerates an existing directory; resolves to whether it created it. A parent that was
 * removed under the agent (someone's clean-up of the empty `corral` cgroup) is made again first.
 */
export async function makeDir(dir: string): Promise<boolean> {
  try {
    mkdirSync(dir);
    return true;
  } catch (err) {
    if (errno(err) === 'EEXIST') return false;
    if (errno(err) !== 'ENOENT') throw err;
  }
  try {
    mkdirSync(dirname(dir));
  } catch (err) {
    if (errno(err) !== 'EEXIST') throw err;
  }
  mkdirSync(dir);
  return true;
}

/**
 * makeDir through libuv's thread pool: a cgroup mkdir waits for the kernel's cgroup lock, which
 * every task joining or leaving a cgroup takes too, so under load it blocks for milliseconds and
 * must not do so on the event loop (bench/RESULTS.md, bench/cron).
 */
export async function makeDirAsync(dir: string): Promise<boolean> {
  try {
    await fsp.mkdir(dir);
    return true;
  } catch (err) {
    if (errno(err) === 'EEXIST') return false;
    if (errno(err) !== 'ENOENT') throw err;
  }
  // The parent may be nested (`corral/<node>`) and removed whole by someone's clean-up.
  await fsp.mkdir(dirname(dir), { recursive: true });
  await fsp.mkdir(dir);
  return true;
}

/** makeDirAsync for every directory at once: resolves to those it created; on an error removes them and rejects. */
export async function makeDirsAsync(dirs: readonly string[]): Promise<string[]> {
  const made = await Promise.allSettled(dirs.map((dir) => makeDirAsync(dir)));
  const failed = made.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  const created = dirs.filter((_, i) => made[i]!.status === 'fulfilled' && (made[i] as PromiseFulfilledResult<boolean>).value);
  if (failed) {
    await removeDirs(created);
    throw failed.reason;
  }
  return created;
}

/** Creates `parent` (a relative path, maybe nested) under `root`; returns the directories it created, outermost first. */
export async function makeParentDirs(root: string, parent: string): Promise<string[]> {
  const created: string[] = [];
  let dir = root;
  for (const part of parent.split('/').filter((p) => p !== '')) {
    dir = join(dir, part);
    if (await makeDir(dir)) created.push(dir);
  }
  return created;
}

/** Proves `dir` accepts new cgroups by creating and removing a probe child. */
export async function probeWritable(dir: string): Promise<void> {
  const probe = join(dir, `${PROBE_PREFIX}${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
  await fsp.mkdir(probe);
  await fsp.rmdir(probe);
}

/** Child cgroup directories of `dir` (task ids), without probes; none when `dir` is missing. */
export async function childCgroups(dir: string): Promise<string[]> {
  try {
    const entries = await fsp.readdir(dir, { withFileTypes: true });
    return entries.filter((e) => e.isDirectory() && !e.name.startsWith(PROBE_PREFIX)).map((e) => e.name);
  } catch (err) {
    if (errno(err) === 'ENOENT') return [];
    throw err;
  }
}

/** Removes directories made by makeParentDirs after a failed setup, innermost first; best effort. */
export async function removeDirs(dirs: string[]): Promise<void> {
  for (const dir of [...dirs].reverse()) await fsp.rmdir(dir).catch(() => undefined);
}

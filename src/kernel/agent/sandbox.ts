// A task's sandbox: `<dataDir>/sandboxes/<taskId>/` holding its `stdout` and `stderr`.
// The directory outlives the task so its logs can still be read after it ends.
import { mkdirSync, openSync, closeSync, promises as fsp } from 'node:fs';
import { join } from 'node:path';
import type { LogChunk, LogStream } from '../agent-link';
import { CorralError } from '../../shared/errors';

/** Largest chunk readLog returns at once, in bytes; callers page on with the returned offset. */
export const MAX_LOG_CHUNK_BYTES = 4 * 1024 * 1024;

/** Longest task id accepted, in bytes: Linux's limit for one path component. */
const MAX_TASK_ID_BYTES = 255;

/**
 * Why `taskId` cannot name a sandbox directory, or undefined when it can. A task id becomes one
 * path component, so anything that could climb out of `sandboxes/` or be cut short is refused.
 */
export function invalidTaskIdReason(taskId: string): string | undefined {
  if (typeof taskId !== 'string' || taskId === '') return 'Task id is empty';
  if (taskId.includes('/')) return `Task id '${taskId}' contains '/'`;
  if (taskId.includes('\0')) return 'Task id contains a NUL character';
  if (taskId === '.' || taskId === '..') return `Task id '${taskId}' is not a valid directory name`;
  if (Buffer.byteLength(taskId) > MAX_TASK_ID_BYTES) return `Task id is longer than ${MAX_TASK_ID_BYTES} bytes`;
  return undefined;
}

export function sandboxesDir(dataDir: string): string {
  return join(dataDir, 'sandboxes');
}

/** The sandbox path of a task whose id passed invalidTaskIdReason. */
export function sandboxDir(dataDir: string, taskId: string): string {
  const reason = invalidTaskIdReason(taskId);
  if (reason) throw new CorralError('INVALID_REQUEST', reason);
  return join(sandboxesDir(dataDir), taskId);
}

export interface SandboxFiles {
  dir: string;
  /** Open for appending; the caller hands them to the child and closes its own copies. */
  stdoutFd: number;
  stderrFd: number;
}

/**
 * Creates the sandbox (if missing) and opens its log files for appending. Synchronous on purpose:
 * spawning is synchronous too, and keeping the whole launch in one tick means a kill can never
 * arrive between "sandbox ready" and "process started".
 */
export function openSandbox(dir: string): SandboxFiles {
  mkdirSync(dir, { recursive: true });
  const stdoutFd = openSync(join(dir, 'stdout'), 'a');
  try {
    const stderrFd = openSync(join(dir, 'stderr'), 'a');
    return { dir, stdoutFd, stderrFd };
  } catch (err) {
    closeSync(stdoutFd);
    throw err;
  }
}

export function closeSandboxFiles(files: SandboxFiles): void {
  closeSync(files.stdoutFd);
  closeSync(files.stderrFd);
}

/**
 * Where a read starting at `offset` begins in a file of `size` bytes: a negative offset counts back
 * from the end (clamped to 0), an offset past the end reads nothing at the end.
 */
export function logReadStart(offset: number, size: number): number {
  if (offset < 0) return Math.max(0, size + offset);
  return Math.min(offset, size);
}

/**
 * Reads up to `maxBytes` (at most MAX_LOG_CHUNK_BYTES) of a sandbox's stdout or stderr.
 * Throws SANDBOX_GONE when the sandbox or the file no longer exists.
 */
export async function readLog(dir: string, stream: LogStream, offset: number, maxBytes: number): Promise<LogChunk> {
  if (stream !== 'stdout' && stream !== 'stderr') throw new CorralError('INVALID_REQUEST', `Unknown log stream '${String(stream)}'`);
  if (!Number.isInteger(offset)) throw new CorralError('INVALID_REQUEST', `Log offset must be an integer, got ${offset}`);
  if (!Number.isInteger(maxBytes) || maxBytes < 0) throw new CorralError('INVALID_REQUEST', `maxBytes must be a non-negative integer, got ${maxBytes}`);
  const path = join(dir, stream);
  let file: fsp.FileHandle;
  try {
    file = await fsp.open(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new CorralError('SANDBOX_GONE', `Log file ${path} no longer exists`);
    throw err;
  }
  try {
    const { size } = await file.stat();
    const start = logReadStart(offset, size);
    const length = Math.min(maxBytes, MAX_LOG_CHUNK_BYTES, size - start);
    const data = Buffer.alloc(length);
    const { bytesRead } = length > 0 ? await file.read(data, 0, length, start) : { bytesRead: 0 };
    return { data: data.subarray(0, bytesRead), offset: start, size };
  } finally {
    await file.close();
  }
}

// A task's sandbox: `<dataDir>/sandboxes/<taskId>/` holding its `stdout` and `stderr`.
// The directory outlives the task so its logs can still be read after it ends. It belongs to the
// task's user, mode 0750: private to that user (and the agent). `sandboxes/` itself is 0711, so a
// task user can reach its own sandbox by path but list nobody's.
import { chmodSync, chownSync, closeSync, fchownSync, mkdirSync, openSync, promises as fsp } from 'node:fs';
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

/** `sandboxes/` directories already created (and opened to task users) by this process. */
const preparedParents = new Set<string>();

/** Owner of a sandbox and its files; undefined leaves them to the agent's user. */
export type SandboxOwner = { uid: number; gid: number } | undefined;

/**
 * Creates the sandbox (or takes over an existing one, e.g. when an ended task id runs again) for
 * `owner`, mode 0750. Synchronous: it runs in the same tick as the launch's other bookkeeping.
 */
export function createSandbox(dir: string, owner: SandboxOwner): void {
  const parent = join(dir, '..');
  if (!preparedParents.has(parent)) {
    mkdirSync(parent, { recursive: true });
    if (owner) chmodSync(parent, 0o711);
    preparedParents.add(parent);
  }
  try {
    mkdirSync(dir, { mode: 0o750 });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') preparedParents.delete(parent); // removed behind our back: next launch recreates it
    if (code !== 'EEXIST') throw err;
  }
  if (owner) chownSync(dir, owner.uid, owner.gid);
  chmodSync(dir, 0o750);
}

/** Opens the sandbox's log files for appending (O_APPEND: writes follow a copytruncate rotation). */
export function openSandbox(dir: string, owner: SandboxOwner): SandboxFiles {
  const stdoutFd = openLog(join(dir, 'stdout'), owner);
  try {
    const stderrFd = openLog(join(dir, 'stderr'), owner);
    return { dir, stdoutFd, stderrFd };
  } catch (err) {
    closeSync(stdoutFd);
    throw err;
  }
}

function openLog(path: string, owner: SandboxOwner): number {
  const fd = openSync(path, 'a', 0o640);
  try {
    if (owner) fchownSync(fd, owner.uid, owner.gid);
  } catch (err) {
    closeSync(fd);
    throw err;
  }
  return fd;
}

export function closeSandboxFiles(files: SandboxFiles): void {
  closeSync(files.stdoutFd);
  closeSync(files.stderrFd);
}

/**
 * Where a read starting at `offset` begins in a file of `size` bytes: a negative offset counts back
 * from the end (clamped to 0). An offset past the end means the file was rotated (truncated) since
 * the reader's last chunk: the read starts over at 0, and the returned offset tells the reader so.
 */
export function logReadStart(offset: number, size: number): number {
  if (offset < 0) return Math.max(0, size + offset);
  return offset > size ? 0 : offset;
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

// Test helpers for the isolation backends: launch a task the way the agent's launcher does (a
// detached sh that runs the container's enter script, then execs the command), bounded waits, and
// cleanup of cgroup trees and process groups that also runs when a test fails.
import { spawn, type ChildProcess } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { killUntilEmpty, removeCgroupDir } from '../../../../../src/kernel/agent/isolation/cgroup-io';
import { enterScript } from '../../../../../src/kernel/agent/isolation/formats';
import type { Container } from '../../../../../src/kernel/agent/isolation/types';

/** Bound of every wait, in ms: generous, only reached when something is broken. */
export const WAIT_MS = 15_000;

interface Teardown {
  teardown(fn: () => unknown): void;
}

export interface Launched {
  child: ChildProcess;
  pid: number;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts `cmd` in `container`; the test's teardown SIGKILLs its process group. */
export function launch(t: Teardown, container: Container, cmd: string): Launched {
  const script = ['self=$$', enterScript(container.enterSteps()), `exec ${cmd}`].filter((l) => l !== '').join('\n');
  const child = spawn('/bin/sh', ['-c', script], { detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  if (child.pid === undefined) throw new Error('spawn failed');
  const pid = child.pid;
  t.teardown(() => {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // already gone
    }
  });
  container.attach(pid);
  return { child, pid, stderr: () => err, exited };
}

/** Polls `check` until it returns a value that is not undefined/false, or throws after `ms`. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined | false> | T | undefined | false, ms = WAIT_MS): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(20);
  }
}

export async function withTimeout<T>(what: string, p: Promise<T>, ms = WAIT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms)));
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export function uniqueParent(): string {
  return `corral-test-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
}

/** Kills everything in a cgroup tree (thawing frozen ones) and removes it, children first. */
export async function removeCgroupTree(dir: string): Promise<void> {
  let entries;
  try {
    entries = await fsp.readdir(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) if (e.isDirectory()) await removeCgroupTree(join(dir, e.name));
  await fsp.writeFile(join(dir, 'freezer.state'), 'THAWED').catch(() => undefined);
  await killUntilEmpty(join(dir, 'cgroup.procs')).catch(() => undefined);
  await removeCgroupDir(dir).catch(() => undefined);
}

export async function dirExists(dir: string): Promise<boolean> {
  return fsp.stat(dir).then(
    () => true,
    () => false,
  );
}

// Test harness for the agent: a master that records what the agent tells it, an agent in a
// temporary data dir that is stopped and removed after the test (also when it fails), and
// bounded waits for statuses and process deaths.
import { mkdtempSync, readdirSync, readFileSync, rmdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeClock, systemClock, type Clock } from '../../../../src/shared/clock';
import { silentLogger } from '../../../../src/shared/logger';
import type { AgentLink, MasterLink } from '../../../../src/kernel/agent-link';
import type { AgentInfo, CommandInfo, TaskInfo, TaskState, TaskStatus } from '../../../../src/kernel/types';
import { Agent, type AgentOptions } from '../../../../src/kernel/agent';
import { selectIsolator, type IsolationChoice, type Isolator } from '../../../../src/kernel/agent/isolation';

/** Default bound of every wait, in milliseconds: generous, only reached when something is broken. */
export const WAIT_MS = 15_000;

export class RecordingMaster implements MasterLink {
  readonly registrations: AgentInfo[] = [];
  readonly statuses: TaskStatus[] = [];
  private waiters: Array<() => void> = [];

  registerAgent(info: AgentInfo, _link: AgentLink): void {
    this.registrations.push(info);
  }

  statusUpdate(status: TaskStatus): void {
    this.statuses.push(status);
    for (const wake of this.waiters) wake();
  }

  of(taskId: string): TaskStatus[] {
    return this.statuses.filter((s) => s.taskId === taskId);
  }

  statesOf(taskId: string): TaskState[] {
    return this.of(taskId).map((s) => s.state);
  }

  /**
   * The first status of `taskId` in `state`, waiting for it up to `ms`. `after` skips that many
   * of the statuses received so far (e.g. `master.statuses.length` to wait for a new one).
   */
  async waitFor(taskId: string, state: TaskState, ms = WAIT_MS, after = 0): Promise<TaskStatus> {
    const find = () => this.statuses.slice(after).find((s) => s.taskId === taskId && s.state === state);
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = find();
        if (!found) return;
        done();
        resolve(found);
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`no ${state} for ${taskId} within ${ms} ms; saw ${this.statesOf(taskId).join(', ') || 'nothing'}`));
      }, ms);
      const done = () => {
        clearTimeout(timer);
        this.waiters = this.waiters.filter((w) => w !== check);
      };
      this.waiters.push(check);
      check();
    });
  }
}

export interface Harness {
  agent: Agent;
  master: RecordingMaster;
  dataDir: string;
  clock: Clock;
}

interface TeardownHost {
  teardown(fn: () => unknown): void;
}

let cgroupSeq = 0;
/** A cgroup parent name no other test (file) uses. */
export function newCgroupParent(): string {
  return `corral-test-${process.pid}-${++cgroupSeq}`;
}

/**
 * A real isolator (cgroup v1 on this machine, set up as `corral up` does) whose task cgroups live under a parent of their own,
 * so parallel test files never see, or clean up, each other's containers. Removed at teardown
 * (teardowns run last-registered first, so after the agents this isolator serves have stopped).
 */
export async function testIsolator(t: TeardownHost, force: IsolationChoice = 'auto', parent = newCgroupParent()): Promise<Isolator> {
  // As `corral up` has it: a new task's cgroups are made by its own side.
  const isolator = await selectIsolator({ force, parent, logger: silentLogger(), setupInTask: true });
  t.teardown(() => removeCgroupParent(isolator));
  return isolator;
}

/**
 * Removes the parent cgroups of a test isolator, children first. Processes killed just before may
 * take a moment to leave their cgroups, so a busy directory is retried for up to a few seconds.
 */
export async function removeCgroupParent(isolator: Isolator): Promise<void> {
  const dirs = 'parentDirs' in isolator && typeof isolator.parentDirs === 'function' ? (isolator.parentDirs() as string[]) : [];
  const removeAll = (): boolean => {
    let left = false;
    for (const dir of dirs) {
      try {
        for (const child of readdirSync(dir, { withFileTypes: true })) if (child.isDirectory()) rmdirSync(join(dir, child.name));
        rmdirSync(dir);
      } catch (err) {
        // ENOENT: gone, or never created in this hierarchy.
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') left = true;
      }
    }
    return !left;
  };
  await waitUntil('the test cgroups to be removable', removeAll, 5_000).catch(() => undefined);
}

export async function startAgent(t: TeardownHost, opts: Partial<AgentOptions> & { dataDir?: string } = {}): Promise<Harness> {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'corral-agent-'));
  const master = new RecordingMaster();
  const clock = opts.clock ?? systemClock;
  const isolator = opts.isolator ?? (await testIsolator(t));
  const agent = new Agent({
    id: 'agent-1',
    hostname: 'node-a.test',
    dataDir,
    resources: { cpus: 2, mem: 1024, disk: 1024, ports: [{ begin: 31000, end: 31099 }] },
    attributes: { rack: 'r1' },
    version: '0.1.0-test',
    killGraceSeconds: 5,
    clock,
    logger: silentLogger(),
    master,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
    ...opts,
    isolator,
  });
  t.teardown(async () => {
    const stopped = agent.stop();
    // With a fake clock nobody else moves time: let every grace period run out.
    if (clock instanceof FakeClock) clock.advance(3_600_000);
    await stopped;
    rmSync(dataDir, { recursive: true, force: true });
  });
  return { agent, master, dataDir, clock };
}

let seq = 0;
/** A task id unique in this test process. */
export function newTaskId(prefix = 'task'): string {
  return `${prefix}.${process.pid}.${++seq}`;
}

export function shellTask(taskId: string, script: string, extra: Partial<TaskInfo> & { environment?: Record<string, string> } = {}): TaskInfo {
  const { environment, ...rest } = extra;
  const command: CommandInfo = { shell: true, value: script, environment: environment ?? {} };
  return {
    taskId,
    name: taskId,
    agentId: 'agent-1',
    frameworkId: 'fw-1',
    resources: { cpus: 0.1, mem: 32, disk: 0, ports: [] },
    command,
    labels: {},
    ...rest,
  };
}

/** Alive and not a zombie (orphans may wait a while for a reaper). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/**
 * Waits until `predicate` holds, checking every few milliseconds, for at most `ms`. For facts no
 * event announces (a file written by a task, a signalled process disappearing); it bounds the
 * wait, it does not assert on timing.
 */
export async function waitUntil(what: string, predicate: () => boolean, ms = WAIT_MS): Promise<void> {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/**
 * The pid, as this test sees it, of the process a task knows as `innerPid` (tasks of a root agent
 * run in their own PID namespace, where `$$` and `$!` mean something else). Found by the NSpid line
 * of /proc/<pid>/status and the task's CORRAL_TASK_ID in its environment; undefined when gone.
 */
export function hostPid(taskId: string, innerPid: number): number | undefined {
  if (process.getuid?.() !== 0) return innerPid;
  for (const pid of taskPids(taskId)) {
    const nspid = procField(pid, 'NSpid')?.split(/\s+/);
    if (nspid && nspid.length > 1 && Number(nspid[nspid.length - 1]) === innerPid) return pid;
  }
  return undefined;
}

/** Live (non-zombie) processes carrying the task's CORRAL_TASK_ID, supervisors excluded. */
export function taskPids(taskId: string): number[] {
  const found: number[] = [];
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      if (!readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0').includes(`CORRAL_TASK_ID=${taskId}`)) continue;
      if (readFileSync(`/proc/${pid}/cmdline`, 'latin1').includes('corral-supervisor')) continue;
    } catch {
      continue;
    }
    if (isAlive(pid)) found.push(pid);
  }
  return found;
}

function procField(pid: number, field: string): string | undefined {
  try {
    const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith(`${field}:`));
    return line?.slice(field.length + 1).trim();
  } catch {
    return undefined;
  }
}

/** A pid a task wrote to a file in its sandbox (e.g. `echo $! > bg.pid`). */
export async function pidFromFile(path: string): Promise<number> {
  let text = '';
  await waitUntil(`pid in ${path}`, () => {
    try {
      text = readFileSync(path, 'utf8');
    } catch {
      return false;
    }
    return text.endsWith('\n');
  });
  return Number(text.trim());
}

/** The host pid of a process whose (namespace) pid a task wrote to `path`, waiting for both. */
export async function taskHostPid(taskId: string, path: string): Promise<number> {
  const inner = await pidFromFile(path);
  let pid: number | undefined;
  await waitUntil(`host pid of ${taskId}'s pid ${inner}`, () => (pid = hostPid(taskId, inner)) !== undefined);
  return pid!;
}

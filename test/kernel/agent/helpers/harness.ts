// Test harness for the agent: a master that records what the agent tells it, an agent in a
// temporary data dir that is stopped and removed after the test (also when it fails), and
// bounded waits for statuses and process deaths.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeClock, systemClock, type Clock } from '../../../../src/shared/clock';
import { silentLogger } from '../../../../src/shared/logger';
import type { AgentLink, MasterLink } from '../../../../src/kernel/agent-link';
import type { AgentInfo, CommandInfo, TaskInfo, TaskState, TaskStatus } from '../../../../src/kernel/types';
import { Agent, type AgentOptions } from '../../../../src/kernel/agent';

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

export function startAgent(t: TeardownHost, opts: Partial<AgentOptions> = {}): Harness {
  const dataDir = mkdtempSync(join(tmpdir(), 'corral-agent-'));
  const master = new RecordingMaster();
  const clock = opts.clock ?? systemClock;
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

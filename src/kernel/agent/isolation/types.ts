// Isolation backends: what the agent needs from cgroup v2, cgroup v1 and posix containment.
// The agent creates one Container per task before it spawns the task, passes the container's
// enter script to the task's launcher, and asks the container to signal, measure and clean up.
import type { ContainerStats } from '../../types';

export type { ContainerStats };

export type IsolationName = 'cgroup2' | 'cgroup1' | 'posix';

export interface ContainerLimits {
  /** CPU shares and CFS quota are derived from this (1 cpu = 1024 shares = 100 ms per 100 ms period). */
  cpus: number;
  /** Hard memory limit in MiB, swap included. */
  memMb: number;
  /** Maximum number of processes/threads in the container. */
  pids: number;
}

export interface EnterSteps {
  /**
   * cgroup directories the task's side creates first, in order (one that exists is fine, a missing
   * parent is made): a container whose cgroups are set up in the task (Cgroup1Options.setupInTask).
   */
  makeDirs: string[];
  /** Control files the task's side then writes, in order, as [file, value]; a failed write stops the launch. */
  writes: Array<[file: string, value: string]>;
  /** cgroup.procs files the task's side writes its own pid to; a failed write stops the launch. */
  cgroupProcs: string[];
  /** Core dumps off (RLIMIT_CORE 0). */
  noCoreDumps: boolean;
}

export interface Container {
  readonly taskId: string;
  readonly limits: ContainerLimits;
  /**
   * What the task's side does, as root and before dropping privileges and exec'ing the task, to put
   * itself into the container and apply limits (launch-scripts.ts turns it into sh for the shell
   * launcher; the native one does it in C).
   */
  enterSteps(): EnterSteps;
  /** Tells the container the pid (and process group) of the task's top process once it runs. */
  attach(pid: number): void;
  /** Sends `signal` to every process of the container; resolves to how many were signalled. */
  signalAll(signal: NodeJS.Signals): Promise<number>;
  /** Number of processes still in the container (posix: in the task's process group). */
  processCount(): Promise<number>;
  stats(): Promise<ContainerStats>;
  /**
   * Whether the task hit its memory limit: the kernel OOM killer fired in the container (cgroups),
   * or its RSS exceeded the limit (posix, which cannot enforce a hard limit and samples instead).
   */
  memoryLimitHit(): Promise<boolean>;
  /** Removes the container (cgroup directories); processes must be gone first. Idempotent. */
  destroy(): Promise<void>;
}

export interface Isolator {
  readonly name: IsolationName;
  create(taskId: string, limits: ContainerLimits): Promise<Container>;
  /** Re-attaches to the container of a task started by an earlier agent run (after a restart). */
  recover(taskId: string, limits: ContainerLimits, pid: number | undefined): Promise<Container>;
  /** Task ids of containers left from earlier runs (for cleanup of tasks the agent no longer knows). */
  leftovers(): Promise<string[]>;
}

// What every TaskRun shares with its agent: the isolator, the checkpoints, the clock.
import type { Clock } from '../../shared/clock';
import type { Logger } from '../../shared/logger';
import type { CheckpointStore } from './checkpoint';
import type { FetchCache } from './fetch-cache';
import type { Isolator } from './isolation/types';
import type { SupervisorLauncher } from './launcher';
import type { ProgramLookup } from './program-lookup';
import type { SupervisorWatch } from './supervisor';

export interface RunContext {
  isolator: Isolator;
  checkpoints: CheckpointStore;
  clock: Clock;
  logger: Logger;
  /** Run each task in its own PID namespace (the agent is root and unshare works). */
  pidNamespace: boolean;
  /** dist/corral-exec, when the agent ends launches with it (see launch-scripts.ts). */
  execHelper: string | undefined;
  /** Default SIGTERM-to-SIGKILL grace, in seconds. */
  killGraceSeconds: number;
  /** Starts supervisors (the agent's fork server). */
  launcher: SupervisorLauncher;
  /** Polls supervisors adopted from an earlier agent run. */
  watch: SupervisorWatch;
  /** Polls supervisors this agent launched, in case one dies without saying `exited`. */
  launchedWatch: SupervisorWatch;
  /** The PATH lookup of a task's program, remembered for a short while. */
  programs: ProgramLookup;
  /** The agent's fetch cache, created on first use. */
  fetchCache(): FetchCache;
}

export type { StatusFields } from './task-status';

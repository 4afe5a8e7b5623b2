// Picks the isolation backend at agent start: cgroup v2 where the unified hierarchy can delegate
// cpu, memory and pids, else cgroup v1 where those hierarchies are writable, else posix. A forced
// backend that cannot work is a configuration error, never a silent downgrade.
import { join } from 'node:path';
import type { Clock } from '../../../shared/clock';
import { CorralError } from '../../../shared/errors';
import type { Logger } from '../../../shared/logger';
import { exists } from './cgroup-io';
import { Cgroup1Isolator } from './cgroup1';
import { Cgroup2Isolator } from './cgroup2';
import { PosixIsolator } from './posix';
import type { IsolationName, Isolator } from './types';

export type IsolationChoice = 'auto' | IsolationName;
export const ISOLATION_CHOICES: readonly IsolationChoice[] = ['auto', 'cgroup2', 'cgroup1', 'posix'];

export interface SelectIsolatorOptions {
  /** `--isolation`; default auto. */
  force?: IsolationChoice;
  /** Where cgroup hierarchies are mounted; default /sys/fs/cgroup. */
  cgroupRoot?: string;
  /** Relative path of the cgroup that holds task cgroups; default `corral`. */
  parent?: string;
  logger: Logger;
  clock?: Clock;
  /** cgroup v1: a new task's cgroups are made and limited by the task's side (Cgroup1Options.setupInTask). */
  setupInTask?: boolean;
}

export async function selectIsolator(opts: SelectIsolatorOptions): Promise<Isolator> {
  const force = opts.force ?? 'auto';
  const root = opts.cgroupRoot ?? '/sys/fs/cgroup';
  const cgroup = { root, parent: opts.parent, logger: opts.logger, clock: opts.clock, setupInTask: opts.setupInTask };
  const posix = (): PosixIsolator => new PosixIsolator({ logger: opts.logger, clock: opts.clock });
  switch (force) {
    case 'cgroup2':
      return Cgroup2Isolator.open(cgroup);
    case 'cgroup1':
      return Cgroup1Isolator.open(cgroup);
    case 'posix':
      return posix();
    case 'auto':
      break;
    default:
      throw new CorralError('CONFIG_INVALID', `Unknown isolation '${String(force)}'; use one of ${ISOLATION_CHOICES.join(', ')}`);
  }
  const reasons: string[] = [];
  const attempts: Array<[boolean, () => Promise<Isolator>]> = [
    [await exists(join(root, 'cgroup.controllers')), () => Cgroup2Isolator.open(cgroup)],
    [true, () => Cgroup1Isolator.open(cgroup)],
  ];
  for (const [applies, open] of attempts) {
    if (!applies) continue;
    try {
      const isolator = await open();
      opts.logger.info({ event: 'isolation.selected', isolation: isolator.name, passedOver: reasons }, `task isolation: ${isolator.name}`);
      return isolator;
    } catch (err) {
      reasons.push((err as Error).message);
    }
  }
  opts.logger.warn({ event: 'isolation.selected', isolation: 'posix', passedOver: reasons }, 'no writable cgroup hierarchy: tasks get posix isolation, without memory, cpu or pids limits');
  return posix();
}

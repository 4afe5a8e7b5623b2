// The master's record of a subscribed framework and the pure reads of it.
import type { TimerHandle } from '../../shared/clock';
import type { FrameworkView } from '../sdk/operator';
import type { SchedulerEvents } from '../sdk/types';
import { DEFAULT_FAILOVER_TIMEOUT_SECONDS } from '../sdk/wire';
import type { FrameworkInfo } from '../types';
import { DEFAULT_ROLE } from './allocator-roles';

export interface FrameworkEntry {
  id: string;
  info: FrameworkInfo;
  events: SchedulerEvents | undefined;
  suppressed: boolean;
  refusals: Map<string, number>;
  registeredAt: number;
  /** Set while disconnected, with the timer that removes it when its failover timeout passes. */
  disconnectedAt: number | undefined;
  failover: TimerHandle | undefined;
}

/** A framework's role: FrameworkInfo.role, '*' when it names none. Its weight and quota come from MasterOptions.roles. */
export const roleOf = (f: FrameworkEntry): string => f.info.role || DEFAULT_ROLE;

export function frameworkView(f: FrameworkEntry, activeTasks: number): FrameworkView {
  return {
    id: f.id,
    name: f.info.name,
    role: f.info.role,
    user: f.info.user,
    connected: f.events !== undefined,
    failoverTimeoutSeconds: f.info.failoverTimeoutSeconds ?? DEFAULT_FAILOVER_TIMEOUT_SECONDS,
    registeredAt: f.registeredAt,
    disconnectedAt: f.disconnectedAt,
    activeTasks,
  };
}

// Public face of the isolation backends: the agent calls selectIsolator() once at start and asks
// the Isolator for one Container per task.
export type { Container, ContainerLimits, ContainerStats, IsolationName, Isolator } from './types';
export { selectIsolator, ISOLATION_CHOICES, type IsolationChoice, type SelectIsolatorOptions } from './select';
export { Cgroup1Isolator, type Cgroup1Options } from './cgroup1';
export { Cgroup2Isolator, type Cgroup2Controller, type Cgroup2Options } from './cgroup2';
export { PosixIsolator, type PosixOptions } from './posix';

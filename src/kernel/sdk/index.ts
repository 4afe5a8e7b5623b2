// The framework SDK in one module: the scheduler interface, its in-process and HTTP transports,
// resource arithmetic for carving tasks out of offers, and the kernel types frameworks use.
export type { AgentDraining, AgentFailure, ReconcileTask, SchedulerConnection, SchedulerEvents, SchedulerTransport } from './types';
export { inProcessTransport, type SchedulerEndpoint } from './in-process';
export { httpTransport, type HttpTransportOptions } from './http';
export { encodeRecord, RecordIoDecoder } from './recordio';
export * from './resources';
export { DEFAULT_FAILOVER_TIMEOUT_SECONDS, DEFAULT_HEARTBEAT_INTERVAL_SECONDS, SCHEDULER_PATH, STREAM_ID_HEADER } from './wire';
export type { SchedulerCall, SchedulerEvent } from './wire';
export type { FrameworkView, OperatorEvent } from './operator';
export { CorralError } from '../../shared/errors';
export type * from '../types';
export { TASK_STATES, TERMINAL_STATES, isTerminal, emptyResources } from '../types';

// Public face of the agent role: the Agent itself, resource detection and the pure helpers other
// layers (the master's log proxy, tests, the simulator) may reuse.
export { Agent, type AgentOptions } from './agent';
export { DEFAULT_AGENT_TUNING, type AgentTuning } from './tuning';
export { detectResources, mountHolding, type ResourceOptions } from './resources';
export { exitOutcome, type ExitOutcome } from './exit-outcome';
export { commandArgv, taskEnvironment, type TaskEnvironmentInput } from './executor';
export { invalidTaskIdReason, readLog, sandboxDir, sandboxesDir, MAX_LOG_CHUNK_BYTES } from './sandbox';
export { StatusOutbox } from './status-outbox';
export { pidNamespaceAvailable } from './supervisor';

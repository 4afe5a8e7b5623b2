// The wire format of `POST /api/v1/scheduler`, version 1: the Mesos v1 scheduler API's JSON
// envelope (snake_case `type`, `framework_id`, one field per call or event type) carrying Corral's
// own camelCase Offer, TaskLaunch and TaskStatus shapes. Ids are plain strings; calls also accept
// Mesos's `{"value": "..."}` id objects. Shared by the HTTP route (server) and the HTTP transport.
import type { Offer, TaskLaunch, TaskStatus } from '../types';

export const SCHEDULER_PATH = '/api/v1/scheduler';
/** Header naming the subscription a call belongs to (set on the SUBSCRIBE response). */
export const STREAM_ID_HEADER = 'Mesos-Stream-Id';
/** Seconds between HEARTBEAT events unless the server is configured otherwise. */
export const DEFAULT_HEARTBEAT_INTERVAL_SECONDS = 15;
/** How long a disconnected framework keeps its tasks unless its FrameworkInfo says otherwise: one week. */
export const DEFAULT_FAILOVER_TIMEOUT_SECONDS = 7 * 24 * 3600;

export const CALL_TYPES = ['SUBSCRIBE', 'ACCEPT', 'DECLINE', 'KILL', 'ACKNOWLEDGE', 'RECONCILE', 'REVIVE', 'SUPPRESS', 'TEARDOWN'] as const;
export type CallType = (typeof CALL_TYPES)[number];

/** An id as a string or as Mesos's `{value}` object. */
export type WireId = string | { value: string };

export interface WireFilters {
  refuse_seconds?: number;
}

export interface WireFrameworkInfo {
  name: string;
  id?: WireId;
  role?: string;
  user?: string;
  /** Seconds a disconnected framework keeps its tasks (Mesos's field); 0 kills them at once. */
  failover_timeout?: number;
}

export type SchedulerCall = { framework_id?: WireId } & (
  | { type: 'SUBSCRIBE'; subscribe: { framework_info: WireFrameworkInfo } }
  | { type: 'ACCEPT'; accept: { offer_ids: WireId[]; operations: Array<{ type: 'LAUNCH'; launch: { task_infos: TaskLaunch[] } }>; filters?: WireFilters } }
  | { type: 'DECLINE'; decline: { offer_ids: WireId[]; filters?: WireFilters } }
  | { type: 'KILL'; kill: { task_id: WireId; agent_id?: WireId; grace_period_seconds?: number } }
  | { type: 'ACKNOWLEDGE'; acknowledge: { agent_id: WireId; task_id: WireId; uuid: string } }
  | { type: 'RECONCILE'; reconcile: { tasks: Array<{ task_id: WireId; agent_id?: WireId }> } }
  | { type: 'REVIVE' | 'SUPPRESS' | 'TEARDOWN' }
);

export type SchedulerEvent =
  | { type: 'SUBSCRIBED'; subscribed: { framework_id: string; heartbeat_interval_seconds: number } }
  | { type: 'OFFERS'; offers: { offers: Offer[] } }
  | { type: 'RESCIND'; rescind: { offer_id: string } }
  | { type: 'UPDATE'; update: { status: TaskStatus } }
  | { type: 'FAILURE'; failure: { agent_id: string; status?: number } }
  /** `deadline`: ms since the epoch, absent when the drain has none. */
  | { type: 'AGENT_DRAINING'; agent_draining: { agent_id: string; deadline?: number } }
  | { type: 'AGENT_UNDRAINED'; agent_undrained: { agent_id: string } }
  | { type: 'ERROR'; error: { message: string } }
  | { type: 'HEARTBEAT' };

export const idOf = (id: WireId | undefined): string | undefined => (id === undefined ? undefined : typeof id === 'string' ? id : id.value);

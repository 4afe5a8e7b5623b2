// Marathon's event bus: its event JSON (Marathon 1.7's MarathonEvent / EventFormats shapes) and a
// small publish/subscribe that `GET /v2/events` streams. Task events come from the master's operator
// stream, translated by the pure `taskEvents`; other parts of init (deployments) `publish` theirs.
import type { OperatorEvent, OperatorEventListener, TaskView } from '../kernel/sdk/operator';
import { isTerminal, type TaskState, type TaskStatus } from '../kernel/types';
import type { Clock } from '../shared/clock';
import type { Logger } from '../shared/logger';
import type { AppTask } from './types';

interface Stamped {
  eventType: string;
  /** ISO 8601 */
  timestamp: string;
}

/** Marathon's MesosStatusUpdateEvent: a task of an app changed state. */
export interface StatusUpdateEvent extends Stamped {
  eventType: 'status_update_event';
  slaveId: string;
  taskId: string;
  taskStatus: TaskState;
  message: string;
  appId: string;
  host: string;
  ipAddresses: Array<{ ipAddress: string; protocol: 'IPv4' | 'IPv6' }>;
  ports: number[];
  /** The app version the task runs. */
  version: string;
}

/** Marathon's InstanceChanged: the instance's condition changed (a task is its own instance in Corral). */
export interface InstanceChangedEvent extends Stamped {
  eventType: 'instance_changed_event';
  instanceId: string;
  /** Marathon's Condition name: Staging, Starting, Running, Killing, Finished, Failed, Killed, ... */
  condition: string;
  runSpecId: string;
  agentId: string;
  host: string;
  runSpecVersion: string;
}

/**
 * Marathon's HealthStatusChanged: an instance's health flipped. Marathon starts every instance as
 * not alive, so the first passing check is a change and a first failing one is not. `taskId` is
 * what Marathon before 1.4 sent; Corral sends both.
 */
export interface HealthStatusChangedEvent extends Stamped {
  eventType: 'health_status_changed_event';
  appId: string;
  taskId: string;
  instanceId: string;
  version: string;
  alive: boolean;
}

/** Marathon's InstanceHealthChanged: the instance's health, null while unknown. */
export interface InstanceHealthChangedEvent extends Stamped {
  eventType: 'instance_health_changed_event';
  instanceId: string;
  runSpecId: string;
  runSpecVersion: string;
  healthy: boolean | null;
}

/** A client attached to or detached from `/v2/events`. */
export interface EventStreamEvent extends Stamped {
  eventType: 'event_stream_attached' | 'event_stream_detached';
  remoteAddress: string;
}

/** Any Marathon event; the deployment events (deployment_info, deployment_success, ...) are published as they are. */
export type MarathonEvent = StatusUpdateEvent | InstanceChangedEvent | HealthStatusChangedEvent | InstanceHealthChangedEvent | EventStreamEvent | (Stamped & Record<string, unknown>);

export type MarathonEventListener = (event: MarathonEvent) => void;

/** Marathon's Condition for a Mesos task state (core/condition/Condition.scala). */
const CONDITIONS: Record<TaskState, string> = {
  TASK_STAGING: 'Staging',
  TASK_STARTING: 'Starting',
  TASK_RUNNING: 'Running',
  TASK_KILLING: 'Killing',
  TASK_FINISHED: 'Finished',
  TASK_FAILED: 'Failed',
  TASK_KILLED: 'Killed',
  TASK_ERROR: 'Error',
  TASK_LOST: 'Unreachable',
  TASK_DROPPED: 'Dropped',
  TASK_UNREACHABLE: 'Unreachable',
  TASK_GONE: 'Gone',
  TASK_GONE_BY_OPERATOR: 'GoneByOperator',
  TASK_UNKNOWN: 'Unknown',
};

/** What the bus remembers of one of init's tasks between updates. */
export interface TaskMemory {
  appId: string;
  version: string;
  ports: number[];
  state: TaskState;
  /** Undefined while unknown (no check reported yet, or the app has none). */
  healthy: boolean | undefined;
}

/**
 * The Marathon events for one change of an init task, and what to remember of it afterwards
 * (undefined once it ended). `before` is undefined for a task just launched. Status events come
 * only when the state changes; health events only when health does (an update without health,
 * like a bare reconciliation answer, keeps the last known).
 */
export function taskEvents(before: TaskMemory | undefined, known: Pick<TaskMemory, 'appId' | 'version' | 'ports'>, view: TaskView, status: TaskStatus | undefined, timestamp: string): { events: MarathonEvent[]; after: TaskMemory | undefined } {
  const events: MarathonEvent[] = [];
  const { appId, version, ports } = known;
  if (before?.state !== view.state) {
    events.push({
      eventType: 'status_update_event',
      timestamp,
      slaveId: view.agentId,
      taskId: view.id,
      taskStatus: view.state,
      message: view.message ?? '',
      appId,
      host: view.host,
      // As the task JSON shows them (marathon-json.ts): Corral tasks share their agent's network.
      ipAddresses: [{ ipAddress: '127.0.0.1', protocol: 'IPv4' }],
      ports,
      version,
    });
    events.push({ eventType: 'instance_changed_event', timestamp, instanceId: view.id, condition: CONDITIONS[view.state] ?? view.state, runSpecId: appId, agentId: view.agentId, host: view.host, runSpecVersion: version });
  }
  const wasHealthy = before?.healthy;
  const healthy = status?.state === 'TASK_RUNNING' && status.healthy !== undefined ? status.healthy : wasHealthy;
  if (healthy !== wasHealthy && !isTerminal(view.state)) {
    if ((healthy ?? false) !== (wasHealthy ?? false)) {
      events.push({ eventType: 'health_status_changed_event', timestamp, appId, taskId: view.id, instanceId: view.id, version, alive: healthy === true });
    }
    events.push({ eventType: 'instance_health_changed_event', timestamp, instanceId: view.id, runSpecId: appId, runSpecVersion: version, healthy: healthy ?? null });
  }
  return { events, after: isTerminal(view.state) ? undefined : { appId, version, ports, state: view.state, healthy } };
}

/** The master's side: its operator events. */
export interface OperatorEventSource {
  onEvent(listener: OperatorEventListener): () => void;
}

/** Init's side: which tasks are its own, and what it knows of them. */
export interface InitTaskSource {
  frameworkId(): string | undefined;
  /**
   * Init's record of the task, or undefined for a task init does not know (it kills those; Marathon
   * sends no status events for them). Asked once per task, when the bus first sees it: init handles
   * an update after the master emits it, so this is the task as it stood before that update.
   */
  task(taskId: string): Pick<AppTask, 'appId' | 'version' | 'ports' | 'state' | 'healthy'> | undefined;
}

export interface MarathonEventBusOptions {
  master: OperatorEventSource;
  init: InitTaskSource;
  clock: Clock;
  logger: Logger;
}

/**
 * Publish/subscribe of Marathon events. It listens to the master only while someone listens to it
 * (the master builds operator events only when someone listens), so it knows tasks from the moment
 * the first subscriber came: a task it has not seen yet is looked up in init once.
 */
export class MarathonEventBus {
  private readonly listeners = new Set<MarathonEventListener>();
  private readonly tasks = new Map<string, TaskMemory>();
  private detach: (() => void) | undefined;

  constructor(private readonly opts: MarathonEventBusOptions) {}

  /** Calls `listener` with every event from now on; returns the unsubscribe. */
  subscribe(listener: MarathonEventListener): () => void {
    this.listeners.add(listener);
    this.detach ??= this.opts.master.onEvent((e) => this.onOperatorEvent(e));
    return () => {
      if (!this.listeners.delete(listener) || this.listeners.size > 0) return;
      this.stop();
    };
  }

  /** Sends `event` to every subscriber; the timestamp is filled in when missing. */
  publish(event: MarathonEvent | { eventType: string; timestamp?: string; [field: string]: unknown }): void {
    if (this.listeners.size === 0) return;
    const stamped = { ...event, timestamp: event.timestamp ?? this.now() } as MarathonEvent;
    for (const listener of this.listeners) {
      try {
        listener(stamped);
      } catch (err) {
        this.opts.logger.error({ event: 'marathon_event_listener_error', err, eventType: stamped.eventType }, 'a Marathon event listener failed');
      }
    }
  }

  /** Stops listening to the master; subscribers stay but hear only published events until the next subscribe. */
  stop(): void {
    this.detach?.();
    this.detach = undefined;
    this.tasks.clear();
  }

  private now(): string {
    return new Date(this.opts.clock.now()).toISOString();
  }

  private onOperatorEvent(e: OperatorEvent): void {
    if (e.type !== 'TASK_ADDED' && e.type !== 'TASK_UPDATED') return;
    const view = e.task;
    if (view.frameworkId !== this.opts.init.frameworkId()) return;
    let before = this.tasks.get(view.id);
    let known: Pick<TaskMemory, 'appId' | 'version' | 'ports'> | undefined = before;
    if (!before) {
      const task = this.opts.init.task(view.id);
      if (!task) return;
      known = { appId: task.appId, version: task.version, ports: task.ports };
      // A launch is news although init already counts the task as staging.
      if (e.type === 'TASK_UPDATED') before = { ...known, state: task.state, healthy: task.healthy };
    }
    const { events, after } = taskEvents(before, known!, view, e.type === 'TASK_UPDATED' ? e.status : undefined, this.now());
    if (after) this.tasks.set(view.id, after);
    else this.tasks.delete(view.id);
    for (const event of events) this.publish(event);
  }
}

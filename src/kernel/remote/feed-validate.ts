// Shape checks of the operator feed's notices on the subscriber's side: the master is a node that
// proved the cluster token, but a message of another build (or a bug) must be refused as a whole
// rather than half-applied or left to crash the resolver later. Each check returns the body typed,
// or a reason.
import { OPERATOR_EVENT_TYPES } from '../sdk/operator';
import { TASK_STATES } from '../types';
import type { FeedEventsBody, FeedSnapshotBody } from './protocol';

type Check<T> = { ok: true; value: T } | { ok: false; reason: string };

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isString = (v: unknown): v is string => typeof v === 'string';
const isSeq = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
const states = new Set<string>(TASK_STATES);
const eventTypes = new Set<string>(OPERATOR_EVENT_TYPES);

/** The fields of a TaskView discovery reads. */
function taskViewProblem(v: unknown): string | undefined {
  if (!isObject(v)) return 'a task view is not an object';
  for (const k of ['id', 'name', 'frameworkId', 'agentId', 'host'] as const) if (!isString(v[k])) return `a task view has no ${k}`;
  if (!isString(v.state) || !states.has(v.state)) return `task ${String(v.id)} has an unknown state`;
  if (v.healthy !== undefined && typeof v.healthy !== 'boolean') return `task ${String(v.id)} has a bad healthy`;
  if (!isObject(v.resources) || !Array.isArray(v.resources.ports)) return `task ${String(v.id)} has no port ranges`;
  if (!v.resources.ports.every((r) => isObject(r) && Number.isInteger(r.begin) && Number.isInteger(r.end))) return `task ${String(v.id)} has a bad port range`;
  if (!isObject(v.labels)) return `task ${String(v.id)} has no labels`;
  return undefined;
}

function hintProblem(h: unknown): string | undefined {
  if (h === undefined) return undefined;
  if (!isObject(h) || typeof h.healthChecked !== 'boolean') return 'a task hint has no healthChecked';
  if (h.appId !== undefined && !isString(h.appId)) return 'a task hint has a bad appId';
  if (h.ports !== undefined && !(Array.isArray(h.ports) && h.ports.every((p) => Number.isInteger(p)))) return 'a task hint has bad ports';
  return undefined;
}

function endpointProblem(e: unknown): string | undefined {
  if (!isObject(e) || !isString(e.hostname) || !isString(e.ip)) return 'the master endpoint needs hostname and ip';
  if (e.apiPort !== undefined && !Number.isInteger(e.apiPort)) return 'the master endpoint has a bad apiPort';
  return undefined;
}

function eventProblem(e: unknown): string | undefined {
  if (!isObject(e) || !isString(e.type) || !eventTypes.has(e.type)) return 'an event of an unknown type';
  switch (e.type) {
    case 'TASK_ADDED':
    case 'TASK_UPDATED':
      return taskViewProblem(e.task);
    case 'AGENT_ADDED':
      return isObject(e.agent) && isString(e.agent.id) && isString(e.agent.hostname) ? undefined : 'AGENT_ADDED without an agent';
    case 'FRAMEWORK_ADDED':
    case 'FRAMEWORK_UPDATED':
      return isObject(e.framework) && isString(e.framework.id) && isString(e.framework.name) ? undefined : `${e.type} without a framework`;
    case 'FRAMEWORK_REMOVED':
      return isString(e.frameworkId) ? undefined : 'FRAMEWORK_REMOVED without a frameworkId';
    default:
      return isString(e.agentId) ? undefined : `${e.type} without an agentId`;
  }
}

function itemProblem(item: unknown): string | undefined {
  if (!isObject(item)) return 'an item is not an object';
  if ('endpoint' in item) return endpointProblem(item.endpoint);
  return eventProblem(item.event) ?? hintProblem(item.hint);
}

function taskProblem(t: unknown): string | undefined {
  if (!isObject(t)) return 'a task is not an object';
  return taskViewProblem(t.view) ?? hintProblem(t.hint);
}

function headerProblem(b: Record<string, unknown>): string | undefined {
  if (!isString(b.sub)) return 'no subscription name';
  if (!isSeq(b.seq)) return 'no sequence number';
  return undefined;
}

function firstProblem<T>(list: readonly T[], problem: (x: T) => string | undefined): string | undefined {
  for (const x of list) {
    const p = problem(x);
    if (p !== undefined) return p;
  }
  return undefined;
}

export function checkSnapshotBody(body: unknown): Check<FeedSnapshotBody> {
  if (!isObject(body)) return { ok: false, reason: 'the snapshot chunk is not an object' };
  const reason =
    headerProblem(body) ??
    (typeof body.last !== 'boolean' ? 'no last flag' : undefined) ??
    (body.endpoint !== undefined ? endpointProblem(body.endpoint) : undefined) ??
    (!Array.isArray(body.tasks) || !Array.isArray(body.agents) || !Array.isArray(body.frameworks) ? 'tasks, agents and frameworks must be lists' : undefined) ??
    firstProblem(body.tasks as unknown[], taskProblem) ??
    firstProblem(body.agents as unknown[], (a) => (isObject(a) && isString(a.id) && isString(a.hostname) && (a.status === undefined || isString(a.status)) ? undefined : 'an agent needs id and hostname')) ??
    firstProblem(body.frameworks as unknown[], (f) => (isObject(f) && isString(f.id) && isString(f.name) ? undefined : 'a framework needs id and name'));
  return reason === undefined ? { ok: true, value: body as unknown as FeedSnapshotBody } : { ok: false, reason };
}

export function checkEventsBody(body: unknown): Check<FeedEventsBody> {
  if (!isObject(body)) return { ok: false, reason: 'the event batch is not an object' };
  const reason = headerProblem(body) ?? (!Array.isArray(body.items) ? 'items must be a list' : firstProblem(body.items as unknown[], itemProblem));
  return reason === undefined ? { ok: true, value: body as unknown as FeedEventsBody } : { ok: false, reason };
}

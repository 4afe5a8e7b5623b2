// Validation of `POST /api/v1/scheduler` bodies (wire format in kernel/sdk/wire.ts): JSON Schema
// per call type, checked with ajv, then turned into the kernel's types with their defaults. A bad
// call is a VALIDATION_FAILED error whose details name each offending field.
import Ajv, { type ErrorObject } from 'ajv';
import type { ReconcileTask } from '../kernel/sdk/types';
import { CALL_TYPES, idOf, type CallType, type SchedulerCall, type WireFilters, type WireId } from '../kernel/sdk/wire';
import type { Filters, FrameworkInfo, HealthCheck, TaskLaunch } from '../kernel/types';
import { CorralError, type ErrorDetail } from '../shared/errors';

export type ParsedCall =
  | { type: 'SUBSCRIBE'; frameworkId: string | undefined; framework: FrameworkInfo }
  | { type: 'ACCEPT'; frameworkId: string; offerIds: string[]; tasks: TaskLaunch[]; filters: Filters | undefined }
  | { type: 'DECLINE'; frameworkId: string; offerIds: string[]; filters: Filters | undefined }
  | { type: 'KILL'; frameworkId: string; taskId: string; gracePeriodSeconds: number | undefined }
  | { type: 'ACKNOWLEDGE'; frameworkId: string; agentId: string; taskId: string; uuid: string }
  | { type: 'RECONCILE'; frameworkId: string; tasks: ReconcileTask[] }
  | { type: 'REVIVE' | 'SUPPRESS' | 'TEARDOWN'; frameworkId: string };

const ID_MESSAGE = 'must be an id: a non-empty string or {"value": "<string>"}';
const id = { anyOf: [{ type: 'string', minLength: 1 }, { type: 'object', required: ['value'], properties: { value: { type: 'string', minLength: 1 } } }] };
const ids = { type: 'array', minItems: 1, items: id };
const seconds = { type: 'number', minimum: 0 };
const stringMap = { type: 'object', additionalProperties: { type: 'string' } };
const filters = { type: 'object', properties: { refuse_seconds: seconds } };
const port = { type: 'integer', minimum: 0, maximum: 65535 };

const taskLaunch = {
  type: 'object',
  required: ['taskId', 'resources', 'command'],
  properties: {
    taskId: { type: 'string', minLength: 1 },
    name: { type: 'string' },
    resources: {
      type: 'object',
      required: ['cpus', 'mem'],
      properties: {
        cpus: seconds,
        mem: seconds,
        disk: seconds,
        ports: { type: 'array', items: { type: 'object', required: ['begin', 'end'], properties: { begin: port, end: port } } },
      },
    },
    command: {
      type: 'object',
      required: ['value'],
      properties: { shell: { type: 'boolean' }, value: { type: 'string', minLength: 1 }, arguments: { type: 'array', items: { type: 'string' } }, environment: stringMap, user: { type: 'string' } },
    },
    labels: stringMap,
    killGracePeriodSeconds: seconds,
    fetch: { type: 'array', items: { type: 'object', required: ['uri'], properties: { uri: { type: 'string', minLength: 1 }, destPath: { type: 'string' } } } },
    healthChecks: { type: 'array', items: { type: 'object', required: ['protocol'], properties: { protocol: { enum: ['HTTP', 'HTTPS', 'TCP', 'COMMAND'] }, port } } },
    startAt: { type: 'integer', minimum: 0 },
  },
};

/** Body schema per call type; `framework_id` is required by every call but SUBSCRIBE. */
const payloads: Record<CallType, object | undefined> = {
  SUBSCRIBE: {
    type: 'object',
    required: ['framework_info'],
    properties: {
      framework_info: {
        type: 'object',
        required: ['name'],
        properties: { name: { type: 'string', minLength: 1 }, id, role: { type: 'string' }, user: { type: 'string' }, failover_timeout: seconds },
      },
    },
  },
  ACCEPT: {
    type: 'object',
    required: ['offer_ids', 'operations'],
    properties: {
      offer_ids: ids,
      operations: {
        type: 'array',
        items: {
          type: 'object',
          required: ['type', 'launch'],
          properties: { type: { const: 'LAUNCH' }, launch: { type: 'object', required: ['task_infos'], properties: { task_infos: { type: 'array', items: taskLaunch } } } },
        },
      },
      filters,
    },
  },
  DECLINE: { type: 'object', required: ['offer_ids'], properties: { offer_ids: ids, filters } },
  KILL: { type: 'object', required: ['task_id'], properties: { task_id: id, agent_id: id, grace_period_seconds: seconds } },
  ACKNOWLEDGE: { type: 'object', required: ['agent_id', 'task_id', 'uuid'], properties: { agent_id: id, task_id: id, uuid: { type: 'string', minLength: 1 } } },
  RECONCILE: { type: 'object', properties: { tasks: { type: 'array', items: { type: 'object', required: ['task_id'], properties: { task_id: id, agent_id: id } } } } },
  REVIVE: undefined,
  SUPPRESS: undefined,
  TEARDOWN: undefined,
};

const ajv = new Ajv({ allErrors: true, strict: false });
const validators = new Map(
  CALL_TYPES.map((type) => {
    const field = type.toLowerCase();
    const payload = payloads[type];
    const required = [...(type === 'SUBSCRIBE' ? [] : ['framework_id']), ...(payload && type !== 'RECONCILE' ? [field] : [])];
    return [type, ajv.compile({ type: 'object', required, properties: { type: { const: type }, framework_id: id, ...(payload ? { [field]: payload } : {}) } })] as const;
  }),
);

function toDetails(errs: readonly ErrorObject[]): ErrorDetail[] {
  // An id that is neither form fails both anyOf branches; report it once, plainly.
  const badIds = new Set(errs.filter((e) => e.keyword === 'anyOf').map((e) => e.instancePath));
  const byPath = new Map<string, string[]>();
  for (const e of errs) {
    const missing = e.keyword === 'required' ? `/${String((e.params as { missingProperty: string }).missingProperty)}` : '';
    const path = e.instancePath + missing || '/';
    const insideBadId = [...badIds].some((p) => e.instancePath === p || e.instancePath.startsWith(`${p}/`));
    if (insideBadId && e.keyword !== 'anyOf') continue;
    const message = e.keyword === 'required' ? 'is required' : e.keyword === 'anyOf' ? ID_MESSAGE : e.message ?? 'is invalid';
    byPath.set(path, [...new Set([...(byPath.get(path) ?? []), message])]);
  }
  return [...byPath].map(([path, errors]) => ({ path, errors }));
}

const invalid = (details: ErrorDetail[]) => new CorralError('VALIDATION_FAILED', 'Object is not valid', details);
const must = (x: WireId | undefined): string => idOf(x)!;
const toFilters = (f: WireFilters | undefined): Filters | undefined => (f?.refuse_seconds === undefined ? undefined : { refuseSeconds: f.refuse_seconds });

/** Marathon's health check defaults (seconds) for the fields a framework leaves out. */
function healthCheck(h: Partial<HealthCheck> & Pick<HealthCheck, 'protocol'>): HealthCheck {
  return { gracePeriodSeconds: 300, intervalSeconds: 60, timeoutSeconds: 20, maxConsecutiveFailures: 3, delaySeconds: 15, ...h };
}

function launch(t: TaskLaunch): TaskLaunch {
  return {
    ...t,
    name: t.name ?? t.taskId,
    resources: { cpus: t.resources.cpus, mem: t.resources.mem, disk: t.resources.disk ?? 0, ports: t.resources.ports ?? [] },
    command: { ...t.command, shell: t.command.shell ?? true, environment: t.command.environment ?? {} },
    labels: t.labels ?? {},
    ...(t.healthChecks ? { healthChecks: t.healthChecks.map(healthCheck) } : {}),
  };
}

/** Validates a call body; throws VALIDATION_FAILED with details. */
export function parseSchedulerCall(body: unknown): ParsedCall {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw invalid([{ path: '/', errors: ['must be a JSON object'] }]);
  const type = (body as { type?: unknown }).type;
  if (!CALL_TYPES.includes(type as CallType)) throw invalid([{ path: '/type', errors: [`must be one of ${CALL_TYPES.join(', ')}`] }]);
  const validate = validators.get(type as CallType)!;
  if (!validate(body)) throw invalid(toDetails(validate.errors ?? []));
  const call = body as SchedulerCall;
  const frameworkId = idOf(call.framework_id);
  switch (call.type) {
    case 'SUBSCRIBE': {
      const info = call.subscribe.framework_info;
      const infoId = idOf(info.id);
      if (frameworkId && infoId && frameworkId !== infoId) throw invalid([{ path: '/subscribe/framework_info/id', errors: ['must equal framework_id'] }]);
      const framework: FrameworkInfo = { name: info.name, id: infoId ?? frameworkId, role: info.role, user: info.user, failoverTimeoutSeconds: info.failover_timeout };
      for (const k of Object.keys(framework) as Array<keyof FrameworkInfo>) if (framework[k] === undefined) delete framework[k];
      return { type: 'SUBSCRIBE', frameworkId, framework };
    }
    case 'ACCEPT':
      return { type: 'ACCEPT', frameworkId: frameworkId!, offerIds: call.accept.offer_ids.map(must), tasks: call.accept.operations.flatMap((op) => op.launch.task_infos.map(launch)), filters: toFilters(call.accept.filters) };
    case 'DECLINE':
      return { type: 'DECLINE', frameworkId: frameworkId!, offerIds: call.decline.offer_ids.map(must), filters: toFilters(call.decline.filters) };
    case 'KILL':
      return { type: 'KILL', frameworkId: frameworkId!, taskId: must(call.kill.task_id), gracePeriodSeconds: call.kill.grace_period_seconds };
    case 'ACKNOWLEDGE':
      return { type: 'ACKNOWLEDGE', frameworkId: frameworkId!, agentId: must(call.acknowledge.agent_id), taskId: must(call.acknowledge.task_id), uuid: call.acknowledge.uuid };
    case 'RECONCILE': {
      const tasks = (call as { reconcile?: { tasks?: Array<{ task_id: WireId; agent_id?: WireId }> } }).reconcile?.tasks ?? [];
      return { type: 'RECONCILE', frameworkId: frameworkId!, tasks: tasks.map((t) => ({ taskId: must(t.task_id), ...(t.agent_id === undefined ? {} : { agentId: must(t.agent_id) }) })) };
    }
    default:
      return { type: call.type, frameworkId: frameworkId! };
  }
}

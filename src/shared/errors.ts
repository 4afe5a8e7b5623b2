// The one error catalogue. Every error Corral returns to a person or a client is a CorralError
// with a stable `code` from this table; HTTP statuses come from here, never from message text.
// docs/api.md lists every code (a test keeps the two in step).

export interface ErrorDetail {
  /** JSON pointer into the offending input, e.g. `/instances`. */
  path: string;
  errors: string[];
}

export const ERROR_CATALOGUE = {
  INVALID_JSON: { status: 400, summary: 'The request body is not valid JSON.' },
  INVALID_REQUEST: { status: 400, summary: 'A query parameter or path segment is malformed.' },
  VALIDATION_FAILED: { status: 422, summary: 'The input parsed but breaks the schema; `details` says where.' },
  UNAUTHORIZED: { status: 401, summary: 'The bearer token is missing or wrong.' },
  NOT_FOUND: { status: 404, summary: 'No such route.' },
  APP_NOT_FOUND: { status: 404, summary: 'No app has this id.' },
  APP_VERSION_NOT_FOUND: { status: 404, summary: 'The app exists but keeps no version with this timestamp.' },
  APP_EXISTS: { status: 409, summary: 'An app with this id already exists.' },
  GROUP_NOT_FOUND: { status: 404, summary: 'No group has this id (no app below it and none created empty).' },
  GROUP_VERSION_NOT_FOUND: { status: 404, summary: 'The group keeps no version with this timestamp.' },
  GROUP_EXISTS: { status: 409, summary: 'A group with this id already exists; PUT changes it.' },
  APP_LOCKED: { status: 409, summary: 'Another deployment is changing this app; retry or use force.' },
  DEPLOYMENT_NOT_FOUND: { status: 404, summary: 'No deployment in progress has this id.' },
  DEPLOYMENT_FAILED: { status: 409, summary: 'The deployment `corral deployment watch` followed ended without success (CLI only).' },
  TASK_NOT_FOUND: { status: 404, summary: 'No task has this id.' },
  AGENT_NOT_FOUND: { status: 404, summary: 'No agent has this id.' },
  NODE_AMBIGUOUS: { status: 400, summary: 'A node id prefix or hostname given to the CLI matches more than one node.' },
  FRAMEWORK_NOT_FOUND: { status: 404, summary: 'No framework has this id, or it is not subscribed.' },
  STREAM_ID_INVALID: { status: 403, summary: "The Mesos-Stream-Id header is missing or is not the framework's current subscription." },
  OFFER_NOT_FOUND: { status: 409, summary: 'The offer was rescinded, used or never existed.' },
  LAUNCH_INVALID: { status: 422, summary: 'A launch operation asks for resources the offer does not hold.' },
  REVISION_CONFLICT: { status: 409, summary: 'The stored value changed since it was read (compare-and-set failed).' },
  STORE_COMPACTED: { status: 410, summary: 'A watch asked for history older than the store keeps.' },
  STORE_CLOSED: { status: 503, summary: 'The store has been closed.' },
  CONFIG_INVALID: { status: 400, summary: 'A flag, environment variable or config file value is invalid.' },
  NO_ROLES: { status: 400, summary: '`corral up` was asked to run no role.' },
  DATA_DIR_UNUSABLE: { status: 500, summary: 'The data directory cannot be created or written.' },
  API_UNREACHABLE: { status: 503, summary: 'The CLI could not reach the Corral API.' },
  FILE_UNREADABLE: { status: 400, summary: 'A file named on the command line cannot be read.' },
  SANDBOX_GONE: { status: 404, summary: "The task's sandbox or log file no longer exists." },
  FETCH_FAILED: { status: 502, summary: 'An artifact could not be fetched into the sandbox.' },
  INTERNAL: { status: 500, summary: 'A bug in Corral; the log has the stack.' },
  CLUSTER_TOKEN_MISSING: { status: 400, summary: 'No cluster token was given, or its file does not exist.' },
  CLUSTER_TOKEN_INVALID: { status: 400, summary: 'The cluster token is not 64 hexadecimal characters (32 bytes).' },
  CLUSTER_TOKEN_EXISTS: { status: 409, summary: 'The data directory already holds a cluster token; it is never overwritten.' },
  NODE_SEED_INVALID: { status: 500, summary: "The node's identity seed file is unreadable or not 32 bytes of hex." },
  CLUSTER_ADDRESS_INVALID: { status: 400, summary: 'A --join address or the cluster host/port is malformed (host: IPv4 or DNS name; a master: its IPv4 address).' },
  // cron (issue 6): job and run errors go below this line.
  JOB_NOT_FOUND: { status: 404, summary: 'No cron job has this name.' },
  JOB_PARENT_NOT_FOUND: { status: 422, summary: 'A dependent job names a parent job that does not exist.' },
  JOB_DEPENDENCY_CYCLE: { status: 422, summary: 'The job would close a cycle in the dependency graph (the message shows it).' },
  JOB_HAS_DEPENDENTS: { status: 409, summary: 'The job is a parent of other jobs; remove or change those first.' },
  JOB_LOCKED: { status: 409, summary: 'The job was changed by another request meanwhile; retry.' },
  JOB_RUN_NOT_FOUND: { status: 404, summary: 'The job has no run with this id (history keeps the newest runs only).' },
  // discovery (issue 7): DNS and lookup errors go below this line.
  DNS_PORT_UNAVAILABLE: { status: 500, summary: 'The DNS address (--dns-listen) cannot be bound over UDP or TCP (in use, or not an address of this machine).' },
  // packages (issue 8): package and repository errors go below this line.
  PACKAGE_NOT_FOUND: { status: 404, summary: 'No repository has a package of this name.' },
  PACKAGE_VERSION_NOT_FOUND: { status: 404, summary: 'The package exists but not in this version.' },
  PACKAGE_INVALID: { status: 422, summary: "A package breaks the Universe packaging rules of its packagingVersion; `details` says where." },
  PACKAGE_OPTIONS_INVALID: { status: 422, summary: "The install options break the package's config schema; `details` names each option path." },
  PACKAGE_RENDER_FAILED: { status: 422, summary: 'The package template did not render to a valid app (or job) definition; `details` says where.' },
  PACKAGE_NOT_INSTALLED: { status: 404, summary: 'No app (or job) installed from this package matches.' },
  PACKAGE_APP_AMBIGUOUS: { status: 409, summary: 'The package is installed more than once: name the app id, or uninstall all.' },
  PACKAGE_INFEASIBLE: { status: 422, summary: 'No available agent has every command the package needs; the message names the missing ones.' },
  PACKAGE_JOBS_UNAVAILABLE: { status: 503, summary: 'The package holds a job, but no cron framework is connected to install it.' },
  REPOSITORY_NOT_FOUND: { status: 404, summary: 'No package repository has this name (or URI).' },
  REPOSITORY_EXISTS: { status: 409, summary: 'A package repository with this name or URI is already added.' },
  REPOSITORY_UNREACHABLE: { status: 502, summary: 'A package repository could not be fetched or read (network, HTTP status, missing path).' },
  REPOSITORY_INVALID: { status: 422, summary: 'A package repository answered, but not with a Universe repo index or layout.' },
  CLUSTER_PORT_UNAVAILABLE: { status: 500, summary: 'The cluster UDP port cannot be bound (in use, or the host is not an address of this machine).' },
} as const satisfies Record<string, { status: number; summary: string }>;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

export class CorralError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: ErrorDetail[] | undefined;
  /** More fields of the error body, where a compatible API has them (Marathon's `deployments` of APP_LOCKED). */
  readonly extra: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, details?: ErrorDetail[], extra?: Record<string, unknown>) {
    super(message);
    this.name = 'CorralError';
    this.code = code;
    this.status = ERROR_CATALOGUE[code].status;
    this.details = details;
    this.extra = extra;
  }

  toJSON(): { message: string; code: ErrorCode; details?: ErrorDetail[] } & Record<string, unknown> {
    return { ...this.extra, message: this.message, code: this.code, ...(this.details ? { details: this.details } : {}) };
  }
}

export function isCorralError(err: unknown): err is CorralError {
  return err instanceof CorralError;
}

/** Named factories for errors raised in more than one place. */
export const errors = {
  invalidJson: (why: string) => new CorralError('INVALID_JSON', `Invalid JSON: ${why}`),
  validation: (details: ErrorDetail[]) => new CorralError('VALIDATION_FAILED', 'Object is not valid', details),
  unauthorized: () => new CorralError('UNAUTHORIZED', 'Missing or invalid bearer token. Send "Authorization: Bearer <token>"; the token is in <data-dir>/admin.token.'),
  appNotFound: (id: string) => new CorralError('APP_NOT_FOUND', `App '${id}' does not exist`),
  appVersionNotFound: (id: string, version: string) => new CorralError('APP_VERSION_NOT_FOUND', `App '${id}' does not exist in version ${version}`),
  appExists: (id: string) => new CorralError('APP_EXISTS', `An app with id [${id}] already exists.`),
  /** Marathon's UnknownGroupException and ConflictingChangeException wording. */
  groupNotFound: (id: string) => new CorralError('GROUP_NOT_FOUND', `Group '${id}' does not exist`),
  groupVersionNotFound: (id: string, version: string) => new CorralError('GROUP_VERSION_NOT_FOUND', `Group '${id}' does not exist in version ${version}`),
  groupExists: (id: string) => new CorralError('GROUP_EXISTS', `Group ${id} is already created. Use PUT to change this group.`),
  /** Marathon's AppLockedException, word for word (the placeholder included), with the ids in `deployments`. */
  appLocked: (deploymentIds: readonly string[]) =>
    new CorralError('APP_LOCKED', "App is locked by one or more deployments. Override with the option '?force=true'. View details at '/v2/deployments/<DEPLOYMENT_ID>'.", undefined, {
      deployments: deploymentIds.map((id) => ({ id })),
    }),
  deploymentNotFound: (id: string) => new CorralError('DEPLOYMENT_NOT_FOUND', `DeploymentPlan ${id} does not exist`),
  taskNotFound: (id: string) => new CorralError('TASK_NOT_FOUND', `Task '${id}' does not exist`),
  agentNotFound: (id: string) => new CorralError('AGENT_NOT_FOUND', `Agent '${id}' does not exist`),
  revisionConflict: (key: string, expected: number, actual: number) =>
    new CorralError('REVISION_CONFLICT', `Key '${key}' is at revision ${actual}, expected ${expected}`),
  config: (what: string) => new CorralError('CONFIG_INVALID', what),
};

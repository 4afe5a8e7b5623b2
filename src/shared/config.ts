// The one configuration schema. Precedence: command-line flags > CORRAL_* environment > config file
// > defaults. This is the only module that reads process.env; values are validated once and frozen.
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { errors } from './errors';
import { int, oneOf, parseDnsDomain, parseDnsListen, parseDnsUpstreams, parseList, parseLogLevel, positive, text } from './config-values';

export const ROLES = ['master', 'agent', 'init', 'cron', 'discovery'] as const;
export type Role = (typeof ROLES)[number];

export interface DaemonConfig {
  /** Where the store, tokens and sandboxes live. */
  dataDir: string;
  /** HTTP API listen address. */
  listenHost: string;
  listenPort: number;
  /** Roles this process runs; all of ROLES when none is named. */
  roles: readonly Role[];
  /** Node name used in task `host` fields and node listings. */
  hostname: string;
  /** pino level: trace, debug, info, warn, error, fatal, silent. */
  logLevel: string;
  /** Inclusive port range the agent offers to tasks. */
  portRangeStart: number;
  portRangeEnd: number;
  /** Agent resources; undefined means detect (systeminformation). cpus in cores, mem/disk in MiB. */
  agentCpus: number | undefined;
  agentMemMb: number | undefined;
  agentDiskMb: number | undefined;
  /** Time between SIGTERM and SIGKILL when a framework gives none, in seconds. */
  killGraceSeconds: number;
  /** Allocation cycle in milliseconds; offers are also made right after a change. */
  allocationIntervalMs: number;
  /** Task isolation backend: auto (cgroup2, else cgroup1, else posix), cgroup2, cgroup1 or posix. */
  isolation: IsolationSetting;
  /** Unix user of tasks that name none, when the agent runs as root. */
  taskUser: string;
  /** Most processes and threads per task. */
  taskPidsLimit: number;
  /** A task's stdout/stderr is rotated once larger than this, in bytes. */
  logMaxBytes: number;
  /** Rotated log files kept per stream (stdout.1 … stdout.N). */
  logKeepFiles: number;
  /** Bytes the agent's fetch cache may hold. */
  fetchCacheBytes: number;
  /** Allocator roles: DRF weight and quota limit per framework role (none: every role weight 1, no limit). */
  frameworkRoles: Readonly<Record<string, FrameworkRoleSettings>>;
  /**
   * Attributes of this agent (Mesos's `--attributes`): name → text value, offered with its
   * resources for placement constraints. `region` and `zone` are what Marathon's `@region` and
   * `@zone` constraint fields read.
   */
  agentAttributes: Readonly<Record<string, string>>;
  /** Static reservations of this agent: role → scalars (cpus in cores, mem/disk in MiB) only that role is offered. */
  agentReservations: Readonly<Record<string, { cpus: number; mem: number; disk: number }>>;
  /** Cluster plane: the masters' cluster addresses (HOST[:PORT], port default 49737); empty = none. */
  join: readonly string[];
  /**
   * Cluster plane: the IPv4 address other machines reach this node's DHT node at. A master needs it
   * (set = this master runs the cluster plane); an agent may have it, and then other agents connect
   * to it directly instead of holepunching through the masters.
   */
  clusterHost: string | undefined;
  /** Cluster plane: UDP port of the DHT node; undefined = 49737 on a master, a random port on an agent. */
  clusterPort: number | undefined;
  /** The cluster token itself (CORRAL_TOKEN; never a flag, so it stays out of `ps`). */
  clusterToken: string | undefined;
  /** A file holding the cluster token (--token-file). */
  tokenFile: string | undefined;
  /** Discovery: the DNS server's UDP and TCP address (port 0 picks a free one). */
  dnsListen: { host: string; port: number };
  /** Discovery: the DNS zone, lower case, no trailing dot. */
  dnsDomain: string;
  /** Discovery: TTL of DNS records and of negative answers, in seconds. */
  dnsTtl: number;
  /** Discovery: resolvers (IP[:PORT], port 53 by default) names outside the zone are forwarded to; none = REFUSED. */
  dnsUpstreams: readonly string[];
}

export const ISOLATION_SETTINGS = ['auto', 'cgroup2', 'cgroup1', 'posix'] as const;
export type IsolationSetting = (typeof ISOLATION_SETTINGS)[number];

interface Field {
  key: keyof DaemonConfig;
  env: string;
  doc: string;
  parse: (raw: string) => unknown;
}

/** Every setting that can come from the environment or a config file (flags use the same parsers). */
export const CONFIG_FIELDS: readonly Field[] = [
  { key: 'dataDir', env: 'CORRAL_DATA_DIR', doc: 'data directory', parse: text('data dir') },
  { key: 'hostname', env: 'CORRAL_HOSTNAME', doc: 'node name', parse: text('hostname') },
  { key: 'logLevel', env: 'CORRAL_LOG_LEVEL', doc: 'log level', parse: parseLogLevel },
  { key: 'agentCpus', env: 'CORRAL_AGENT_CPUS', doc: 'agent cpus (cores)', parse: positive('agent cpus') },
  { key: 'agentMemMb', env: 'CORRAL_AGENT_MEM', doc: 'agent memory (MiB)', parse: positive('agent mem') },
  { key: 'agentDiskMb', env: 'CORRAL_AGENT_DISK', doc: 'agent disk (MiB)', parse: positive('agent disk') },
  { key: 'killGraceSeconds', env: 'CORRAL_KILL_GRACE', doc: 'SIGTERM to SIGKILL (s)', parse: positive('kill grace') },
  { key: 'allocationIntervalMs', env: 'CORRAL_ALLOCATION_INTERVAL_MS', doc: 'allocation cycle (ms)', parse: int('allocation interval', 10, 60_000) },
  { key: 'isolation', env: 'CORRAL_ISOLATION', doc: 'task isolation (auto, cgroup2, cgroup1, posix)', parse: oneOf('isolation', ISOLATION_SETTINGS) },
  { key: 'taskUser', env: 'CORRAL_TASK_USER', doc: 'default task user when root', parse: text('task user') },
  { key: 'taskPidsLimit', env: 'CORRAL_TASK_PIDS_LIMIT', doc: 'processes per task', parse: int('task pids limit', 1, 4_194_304) },
  { key: 'logMaxBytes', env: 'CORRAL_LOG_MAX_BYTES', doc: 'task log rotation size (bytes)', parse: int('log max bytes', 1024, Number.MAX_SAFE_INTEGER) },
  { key: 'logKeepFiles', env: 'CORRAL_LOG_KEEP_FILES', doc: 'rotated task logs kept', parse: int('log keep files', 0, 1000) },
  { key: 'frameworkRoles', env: 'CORRAL_FRAMEWORK_ROLES', doc: 'allocator roles: JSON {"role": {"weight": 2, "quota": {"cpus": 4, "mem": 8192}}}', parse: parseFrameworkRoles },
  { key: 'agentReservations', env: 'CORRAL_AGENT_RESERVATIONS', doc: 'static reservations: JSON {"role": {"cpus": 2, "mem": 4096}}', parse: parseReservations },
  { key: 'agentAttributes', env: 'CORRAL_ATTRIBUTES', doc: 'agent attributes: NAME=VALUE,… (e.g. rack=r1,zone=a)', parse: parseAttributes },
  { key: 'join', env: 'CORRAL_JOIN', doc: 'masters to join: HOST[:PORT],…', parse: parseList },
  { key: 'clusterHost', env: 'CORRAL_CLUSTER_HOST', doc: "this node's cluster address (IPv4; a master's, or an agent's for direct connections)", parse: text('cluster host') },
  { key: 'clusterPort', env: 'CORRAL_CLUSTER_PORT', doc: 'cluster UDP port (master default 49737, agent random)', parse: int('cluster port', 1, 65535) },
  { key: 'clusterToken', env: 'CORRAL_TOKEN', doc: 'cluster token (64 hex characters)', parse: text('cluster token') },
  { key: 'tokenFile', env: 'CORRAL_TOKEN_FILE', doc: 'file holding the cluster token', parse: text('token file') },
  { key: 'fetchCacheBytes', env: 'CORRAL_FETCH_CACHE_BYTES', doc: 'fetch cache size (bytes)', parse: int('fetch cache bytes', 0, Number.MAX_SAFE_INTEGER) },
  { key: 'dnsListen', env: 'CORRAL_DNS_LISTEN', doc: 'DNS server address HOST:PORT (UDP and TCP)', parse: parseDnsListen },
  { key: 'dnsDomain', env: 'CORRAL_DNS_DOMAIN', doc: 'DNS zone (default corral)', parse: parseDnsDomain },
  { key: 'dnsTtl', env: 'CORRAL_DNS_TTL', doc: 'DNS record TTL (s)', parse: int('dns ttl', 0, 86_400) },
  { key: 'dnsUpstreams', env: 'CORRAL_DNS_UPSTREAMS', doc: 'resolvers for names outside the zone: IP[:PORT],…', parse: parseDnsUpstreams },
];

export interface ConfigSources {
  /** Flag values already named by config key (strings as typed on the command line). */
  flags: Partial<Record<keyof DaemonConfig | 'listen' | 'portRange' | 'config', string>>;
  /** Role flags given (`--master`, `--agent`, ...). */
  roleFlags: readonly Role[];
  env?: NodeJS.ProcessEnv;
  /** True when running as an installed binary (data dir defaults to /var/lib/corral). */
  installed: boolean;
}

export function defaultConfig(installed: boolean): DaemonConfig {
  return {
    dataDir: installed ? '/var/lib/corral' : './.corral',
    listenHost: '127.0.0.1',
    listenPort: 5050,
    roles: ROLES,
    hostname: hostname(),
    logLevel: 'info',
    portRangeStart: 10000,
    portRangeEnd: 20000,
    agentCpus: undefined,
    agentMemMb: undefined,
    agentDiskMb: undefined,
    killGraceSeconds: 3,
    allocationIntervalMs: 1000,
    isolation: 'auto',
    taskUser: 'nobody',
    taskPidsLimit: 1024,
    logMaxBytes: 10 * 1024 * 1024,
    logKeepFiles: 5,
    fetchCacheBytes: 2 * 1024 ** 3,
    frameworkRoles: {},
    agentAttributes: {},
    agentReservations: {},
    join: [],
    clusterHost: undefined,
    clusterPort: undefined,
    clusterToken: undefined,
    tokenFile: undefined,
    dnsListen: { host: '127.0.0.1', port: 8600 },
    dnsDomain: 'corral',
    // Short: records change within a second of the tasks, and resolvers should not hold them long.
    dnsTtl: 5,
    dnsUpstreams: [],
  };
}

export function loadDaemonConfig(src: ConfigSources): Readonly<DaemonConfig> {
  const env = src.env ?? process.env;
  const cfg: Record<string, unknown> = { ...defaultConfig(src.installed) };
  const layers: Array<Record<string, string | undefined>> = [];

  const dataDirGuess = src.flags.dataDir ?? env.CORRAL_DATA_DIR ?? (cfg.dataDir as string);
  const file = src.flags.config ?? env.CORRAL_CONFIG;
  layers.push(readConfigFile(file ?? join(dataDirGuess, 'config.json'), file !== undefined));
  layers.push(Object.fromEntries(CONFIG_FIELDS.map((f) => [f.key, env[f.env]])));
  layers[layers.length - 1]!.listen = env.CORRAL_LISTEN;
  layers[layers.length - 1]!.portRange = env.CORRAL_PORT_RANGE;
  layers[layers.length - 1]!.roles = env.CORRAL_ROLES;
  layers.push(src.flags as Record<string, string | undefined>);

  for (const layer of layers) {
    for (const f of CONFIG_FIELDS) {
      const raw = layer[f.key];
      if (raw !== undefined) cfg[f.key] = f.parse(String(raw));
    }
    if (layer.listen !== undefined) Object.assign(cfg, parseListen(String(layer.listen)));
    if (layer.portRange !== undefined) Object.assign(cfg, parsePortRange(String(layer.portRange)));
    if (layer.roles !== undefined) cfg.roles = parseRoles(String(layer.roles));
  }
  if (src.roleFlags.length > 0) cfg.roles = [...new Set(src.roleFlags)];
  return Object.freeze(cfg as unknown as DaemonConfig);
}

function readConfigFile(path: string, required: boolean): Record<string, string | undefined> {
  let body: string;
  try {
    body = readFileSync(path, 'utf8');
  } catch (err) {
    if (!required && (err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw errors.config(`cannot read config file ${path}: ${(err as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch (err) {
    throw errors.config(`config file ${path} is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw errors.config(`config file ${path} must hold a JSON object`);
  const known = new Set<string>([...CONFIG_FIELDS.map((f) => f.key), 'listen', 'portRange', 'roles']);
  const out: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(parsed)) {
    if (!known.has(k)) throw errors.config(`config file ${path}: unknown setting '${k}' (known: ${[...known].join(', ')})`);
    out[k] = Array.isArray(v) ? v.join(',') : typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v);
  }
  return out;
}

export function parseListen(raw: string): { listenHost: string; listenPort: number } {
  const m = /^(.*):(\d+)$/.exec(raw);
  if (!m || m[1] === '') throw errors.config(`--listen must be HOST:PORT, got '${raw}'`);
  const host = m[1]!.replace(/^\[(.*)\]$/, '$1');
  return { listenHost: host, listenPort: int('listen port', 0, 65535)(m[2]!) as number };
}

export function parsePortRange(raw: string): { portRangeStart: number; portRangeEnd: number } {
  const m = /^(\d+)-(\d+)$/.exec(raw);
  if (!m) throw errors.config(`port range must be START-END, got '${raw}'`);
  const start = int('port range start', 1, 65535)(m[1]!) as number;
  const end = int('port range end', 1, 65535)(m[2]!) as number;
  if (end < start) throw errors.config(`port range ${raw} ends before it starts`);
  return { portRangeStart: start, portRangeEnd: end };
}

function parseRoles(raw: string): Role[] {
  const names = raw.split(',').map((s) => s.trim()).filter(Boolean);
  for (const n of names) if (!(ROLES as readonly string[]).includes(n)) throw errors.config(`unknown role '${n}' (known: ${ROLES.join(', ')})`);
  return [...new Set(names)] as Role[];
}

export interface FrameworkRoleSettings {
  /** Relative share of the cluster against other roles (DRF weight), default 1. */
  weight?: number;
  /** Upper limit on what the role's frameworks may hold (cpus in cores, mem/disk in MiB). */
  quota?: { cpus?: number; mem?: number; disk?: number };
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function parseJsonObject(what: string, raw: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (err) {
    throw errors.config(`${what} must be a JSON object: ${(err as Error).message}`);
  }
  if (!isObject(parsed)) throw errors.config(`${what} must be a JSON object of role name to settings`);
  return parsed;
}

/** cpus/mem/disk amounts of one role, each a number >= 0; `where` names it in errors. */
function parseScalars(where: string, value: unknown): { cpus?: number; mem?: number; disk?: number } {
  if (!isObject(value)) throw errors.config(`${where} must be an object {cpus, mem, disk}`);
  const out: { cpus?: number; mem?: number; disk?: number } = {};
  for (const [k, v] of Object.entries(value)) {
    if (k !== 'cpus' && k !== 'mem' && k !== 'disk') throw errors.config(`${where}: unknown resource '${k}'`);
    if (typeof v !== 'number' || !(v >= 0)) throw errors.config(`${where}: ${k} must be a number >= 0`);
    out[k] = v;
  }
  return out;
}

function checkRoleName(role: string): void {
  if (!/^[A-Za-z0-9_.*-]{1,64}$/.test(role)) throw errors.config(`role name '${role}' must be 1-64 of A-Z a-z 0-9 _ . - *`);
}

function parseReservations(raw: string): Record<string, { cpus: number; mem: number; disk: number }> {
  const out: Record<string, { cpus: number; mem: number; disk: number }> = {};
  for (const [role, amounts] of Object.entries(parseJsonObject('agent reservations', raw))) {
    checkRoleName(role);
    if (role === '*') throw errors.config("agent reservations: '*' is the unreserved pool and cannot be reserved");
    const r = parseScalars(`agent reservation '${role}'`, amounts);
    out[role] = { cpus: r.cpus ?? 0, mem: r.mem ?? 0, disk: r.disk ?? 0 };
  }
  return out;
}

function parseFrameworkRoles(raw: string): Record<string, FrameworkRoleSettings> {
  const parsed = parseJsonObject('framework roles', raw);
  const out: Record<string, FrameworkRoleSettings> = {};
  for (const [role, settings] of Object.entries(parsed)) {
    checkRoleName(role);
    if (!isObject(settings)) throw errors.config(`framework role '${role}' must be an object {weight, quota}`);
    const { weight, quota, ...unknown } = settings;
    if (Object.keys(unknown).length > 0) throw errors.config(`framework role '${role}': unknown setting '${Object.keys(unknown)[0]}'`);
    if (weight !== undefined && (typeof weight !== 'number' || !(weight > 0))) throw errors.config(`framework role '${role}': weight must be a positive number`);
    const q = quota === undefined ? undefined : parseScalars(`framework role '${role}' quota`, quota);
    out[role] = { ...(weight !== undefined ? { weight } : {}), ...(q !== undefined ? { quota: q } : {}) };
  }
  return out;
}

const ATTRIBUTE_NAME = /^[A-Za-z0-9_.-]+$/;
/** Mesos's characters for a text attribute value. */
const ATTRIBUTE_VALUE = /^[A-Za-z0-9_.\/-]+$/;

/**
 * `rack=r1,zone=a` (flag, environment, or a string or list in the config file), or a JSON object
 * `{"rack": "r1"}` (an object in the config file arrives as JSON).
 */
export function parseAttributes(raw: string): Readonly<Record<string, string>> {
  const trimmed = raw.trim();
  let pairs: Array<[string, unknown]>;
  if (trimmed.startsWith('{')) {
    pairs = Object.entries(parseJsonObject('attributes', trimmed));
  } else {
    if (trimmed === '') throw errors.config('attributes must not be empty: give NAME=VALUE pairs separated by commas, e.g. rack=r1,zone=a');
    pairs = trimmed.split(',').map((part) => {
      const m = /^([^=]*)=([^=]*)$/.exec(part.trim());
      if (!m) throw errors.config(`attribute '${part.trim()}' must be NAME=VALUE (pairs separated by commas, e.g. rack=r1,zone=a)`);
      return [m[1]!, m[2]!];
    });
  }
  const out: Record<string, string> = {};
  for (const [name, value] of pairs) {
    if (!ATTRIBUTE_NAME.test(name)) throw errors.config(`attribute name '${name}' must be 1 or more of A-Z a-z 0-9 _ . -`);
    // Marathon's constraint field 'hostname' is always the agent's hostname: such an attribute could never be used.
    if (name === 'hostname') throw errors.config("attribute name 'hostname' is reserved: constraints on 'hostname' use the agent's --hostname");
    if (Object.hasOwn(out, name)) throw errors.config(`attribute '${name}' is given twice`);
    if (typeof value !== 'string' || !ATTRIBUTE_VALUE.test(value)) throw errors.config(`attribute '${name}' needs a value of 1 or more of A-Z a-z 0-9 _ . / -, got '${String(value)}'`);
    out[name] = value;
  }
  return Object.freeze(out);
}

/** Where the CLI finds the API: CORRAL_URL / CORRAL_TOKEN override what a local data dir says. */
export interface ClientConfigSources {
  url?: string | undefined;
  token?: string | undefined;
  dataDir?: string | undefined;
}

export function clientEnv(env: NodeJS.ProcessEnv = process.env): ClientConfigSources {
  return { url: env.CORRAL_URL, token: env.CORRAL_TOKEN, dataDir: env.CORRAL_DATA_DIR };
}

/** The part of the daemon's environment every task inherits; the rest of it stays private. */
export function taskBaseEnv(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const keep = ['PATH', 'HOME', 'LANG', 'LC_ALL', 'TZ', 'TMPDIR', 'USER', 'LOGNAME', 'SHELL'];
  const out: Record<string, string> = {};
  for (const k of keep) if (env[k] !== undefined) out[k] = env[k]!;
  out.PATH ??= '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
  return out;
}

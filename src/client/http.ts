// The request core of the API client: URL and query building, the bearer token, and turning every
// failure into a CorralError — the server's own code when it sent one, API_UNREACHABLE when no
// answer came back at all.
import { CorralError, ERROR_CATALOGUE, type ErrorCode, type ErrorDetail } from '../shared/errors';

export interface CorralClientOptions {
  /** Base URL of the API, e.g. http://127.0.0.1:5050 (a path prefix is kept). */
  url: string;
  /** Admin bearer token; undefined sends no Authorization header (only /ping works then). */
  token?: string | undefined;
  /** Injected for tests; defaults to the global (undici) fetch. */
  fetch?: typeof fetch;
}

/** Query parameters; an array repeats the parameter (`embed=a&embed=b`). */
export type Query = Record<string, string | number | boolean | readonly string[] | undefined>;

export interface RequestSpec {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  path: string;
  query?: Query;
  body?: unknown;
  accept?: string;
  signal?: AbortSignal | undefined;
}

/** Sends requests to one Corral API; CorralClient adds a method per endpoint. */
export class ApiRequester {
  readonly url: string;
  private readonly token: string | undefined;
  private readonly fetchFn: typeof fetch;

  constructor(opts: CorralClientOptions) {
    let parsed: URL;
    try {
      parsed = new URL(opts.url);
    } catch {
      throw new CorralError('CONFIG_INVALID', `The API URL '${opts.url}' is not a valid URL (expected e.g. http://127.0.0.1:5050).`);
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      throw new CorralError('CONFIG_INVALID', `The API URL '${opts.url}' must start with http:// or https://.`);
    }
    this.url = opts.url.replace(/\/+$/, '');
    this.token = opts.token;
    this.fetchFn = opts.fetch ?? fetch;
  }

  protected async json<T>(spec: RequestSpec): Promise<T> {
    const res = await this.send(spec);
    const text = await res.text();
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new CorralError('INTERNAL', `The API at ${this.url} answered ${spec.method} ${spec.path} with a body that is not JSON: ${snippet(text)}`);
    }
  }

  protected async send(spec: RequestSpec): Promise<Response> {
    const url = new URL(this.url + spec.path);
    for (const [k, v] of Object.entries(spec.query ?? {})) {
      if (Array.isArray(v)) for (const one of v) url.searchParams.append(k, String(one));
      else if (v !== undefined) url.searchParams.set(k, String(v));
    }
    const headers: Record<string, string> = { accept: spec.accept ?? 'application/json' };
    if (this.token !== undefined) headers.authorization = `Bearer ${this.token}`;
    if (spec.body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      const init: RequestInit = { method: spec.method, headers };
      if (spec.body !== undefined) init.body = JSON.stringify(spec.body);
      if (spec.signal) init.signal = spec.signal;
      res = await this.fetchFn(url, init);
    } catch (err) {
      throw unreachable(this.url, err);
    }
    if (!res.ok) throw await errorFromResponse(res, spec);
    return res;
  }
}

/** The code a status implies when the body carries none (a proxy's page, an older server). */
function codeForStatus(status: number): ErrorCode {
  if (status === 401) return 'UNAUTHORIZED';
  if (status === 404) return 'NOT_FOUND';
  if (status === 422) return 'VALIDATION_FAILED';
  return 'INTERNAL';
}

async function errorFromResponse(res: Response, spec: RequestSpec): Promise<CorralError> {
  const text = await res.text().catch(() => '');
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  if (isRecord(body) && typeof body.message === 'string') {
    let code = codeForStatus(res.status);
    if (typeof body.code === 'string') code = Object.hasOwn(ERROR_CATALOGUE, body.code) ? (body.code as ErrorCode) : 'INTERNAL';
    // Marathon's APP_LOCKED names the deployments holding the app.
    const extra = Array.isArray(body.deployments) ? { deployments: body.deployments } : undefined;
    return new CorralError(code, body.message, parseDetails(body.details), extra);
  }
  const what = `${res.status}${res.statusText ? ' ' + res.statusText : ''}`;
  return new CorralError(codeForStatus(res.status), `The API answered ${spec.method} ${spec.path} with HTTP ${what}: ${snippet(text)}`);
}

function parseDetails(raw: unknown): ErrorDetail[] | undefined {
  if (!Array.isArray(raw)) return undefined;
  const out: ErrorDetail[] = [];
  for (const d of raw) {
    if (!isRecord(d) || typeof d.path !== 'string') continue;
    const errs = Array.isArray(d.errors) ? d.errors.map(String) : [];
    out.push({ path: d.path, errors: errs });
  }
  return out.length > 0 ? out : undefined;
}

function unreachable(url: string, err: unknown): CorralError {
  if (isAbort(err)) return new CorralError('API_UNREACHABLE', `The request to the Corral API at ${url} was aborted.`);
  return new CorralError(
    'API_UNREACHABLE',
    `Cannot reach the Corral API at ${url} (${networkCause(err)}). Is a cluster running? ` +
      '`corral up` starts one; --url or CORRAL_URL points the CLI at another.',
  );
}

/** undici wraps the socket error: TypeError('fetch failed', {cause}); the cause may be an AggregateError. */
export function networkCause(err: unknown): string {
  const cause = isRecord(err) && err.cause !== undefined ? err.cause : err;
  if (isRecord(cause)) {
    if (typeof cause.code === 'string') return cause.code;
    const first = Array.isArray(cause.errors) ? (cause.errors[0] as unknown) : undefined;
    if (isRecord(first) && typeof first.code === 'string') return first.code;
    if (typeof cause.message === 'string' && cause.message !== '') return cause.message;
  }
  return String(cause);
}

export function isAbort(err: unknown): boolean {
  return isRecord(err) && (err.name === 'AbortError' || (typeof err.cause === 'object' && isRecord(err.cause) && err.cause.name === 'AbortError'));
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null;
}

function snippet(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  if (flat === '') return '(empty body)';
  return flat.length > 200 ? flat.slice(0, 200) + '…' : flat;
}

// The HTTP shell (fastify): bearer-token auth, JSON parsing with Corral's errors, error mapping by
// code (never by message), request metrics, and route registration. Routes live with their
// subsystems; this module only wires them in.
import { timingSafeEqual } from 'node:crypto';
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import { CorralError, errors, isCorralError } from '../shared/errors';
import type { Logger } from '../shared/logger';
import type { Metrics } from '../shared/metrics';

export interface ApiServerOptions {
  token: string;
  logger: Logger;
  metrics: Metrics;
  /** Each registers its routes on the server. */
  routes: Array<(server: FastifyInstance) => void>;
}

const OPEN_ROUTES = new Set(['/ping']);
const MAX_BODY_BYTES = 8 * 1024 * 1024;

function tokenMatches(header: string | undefined, token: string): boolean {
  const m = /^Bearer (.+)$/.exec(header ?? '');
  if (!m) return false;
  const given = Buffer.from(m[1]!.trim());
  const want = Buffer.from(token);
  return given.length === want.length && timingSafeEqual(given, want);
}

export function createApiServer(opts: ApiServerOptions): FastifyInstance {
  const server = Fastify({ logger: false, bodyLimit: MAX_BODY_BYTES, forceCloseConnections: true });

  // Every body is JSON whatever its Content-Type (curl -d sends form-urlencoded by default).
  server.removeAllContentTypeParsers();
  server.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => {
    const text = String(body);
    if (text.trim() === '') return done(null, undefined);
    try {
      done(null, JSON.parse(text));
    } catch (err) {
      done(errors.invalidJson((err as Error).message), undefined);
    }
  });

  server.addHook('onRequest', async (req) => {
    (req as { startedAt?: bigint }).startedAt = process.hrtime.bigint();
    if (OPEN_ROUTES.has(req.url.split('?')[0]!)) return;
    if (!tokenMatches(req.headers.authorization, opts.token)) throw errors.unauthorized();
  });

  server.addHook('onResponse', async (req, reply) => {
    const started = (req as { startedAt?: bigint }).startedAt;
    if (started === undefined) return;
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    opts.metrics.httpDuration.observe({ method: req.method, route: req.routeOptions.url ?? 'unmatched', status: String(reply.statusCode) }, seconds);
  });

  server.setErrorHandler((err: FastifyError | CorralError, req, reply) => {
    let corral: CorralError;
    if (isCorralError(err)) corral = err;
    else if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') corral = new CorralError('INVALID_REQUEST', `Request body is larger than ${MAX_BODY_BYTES} bytes`);
    else if (typeof err.statusCode === 'number' && err.statusCode < 500) corral = new CorralError('INVALID_REQUEST', err.message);
    else {
      opts.logger.error({ event: 'api_internal_error', err, method: req.method, url: req.url }, 'request failed');
      corral = new CorralError('INTERNAL', 'Internal error; the Corral log has the details');
    }
    if (corral.status >= 500 && corral.code !== 'INTERNAL') opts.logger.warn({ event: 'api_error', code: corral.code, url: req.url }, corral.message);
    void reply.code(corral.status).type('application/json; charset=utf-8').send(corral.toJSON());
  });

  server.setNotFoundHandler((req, reply) => {
    void reply.code(404).send(new CorralError('NOT_FOUND', `No route ${req.method} ${req.url.split('?')[0]}`).toJSON());
  });

  server.get('/ping', async (_req, reply) => reply.type('text/plain; charset=utf-8').send('pong'));
  server.get('/metrics', async (_req, reply) => reply.type(opts.metrics.registry.contentType).send(await opts.metrics.registry.metrics()));

  for (const register of opts.routes) register(server);
  return server;
}

// Chronos's /v1/scheduler API and Corral's native /api/v1/jobs over the job service. Chronos's
// answers keep its shapes (204 on writes, arrays of job JSON, CSV and dot text); the native ones
// return JSON objects with the run history.
import type { FastifyInstance, FastifyReply } from 'fastify';
import { CorralError } from '../shared/errors';
import { chronosJob, chronosSummary, jobStat, lastRunStatus, nativeJob, runJson, runState, type JobView } from './chronos-json';
import type { CronFramework } from './framework';
import { graphCsv, graphDot } from './graph';
import type { JobEntry } from './job-repo';
import type { JobService } from './job-service';

const TEXT = 'text/plain; charset=utf-8';

export interface CronRouteDeps {
  jobs: JobService;
  framework: CronFramework;
  /** This API's base URL (Chronos's /leader). */
  leaderUrl: string;
}

type NameParams = { Params: { name: string } };

function limitOf(raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new CorralError('INVALID_REQUEST', `'${raw}' is not a whole number >= 0`);
  return n;
}

/** `?arguments=a b` (Chronos) or a JSON array in the native body. */
function argumentsOf(raw: unknown, fromQuery = true): string[] | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (typeof raw === 'string' && fromQuery) return raw.split(/\s+/).filter((a) => a !== '');
  if (Array.isArray(raw) && raw.every((a) => typeof a === 'string')) return raw as string[];
  throw new CorralError('VALIDATION_FAILED', 'Object is not valid', [{ path: '/arguments', errors: ['must be an array of strings'] }]);
}

export function registerCronRoutes(server: FastifyInstance, deps: CronRouteDeps): void {
  const { jobs, framework } = deps;
  const view = (entry: JobEntry): JobView => {
    const name = entry.stored.job.name;
    return { entry, stats: framework.stats.get(name), cursor: framework.cursors.get(name), active: framework.activeRunsOf(name) };
  };
  const noContent = (reply: FastifyReply) => reply.code(204).send();

  // ---- Chronos ----
  for (const method of ['POST', 'PUT'] as const) {
    server.route({ method, url: '/v1/scheduler/iso8601', handler: async (req, reply) => (await jobs.upsert(req.body, 'scheduled'), noContent(reply)) });
    server.route({ method, url: '/v1/scheduler/dependency', handler: async (req, reply) => (await jobs.upsert(req.body, 'dependent'), noContent(reply)) });
  }
  server.get('/v1/scheduler/jobs', async () => jobs.list().map((e) => chronosJob(view(e))));
  server.get('/v1/scheduler/jobs/summary', async () => ({ jobs: jobs.list().map((e) => chronosSummary(view(e))) }));
  server.get<{ Querystring: { name?: string; command?: string; any?: string; limit?: string; offset?: string } }>('/v1/scheduler/jobs/search', async (req) => {
    const { name, command, any } = req.query;
    const lower = (s: string | undefined) => s?.toLowerCase();
    const found = jobs.list().filter(({ stored: { job } }) => {
      if (name !== undefined && !job.name.toLowerCase().includes(lower(name)!)) return false;
      if (command !== undefined && !job.command.toLowerCase().includes(lower(command)!)) return false;
      if (any !== undefined && ![job.name, job.command, job.description, job.owner].some((f) => f.toLowerCase().includes(lower(any)!))) return false;
      return true;
    });
    const offset = limitOf(req.query.offset, 0);
    return found.slice(offset, offset + limitOf(req.query.limit, 10)).map((e) => chronosJob(view(e)));
  });
  server.put<NameParams & { Querystring: { arguments?: string } }>('/v1/scheduler/job/:name', async (req, reply) => {
    await jobs.runNow(req.params.name, argumentsOf(req.query.arguments));
    return noContent(reply);
  });
  server.delete<NameParams>('/v1/scheduler/job/:name', async (req, reply) => (await jobs.remove(req.params.name), noContent(reply)));
  server.get<NameParams>('/v1/scheduler/job/stat/:name', async (req) => jobStat(await jobs.runs(req.params.name)));
  server.delete<NameParams>('/v1/scheduler/task/kill/:name', async (req, reply) => (await jobs.kill(req.params.name), noContent(reply)));
  server.get('/v1/scheduler/graph/dot', async (_req, reply) => reply.type(TEXT).send(graphDot(jobs.definitions())));
  server.get('/v1/scheduler/graph/csv', async (_req, reply) =>
    reply.type(TEXT).send(graphCsv(jobs.definitions(), (n) => lastRunStatus(framework.stats.get(n)), (n) => runState(framework.activeRunsOf(n)))),
  );
  server.get('/v1/scheduler/leader', async () => ({ leader: deps.leaderUrl.replace(/^https?:\/\//, '') }));

  // ---- native ----
  server.get('/api/v1/jobs', async () => ({ jobs: jobs.list().map((e) => nativeJob(view(e))) }));
  server.post('/api/v1/jobs', async (req, reply) => {
    const { entry, created } = await jobs.upsert(req.body);
    return reply.code(created ? 201 : 200).send({ job: nativeJob(view(entry)) });
  });
  server.get<NameParams & { Querystring: { limit?: string } }>('/api/v1/jobs/:name', async (req) => {
    const entry = jobs.get(req.params.name);
    return { job: nativeJob(view(entry)), runs: (await jobs.runs(req.params.name)).slice(0, limitOf(req.query.limit, 20)).map(runJson) };
  });
  server.put<NameParams>('/api/v1/jobs/:name', async (req, reply) => {
    const { entry, created } = await jobs.upsert(req.body, 'any', req.params.name);
    return reply.code(created ? 201 : 200).send({ job: nativeJob(view(entry)) });
  });
  server.delete<NameParams>('/api/v1/jobs/:name', async (req) => {
    await jobs.remove(req.params.name);
    return { name: req.params.name, deleted: true };
  });
  server.get<NameParams & { Querystring: { limit?: string } }>('/api/v1/jobs/:name/runs', async (req) => ({
    runs: (await jobs.runs(req.params.name)).slice(0, limitOf(req.query.limit, 100)).map(runJson),
  }));
  server.get<{ Params: { name: string; id: string } }>('/api/v1/jobs/:name/runs/:id', async (req) => ({ run: runJson(await jobs.run(req.params.name, req.params.id)) }));
  server.post<NameParams>('/api/v1/jobs/:name/runs', async (req, reply) => {
    const body = (req.body ?? {}) as { arguments?: unknown };
    const raw = typeof body === 'object' && body !== null ? body.arguments : undefined;
    const run = await jobs.runNow(req.params.name, argumentsOf(raw, false));
    return reply.code(201).send({ run: runJson(run) });
  });
  server.delete<NameParams>('/api/v1/jobs/:name/runs', async (req) => ({ killed: await jobs.kill(req.params.name) }));
}

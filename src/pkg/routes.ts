// Cosmos's package API: POST /package/{search,describe,list-versions,render,install,uninstall,list}
// and /package/repository/{add,list,delete}, with Cosmos's request and response shapes. Every body
// is checked against a schema first (422 VALIDATION_FAILED naming the field); answers carry
// Cosmos's versioned media types, whose JSON any client reads.
import Ajv from 'ajv';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { errors } from '../shared/errors';
import { ajvDetails } from './format';
import type { Repositories } from './repositories';
import type { PackageRequest, PackageService } from './service';

const ajv = new Ajv({ allErrors: true, strict: false });
const name = { type: 'string', minLength: 1 } as const;
const packageRequest = {
  type: 'object',
  required: ['packageName'],
  properties: { packageName: name, packageVersion: { type: 'string', minLength: 1 }, options: { type: 'object' }, appId: { type: 'string' } },
} as const;
const schemas = {
  search: { type: 'object', properties: { query: { type: 'string' } } },
  describe: { type: 'object', required: ['packageName'], properties: { packageName: name, packageVersion: { type: 'string', minLength: 1 } } },
  'list-versions': { type: 'object', required: ['packageName'], properties: { packageName: name, includePackageVersions: { type: 'boolean' } } },
  render: packageRequest,
  install: packageRequest,
  uninstall: { type: 'object', required: ['packageName'], properties: { packageName: name, appId: { type: 'string' }, all: { type: 'boolean' } } },
  list: { type: 'object', properties: { packageName: { type: 'string' }, appId: { type: 'string' } } },
  'repository/list': { type: 'object' },
  'repository/add': {
    type: 'object',
    required: ['name', 'uri'],
    properties: { name: { type: 'string', minLength: 1, pattern: '^[^\\s/]+$' }, uri: { type: 'string', minLength: 1 }, index: { type: 'integer', minimum: 0 } },
  },
  'repository/delete': { type: 'object', properties: { name: name, uri: { type: 'string', minLength: 1 } }, anyOf: [{ required: ['name'] }, { required: ['uri'] }] },
} as const;
type Operation = keyof typeof schemas;
const validators = Object.fromEntries(Object.entries(schemas).map(([op, s]) => [op, ajv.compile(s)])) as Record<Operation, ReturnType<typeof ajv.compile>>;

/** The body of a Cosmos request, checked; an empty body is `{}`. */
function bodyOf<T>(op: Operation, raw: unknown): T {
  const body = raw === undefined || raw === null ? {} : raw;
  if (typeof body !== 'object' || Array.isArray(body)) throw errors.validation([{ path: '/', errors: ['must be a JSON object'] }]);
  const validate = validators[op];
  if (!validate(body)) throw errors.validation(ajvDetails(validate.errors ?? []));
  return body as T;
}

/** Cosmos's media type of each answer (`application/vnd.dcos.package.install-response+json;...`). */
function send(reply: FastifyReply, kind: string, body: unknown): FastifyReply {
  return reply.type(`application/vnd.dcos.${kind}-response+json;charset=utf-8;version=v1`).send(JSON.stringify(body));
}

export function registerPackageRoutes(server: FastifyInstance, packages: PackageService, repositories: Repositories): void {
  server.post('/package/search', async (req, reply) => {
    const { query } = bodyOf<{ query?: string }>('search', req.body);
    return send(reply, 'package.search', { packages: await packages.search(query) });
  });

  server.post('/package/describe', async (req, reply) => {
    const { packageName, packageVersion } = bodyOf<{ packageName: string; packageVersion?: string }>('describe', req.body);
    return send(reply, 'package.describe', { package: await packages.describe(packageName, packageVersion) });
  });

  server.post('/package/list-versions', async (req, reply) => {
    const { packageName } = bodyOf<{ packageName: string }>('list-versions', req.body);
    return send(reply, 'package.list-versions', { results: await packages.listVersions(packageName) });
  });

  server.post('/package/render', async (req, reply) => {
    const { rendered } = await packages.render(bodyOf<PackageRequest>('render', req.body));
    return send(reply, 'package.render', { ...(rendered.marathonJson ? { marathonJson: rendered.marathonJson } : {}), ...(rendered.job ? { chronosJson: rendered.job } : {}) });
  });

  server.post('/package/install', async (req, reply) => {
    const result = await packages.install(bodyOf<PackageRequest>('install', req.body));
    void reply.code(200);
    return send(reply, 'package.install', result);
  });

  server.post('/package/uninstall', async (req, reply) => {
    const body = bodyOf<{ packageName: string; appId?: string; all?: boolean }>('uninstall', req.body);
    return send(reply, 'package.uninstall', { results: await packages.uninstall(body) });
  });

  server.post('/package/list', async (req, reply) => {
    const body = bodyOf<{ packageName?: string; appId?: string }>('list', req.body);
    return send(reply, 'package.list', { packages: await packages.list(body) });
  });

  server.post('/package/repository/list', async (req, reply) => {
    bodyOf('repository/list', req.body);
    return send(reply, 'package.repository.list', { repositories: await repositories.list() });
  });

  server.post('/package/repository/add', async (req, reply) => {
    const { name: repoName, uri, index } = bodyOf<{ name: string; uri: string; index?: number }>('repository/add', req.body);
    return send(reply, 'package.repository.add', { repositories: await repositories.add({ name: repoName, uri }, index) });
  });

  server.post('/package/repository/delete', async (req, reply) => {
    const body = bodyOf<{ name?: string; uri?: string }>('repository/delete', req.body);
    return send(reply, 'package.repository.delete', { repositories: await repositories.remove(body) });
  });
}

// Marathon's /v2/groups: the group tree (with `embed`), and group changes, each ONE deployment
// (POST creates, PUT replaces, `scaleBy`s or rolls back to a `version`, DELETE removes the subtree),
// and the group's kept versions. Group ids contain slashes, so the routes match a wildcard.
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { AppService, ManyChangeResult } from './app-service';
import { canonicalVersion } from './app-versions';
import type { InitController } from './controller';
import { dryRunJson } from './deployment-json';
import { changeOptions, type ChangeQuery } from './deployment-routes';
import type { GroupService } from './group-service';
import { errors } from '../shared/errors';
import { groupTree } from './groups';
import { marathonApp, marathonAppDefinition } from './marathon-json';
import type { StoredApp } from './types';

interface TreeQuery {
  embed?: string | string[];
}

/**
 * `<group>/versions` (the group's kept versions) or `<group>/versions/<ISO 8601 version>` (the group
 * then); undefined for any other path. A group id never ends in `versions` (a reserved last segment).
 */
function versionsPath(raw: string): { group: string; version?: string } | undefined {
  const m = /^(?:(.*)\/)?versions(?:\/([^/]+))?\/?$/.exec(raw);
  if (!m) return undefined;
  if (m[2] === undefined) return { group: m[1] ?? '/' };
  const version = canonicalVersion(decodeURIComponent(m[2]));
  return version === undefined ? undefined : { group: m[1] ?? '/', version };
}

/** Marathon's embed params; none given means `group.apps` and `group.groups`. */
function embedOf(query: TreeQuery) {
  const embed = ([] as string[]).concat(query.embed ?? []);
  if (embed.length === 0) return { apps: true, groups: true, tasks: false, counts: false };
  return {
    apps: embed.some((e) => e.startsWith('group.apps')),
    groups: embed.includes('group.groups'),
    tasks: embed.includes('group.apps.tasks'),
    counts: embed.includes('group.apps.counts'),
  };
}

export function registerGroupRoutes(server: FastifyInstance, groups: GroupService, apps: AppService, controller: InitController): void {
  const tree = async (rawId: string, query: TreeQuery) => {
    const id = groups.normalize(rawId);
    await groups.assertExists(id);
    const embed = embedOf(query);
    const render = (stored: StoredApp): Record<string, unknown> => {
      if (!embed.tasks && !embed.counts) return marathonAppDefinition(stored);
      const app = marathonApp({
        stored,
        tasks: controller.tasksOf(stored.app.id),
        deploymentId: apps.deploymentsOf(stored.app.id)[0],
        lastTaskFailure: undefined,
        embedTasks: embed.tasks,
      });
      if (!embed.counts) for (const k of ['tasksStaged', 'tasksRunning', 'tasksHealthy', 'tasksUnhealthy']) delete app[k];
      return app;
    };
    const list = apps.list().map((s) => ({ id: s.app.id, version: s.version, stored: s }));
    return groupTree(id, list, await groups.explicit(), (a) => render(a.stored), embed);
  };

  /** `{deploymentId, version}` with the deployment header, or the plan of a dry run. */
  const answer = (reply: FastifyReply, result: ManyChangeResult) => {
    if (result.dryRun) return dryRunJson(result.plan, {});
    void reply.header('Marathon-Deployment-Id', result.deploymentId);
    return { deploymentId: result.deploymentId, version: result.version };
  };

  /** Marathon's `GET /v2/groups/{id}/versions`: a JSON array, newest first; `/versions/{version}` the group then. */
  const history = async (path: { group: string; version?: string }) => {
    const id = groups.normalize(path.group);
    if (path.version === undefined) {
      const versions = await groups.versions.versions(id);
      if (versions.length === 0) await groups.assertExists(id);
      return versions;
    }
    const kept = await groups.versions.get(id, path.version);
    if (!kept) throw errors.groupVersionNotFound(id, path.version);
    const list = kept.apps.map((stored) => ({ id: stored.app.id, version: stored.version, stored }));
    return groupTree(id, list, kept.groups, (a) => marathonAppDefinition(a.stored), { apps: true, groups: true });
  };

  server.get<{ Querystring: TreeQuery }>('/v2/groups', async (req) => tree('/', req.query));
  server.get<{ Params: { '*': string }; Querystring: TreeQuery }>('/v2/groups/*', async (req) => {
    const versions = versionsPath(req.params['*']);
    return versions ? history(versions) : tree(req.params['*'], req.query);
  });

  const create = async (base: string, body: unknown, query: ChangeQuery, reply: FastifyReply) => {
    const result = await groups.create(body, groups.normalize(base), changeOptions(query));
    if (result.dryRun) return dryRunJson(result.plan, {});
    void reply.code(201).header('Location', `/v2/groups${result.groupId === '/' ? '' : result.groupId}`);
    return answer(reply, result);
  };
  server.post<{ Querystring: ChangeQuery }>('/v2/groups', async (req, reply) => create('/', req.body, req.query, reply));
  server.post<{ Params: { '*': string }; Querystring: ChangeQuery }>('/v2/groups/*', async (req, reply) => create(req.params['*'], req.body, req.query, reply));

  const update = async (rawId: string, body: unknown, query: ChangeQuery, reply: FastifyReply) => answer(reply, await groups.update(groups.normalize(rawId), body, changeOptions(query)));
  server.put<{ Querystring: ChangeQuery }>('/v2/groups', async (req, reply) => update('/', req.body, req.query, reply));
  server.put<{ Params: { '*': string }; Querystring: ChangeQuery }>('/v2/groups/*', async (req, reply) => update(req.params['*'], req.body, req.query, reply));

  const remove = async (rawId: string, query: ChangeQuery, reply: FastifyReply) => answer(reply, await groups.remove(groups.normalize(rawId), changeOptions(query)));
  server.delete<{ Querystring: ChangeQuery }>('/v2/groups', async (req, reply) => remove('/', req.query, reply));
  server.delete<{ Params: { '*': string }; Querystring: ChangeQuery }>('/v2/groups/*', async (req, reply) => remove(req.params['*'], req.query, reply));
}

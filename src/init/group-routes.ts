// Marathon's /v2/groups: the group tree (with `embed`), and group changes, each ONE deployment
// (POST creates, PUT replaces or `scaleBy`, DELETE removes the subtree). Group ids contain slashes,
// so the routes match a wildcard.
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { AppService, ManyChangeResult } from './app-service';
import type { InitController } from './controller';
import { dryRunJson } from './deployment-json';
import { changeOptions, type ChangeQuery } from './deployment-routes';
import type { GroupService } from './group-service';
import { groupTree } from './groups';
import { marathonApp, marathonAppDefinition } from './marathon-json';
import type { StoredApp } from './types';

interface TreeQuery {
  embed?: string | string[];
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

  server.get<{ Querystring: TreeQuery }>('/v2/groups', async (req) => tree('/', req.query));
  server.get<{ Params: { '*': string }; Querystring: TreeQuery }>('/v2/groups/*', async (req) => tree(req.params['*'], req.query));

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

// Marathon's /v2 routes over the init framework. App ids contain slashes, so app routes match a
// wildcard and split off a trailing `/tasks` or `/versions[/{version}]` (version-routes.ts) themselves.
import type { FastifyInstance, FastifyReply } from 'fastify';
import { CorralError } from '../shared/errors';
import type { AppService } from './app-service';
import type { AppVersions } from './app-versions';
import type { InitController } from './controller';
import { dryRunJson } from './deployment-json';
import { changeOptions, dryRunAnswer, type ChangeQuery } from './deployment-routes';
import { marathonApp, marathonAppDefinition, marathonAppJson, marathonTask, marathonTaskJson, marathonTasksText } from './marathon-json';
import type { StoredApp } from './types';
import { answerVersionsRequest, versionsRequest } from './version-routes';
import { JoinedBodies } from './joined-body';

/** What fastify sends for a returned object. */
const JSON_TYPE = 'application/json; charset=utf-8';

export interface MarathonInfo {
  version: string;
  leaderUrl: string;
  frameworkId: () => string | undefined;
}

export function registerMarathonRoutes(server: FastifyInstance, apps: AppService, controller: InitController, info: MarathonInfo, versions: AppVersions): void {
  const appJson = (stored: StoredApp, embedTasks: boolean) =>
    marathonApp({
      stored,
      tasks: controller.tasksOf(stored.app.id),
      // One deployment per app at most: a forced change supersedes the one in progress.
      deploymentId: apps.deploymentsOf(stored.app.id)[0],
      lastTaskFailure: controller.lastFailure(stored.app.id),
      embedTasks,
    });

  // The two list routes send JSON text joined from per-object caches (marathon-json.ts): the same
  // bytes as returning the objects, at 2,000 apps and 50,000 tasks without building 20 MB of objects;
  // the joined bytes are reused while no part changed (joined-body.ts).
  const appBodies = new JoinedBodies('{"apps":[', ']}');
  const taskBodies = new JoinedBodies('{"tasks":[', ']}');
  server.get<{ Querystring: { id?: string; embed?: string | string[]; cmd?: string } }>('/v2/apps', async (req, reply) => {
    const embed = ([] as string[]).concat(req.query.embed ?? []);
    const embedTasks = embed.includes('apps.tasks') || embed.includes('app.tasks');
    const build = () =>
      apps
        .list()
        .filter((s) => (!req.query.id || s.app.id.includes(req.query.id)) && (!req.query.cmd || (s.app.cmd ?? '').includes(req.query.cmd)))
        .map((stored) => marathonAppJson({ stored, tasks: controller.tasksOf(stored.app.id), deploymentId: apps.deploymentsOf(stored.app.id)[0], lastTaskFailure: controller.lastFailure(stored.app.id), embedTasks }));
    // Apps show their deployment: the ones in progress are part of what the body is built from.
    const stamp = `${controller.stateVersion}:${apps.deployments.list().map((d) => d.plan.id).join(',')}`;
    return reply.type(JSON_TYPE).send(appBodies.bytes(JSON.stringify([req.query.id, req.query.cmd, embedTasks]), stamp, build));
  });

  server.post<{ Querystring: ChangeQuery }>('/v2/apps', async (req, reply) => {
    const result = await apps.create(req.body, changeOptions(req.query));
    const { stored, deploymentId } = result;
    if (result.dryRun) return dryRunAnswer(result, marathonAppDefinition(stored));
    void reply.code(201).header('Location', `/v2/apps${stored.app.id}`).header('Marathon-Deployment-Id', deploymentId);
    return { ...appJson(stored, false), deployments: [{ id: deploymentId }] };
  });

  server.get<{ Params: { '*': string }; Querystring: { status?: string } }>('/v2/apps/*', async (req, reply) => {
    const path = req.params['*'];
    const versionsReq = versionsRequest(path);
    if (versionsReq) return answerVersionsRequest(versionsReq, versions);
    if (path.endsWith('/tasks') || path === 'tasks') {
      const stored = apps.get(path.replace(/\/?tasks$/, ''));
      const tasks = controller.tasksOf(stored.app.id);
      if (String(req.headers.accept ?? '').includes('text/plain')) {
        return reply.type('text/plain; charset=utf-8').send(marathonTasksText(stored.app.id, stored.app.portDefinitions.map((p) => p.port), tasks));
      }
      return { tasks: tasks.map(marathonTask) };
    }
    return { app: appJson(apps.get(path), true) };
  });

  // Marathon's bulk update: every app of the array in one deployment.
  server.put<{ Querystring: { partialUpdate?: string } & ChangeQuery }>('/v2/apps', async (req, reply) => {
    const result = await apps.updateMany(req.body, req.query.partialUpdate !== 'false', changeOptions(req.query));
    if (result.dryRun) return dryRunJson(result.plan, {});
    void reply.header('Marathon-Deployment-Id', result.deploymentId);
    return { deploymentId: result.deploymentId, version: result.version };
  });

  // PATCH is PUT with partialUpdate, whatever the query says (Marathon 1.6+).
  const updateApp = async (id: string, body: unknown, partial: boolean, query: ChangeQuery, reply: FastifyReply) => {
    const result = await apps.update(id, body, partial, changeOptions(query));
    const { stored, deploymentId, created } = result;
    if (result.dryRun) return dryRunAnswer(result, marathonAppDefinition(stored));
    if (created) {
      void reply.code(201).header('Location', `/v2/apps${stored.app.id}`).header('Marathon-Deployment-Id', deploymentId);
      return { ...appJson(stored, false), deployments: [{ id: deploymentId }] };
    }
    void reply.header('Marathon-Deployment-Id', deploymentId);
    return { deploymentId, version: stored.version };
  };
  server.put<{ Params: { '*': string }; Querystring: { partialUpdate?: string } & ChangeQuery }>('/v2/apps/*', async (req, reply) =>
    updateApp(req.params['*'], req.body, req.query.partialUpdate !== 'false', req.query, reply),
  );
  server.patch<{ Params: { '*': string }; Querystring: ChangeQuery }>('/v2/apps/*', async (req, reply) => updateApp(req.params['*'], req.body, true, req.query, reply));

  server.delete<{ Params: { '*': string }; Querystring: ChangeQuery }>('/v2/apps/*', async (req, reply) => {
    const { deploymentId, plan } = await apps.remove(req.params['*'], { ...changeOptions(req.query), dryRun: false });
    void reply.header('Marathon-Deployment-Id', deploymentId);
    return { deploymentId, version: plan.version };
  });

  // Marathon's restart: every instance is replaced, by the app's upgradeStrategy.
  server.post<{ Params: { '*': string }; Querystring: ChangeQuery }>('/v2/apps/*', async (req, reply) => {
    const path = req.params['*'];
    if (!/(^|\/)restart$/.test(path)) throw new CorralError('NOT_FOUND', `No route POST /v2/apps/${path}`);
    const result = await apps.restart(path.replace(/\/?restart$/, ''), changeOptions(req.query));
    if (result.dryRun) return dryRunAnswer(result, marathonAppDefinition(result.stored));
    void reply.header('Marathon-Deployment-Id', result.deploymentId);
    return { deploymentId: result.deploymentId, version: result.stored.version };
  });

  server.get<{ Querystring: { status?: string } }>('/v2/tasks', async (req, reply) => {
    const wanted = req.query.status ? `TASK_${req.query.status.toUpperCase()}` : undefined;
    if (wanted && !/^TASK_[A-Z_]+$/.test(wanted)) throw new CorralError('INVALID_REQUEST', `Unknown task status '${req.query.status}'`);
    const build = () => controller.allTasks().filter((t) => !wanted || t.state === wanted).map(marathonTaskJson);
    return reply.type(JSON_TYPE).send(taskBodies.bytes(wanted ?? '', String(controller.stateVersion), build));
  });

  server.get('/v2/info', async () => ({
    name: 'corral',
    version: info.version,
    buildref: info.version,
    elected: true,
    leader: info.leaderUrl.replace(/^https?:\/\//, ''),
    frameworkId: info.frameworkId(),
    marathon_config: { master: 'in-process', framework_name: 'corral-init', local_port_min: 10000, local_port_max: 20000, task_launch_timeout: 300000 },
    zookeeper_config: null,
    http_config: { http_port: Number(new URL(info.leaderUrl).port) || 80 },
  }));
}


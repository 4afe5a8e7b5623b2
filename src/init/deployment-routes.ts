// Marathon's /v2/deployments (list; DELETE rolls back, ?force=true only stops), Corral's
// /api/v1/deployments/{id} (a deployment in progress or recently finished, with how it ended), and
// the query options every app change takes (?force, ?dryRun, ?deadlineSeconds).
import type { FastifyInstance } from 'fastify';
import { CorralError, errors } from '../shared/errors';
import type { AppService, ChangeOptions, ChangeResult } from './app-service';
import { dryRunJson, marathonDeployment, nativeDeployment, type ReadinessOf } from './deployment-json';
import type { Deployments } from './deployments';
import { upgradeStrategyOf } from './app';
import { upgradeBounds } from './rolling';

export interface ChangeQuery {
  force?: string;
  dryRun?: string;
  deadlineSeconds?: string;
}

/** `?force=true`, `?dryRun=true` and Corral's `?deadlineSeconds=N` (a deadline for this change only). */
export function changeOptions(query: ChangeQuery): ChangeOptions {
  const opts: ChangeOptions = { force: query.force === 'true', dryRun: query.dryRun === 'true' };
  if (query.deadlineSeconds !== undefined) {
    const seconds = Number(query.deadlineSeconds);
    if (!Number.isFinite(seconds) || seconds <= 0) throw new CorralError('INVALID_REQUEST', `deadlineSeconds must be a number of seconds > 0, not '${query.deadlineSeconds}'`);
    opts.deadlineSeconds = seconds;
  }
  return opts;
}

/**
 * The answer of a dry run: the steps, the app as it would be, and for each restarted app the bounds
 * its rolling upgrade keeps (healthy floor, total ceiling).
 */
export function dryRunAnswer(result: ChangeResult, app: Record<string, unknown>): Record<string, unknown> {
  const rolling = result.plan.steps
    .flatMap((s) => s.actions)
    .filter((a) => a.action === 'RestartApplication')
    .map((a) => {
      const target = result.plan.changes.find((c) => c.appId === a.app)!.target!;
      const bounds = upgradeBounds(target.app.instances, upgradeStrategyOf(target.app));
      return { app: a.app, instances: target.app.instances, minimumHealthy: bounds.minHealthy, maximumTotal: bounds.maxTotal, deadlineSeconds: target.app.upgradeStrategy?.deadlineSeconds ?? null };
    });
  return dryRunJson(result.plan, { app, rolling });
}

export function registerDeploymentRoutes(server: FastifyInstance, apps: AppService, deployments: Deployments, readiness?: ReadinessOf): void {
  server.get('/v2/deployments', async () => deployments.list().map((d) => marathonDeployment(d, readiness)));

  server.delete<{ Params: { id: string }; Querystring: { force?: string } }>('/v2/deployments/:id', async (req, reply) => {
    if (req.query.force === 'true') {
      await apps.rollback(req.params.id, { force: true });
      return reply.code(202).send();
    }
    const rolledBack = (await apps.rollback(req.params.id))!;
    void reply.header('Marathon-Deployment-Id', rolledBack.deploymentId);
    return rolledBack;
  });

  server.get<{ Params: { id: string } }>('/api/v1/deployments/:id', async (req) => {
    const d = deployments.find(req.params.id);
    if (!d) throw errors.deploymentNotFound(req.params.id);
    return { deployment: nativeDeployment(d, readiness) };
  });
}

// `POST /v2/tasks/delete?scale=&force=&wipe=` with `{"ids": [...]}`: Marathon's bulk kill. Ids init
// does not know are ignored, as in Marathon. Without scale init replaces the killed instances and the
// answer is `{"tasks": [task]}`; with `scale=true` each app's instance count drops by the number of
// its tasks killed and the answer is the deployment, `{"deploymentId", "version"}`.
import type { FastifyInstance } from 'fastify';
import { CorralError, errors } from '../shared/errors';
import { marathonTask } from './marathon-json';
import type { AppTask } from './types';

/** How init's instances are killed (instance-killer.ts has init's). */
export interface InstanceKiller {
  /** Init's tasks among these ids (those it does not know are left out). */
  known(taskIds: readonly string[]): AppTask[];
  /** Kills the tasks; init replaces them as it replaces any instance that ends. */
  kill(tasks: readonly AppTask[]): void;
  /** Kills the tasks and lowers their apps' instance counts by as many (Marathon's killAndScale). */
  killAndScale(tasks: readonly AppTask[], force: boolean): Promise<{ deploymentId: string; version: string }>;
}

/** Marathon reads anything but `true` as false; Corral refuses what is neither rather than guess. */
const flag = (name: string, value: string | undefined): boolean => {
  const v = value?.toLowerCase();
  if (v === undefined || v === 'false') return false;
  if (v === 'true') return true;
  throw new CorralError('INVALID_REQUEST', `${name} must be true or false, got '${value}'`);
};

function taskIds(body: unknown): string[] {
  const ids = (body as { ids?: unknown } | undefined)?.ids;
  if (!Array.isArray(ids) || !ids.every((id) => typeof id === 'string')) throw errors.validation([{ path: '/ids', errors: ['must be an array of task ids'] }]);
  return ids as string[];
}

export function registerTaskKillRoutes(server: FastifyInstance, killer: InstanceKiller): void {
  server.post<{ Querystring: { scale?: string; force?: string; wipe?: string } }>('/v2/tasks/delete', async (req) => {
    const scale = flag('scale', req.query.scale);
    const force = flag('force', req.query.force);
    // Marathon's wipe also forgets resident instances' reservations; Corral has none, so it is a plain kill.
    const wipe = flag('wipe', req.query.wipe);
    if (scale && wipe) throw new CorralError('INVALID_REQUEST', 'You cannot use scale and wipe at the same time.');
    const tasks = killer.known(taskIds(req.body));
    if (scale) return killer.killAndScale(tasks, force);
    const shown = tasks.map(marathonTask);
    killer.kill(tasks);
    return { tasks: shown };
  });
}

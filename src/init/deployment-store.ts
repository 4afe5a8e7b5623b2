// Deployments in progress, kept in the store so a restart of `corral up` resumes them: they still
// lock their apps, still roll back at their deadline, can still be rolled back by hand, and end with
// Marathon's deployment_success once their apps converge. Writes are queued in order and never
// block the runner; a failed write is logged (the apps themselves are already stored).
import type { Logger } from '../shared/logger';
import type { JsonValue, Store } from '../store/types';
import type { DeploymentState } from './deployment-json';
import type { DeploymentPlan } from './types';

const PREFIX = '/init/deployments/';

/** What a deployment in progress keeps in the store. */
export interface PersistedDeployment {
  plan: DeploymentPlan;
  step: number;
  startedAt: number;
  deadline: number | null;
  rollbackOf: string | null;
}

export class DeploymentStore {
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: Store,
    private readonly logger: Logger,
  ) {}

  /** Records the deployment (again, after a step). */
  save(d: DeploymentState): void {
    const value: PersistedDeployment = { plan: d.plan, step: d.step, startedAt: d.startedAt, deadline: d.deadline ?? null, rollbackOf: d.rollbackOf ?? null };
    this.enqueue(d.plan.id, () => this.store.put(PREFIX + d.plan.id, value as unknown as JsonValue));
  }

  /** Forgets a finished deployment. */
  remove(id: string): void {
    this.enqueue(id, () => this.store.delete(PREFIX + id));
  }

  async load(): Promise<PersistedDeployment[]> {
    return (await this.store.list<PersistedDeployment>(PREFIX)).map((e) => e.value);
  }

  /** Resolves once every queued write is done (tests, shutdown). */
  flushed(): Promise<void> {
    return this.queue;
  }

  private enqueue(id: string, write: () => Promise<unknown>): void {
    this.queue = this.queue.then(write).then(
      () => undefined,
      (err: unknown) => this.logger.error({ event: 'deployment_store_failed', id, err }, 'could not record a deployment; it will not survive a restart'),
    );
  }
}

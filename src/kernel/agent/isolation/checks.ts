// Argument checks shared by the backends: a task id becomes a cgroup directory name, and the
// parent option a relative path under each hierarchy, so neither may climb out.
import { CorralError } from '../../../shared/errors';
import { invalidTaskIdReason } from '../sandbox';
import { invalidLimitsReason } from './formats';
import type { ContainerLimits } from './types';

export function checkTask(taskId: string, limits: ContainerLimits): void {
  const reason = invalidTaskIdReason(taskId) ?? invalidLimitsReason(limits);
  if (reason) throw new CorralError('INVALID_REQUEST', reason);
}

/** The parent cgroup path, checked: relative, non-empty, no `.` or `..` components. */
export function validParent(parent: string): string {
  const parts = parent.split('/').filter((p) => p !== '');
  if (parent.startsWith('/') || parts.length === 0 || parts.some((p) => p === '.' || p === '..')) {
    throw new CorralError('CONFIG_INVALID', `The cgroup parent must be a relative path like 'corral', got '${parent}'`);
  }
  return parts.join('/');
}

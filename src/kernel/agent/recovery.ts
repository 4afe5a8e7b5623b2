// What a restarted agent does with the tasks of its earlier run, before it registers with the
// master: every checkpointed task whose supervisor still runs (same pid, same start time) is
// re-adopted; one whose supervisor is gone is reported with the exit status the supervisor
// recorded (TASK_LOST when there is none); unacknowledged updates are sent again with their
// original uuids; containers no checkpoint knows are killed and removed. The decision per task is
// the pure planRecovery; recoverTasks is the shell around it.
import type { Logger } from '../../shared/logger';
import { isTerminal, type TaskStatus } from '../types';
import type { CheckpointStore, RecoveredCheckpoint, TaskCheckpoint } from './checkpoint';
import type { Isolator } from './isolation/types';
import { reapContainer } from './reaping';
import { isSameProcessAlive } from './supervisor';
import type { TaskRun } from './task-run';

export type RecoveryPlan =
  /** The task ended and its end is known upstream of us; only unacknowledged updates remain. */
  | { action: 'resend' }
  /** Nothing left to say: the terminal update was acknowledged before the checkpoint was removed. */
  | { action: 'forget' }
  | { action: 'adopt' }
  /** The supervisor is gone; `exit_status` says how the task ended. */
  | { action: 'report-exit' }
  | { action: 'lost'; message: string };

export function planRecovery(rc: Pick<RecoveredCheckpoint, 'saved' | 'statuses' | 'exitStatus'>, supervisorAlive: boolean): RecoveryPlan {
  const latest = rc.statuses?.latest;
  if (latest && isTerminal(latest.state)) return rc.statuses!.pending.length > 0 ? { action: 'resend' } : { action: 'forget' };
  if (supervisorAlive) return { action: 'adopt' };
  if (rc.exitStatus !== undefined) return { action: 'report-exit' };
  if (!rc.saved.supervisor) return { action: 'lost', message: 'The agent restarted before the task was started' };
  return { action: 'lost', message: "The agent restarted and found the task's supervisor gone without a recorded exit status" };
}

export interface RecoveryHost {
  checkpoints: CheckpointStore;
  isolator: Isolator;
  logger: Logger;
  /** Tracks a checkpointed task again with its latest status; returns its run. */
  restore(saved: TaskCheckpoint, latest: TaskStatus): TaskRun;
  /** Queues and sends unacknowledged updates again. */
  resend(pending: TaskStatus[]): void;
}

export interface RecoveryReport {
  adopted: number;
  reported: number;
  lost: number;
  resent: number;
  leftoversKilled: number;
}

const LEFTOVER_LIMITS = { cpus: 1, memMb: 1, pids: 1 };

export async function recoverTasks(host: RecoveryHost): Promise<RecoveryReport> {
  const report: RecoveryReport = { adopted: 0, reported: 0, lost: 0, resent: 0, leftoversKilled: 0 };
  const known = new Set<string>();
  const work: Array<Promise<void>> = [];
  for (const taskId of host.checkpoints.list()) {
    let rc: RecoveredCheckpoint;
    try {
      rc = host.checkpoints.load(taskId);
    } catch (err) {
      // Unreadable: its container, if any, is removed below as a leftover.
      host.logger.error({ event: 'agent_checkpoint_unreadable', taskId, err }, 'task checkpoint cannot be read; task dropped');
      host.checkpoints.remove(taskId);
      continue;
    }
    const { saved } = rc;
    const alive = saved.supervisor !== undefined && isSameProcessAlive(saved.supervisor.pid, saved.supervisor.startTime);
    const plan = planRecovery(rc, alive);
    host.logger.info({ event: 'agent_task_recovery', taskId, action: plan.action, supervisorPid: saved.supervisor?.pid }, 'recovering task');
    if (plan.action === 'forget') {
      host.checkpoints.remove(taskId);
      continue;
    }
    host.checkpoints.adopt(taskId);
    const latest = rc.statuses?.latest ?? staging(saved);
    const run = host.restore(saved, latest);
    const pending = rc.statuses?.pending ?? [];
    host.resend(pending);
    report.resent += pending.length;
    if (plan.action === 'resend') continue;
    known.add(taskId);
    const taskPid = saved.taskPid ?? rc.taskPid;
    work.push(
      host.isolator.recover(taskId, saved.limits, taskPid).then(async (container) => {
        if (plan.action === 'adopt') {
          report.adopted++;
          run.adopt(container, saved.supervisor!, taskPid, latest.state === 'TASK_RUNNING' || latest.state === 'TASK_KILLING');
          return;
        }
        run.container = container;
        run.taskPid = taskPid;
        if (plan.action === 'lost') report.lost++;
        else report.reported++;
        await run.finish(plan.action === 'lost' ? plan.message : undefined);
      }),
    );
  }
  await Promise.all(work.map((w) => w.catch((err) => host.logger.error({ event: 'agent_task_recovery_failed', err }, 'task recovery failed'))));
  for (const taskId of await host.isolator.leftovers()) {
    if (known.has(taskId)) continue;
    host.logger.warn({ event: 'agent_leftover_container', taskId }, 'removing a container no checkpoint knows');
    try {
      await reapContainer(await host.isolator.recover(taskId, LEFTOVER_LIMITS, undefined), undefined, host.logger);
      report.leftoversKilled++;
    } catch (err) {
      host.logger.error({ event: 'agent_leftover_container_failed', taskId, err }, 'leftover container could not be removed');
    }
  }
  return report;
}

function staging(saved: TaskCheckpoint): TaskStatus {
  const { taskId, agentId, frameworkId } = saved.task;
  return { taskId, agentId, frameworkId, state: 'TASK_STAGING', source: 'SOURCE_AGENT', timestamp: 0 };
}

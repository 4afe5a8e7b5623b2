// What survives kill -9 of the agent, per task, under `<dataDir>/meta/tasks/<taskId>/`:
//
//   task.json    the TaskInfo, its user, container limits and sandbox (written once at launch;
//                rewritten only when the journal is compacted)
//   journal      the durable outbox, one JSON line per event, appended: {"p": status, "s": state}
//                before an update is sent (with the task's current pids, start time and kill
//                request), {"a": uuid} when one is acknowledged
//   supervisor   the supervisor's pid and start time (written by the supervisor before the task
//                starts, so no task runs without it)
//   task.pid     the task's pid (written by the supervisor)
//   exit_status  the task's `$?` (one line written by the supervisor; torn or empty = none)
//
// Appends, not rewrites: replacing a file by rename costs 0.2–2 ms on ext4 (it starts writeback),
// and a launch of 1,000 tasks writes four times per task (STARTING, RUNNING, and their acks). One
// append is one write(2) of a short line, which a killed agent either made or did not; a torn last
// line is ignored. After COMPACT_AFTER appends the state is folded into task.json (tmp + rename)
// and the journal starts over; replaying a journal over the state it was folded into changes
// nothing (posts are recognised by uuid), so a crash between the two steps is harmless.
// There is no fsync: the page cache survives the agent's death; a machine crash ends the tasks too.
// The directory goes once the terminal update is acknowledged: renamed into the trash at once
// (checkpoint-trash.ts), removed from there off the event loop.
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readJournal, readNumberFile, writeAtomically } from './checkpoint-files';
import { CheckpointTrash } from './checkpoint-trash';
import type { TaskInfo, TaskStatus } from '../types';
import type { ContainerLimits } from './isolation/types';
import type { TaskUser } from './users';

/** Journal lines after which the state is folded into task.json. */
const COMPACT_AFTER = 64;

/** What changes about a task after its launch (journaled with every update). */
export interface TaskRunState {
  supervisor?: { pid: number; startTime: number };
  taskPid?: number;
  /** When the task reached TASK_RUNNING (ms since epoch); health grace periods count from it. */
  runningAt?: number;
  killRequested?: boolean;
}

/** The journaled part of a checkpoint. */
export function runState(saved: TaskRunState): TaskRunState {
  const { supervisor, taskPid, runningAt, killRequested } = saved;
  return { supervisor, taskPid, runningAt, killRequested };
}

export interface TaskCheckpoint extends TaskRunState {
  task: TaskInfo;
  user: TaskUser;
  /** Whether the launcher switches to `user` (the agent is root). */
  switchUser: boolean;
  limits: ContainerLimits;
  sandbox: string;
}

export interface StatusCheckpoint {
  latest: TaskStatus;
  pending: TaskStatus[];
}

/** task.json: the task's checkpoint and, after a compaction, its statuses. */
type TaskFile = TaskCheckpoint & { statuses?: StatusCheckpoint };

type JournalLine = { p: TaskStatus; s: TaskRunState } | { a: string };

/** Everything recovery needs to know about one task. */
export interface RecoveredCheckpoint {
  taskId: string;
  saved: TaskCheckpoint;
  statuses: StatusCheckpoint | undefined;
  /** From the supervisor's task.pid, when it got that far. */
  taskPid: number | undefined;
  exitStatus: number | undefined;
}

export class CheckpointStore {
  readonly root: string;
  /** Journal lines since the last compaction, per task this store writes. */
  private readonly appended = new Map<string, number>();
  private readonly trash: CheckpointTrash;

  constructor(dataDir: string) {
    this.root = join(dataDir, 'meta', 'tasks');
    this.trash = new CheckpointTrash(join(dataDir, 'meta', 'trash'));
  }

  dir(taskId: string): string {
    return join(this.root, taskId);
  }

  /** A checkpoint exists (also one of an earlier run not yet recovered). */
  has(taskId: string): boolean {
    return this.appended.has(taskId) || existsSync(this.dir(taskId));
  }

  /** Starts a task's checkpoint afresh: a relaunch of an ended id keeps nothing of the old run. */
  create(taskId: string, saved: TaskCheckpoint): void {
    const dir = this.dir(taskId);
    this.makeFreshDir(dir);
    // Written in place: until it is complete no supervisor exists, so recovery may drop a torn one.
    writeFileSync(join(dir, 'task.json'), JSON.stringify(saved), { mode: 0o600 });
    this.appended.set(taskId, 0);
  }

  /**
   * An empty directory for a task: one mkdir in the usual case; an old one (a relaunch of an id
   * whose checkpoint was left behind) goes to the trash first.
   */
  private makeFreshDir(dir: string): void {
    try {
      mkdirSync(dir, { mode: 0o700 });
      return;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') this.trash.discard(dir);
      else if (code === 'ENOENT') mkdirSync(this.root, { recursive: true, mode: 0o700 });
      else throw err;
    }
    mkdirSync(dir, { mode: 0o700 });
  }

  /** Continues the journal of a task recovered from disk. */
  adopt(taskId: string): void {
    this.appended.set(taskId, COMPACT_AFTER);
  }

  /** Journals an update before it is sent, with the task's state now. No-op for tasks it does not track. */
  posted(status: TaskStatus, state: TaskRunState): void {
    this.append(status.taskId, { p: status, s: state });
  }

  acknowledged(taskId: string, uuid: string): void {
    this.append(taskId, { a: uuid });
  }

  /** Whether the journal should be folded into task.json (see compact). */
  wantsCompaction(taskId: string): boolean {
    return (this.appended.get(taskId) ?? 0) >= COMPACT_AFTER;
  }

  /** Folds the task's current state into task.json and starts an empty journal. */
  compact(taskId: string, saved: TaskCheckpoint, statuses: StatusCheckpoint): void {
    if (!this.appended.has(taskId)) return;
    writeAtomically(join(this.dir(taskId), 'task.json'), JSON.stringify({ ...saved, statuses }));
    rmSync(join(this.dir(taskId), 'journal'), { force: true });
    this.appended.set(taskId, 0);
  }

  /** Retires a task's checkpoint: gone from `meta/tasks` at once, its files removed in the background. */
  remove(taskId: string): void {
    this.appended.delete(taskId);
    this.trash.discard(this.dir(taskId));
  }

  /** Removes, in the background, what an earlier run left in the trash. */
  sweepTrash(): void {
    this.trash.sweepLeftovers();
  }

  /** Resolves once every retired checkpoint is removed from disk. */
  settled(): Promise<void> {
    return this.trash.settled();
  }

  exitStatus(taskId: string): number | undefined {
    return readNumberFile(join(this.dir(taskId), 'exit_status'));
  }

  taskPid(taskId: string): number | undefined {
    return readNumberFile(join(this.dir(taskId), 'task.pid'));
  }

  /** When the task's program was exec'd (ms), as the native launcher's task side recorded it in `running`. */
  runningAt(taskId: string): number | undefined {
    return readNumberFile(join(this.dir(taskId), 'running'));
  }

  /** What the supervisor wrote about itself: `<pid> <start time>`. */
  supervisor(taskId: string): { pid: number; startTime: number } | undefined {
    let text: string;
    try {
      text = readFileSync(join(this.dir(taskId), 'supervisor'), 'utf8');
    } catch {
      return undefined;
    }
    const m = /^(\d+) (\d+)\n$/.exec(text);
    return m ? { pid: Number(m[1]), startTime: Number(m[2]) } : undefined;
  }

  /** Ids of every checkpointed task. */
  list(): string[] {
    try {
      return readdirSync(this.root);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
  }

  /** Reads one task's checkpoint (task.json, then the journal replayed); throws when task.json is unreadable. */
  load(taskId: string): RecoveredCheckpoint {
    const dir = this.dir(taskId);
    const { statuses: folded, ...saved } = JSON.parse(readFileSync(join(dir, 'task.json'), 'utf8')) as TaskFile;
    if (saved?.task?.taskId !== taskId) throw new Error(`task.json in ${dir} is not about task '${taskId}'`);
    let latest = folded?.latest;
    const pending = [...(folded?.pending ?? [])];
    for (const line of readJournal<JournalLine>(join(dir, 'journal'))) {
      if ('p' in line) {
        latest = line.p;
        Object.assign(saved, line.s);
        if (!pending.some((s) => s.uuid === line.p.uuid)) pending.push(line.p);
      } else {
        const i = pending.findIndex((s) => s.uuid === line.a);
        if (i >= 0) pending.splice(i, 1);
      }
    }
    const supervisor = this.supervisor(taskId);
    if (supervisor) saved.supervisor = supervisor;
    return { taskId, saved, statuses: latest ? { latest, pending } : undefined, taskPid: this.taskPid(taskId), exitStatus: this.exitStatus(taskId) };
  }

  private append(taskId: string, line: JournalLine): void {
    const count = this.appended.get(taskId);
    if (count === undefined) return;
    appendFileSync(join(this.dir(taskId), 'journal'), JSON.stringify(line) + '\n');
    this.appended.set(taskId, count + 1);
  }
}


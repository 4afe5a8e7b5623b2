// Init's tasks, by id and by app. The API and planning ask per app, and a scan of every task per app
// is O(apps × tasks) (2,000 × 50,000 at Marathon's limits); the two maps change only together here.
import type { AppTask } from './types';

export class TaskIndex {
  private readonly byId = new Map<string, AppTask>();
  /** The same tasks by app id, in the order they were added. */
  private readonly byApp = new Map<string, Map<string, AppTask>>();

  get(taskId: string): AppTask | undefined {
    return this.byId.get(taskId);
  }

  /** Every task, in the order they were added (a live view: do not change the index while iterating). */
  values(): IterableIterator<AppTask> {
    return this.byId.values();
  }

  /** The app's tasks, in the order they were added. */
  ofApp(appId: string): AppTask[] {
    const tasks = this.byApp.get(appId);
    return tasks ? [...tasks.values()] : [];
  }

  /** The app's tasks without copying them (a live view). */
  appView(appId: string): Iterable<AppTask> {
    return this.byApp.get(appId)?.values() ?? [];
  }

  add(task: AppTask): void {
    this.byId.set(task.taskId, task);
    let ofApp = this.byApp.get(task.appId);
    if (!ofApp) this.byApp.set(task.appId, (ofApp = new Map()));
    ofApp.set(task.taskId, task);
  }

  /** Removes the task; returns it, or undefined when it was not there. */
  remove(taskId: string): AppTask | undefined {
    const task = this.byId.get(taskId);
    if (!task) return undefined;
    this.byId.delete(taskId);
    const ofApp = this.byApp.get(task.appId);
    ofApp?.delete(taskId);
    if (ofApp?.size === 0) this.byApp.delete(task.appId);
    return task;
  }
}

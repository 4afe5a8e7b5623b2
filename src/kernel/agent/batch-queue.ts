// Work taken in batches, one batch per turn of the event loop, so a launch of hundreds of tasks
// does not freeze status updates, kills and the API while it forks. (setImmediate only yields a
// turn of the loop; it measures no time, so no Clock is needed.)
export class BatchQueue<T> {
  private readonly items: T[] = [];

  constructor(
    /** Items handled per turn. */
    private readonly batch: number,
    private readonly handle: (item: T) => void,
  ) {}

  push(item: T): void {
    this.items.push(item);
    if (this.items.length === 1) setImmediate(() => this.drain());
  }

  private drain(): void {
    for (const item of this.items.splice(0, this.batch)) this.handle(item);
    if (this.items.length > 0) setImmediate(() => this.drain());
  }
}

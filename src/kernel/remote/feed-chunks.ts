// Sizing of the operator feed's messages (pure): a snapshot of any number of tasks goes out as
// chunks of about FEED_CHUNK_BYTES of JSON, and a burst of events as batches of the same size, so no
// message comes near the swarm's frame limit (8 MiB) whatever the cluster's size.
import type { FrameworkView } from '../sdk/operator';
import type { FeedAgent, FeedItem, FeedTask } from './protocol';

/** The JSON size of a value, in bytes (UTF-8). */
export function jsonBytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value), 'utf8');
}

/**
 * A task view whose labels alone would make one message too big: sent without its labels (the
 * names discovery publishes do not depend on them). Anything else is sent as it is.
 */
export function fitTask(task: FeedTask, maxBytes: number): FeedTask {
  if (jsonBytes(task) <= maxBytes) return task;
  return { ...task, view: { ...task.view, labels: {} } };
}

/** An item whose task would make one message too big: its task without labels (see fitTask). */
export function fitItem(item: FeedItem, maxBytes: number): FeedItem {
  if (!('event' in item) || (item.event.type !== 'TASK_ADDED' && item.event.type !== 'TASK_UPDATED') || jsonBytes(item) <= maxBytes) return item;
  return { ...item, event: { ...item.event, task: { ...item.event.task, labels: {} } } };
}

export interface SnapshotPart {
  tasks: FeedTask[];
  agents: FeedAgent[];
  frameworks: FrameworkView[];
}

/** The snapshot as parts of about `maxBytes` each (agents and frameworks first); at least one part. */
export function snapshotParts(snapshot: SnapshotPart, maxBytes: number): SnapshotPart[] {
  const parts: SnapshotPart[] = [];
  let part: SnapshotPart = { tasks: [], agents: [], frameworks: [] };
  let size = 0;
  const add = <K extends keyof SnapshotPart>(key: K, item: SnapshotPart[K][number], bytes = jsonBytes(item) + 1) => {
    if (size > 0 && size + bytes > maxBytes) {
      parts.push(part);
      part = { tasks: [], agents: [], frameworks: [] };
      size = 0;
    }
    (part[key] as Array<typeof item>).push(item);
    size += bytes;
  };
  for (const a of snapshot.agents) add('agents', a);
  for (const f of snapshot.frameworks) add('frameworks', f);
  for (const t of snapshot.tasks) {
    const bytes = jsonBytes(t) + 1;
    if (bytes <= maxBytes) add('tasks', t, bytes);
    else add('tasks', fitTask(t, maxBytes));
  }
  parts.push(part);
  return parts;
}

/** Items in order, as batches of about `maxBytes` each. */
export function itemBatches(items: readonly FeedItem[], maxBytes: number): FeedItem[][] {
  const batches: FeedItem[][] = [];
  let batch: FeedItem[] = [];
  let size = 0;
  for (const raw of items) {
    let item = raw;
    let bytes = jsonBytes(item) + 1;
    if (bytes > maxBytes) {
      item = fitItem(raw, maxBytes);
      bytes = jsonBytes(item) + 1;
    }
    if (batch.length > 0 && size + bytes > maxBytes) {
      batches.push(batch);
      batch = [];
      size = 0;
    }
    batch.push(item);
    size += bytes;
  }
  if (batch.length > 0) batches.push(batch);
  return batches;
}

// The master's end of the operator feed: a node of the cluster (an agent-only machine running a
// local resolver) subscribes on its channel; the master sends its operator view — tasks that have
// not ended, agents, frameworks, its own endpoint and what its framework knows of each task (the
// hint) — as numbered snapshot chunks, then every operator event as it happens, in batches. One
// subscription per channel: subscribing again replaces it; it ends with the channel.
import { CorralError } from '../../shared/errors';
import type { Logger } from '../../shared/logger';
import type { FrameworkView, OperatorEvent, OperatorEventListener, TaskView } from '../sdk/operator';
import { isTerminal } from '../types';
import type { NodeChannel } from './channel';
import { itemBatches, snapshotParts } from './feed-chunks';
import {
  FEED_CHUNK_BYTES,
  METHODS,
  NODE_RPC_VERSION,
  type FeedAgent,
  type FeedEndpoint,
  type FeedEventsBody,
  type FeedItem,
  type FeedSnapshotBody,
  type FeedSubscribeBody,
  type FeedSubscribeReply,
  type FeedTaskHint,
  type FeedUnsubscribeBody,
} from './protocol';

/** What the feed reads of the master (the Master satisfies it). */
export interface OperatorSource {
  onEvent(listener: OperatorEventListener): () => void;
  taskViews(): TaskView[];
  agentViews(): FeedAgent[];
  frameworkViews(): FrameworkView[];
}

export interface OperatorFeedOptions {
  source: OperatorSource;
  /** What the master's framework knows of a task (init: app, health checks, port order). */
  hint: (taskId: string) => FeedTaskHint | undefined;
  /** The master as discovery names it; undefined until known. */
  endpoint: FeedEndpoint | undefined;
  logger: Logger;
  /** Size of snapshot chunks and event batches, bytes of JSON (FEED_CHUNK_BYTES). */
  chunkBytes?: number;
}

const MAX_SUB_LENGTH = 64;

export class OperatorFeed {
  private readonly subscriptions = new Set<FeedSubscription>();
  private endpoint: FeedEndpoint | undefined;
  private readonly chunkBytes: number;

  constructor(private readonly opts: OperatorFeedOptions) {
    this.endpoint = opts.endpoint;
    this.chunkBytes = opts.chunkBytes ?? FEED_CHUNK_BYTES;
  }

  /** Live subscriptions. */
  get subscribers(): number {
    return this.subscriptions.size;
  }

  /** Serves the feed on `channel` (a view that routes operator.subscribe/unsubscribe here). */
  serve(channel: NodeChannel, peer = ''): void {
    let current: FeedSubscription | undefined;
    channel.onRequest((method, body) => {
      if (method !== METHODS.feedSubscribe) throw new CorralError('INVALID_REQUEST', `Unknown node RPC request '${method}'`);
      const { sub } = parseSubscribe(body);
      current?.stop();
      current = this.subscribe(channel, sub, peer);
      return { v: NODE_RPC_VERSION, sub } satisfies FeedSubscribeReply;
    });
    channel.onNotify((method, body) => {
      if (method !== METHODS.feedUnsubscribe || !current) return;
      if ((body as Partial<FeedUnsubscribeBody> | null)?.sub === current.id) current.stop();
    });
    channel.onClose(() => current?.stop());
  }

  /** The master's API port became known, or its address changed: every subscriber hears it. */
  setEndpoint(endpoint: FeedEndpoint): void {
    this.endpoint = endpoint;
    for (const s of this.subscriptions) s.push({ endpoint });
  }

  close(): void {
    for (const s of [...this.subscriptions]) s.stop();
  }

  private subscribe(channel: NodeChannel, sub: string, peer: string): FeedSubscription {
    const { source, hint } = this.opts;
    const subscription = new FeedSubscription(channel, sub, this.chunkBytes, () => this.subscriptions.delete(subscription));
    this.subscriptions.add(subscription);
    // Listen first, then read: both happen in this one turn, so no event falls in between.
    subscription.listen(source.onEvent((event) => subscription.push(withHint(event, hint))));
    const tasks = source.taskViews().filter((view) => !isTerminal(view.state)).map((view) => ({ view, ...hintField(hint(view.id)) }));
    const agents = source.agentViews().map((a) => ({ id: a.id, hostname: a.hostname, ...(a.status !== undefined ? { status: a.status } : {}) }));
    const parts = snapshotParts({ tasks, agents, frameworks: source.frameworkViews() }, this.chunkBytes);
    parts.forEach((part, i) => subscription.send(METHODS.feedSnapshot, { sub, seq: 0, last: i === parts.length - 1, ...(i === 0 && this.endpoint ? { endpoint: this.endpoint } : {}), ...part }));
    this.opts.logger.info({ event: 'operator_feed_subscribed', peer: peer.slice(0, 12), sub, tasks: tasks.length, chunks: parts.length }, 'a node follows the operator feed');
    return subscription;
  }
}

function hintField(hint: FeedTaskHint | undefined): { hint?: FeedTaskHint } {
  return hint ? { hint } : {};
}

function withHint(event: OperatorEvent, hint: (taskId: string) => FeedTaskHint | undefined): FeedItem {
  if (event.type !== 'TASK_ADDED' && event.type !== 'TASK_UPDATED') return { event };
  return { event, ...hintField(hint(event.task.id)) };
}

function parseSubscribe(body: unknown): FeedSubscribeBody {
  const b = body as Partial<FeedSubscribeBody> | null;
  if (typeof b !== 'object' || b === null) throw new CorralError('INVALID_REQUEST', 'operator.subscribe needs a body {v, sub}');
  if (b.v !== NODE_RPC_VERSION) throw new CorralError('INVALID_REQUEST', `Node speaks node RPC version ${String(b.v)}; this master speaks ${NODE_RPC_VERSION}`);
  if (typeof b.sub !== 'string' || b.sub.length === 0 || b.sub.length > MAX_SUB_LENGTH) throw new CorralError('INVALID_REQUEST', `operator.subscribe needs a subscription name of 1 to ${MAX_SUB_LENGTH} characters`);
  return { v: b.v, sub: b.sub };
}

/** One node's subscription: numbers its notices and batches events that arrive in one turn. */
class FeedSubscription {
  private seq = 0;
  private pending: FeedItem[] = [];
  private flushing = false;
  private stopped = false;
  private unsubscribe: () => void = () => {};

  constructor(
    private readonly channel: NodeChannel,
    readonly id: string,
    private readonly chunkBytes: number,
    private readonly onStop: () => void,
  ) {}

  listen(unsubscribe: () => void): void {
    this.unsubscribe = unsubscribe;
  }

  /** Sends one notice with the next sequence number (the body's `seq` is overwritten). */
  send(method: string, body: FeedSnapshotBody | FeedEventsBody): void {
    if (this.stopped) return;
    this.channel.notify(method, { ...body, seq: this.seq++ });
  }

  push(item: FeedItem): void {
    if (this.stopped) return;
    this.pending.push(item);
    if (this.flushing) return;
    this.flushing = true;
    // Events of one turn (a launch of many tasks) travel together.
    queueMicrotask(() => this.flush());
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.pending = [];
    this.unsubscribe();
    this.onStop();
  }

  private flush(): void {
    this.flushing = false;
    const items = this.pending.splice(0);
    for (const batch of itemBatches(items, this.chunkBytes)) this.send(METHODS.feedEvents, { sub: this.id, seq: 0, items: batch });
  }
}

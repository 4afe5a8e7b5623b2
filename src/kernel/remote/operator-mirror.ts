// The subscriber's end of the operator feed: a copy of the master's operator view on a node that is
// not the master, for the local resolver. It reads like the master does for discovery (onEvent,
// taskViews, agentViews, frameworkViews) plus the framework's hints and the master's endpoint.
//
// Staleness: when the channel to the master closes, the mirror keeps what it had and goes on
// serving it (stale rather than empty: names keep answering while the master is away, and change
// again once it is back). follow() on the next channel (the agent registered again) subscribes
// anew; the new snapshot replaces the state wholesale and onReset listeners read it again. A lost
// notice (a gap in the numbering) or a malformed one makes the mirror drop that subscription and
// subscribe again after retryMs, keeping the state it had meanwhile.
import type { Clock, TimerHandle } from '../../shared/clock';
import type { Logger } from '../../shared/logger';
import type { FrameworkView, OperatorEvent, OperatorEventListener, TaskView } from '../sdk/operator';
import { isTerminal } from '../types';
import type { NodeChannel } from './channel';
import { checkEventsBody, checkSnapshotBody } from './feed-validate';
import { METHODS, NODE_RPC_VERSION, type FeedAgent, type FeedEndpoint, type FeedItem, type FeedSnapshotBody, type FeedTaskHint, type FeedUnsubscribeBody } from './protocol';

export interface OperatorMirrorOptions {
  clock: Clock;
  logger: Logger;
  /** Wait before subscribing again after a refused subscription or a faulty notice (ms). */
  retryMs?: number;
  /** How long the master may take to accept a subscription (ms). */
  subscribeTimeoutMs?: number;
}

const RETRY_MS = 1000;
const SUBSCRIBE_TIMEOUT_MS = 10_000;

interface Incoming {
  parts: FeedSnapshotBody[];
}

export class OperatorMirror {
  private tasks = new Map<string, TaskView>();
  private hints = new Map<string, FeedTaskHint>();
  private agents = new Map<string, FeedAgent>();
  private frameworks = new Map<string, FrameworkView>();
  private endpointValue: FeedEndpoint | undefined;
  private readonly eventListeners = new Set<OperatorEventListener>();
  private readonly resetListeners = new Set<() => void>();
  private readonly endpointListeners = new Set<(endpoint: FeedEndpoint) => void>();
  private channel: NodeChannel | undefined;
  /** The subscription whose notices are accepted (undefined: none accepted now). */
  private sub: string | undefined;
  private expected = 0;
  private incoming: Incoming | undefined;
  private synced = false;
  private generation = 0;
  private retry: TimerHandle | undefined;
  private stopped = false;

  constructor(private readonly opts: OperatorMirrorOptions) {}

  /** Subscribes on `channel` (the master's), replacing any channel followed before. */
  follow(channel: NodeChannel): void {
    if (this.stopped) return;
    this.channel = channel;
    channel.onNotify((method, body) => this.notice(channel, method, body));
    channel.onClose(() => {
      if (this.channel !== channel) return;
      this.channel = undefined;
      this.drop();
      this.opts.logger.warn({ event: 'operator_feed_lost', tasks: this.tasks.size }, 'lost the master: DNS answers from the last known state until the agent registers again');
    });
    this.subscribe(channel);
  }

  /** A complete, live copy: subscribed on an open channel and the snapshot is in. */
  get current(): boolean {
    return this.channel !== undefined && this.synced;
  }

  stop(): void {
    this.stopped = true;
    if (this.channel && this.sub) this.channel.notify(METHODS.feedUnsubscribe, { sub: this.sub } satisfies FeedUnsubscribeBody);
    this.drop();
    this.channel = undefined;
  }

  onEvent(listener: OperatorEventListener): () => void {
    this.eventListeners.add(listener);
    return () => this.eventListeners.delete(listener);
  }

  /** A new snapshot replaced the state: read taskViews/agentViews/frameworkViews again. */
  onReset(listener: () => void): () => void {
    this.resetListeners.add(listener);
    return () => this.resetListeners.delete(listener);
  }

  onEndpoint(listener: (endpoint: FeedEndpoint) => void): () => void {
    this.endpointListeners.add(listener);
    return () => this.endpointListeners.delete(listener);
  }

  /** Tasks that have not ended (the master's completed tasks are not mirrored). */
  taskViews(): TaskView[] {
    return [...this.tasks.values()];
  }

  agentViews(): FeedAgent[] {
    return [...this.agents.values()];
  }

  frameworkViews(): FrameworkView[] {
    return [...this.frameworks.values()];
  }

  hint(taskId: string): FeedTaskHint | undefined {
    return this.hints.get(taskId);
  }

  endpoint(): FeedEndpoint | undefined {
    return this.endpointValue;
  }

  private drop(): void {
    this.retry?.cancel();
    this.retry = undefined;
    this.sub = undefined;
    this.incoming = undefined;
    this.synced = false;
  }

  private subscribe(channel: NodeChannel): void {
    this.drop();
    const sub = `s${++this.generation}`;
    this.sub = sub;
    this.expected = 0;
    channel.request(METHODS.feedSubscribe, { v: NODE_RPC_VERSION, sub }, this.opts.subscribeTimeoutMs ?? SUBSCRIBE_TIMEOUT_MS).then(
      () => undefined,
      (err: unknown) => {
        if (this.channel !== channel || this.sub !== sub) return;
        this.opts.logger.warn({ event: 'operator_feed_refused', err }, 'the master did not accept the operator feed subscription; trying again');
        this.sub = undefined;
        this.retryLater(channel);
      },
    );
  }

  private retryLater(channel: NodeChannel): void {
    if (this.retry || this.stopped) return;
    this.retry = this.opts.clock.setTimeout(() => {
      this.retry = undefined;
      if (this.channel === channel && !this.stopped) this.subscribe(channel);
    }, this.opts.retryMs ?? RETRY_MS);
  }

  /** A notice that cannot be applied: drop the subscription (keeping the state) and subscribe again. */
  private fault(channel: NodeChannel, reason: string): void {
    this.opts.logger.warn({ event: 'operator_feed_message_refused', reason }, 'refused a message of the operator feed; subscribing again');
    if (this.sub) channel.notify(METHODS.feedUnsubscribe, { sub: this.sub } satisfies FeedUnsubscribeBody);
    this.sub = undefined;
    this.incoming = undefined;
    this.synced = false;
    this.retryLater(channel);
  }

  private notice(channel: NodeChannel, method: string, body: unknown): void {
    if (channel !== this.channel || this.sub === undefined) return;
    if (method !== METHODS.feedSnapshot && method !== METHODS.feedEvents) return;
    // Notices of an earlier subscription may still be on the way: not ours, not a fault.
    const named = (body as { sub?: unknown } | null)?.sub;
    if (typeof named === 'string' && named !== this.sub) return;
    const checked = method === METHODS.feedSnapshot ? checkSnapshotBody(body) : checkEventsBody(body);
    if (!checked.ok) return this.fault(channel, checked.reason);
    if (checked.value.seq !== this.expected) return this.fault(channel, `notice ${checked.value.seq} arrived, ${this.expected} expected`);
    this.expected++;
    if (method === METHODS.feedSnapshot) {
      if (this.synced) return this.fault(channel, 'a snapshot chunk after the snapshot');
      const part = checked.value as FeedSnapshotBody;
      this.incoming ??= { parts: [] };
      this.incoming.parts.push(part);
      if (part.last) this.install(this.incoming.parts);
      return;
    }
    if (!this.synced) return this.fault(channel, 'events before the snapshot');
    for (const item of (checked.value as { items: FeedItem[] }).items) this.apply(item);
  }

  private install(parts: FeedSnapshotBody[]): void {
    this.incoming = undefined;
    this.synced = true;
    this.tasks = new Map();
    this.hints = new Map();
    this.agents = new Map();
    this.frameworks = new Map();
    for (const part of parts) {
      for (const t of part.tasks) {
        if (isTerminal(t.view.state)) continue;
        this.tasks.set(t.view.id, t.view);
        if (t.hint) this.hints.set(t.view.id, t.hint);
      }
      for (const a of part.agents) this.agents.set(a.id, a);
      for (const f of part.frameworks) this.frameworks.set(f.id, f);
    }
    const endpoint = parts[0]?.endpoint;
    this.opts.logger.info({ event: 'operator_feed_synced', tasks: this.tasks.size, agents: this.agents.size }, 'following the master’s operator feed');
    this.each(this.resetListeners, (l) => l());
    if (endpoint) this.setEndpoint(endpoint);
  }

  private setEndpoint(endpoint: FeedEndpoint): void {
    this.endpointValue = endpoint;
    this.each(this.endpointListeners, (l) => l(endpoint));
  }

  private apply(item: FeedItem): void {
    if ('endpoint' in item) return this.setEndpoint(item.endpoint);
    const { event, hint } = item;
    this.fold(event, hint);
    this.each(this.eventListeners, (l) => l(event));
    if ((event.type === 'TASK_ADDED' || event.type === 'TASK_UPDATED') && isTerminal(event.task.state)) this.hints.delete(event.task.id);
  }

  /** The mirror's own copy follows the event (the hint is stored before listeners ask for it). */
  private fold(event: OperatorEvent, hint: FeedTaskHint | undefined): void {
    switch (event.type) {
      case 'TASK_ADDED':
      case 'TASK_UPDATED':
        if (hint) this.hints.set(event.task.id, hint);
        if (isTerminal(event.task.state)) this.tasks.delete(event.task.id);
        else this.tasks.set(event.task.id, event.task);
        return;
      case 'AGENT_ADDED':
        this.agents.set(event.agent.id, { id: event.agent.id, hostname: event.agent.hostname, status: 'alive' });
        return;
      case 'AGENT_REMOVED':
      case 'AGENT_DRAINING':
      case 'AGENT_UNDRAINED': {
        const agent = this.agents.get(event.agentId);
        const status = event.type === 'AGENT_REMOVED' ? 'unreachable' : event.type === 'AGENT_DRAINING' ? 'draining' : 'alive';
        if (agent) this.agents.set(agent.id, { ...agent, status });
        return;
      }
      case 'FRAMEWORK_ADDED':
      case 'FRAMEWORK_UPDATED':
        this.frameworks.set(event.framework.id, event.framework);
        return;
      case 'FRAMEWORK_REMOVED':
        this.frameworks.delete(event.frameworkId);
        return;
    }
  }

  private each<L>(listeners: Set<L>, call: (listener: L) => void): void {
    for (const l of listeners) {
      try {
        call(l);
      } catch (err) {
        this.opts.logger.error({ event: 'operator_feed_listener_error', err }, 'a listener of the operator feed failed');
      }
    }
  }
}

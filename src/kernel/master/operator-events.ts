// Fan-out of operator events (agents, tasks, frameworks) to listeners such as the /api/v1/events
// stream. Events are built only when someone listens: a million-task launch should not pay for
// views nobody reads.
import type { Logger } from '../../shared/logger';
import type { OperatorEvent, OperatorEventListener } from '../sdk/operator';

export class OperatorEventHub {
  private readonly listeners = new Set<OperatorEventListener>();

  constructor(private readonly logger: Logger) {}

  /** Calls `listener` with every event; returns the unsubscribe. */
  subscribe(listener: OperatorEventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(make: () => OperatorEvent): void {
    if (this.listeners.size === 0) return;
    const event = make();
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (err) {
        this.logger.error({ event: 'operator_listener_error', err, type: event.type }, 'an operator event listener failed');
      }
    }
  }
}

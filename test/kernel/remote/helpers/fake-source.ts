// A master's operator view for feed tests: views a test sets directly, events it emits by hand.
import type { OperatorSource } from '../../../../src/kernel/remote/operator-feed';
import type { FeedAgent } from '../../../../src/kernel/remote/protocol';
import type { FrameworkView, OperatorEvent, OperatorEventListener, TaskView } from '../../../../src/kernel/sdk/operator';

export function framework(id: string, name: string): FrameworkView {
  return { id, name, role: undefined, user: undefined, connected: true, failoverTimeoutSeconds: 0, registeredAt: 0, disconnectedAt: undefined, activeTasks: 0 };
}

export class FakeSource implements OperatorSource {
  readonly listeners = new Set<OperatorEventListener>();
  tasks: TaskView[] = [];

  constructor(
    public agents: FeedAgent[],
    public frameworks: FrameworkView[],
  ) {}

  onEvent(listener: OperatorEventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  taskViews = () => this.tasks;
  agentViews = () => this.agents;
  frameworkViews = () => this.frameworks;
  emit(event: OperatorEvent): void {
    for (const l of this.listeners) l(event);
  }
}

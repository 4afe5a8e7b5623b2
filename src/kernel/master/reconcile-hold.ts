// Reconciliation right after a master (re)start, when agents of other machines have not
// registered again yet (Mesos's agent_reregister_timeout, adapted). The master keeps no agent
// registry on disk, so for a task it does not know on an agent it has not heard from, "lost" would
// be a guess: the agent is probably seconds from reconnecting with the task still running. Such
// questions are held — answered when that agent registers, or when the window closes, whichever
// comes first — so a framework does not replace healthy instances because the master restarted.
import type { Clock, TimerHandle } from '../../shared/clock';
import type { ReconcileTask } from '../sdk/types';

/** How long after its start the master waits for agents to register again before answering for their tasks, ms. */
export const DEFAULT_AGENT_REREGISTER_MS = 60_000;

type Answer = (frameworkId: string, tasks: ReconcileTask[]) => void;

export class ReconcileHold {
  private readonly held = new Map<string, ReconcileTask[]>();
  private open = true;
  private readonly timer: TimerHandle;

  /** `answer` is called with held questions once they may be answered (their agent registered, or the window closed). */
  constructor(clock: Clock, windowMs: number, private readonly answer: Answer) {
    this.timer = clock.setTimeout(() => this.close(), windowMs);
  }

  /**
   * The questions to answer now; the others are held. A question is held while the window is open
   * when the master knows neither the task nor its agent (`known` says whether it knows either).
   */
  take(frameworkId: string, asked: readonly ReconcileTask[], known: (t: ReconcileTask) => boolean): ReconcileTask[] {
    if (!this.open) return [...asked];
    const now: ReconcileTask[] = [];
    for (const t of asked) {
      if (t.agentId === undefined || known(t)) now.push(t);
      else this.held.set(frameworkId, [...(this.held.get(frameworkId) ?? []), t]);
    }
    return now;
  }

  /** The agent registered: questions about its tasks are answered now. */
  agentRegistered(agentId: string): void {
    for (const [frameworkId, tasks] of this.held) {
      const mine = tasks.filter((t) => t.agentId === agentId);
      if (mine.length === 0) continue;
      const rest = tasks.filter((t) => t.agentId !== agentId);
      if (rest.length > 0) this.held.set(frameworkId, rest);
      else this.held.delete(frameworkId);
      this.answer(frameworkId, mine);
    }
  }

  /** The master stops: nothing held is answered (a stopping master knows nothing new). */
  cancel(): void {
    this.open = false;
    this.timer.cancel();
    this.held.clear();
  }

  /** Ends the window: everything still held is answered (as the master then knows it), and nothing more is held. */
  close(): void {
    if (!this.open) return;
    this.open = false;
    this.timer.cancel();
    const held = [...this.held];
    this.held.clear();
    for (const [frameworkId, tasks] of held) this.answer(frameworkId, tasks);
  }
}

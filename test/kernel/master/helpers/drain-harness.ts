// A master on a fake clock with fake agents that record what the master asks of them, and
// frameworks (in-process SDK) that record every event, drain notices included.
import type { Test } from 'tap';
import { Master, type MasterOptions } from '../../../../src/kernel/master/master';
import { inProcessTransport } from '../../../../src/kernel/sdk/in-process';
import type { AgentDraining, SchedulerConnection } from '../../../../src/kernel/sdk/types';
import type { AgentLink, LogChunk } from '../../../../src/kernel/agent-link';
import type { AgentInfo, Offer, Resources, TaskInfo, TaskLaunch, TaskState, TaskStatus } from '../../../../src/kernel/types';
import { FakeClock } from '../../../../src/shared/clock';
import { silentLogger } from '../../../../src/shared/logger';

export const START = Date.UTC(2026, 0, 1);
export const res = (cpus: number, mem: number): Resources => ({ cpus, mem, disk: 0, ports: [] });

export class FakeAgent implements AgentLink {
  readonly launched: TaskInfo[] = [];
  readonly killed: Array<{ taskId: string; grace: number | undefined }> = [];
  /** What the agent reports when it registers (again). */
  reported: Array<{ task: TaskInfo; status: TaskStatus }> = [];
  constructor(readonly info: AgentInfo) {}
  launch(task: TaskInfo): void {
    this.launched.push(task);
  }
  kill(taskId: string, gracePeriodSeconds?: number): void {
    this.killed.push({ taskId, grace: gracePeriodSeconds });
  }
  acknowledge(): void {}
  readLog(): Promise<LogChunk> {
    return Promise.reject(new Error('not used'));
  }
  taskStatuses(): TaskStatus[] {
    return [];
  }
  reportTasks(): Array<{ task: TaskInfo; status: TaskStatus }> {
    return this.reported;
  }
}

export class RecordingFramework {
  readonly batches: Offer[][] = [];
  readonly rescinded: string[] = [];
  readonly updates: TaskStatus[] = [];
  readonly draining: AgentDraining[] = [];
  readonly undrained: string[] = [];
  conn!: SchedulerConnection;
  get offers(): Offer[] {
    return this.batches.flat();
  }
  offersSince(from: number): Offer[] {
    return this.batches.slice(from).flat();
  }
}

export const taskLaunch = (taskId: string, resources: Resources, more: Partial<TaskLaunch> = {}): TaskLaunch => ({
  taskId,
  name: taskId,
  resources,
  command: { shell: true, value: 'sleep 1000', environment: {} },
  labels: {},
  ...more,
});

export function drainHarness(t: Test, opts: Partial<MasterOptions> = {}, clock = new FakeClock(START)) {
  const master = new Master({ clock, logger: silentLogger(), allocationIntervalMs: 3_600_000, ...opts });
  master.start();
  t.teardown(() => master.stop());
  const transport = inProcessTransport(master);
  const agents = new Map<string, FakeAgent>();

  /** Lets queued allocations run and microtask-delivered events arrive, moving time by `ms`. */
  const settle = async (ms = 0) => {
    clock.advance(ms);
    await new Promise((resolve) => setImmediate(resolve));
  };
  const addAgent = (id: string, agent = new FakeAgent({ id, hostname: `${id}.test`, resources: res(4, 4096), attributes: {}, registeredAt: clock.now(), version: 'test' })) => {
    agents.set(id, agent);
    master.registerAgent(agent.info, agent);
    return agent;
  };
  const subscribe = async (name = 'fw', id?: string) => {
    const f = new RecordingFramework();
    f.conn = await transport.subscribe(
      { name, ...(id ? { id } : {}) },
      {
        offers: (o) => f.batches.push(o),
        rescind: (offerId) => f.rescinded.push(offerId),
        update: (s) => f.updates.push(s),
        agentDraining: (d) => f.draining.push(d),
        agentUndrained: (agentId) => f.undrained.push(agentId),
      },
    );
    return f;
  };
  /** Launches `tasks` on `agentId` from the framework's latest offer there; leftovers come straight back. */
  const launchOn = async (f: RecordingFramework, agentId: string, tasks: TaskLaunch[]) => {
    const offer = f.offers.filter((o) => o.agentId === agentId).at(-1)!;
    await f.conn.accept([offer.id], [{ type: 'LAUNCH', tasks }], { refuseSeconds: 0 });
    await settle();
    return agents.get(agentId)!.launched.filter((l) => tasks.some((x) => x.taskId === l.taskId));
  };
  /** An update as the agent would send it. */
  const agentUpdate = (task: TaskInfo, state: TaskState, more: Partial<TaskStatus> = {}): TaskStatus => {
    const status: TaskStatus = { taskId: task.taskId, agentId: task.agentId, frameworkId: task.frameworkId, state, source: 'SOURCE_EXECUTOR', timestamp: clock.now(), uuid: `${task.taskId}-${state}`, ...more };
    master.statusUpdate(status);
    return status;
  };
  const view = (agentId: string) => master.agentViews().find((a) => a.id === agentId)!;
  return { clock, master, agents, settle, addAgent, subscribe, launchOn, agentUpdate, view };
}

// An Agent in a process of its own, for the recovery test to kill with SIGKILL. Bundled with esbuild
// at test time and started with plain node.
//
//   node agent-child.js <request.json>
//
// The request names the data dir, the cgroup parent and the tasks to launch. Every status update
// the agent sends is printed to stdout as one JSON line; TASK_STARTING updates are acknowledged
// (so the test can check that acknowledged updates are not re-sent after the restart), all others
// are left unacknowledged. Once every task reached TASK_RUNNING, `{"ready":true}` is printed.
import { readFileSync } from 'node:fs';
import { systemClock } from '../../../../src/shared/clock';
import { silentLogger } from '../../../../src/shared/logger';
import type { AgentLink, MasterLink } from '../../../../src/kernel/agent-link';
import type { AgentInfo, TaskInfo, TaskStatus } from '../../../../src/kernel/types';
import { Agent } from '../../../../src/kernel/agent/agent';
import { selectIsolator } from '../../../../src/kernel/agent/isolation';

export interface ChildRequest {
  dataDir: string;
  cgroupParent: string;
  tasks: TaskInfo[];
  /** A new task's cgroups are made by its own side, as `corral up` has it. */
  setupInTask?: boolean;
}

async function main(): Promise<void> {
  const request = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as ChildRequest;
  const running = new Set<string>();
  let agent: Agent | undefined;
  const print = (o: unknown) => process.stdout.write(JSON.stringify(o) + '\n');
  const master: MasterLink = {
    registerAgent(_info: AgentInfo, _link: AgentLink) {},
    statusUpdate(status: TaskStatus) {
      print({ status });
      if (status.state === 'TASK_STARTING' && status.uuid) setImmediate(() => agent?.acknowledge(status.taskId, status.uuid!));
      if (status.state === 'TASK_RUNNING') running.add(status.taskId);
      if (running.size === request.tasks.length) print({ ready: true });
    },
  };
  const isolator = await selectIsolator({ parent: request.cgroupParent, logger: silentLogger(), setupInTask: request.setupInTask });
  agent = new Agent({
    id: 'agent-1',
    hostname: 'node-a.test',
    dataDir: request.dataDir,
    resources: { cpus: 2, mem: 1024, disk: 1024, ports: [] },
    attributes: {},
    version: '0.1.0-test',
    killGraceSeconds: 5,
    clock: systemClock,
    logger: silentLogger(),
    master,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
    isolator,
    statusRetryMs: 600_000,
  });
  await agent.start();
  for (const task of request.tasks) agent.launch(task);
  // Runs until the test kills it.
  setInterval(() => undefined, 60_000);
}

main().catch((err) => {
  process.stderr.write(`agent-child failed: ${(err as Error).stack}\n`);
  process.exit(1);
});

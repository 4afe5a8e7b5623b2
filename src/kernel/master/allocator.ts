// Dominant resource fairness, as a pure function: given what each agent has free and what each
// framework already holds, decide which framework is offered each agent's free resources.
// Like Mesos, a whole agent's free resources go to one framework per cycle; the framework with
// the lowest weighted dominant share that is not filtering that agent goes first.
import { addResources, dominantShare, isEmpty } from '../sdk/resources';
import type { Resources } from '../types';

export interface AllocatorAgent {
  id: string;
  /** Free resources: total minus running tasks minus outstanding offers. */
  available: Resources;
}

export interface AllocatorFramework {
  id: string;
  /** Relative weight of the framework's role (default 1); a weight of 2 may hold twice the share. */
  weight: number;
  /** Resources held by its tasks and outstanding offers. */
  allocated: Resources;
  /** true while the framework asked for no offers. */
  suppressed: boolean;
  /** agentId -> time (ms) until which that agent's resources are not offered to this framework. */
  refusals: ReadonlyMap<string, number>;
}

export interface AllocationInput {
  now: number;
  /** Sum of all agents' total resources (the DRF denominator). */
  total: Resources;
  agents: readonly AllocatorAgent[];
  frameworks: readonly AllocatorFramework[];
}

export interface PlannedOffer {
  agentId: string;
  frameworkId: string;
  resources: Resources;
}

export function allocateOffers(input: AllocationInput): PlannedOffer[] {
  const held = new Map(input.frameworks.map((f) => [f.id, f.allocated]));
  const share = (f: AllocatorFramework) => dominantShare(held.get(f.id)!, input.total) / (f.weight > 0 ? f.weight : 1);
  const wanting = input.frameworks.filter((f) => !f.suppressed);
  const plan: PlannedOffer[] = [];

  // Agents in a stable order so the same snapshot always yields the same plan.
  for (const agent of [...input.agents].sort((a, b) => a.id.localeCompare(b.id))) {
    if (isEmpty(agent.available)) continue;
    const eligible = wanting.filter((f) => (f.refusals.get(agent.id) ?? 0) <= input.now);
    if (eligible.length === 0) continue;
    eligible.sort((a, b) => share(a) - share(b) || a.id.localeCompare(b.id));
    const chosen = eligible[0]!;
    plan.push({ agentId: agent.id, frameworkId: chosen.id, resources: agent.available });
    held.set(chosen.id, addResources(held.get(chosen.id)!, agent.available));
  }
  return plan;
}

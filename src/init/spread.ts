// Pure placement over a batch of offers: each pending instance goes to the agent that runs the
// fewest instances of its app so far (counting what this batch already placed), among the offers
// it fits in and the app's constraints allow; ties go to the earlier offer. So an app spreads over
// the agents it is offered instead of filling the first one — losing one machine costs it a share,
// not everything — and replacements of a lost agent's instances spread over the rest. Marathon
// packs by default and spreads only with a constraint; Corral spreads by default, and constraints
// (src/init/constraints.ts) narrow where an instance may go.
import type { Offer, Resources } from '../kernel/types';
import { whereAllowed, type Placement } from './constraints';
import { instanceFit, matchInstance, type LaunchRequest, type MatchedLaunch } from './match';

/**
 * Places `requests` (in order) over `offers`. `placements(appId)` lists where the app's instances
 * that count already are (before this batch). Returns the launches per offer id (every offer has an
 * entry, empty when nothing went there); `requests` are not modified. Instances no offer can take
 * are left out: they stay pending.
 */
export function matchOffers(
  offers: readonly Offer[],
  requests: readonly LaunchRequest[],
  placements: (appId: string) => readonly Placement[],
  newTaskId: (appId: string) => string,
  now: number,
): Map<string, MatchedLaunch[]> {
  const out = new Map<string, MatchedLaunch[]>(offers.map((o) => [o.id, []]));
  const left = new Map<string, Resources>(offers.map((o) => [o.id, o.resources]));
  for (const { stored, count } of requests) {
    const app = stored.app;
    const constraints = app.constraints ?? [];
    // Where the app is: before the batch, plus what this batch placed.
    const placed = [...placements(app.id)];
    const onAgent = new Map<string, number>();
    for (const p of placed) onAgent.set(p.agentId, (onAgent.get(p.agentId) ?? 0) + 1);
    // Offers this app no longer fits in; a full offer stays full for the rest of this app.
    const full = new Set<string>();
    for (let i = 0; i < count; i++) {
      const fitting = offers.filter((o) => {
        if (full.has(o.id)) return false;
        if (instanceFit(app, left.get(o.id)!)) return true;
        full.add(o.id);
        return false;
      });
      const offer = whereAllowed(constraints, fitting, placed).sort((a, b) => (onAgent.get(a.agentId) ?? 0) - (onAgent.get(b.agentId) ?? 0))[0];
      if (!offer) break;
      const one = matchInstance(offer, left.get(offer.id)!, stored, newTaskId, now)!;
      out.get(offer.id)!.push(one.matched);
      left.set(offer.id, one.left);
      onAgent.set(offer.agentId, (onAgent.get(offer.agentId) ?? 0) + 1);
      placed.push({ agentId: offer.agentId, hostname: offer.hostname, attributes: offer.attributes });
    }
  }
  return out;
}

// Pure placement over a batch of offers: each pending instance goes to the agent that runs the
// fewest instances of its app so far (counting what this batch already placed), among the offers
// it fits in; ties go to the earlier offer. So an app spreads over the agents it is offered
// instead of filling the first one — losing one machine costs it a share, not everything — and
// replacements of a lost agent's instances spread over the rest. Marathon packs by default and
// spreads only with a constraint; Corral spreads by default (constraints come on top).
import type { Offer, Resources } from '../kernel/types';
import { matchInstance, type LaunchRequest, type MatchedLaunch } from './match';

/**
 * Places `requests` (in order) over `offers`. `running(appId, agentId)` counts the app's live
 * instances on an agent before this batch. Returns the launches per offer id (every offer has an
 * entry, empty when nothing went there); `requests` are not modified.
 */
export function matchOffers(
  offers: readonly Offer[],
  requests: readonly LaunchRequest[],
  running: (appId: string, agentId: string) => number,
  newTaskId: (appId: string) => string,
  now: number,
): Map<string, MatchedLaunch[]> {
  const out = new Map<string, MatchedLaunch[]>(offers.map((o) => [o.id, []]));
  const left = new Map<string, Resources>(offers.map((o) => [o.id, o.resources]));
  for (const { stored, count } of requests) {
    const appId = stored.app.id;
    // Instances of this app per agent: running before the batch, plus placed in it.
    const onAgent = new Map<string, number>();
    for (const o of offers) if (!onAgent.has(o.agentId)) onAgent.set(o.agentId, running(appId, o.agentId));
    // Offers this app no longer fits in; a full offer stays full for the rest of this app.
    const full = new Set<string>();
    for (let i = 0; i < count; i++) {
      let placed = false;
      const candidates = offers.filter((o) => !full.has(o.id)).sort((a, b) => onAgent.get(a.agentId)! - onAgent.get(b.agentId)!);
      for (const offer of candidates) {
        const one = matchInstance(offer, left.get(offer.id)!, stored, newTaskId, now);
        if (!one) {
          full.add(offer.id);
          continue;
        }
        out.get(offer.id)!.push(one.matched);
        left.set(offer.id, one.left);
        onAgent.set(offer.agentId, onAgent.get(offer.agentId)! + 1);
        placed = true;
        break;
      }
      if (!placed) break;
    }
  }
  return out;
}

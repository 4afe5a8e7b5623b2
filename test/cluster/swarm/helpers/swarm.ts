// Real swarms on 127.0.0.1 for the tests: free UDP ports, nodes that stop at teardown, and waits
// driven by the swarm's own events (a timeout only bounds a wait that should have ended).
import { randomBytes } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import type { Clock } from '../../../../src/shared/clock';
import { identityFromSeed, type NodeIdentity } from '../../../../src/cluster/identity';
import { ClusterSwarm, type ClusterSwarmOptions, type SwarmTuning } from '../../../../src/cluster/swarm';
import { ClusterToken } from '../../../../src/cluster/token';

export const LOOPBACK = '127.0.0.1';

interface Teardown {
  teardown(fn: () => unknown): void;
}

export { freeUdpPort } from '../../../helpers/ports';

export function newIdentity(): NodeIdentity {
  return identityFromSeed(randomBytes(32));
}

export interface NodeSpec {
  role: 'master' | 'agent';
  token: ClusterToken;
  join: number[];
  /** Master's port (must be in `join` for others to find it). */
  port?: number;
  /** An agent told its address (--cluster-host): it takes direct connections. Masters always are. */
  reachable?: boolean;
  identity?: NodeIdentity;
  tuning?: Partial<SwarmTuning>;
  clock?: Clock;
}

/** Creates (not starts) a node on loopback that is stopped when the test ends. */
export function makeNode(t: Teardown, spec: NodeSpec): ClusterSwarm {
  const opts: ClusterSwarmOptions = {
    role: spec.role,
    token: spec.token,
    identity: spec.identity ?? newIdentity(),
    join: spec.join.map((port) => ({ host: LOOPBACK, port })),
    host: spec.role === 'master' || spec.reachable === true ? LOOPBACK : undefined,
    bindHost: LOOPBACK,
    port: spec.port,
    tuning: spec.tuning,
    clock: spec.clock,
  };
  const node = new ClusterSwarm(opts);
  t.teardown(() => node.stop());
  return node;
}

export async function startNode(t: Teardown, spec: NodeSpec): Promise<ClusterSwarm> {
  const node = makeNode(t, spec);
  await node.start();
  return node;
}

/** Resolves once `node` has authenticated connections to every id in `ids`. */
export function connectedTo(node: ClusterSwarm, ids: readonly string[], timeoutMs = 15_000): Promise<void> {
  const missing = (): string[] => ids.filter((id) => !node.isConnected(id));
  return waitUntil(node, ['peer'], () => missing().length === 0, timeoutMs, () => `${node.nodeId.slice(0, 8)} still lacks ${missing().map((id) => id.slice(0, 8)).join(', ')}`);
}

/** Resolves with the args of the first `event` that satisfies `match`. */
export function nextEvent<A extends unknown[]>(emitter: EventEmitter, event: string, match: (...args: A) => boolean = () => true, timeoutMs = 15_000): Promise<A> {
  return new Promise<A>((resolve, reject) => {
    const timer = setTimeout(() => {
      emitter.off(event, listener);
      reject(new Error(`no '${event}' within ${timeoutMs} ms`));
    }, timeoutMs);
    const listener = (...args: unknown[]): void => {
      if (!match(...(args as A))) return;
      clearTimeout(timer);
      emitter.off(event, listener);
      resolve(args as A);
    };
    emitter.on(event, listener);
  });
}

/** Resolves when `done()` holds, re-checked on each of `events`. */
export function waitUntil(emitter: EventEmitter, events: string[], done: () => boolean, timeoutMs: number, why: () => string): Promise<void> {
  if (done()) return Promise.resolve();
  return new Promise<void>((resolve, reject) => {
    const check = (): void => {
      if (!done()) return;
      cleanup();
      resolve();
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`timed out after ${timeoutMs} ms: ${why()}`));
    }, timeoutMs);
    const cleanup = (): void => {
      clearTimeout(timer);
      for (const e of events) emitter.off(e, check);
    };
    for (const e of events) emitter.on(e, check);
  });
}

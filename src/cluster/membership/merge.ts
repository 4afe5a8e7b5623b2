// The merge rules of SWIM with incarnations, as a pure function: what a node does with a report
// about another member given what it already believes. (Reports about the node itself are not
// merged but refuted; see ClusterView.)
//
//   - unknown member: only `alive` is taken (suspect/dead/left about a stranger carry no address);
//   - alive(i) wins iff i > current incarnation, whatever the current state (a refutation, a
//     metadata change, or a restarted member coming back);
//   - suspect(i) wins over alive(c) iff i ≥ c; over suspect(c) iff i > c, and i = c is a
//     confirmation of the running suspicion;
//   - dead(i) wins over alive or suspect(c) iff i ≥ c; over dead(c) iff i > c (no event: only the
//     incarnation moves);
//   - left(i) wins over alive, suspect or dead(c) iff i ≥ c, over left(c) iff i > c;
//   - nothing but a newer alive from the member itself overrides left ("left is final" for its
//     incarnation: a departed member is not suspected or declared dead).
import { StateCode } from './wire';

export type MergeVerdict = 'accept' | 'confirm' | 'ignore';

export interface VersionedState {
  readonly inc: number;
  readonly st: StateCode;
}

export function mergeVerdict(current: VersionedState | undefined, update: VersionedState): MergeVerdict {
  if (current === undefined) return update.st === StateCode.Alive ? 'accept' : 'ignore';
  const newer = update.inc > current.inc;
  const same = update.inc === current.inc;
  switch (update.st) {
    case StateCode.Alive:
      return newer ? 'accept' : 'ignore';
    case StateCode.Suspect:
      if (current.st === StateCode.Dead || current.st === StateCode.Left) return 'ignore';
      if (current.st === StateCode.Suspect) return newer ? 'accept' : same ? 'confirm' : 'ignore';
      return newer || same ? 'accept' : 'ignore';
    case StateCode.Dead:
      if (current.st === StateCode.Left) return 'ignore';
      if (current.st === StateCode.Dead) return newer ? 'accept' : 'ignore';
      return newer || same ? 'accept' : 'ignore';
    case StateCode.Left:
      if (current.st === StateCode.Left) return newer ? 'accept' : 'ignore';
      return newer || same ? 'accept' : 'ignore';
  }
}

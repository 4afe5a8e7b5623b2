// The frame every test file of separate machines shares: skipped, with the reason, where network
// namespaces are unavailable; otherwise a temp directory, the processes the tests start (stopped in
// reverse order) and the lab, all removed after the file's tests whether they passed or not.
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { removeEmptyCorralCgroups } from './corral-process';
import { createLab, netnsUnavailableReason, type Lab, type LabOptions } from './netns';

export interface LabSuite {
  /** The file's temp directory (data dirs, install roots). */
  root: string;
  /** Registers a started process; it is stopped (in reverse order of starting) at the end. */
  started<P extends { stop(): Promise<unknown> }>(process: P): P;
  /** Creates the file's lab of `names` (one per file); it is removed at the end. */
  lab(names: readonly string[], opts?: LabOptions): Promise<Lab>;
}

export interface LabSuiteOptions {
  /** Mode of the temp directory (e.g. 0o755 when task users must traverse it). */
  rootMode?: number;
  /** More clean-up after the processes and the lab are gone (task cgroups of the file's apps). */
  cleanup?: () => void;
}

/** Runs `tests` with the frame, or plans none when network namespaces cannot be made here. */
export function labSuite(prefix: string, tests: (suite: LabSuite) => void, opts: LabSuiteOptions = {}): void {
  const unavailable = netnsUnavailableReason();
  if (unavailable !== undefined) {
    t.plan(0, `separate machines need network namespaces: ${unavailable}`);
    return;
  }
  const root = mkdtempSync(join(tmpdir(), prefix));
  if (opts.rootMode !== undefined) chmodSync(root, opts.rootMode);
  const running: Array<{ stop(): Promise<unknown> }> = [];
  let lab: Lab | undefined;
  t.teardown(async () => {
    for (const p of running.reverse()) await p.stop();
    await lab?.cleanup();
    rmSync(root, { recursive: true, force: true });
    opts.cleanup?.();
    removeEmptyCorralCgroups();
  });
  tests({
    root,
    started: (p) => (running.push(p), p),
    lab: async (names, labOpts) => (lab = await createLab(names, labOpts)),
  });
}

/** The lab's packet counters: nothing a test started tried to reach an address outside the lab. */
export async function noPacketLeft(t: Test, lab: Lab): Promise<void> {
  const forbidden = await lab.forbiddenPackets();
  t.same(Object.values(forbidden).filter((n) => n > 0), [], `no packet tried to leave the lab: ${JSON.stringify(forbidden)}`);
}

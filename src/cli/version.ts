// `corral version` (and the line `corral --version` prints): which build this is — the version,
// the commit it was built from, the Node runtime under it and whether it is the single executable.
// Nothing is asked of the API: it works without a cluster (`corral status` shows the server's).
import type { Command } from 'commander';
import { COMMIT, VERSION } from '../daemon/version';
import { isSingleExecutable } from '../shared/sea-assets';
import { renderFields } from './table';
import { defineAction, type CliDeps } from './context';

export interface BuildFacts {
  version: string;
  /** Git commit; 'unknown' when built outside git, 'dev' when not bundled (tap, ts). */
  commit: string;
  /** The Node.js runtime, e.g. v20.20.2 (the one embedded in the single executable). */
  node: string;
  platform: string;
  arch: string;
  /** True for dist/corral-linux-x64, false for `node dist/corral.js`. */
  singleExecutable: boolean;
}

export function buildFacts(): BuildFacts {
  return { version: VERSION, commit: COMMIT, node: process.version, platform: process.platform, arch: process.arch, singleExecutable: isSingleExecutable() };
}

/** `0.1.0 (commit a72828e47f37…)`: what `corral --version` prints. */
export function versionLine(facts: Pick<BuildFacts, 'version' | 'commit'> = buildFacts()): string {
  return `${facts.version} (commit ${facts.commit})`;
}

export function registerVersionCommand(program: Command, deps: CliDeps, facts: () => BuildFacts = buildFacts): void {
  program
    .command('version')
    .description('print the version and commit of this corral (--json: also its runtime)')
    .action(
      defineAction(deps, async (ctx) => {
        const f = facts();
        if (await ctx.printJson(f)) return;
        await ctx.print(
          renderFields([
            ['Version', f.version],
            ['Commit', f.commit],
            ['Runtime', `node ${f.node} ${f.platform}-${f.arch}${f.singleExecutable ? ', single executable' : ''}`],
          ]),
        );
      }),
    );
}

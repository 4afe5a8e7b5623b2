// Which commands this host can run: the executables in the standard PATH directories, advertised
// with the agent's registration (AgentInfo.commands) so the package manager can tell which agents
// can run a package (`corral.requires.commands`) before it installs anything.
import { accessSync, constants, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Where tasks find their commands (the PATH tasks get, see taskBaseEnv). */
export const COMMAND_DIRS = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

/** Names of the executable files (or symlinks to them) in `dirs`, sorted; unreadable directories are skipped. */
export function detectCommands(dirs: readonly string[] = COMMAND_DIRS): string[] {
  const names = new Set<string>();
  for (const dir of dirs) {
    let entries: string[];
    try {
      entries = readdirSync(dir);
    } catch {
      continue;
    }
    for (const name of entries) {
      if (names.has(name)) continue;
      const path = join(dir, name);
      try {
        if (statSync(path).isFile()) {
          accessSync(path, constants.X_OK);
          names.add(name);
        }
      } catch {
        // a dangling link, or not executable
      }
    }
  }
  return [...names].sort();
}

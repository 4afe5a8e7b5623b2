// Can the cluster run a package at all? A package names the host commands it needs
// (`corral.requires.commands`); agents advertise the executables on their PATH. Pure: decided
// before anything is written, so an install no agent can run fails naming what is missing.
import { CorralError } from '../shared/errors';
import type { AgentCapabilities } from './types';

export interface Feasibility {
  /** Hostnames of the available agents that have every required command. */
  capable: string[];
  /**
   * A Marathon constraint keeping the app on those agents, when some available agent lacks a
   * command; undefined when every agent can run it (then agents added later count too).
   */
  constraint: [string, string, string] | undefined;
}

const escapeRegex = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export function checkFeasibility(packageName: string, required: readonly string[], agents: readonly AgentCapabilities[]): Feasibility {
  const available = agents.filter((a) => a.available);
  if (required.length === 0) return { capable: available.map((a) => a.hostname), constraint: undefined };
  const has = (a: AgentCapabilities, cmd: string) => a.commands?.includes(cmd) ?? false;
  const capable = available.filter((a) => required.every((cmd) => has(a, cmd)));
  if (capable.length === 0) {
    if (available.length === 0) throw new CorralError('PACKAGE_INFEASIBLE', `Package ${packageName} needs ${required.join(', ')}, and no agent is available to run it`);
    const missing = required.filter((cmd) => !available.some((a) => has(a, cmd)));
    const why = missing.length > 0 ? `missing command${missing.length === 1 ? '' : 's'}: ${missing.join(', ')}` : `no single agent has all of ${required.join(', ')}`;
    throw new CorralError(
      'PACKAGE_INFEASIBLE',
      `No agent can run package ${packageName} (${why}; checked ${available.length} agent${available.length === 1 ? '' : 's'}). Install ${missing.length > 0 ? 'it' : 'them'} on an agent's PATH, e.g. its Debian package.`,
    );
  }
  const hostnames = [...new Set(capable.map((a) => a.hostname))].sort();
  const constraint = capable.length < available.length ? (['hostname', 'LIKE', hostnames.map(escapeRegex).join('|')] as [string, string, string]) : undefined;
  return { capable: hostnames, constraint };
}

// The PATH lookup before each launch (executor.ts, missingProgram), remembered per program name:
// a cron job of `true` every second otherwise probes every PATH directory with access(2) and
// stat(2) at every launch (~0.9 ms per task under load, bench/RESULTS.md). Only lookups that
// found the program and depend on nothing but PATH are kept (no `/` in the name, every PATH entry
// absolute, so the sandbox does not matter), keyed by PATH and name, for a short while: a program
// removed meanwhile makes the task exit 127 instead of failing its launch, nothing worse.
import { delimiter, isAbsolute } from 'node:path';
import type { Clock } from '../../shared/clock';
import { missingProgram } from './executor';

/** How long a found program is trusted, in ms. */
export const PROGRAM_CACHE_MS = 10_000;
/** Entries kept at most; the cache starts over beyond. */
const MAX_ENTRIES = 1_000;

export class ProgramLookup {
  /** `PATH\0program` → when the lookup is to be made again (clock ms). */
  private readonly found = new Map<string, number>();

  constructor(
    private readonly clock: Clock,
    private readonly ttlMs = PROGRAM_CACHE_MS,
  ) {}

  /** As missingProgram, remembering programs found on an absolute PATH. */
  missing(program: string, sandbox: string, path: string): string | undefined {
    const cacheable = program !== '' && !program.includes('/') && path.split(delimiter).every((dir) => dir === '' || isAbsolute(dir));
    if (!cacheable) return missingProgram(program, sandbox, path);
    const key = `${path}\0${program}`;
    const now = this.clock.now();
    if ((this.found.get(key) ?? -Infinity) > now) return undefined;
    const missing = missingProgram(program, sandbox, path);
    if (missing === undefined) {
      if (this.found.size >= MAX_ENTRIES) this.found.clear();
      this.found.set(key, now + this.ttlMs);
    } else {
      this.found.delete(key);
    }
    return missing;
  }
}

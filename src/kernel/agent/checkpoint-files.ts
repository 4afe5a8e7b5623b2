// The small file formats of a task's checkpoint (checkpoint.ts): the journal's complete lines, the
// supervisor's one-number files, and task.json rewritten by rename.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';

/** The complete lines of a journal; a torn last line (the agent died mid-write) is left out. */
export function readJournal<Line>(path: string): Line[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return [];
  }
  const lines: Line[] = [];
  for (const raw of text.split('\n').slice(0, -1)) {
    try {
      lines.push(JSON.parse(raw) as Line);
    } catch {
      // A torn line can only be the last one; anything unparsable is skipped.
    }
  }
  return lines;
}

export function writeAtomically(path: string, text: string): void {
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, text, { mode: 0o600 });
  renameSync(tmp, path);
}

/** A decimal written by the supervisor with one `echo`: complete only with its newline. */
export function readNumberFile(path: string): number | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
  if (!/^\d+\n$/.test(text)) return undefined;
  return Number(text);
}

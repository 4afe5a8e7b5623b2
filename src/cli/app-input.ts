// What app commands share: reading an app definition file (or standard input) and the deployment
// note of a change's answer.
import type { AppDefinition } from '../client';
import { CorralError } from '../shared/errors';
import type { CommandContext } from './context';

/** Parses an app definition from `file` ('-': standard input); FILE_UNREADABLE, INVALID_JSON or VALIDATION_FAILED otherwise. */
export async function readDefinition(ctx: CommandContext, file: string, what = 'App definition'): Promise<AppDefinition> {
  const name = file === '-' ? 'standard input' : file;
  let text: string;
  try {
    text = file === '-' ? await ctx.deps.readStdin() : await ctx.deps.readFile(file);
  } catch (err) {
    throw new CorralError('FILE_UNREADABLE', `Cannot read ${what.toLowerCase()} ${name}: ${(err as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new CorralError('INVALID_JSON', `${what} ${name} is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new CorralError('VALIDATION_FAILED', `${what} ${name} must be a JSON object`, [{ path: '', errors: ['must be object'] }]);
  }
  return parsed as AppDefinition;
}

/** ` (deployment ID)` when the answer names one. */
export function deploymentNote(id: string | undefined): string {
  return id ? ` (deployment ${id})` : '';
}

// Identifier helpers. Ids are random (crypto) unless derived from domain data on purpose.
import { randomBytes, randomUUID } from 'node:crypto';

export function uuid(): string {
  return randomUUID();
}

/** A 32-byte token as 64 hex characters (admin and cluster tokens). */
export function secretToken(): string {
  return randomBytes(32).toString('hex');
}

/**
 * Marathon's (pre-1.8) task id form: the app id without its leading slash, slashes as '_',
 * then '.', then a UUID — e.g. `/shop/web` -> `shop_web.3f1c…`. Tools that split task ids on the
 * last '.' to get the app keep working.
 */
export function marathonTaskId(appId: string): string {
  return `${appId.replace(/^\//, '').replace(/\//g, '_')}.${uuid()}`;
}

/** Opposite of marathonTaskId: the app id a task id was made from. */
export function appIdOfTaskId(taskId: string): string | undefined {
  const dot = taskId.lastIndexOf('.');
  if (dot <= 0) return undefined;
  return '/' + taskId.slice(0, dot).replace(/_/g, '/');
}

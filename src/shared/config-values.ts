// Parsers of single setting values (numbers, choices, lists, DNS addresses, log levels), shared by
// every field of the configuration schema in config.ts. Each throws CONFIG_INVALID with the setting's
// name and the value it got.
import { isIP } from 'node:net';
import { errors } from './errors';

export const int = (name: string, min: number, max: number) => (raw: string) => {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw errors.config(`${name} must be an integer in ${min}..${max}, got '${raw}'`);
  return n;
};
export const positive = (name: string) => (raw: string) => {
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw errors.config(`${name} must be a positive number, got '${raw}'`);
  return n;
};
export const oneOf = <T extends string>(name: string, choices: readonly T[]) => (raw: string): T => {
  if (!(choices as readonly string[]).includes(raw)) throw errors.config(`${name} must be one of ${choices.join(', ')}, got '${raw}'`);
  return raw as T;
};
export const text = (name: string) => (raw: string) => {
  if (raw.trim() === '') throw errors.config(`${name} must not be empty`);
  return raw;
};

export function parseList(raw: string): string[] {
  return raw.split(',').map((s) => s.trim()).filter(Boolean);
}

export function parseDnsListen(raw: string): { host: string; port: number } {
  const m = /^(.*):(\d+)$/.exec(raw.trim());
  const host = m?.[1]?.replace(/^\[(.*)\]$/, '$1');
  if (!m || !host || isIP(host) === 0) throw errors.config(`--dns-listen must be IP:PORT (e.g. 127.0.0.1:8600), got '${raw}'`);
  return { host, port: int('dns listen port', 0, 65535)(m[2]!) as number };
}

export function parseDnsDomain(raw: string): string {
  const domain = raw.trim().toLowerCase().replace(/\.$/, '');
  const labels = domain.split('.');
  if (domain.length > 200 || !labels.every((l) => /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(l))) throw errors.config(`dns domain must be DNS labels of a-z 0-9 - separated by dots (e.g. corral), got '${raw}'`);
  return domain;
}

/** IP[:PORT] or [IPv6]:PORT, comma separated; only addresses (a reply is matched by the address it comes from). */
export function parseDnsUpstreams(raw: string): string[] {
  const list = parseList(raw);
  for (const u of list) {
    const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(u) ?? /^([^:]+)(?::(\d+))?$/.exec(u) ?? /^([0-9a-fA-F:]+)()$/.exec(u);
    const port = m?.[2] ? Number(m[2]) : 53;
    if (!m || isIP(m[1]!) === 0 || !(port >= 1 && port <= 65535)) throw errors.config(`dns upstream '${u}' must be an IP address with an optional port (e.g. 192.168.1.1 or 192.168.1.1:53 or [::1]:53)`);
  }
  return list;
}

export function parseLogLevel(raw: string): string {
  const levels = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];
  if (!levels.includes(raw)) throw errors.config(`log level must be one of ${levels.join(', ')}, got '${raw}'`);
  return raw;
}

// JSON logs (pino) to stderr; human-readable lines when stderr is a terminal.
// Log lines carry a stable `event` name so they can be searched and alerted on.
import pino, { type Logger } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };

export interface LoggerOptions {
  level?: string;
  /** Force pretty (true) or JSON (false); default: pretty when stderr is a TTY. */
  pretty?: boolean;
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  const level = opts.level ?? 'info';
  const human = opts.pretty ?? Boolean(process.stderr.isTTY);
  // pino-pretty runs in-process as a stream (no worker thread), so it bundles into one file.
  const dest = human ? pretty({ destination: 2, colorize: true, sync: true, singleLine: true, ignore: 'pid,hostname' }) : pino.destination({ fd: 2, sync: false });
  return pino({ level, base: { pid: process.pid } }, dest);
}

/** A logger that drops everything, for tests and library use. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

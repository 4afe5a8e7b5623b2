// Durations as people type them on a command line: `90s`, `5m`, `1h`, `1h30m`, `500ms`, `2d`
// (Go's time.ParseDuration units plus days). A bare number is refused, since seconds and
// milliseconds are both plausible readings; `0` alone means zero.
import { CorralError } from './errors';

/** Milliseconds per unit. */
const UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/y;

/** `text` in milliseconds; CONFIG_INVALID naming `what` (e.g. `--deadline`) when it is not a duration. */
export function parseDuration(text: string, what: string): number {
  const s = text.trim();
  if (s === '0') return 0;
  let ms = 0;
  PART.lastIndex = 0;
  while (s.length > 0 && PART.lastIndex < s.length) {
    const m = PART.exec(s);
    if (!m) break;
    ms += Number(m[1]) * UNITS[m[2]!]!;
  }
  if (s.length === 0 || PART.lastIndex !== s.length || !Number.isFinite(ms)) {
    throw new CorralError('CONFIG_INVALID', `${what} must be a duration like 90s, 5m, 1h or 1h30m, got '${text}'`);
  }
  return ms;
}

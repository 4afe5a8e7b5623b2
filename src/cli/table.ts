// Plain-text output helpers for the human (non --json) views: aligned tables, ages, numbers.

/** Columns padded to their widest cell, two spaces apart, no trailing blanks; ends with a newline. */
export function renderTable(headers: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    widths
      .map((w, i) => (cells[i] ?? '').padEnd(w))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n') + '\n';
}

/** `label: value` lines with the values aligned. */
export function renderFields(fields: ReadonlyArray<readonly [string, string]>): string {
  const width = Math.max(...fields.map(([k]) => k.length + 1));
  return fields.map(([k, v]) => `${(k + ':').padEnd(width)}  ${v}`.trimEnd()).join('\n') + '\n';
}

/** Cuts `text` to `max` characters, marking the cut with an ellipsis. */
export function truncate(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ');
  return flat.length <= max ? flat : flat.slice(0, Math.max(0, max - 1)) + '…';
}

/** Milliseconds since the epoch from an ISO string or a number; undefined when absent or unparsable. */
export function toMillis(t: string | number | null | undefined): number | undefined {
  if (t === null || t === undefined || t === '') return undefined;
  const ms = typeof t === 'number' ? t : Date.parse(t);
  return Number.isFinite(ms) ? ms : undefined;
}

/** Age like `5s`, `3m`, `2h`, `4d` from `then` to `now` (both ms since the epoch); `-` when unknown. */
export function formatAge(then: number | undefined, now: number): string {
  if (then === undefined) return '-';
  const s = Math.max(0, Math.floor((now - then) / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86_400)}d`;
}

/** A number without float noise: 0.1+0.2 → "0.3", 2 → "2". */
export function formatNumber(n: number | undefined): string {
  if (n === undefined || !Number.isFinite(n)) return '-';
  return String(Math.round(n * 100) / 100);
}

/** Mesos state without its prefix: TASK_RUNNING → RUNNING. */
export function shortState(state: string): string {
  return state.replace(/^TASK_/, '');
}

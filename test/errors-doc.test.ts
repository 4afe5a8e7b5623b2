// Pins that docs/api.md's error table and the catalogue in src/shared/errors.ts agree: every code is
// documented with its HTTP status, and the docs list no code the server cannot return.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ERROR_CATALOGUE } from '../src/shared/errors';

const doc = readFileSync(resolve(__dirname, '..', 'docs', 'api.md'), 'utf8');

/** Rows of the first markdown table whose header starts `| code | status |`, as code → status. */
function errorTable(markdown: string): Map<string, number[]> {
  const lines = markdown.split('\n');
  const header = lines.findIndex((l) => /^\|\s*code\s*\|\s*status\s*\|/i.test(l.trim()));
  const rows = new Map<string, number[]>();
  if (header < 0) return rows;
  for (const line of lines.slice(header + 2)) {
    if (!line.trim().startsWith('|')) break;
    const cells = line.trim().replace(/^\||\|$/g, '').split('|').map((c) => c.trim());
    const code = (cells[0] ?? '').replace(/`/g, '');
    rows.set(code, [...(rows.get(code) ?? []), Number(cells[1])]);
  }
  return rows;
}

t.test('docs/api.md documents every error code with its status, and only those', async (t) => {
  const documented = errorTable(doc);
  t.ok(documented.size > 0, 'docs/api.md has an error table with a `| code | status |` header');
  const catalogue = new Map(Object.entries(ERROR_CATALOGUE).map(([code, e]) => [code, e.status]));

  for (const [code, status] of catalogue) {
    t.same(documented.get(code), [status], `${code} is documented once, as ${status}`);
  }
  const extra = [...documented.keys()].filter((code) => !catalogue.has(code));
  t.same(extra, [], 'the table lists no code missing from ERROR_CATALOGUE');
});

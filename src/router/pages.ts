// Reading a whole table page by page. The router says how many rows there are; a page that brings no row not
// seen before ends the reading too (firmware that ignores the offset), so a table is never read twice over.

import { RouterError } from './errors.js';
import type { RouterRow, Value } from './records.js';

export interface Page {
  rows: unknown;
  /** the router's count of all rows, when it gives one */
  total: unknown;
}

const MAX_PAGES = 1000;

/** Rows of pages 0, 1, 2, ... of `size` rows each, until the router's total is reached. */
export async function readAllPages(what: string, size: number, page: (index: number) => Promise<Page>): Promise<RouterRow[]> {
  const rows: RouterRow[] = [];
  const seen = new Set<string>();
  for (let index = 0; index < MAX_PAGES; index++) {
    const p = await page(index);
    if (p.rows !== undefined && !Array.isArray(p.rows)) throw new RouterError('E020', `${what}: the router's rows are not a list`);
    const fresh = ((p.rows ?? []) as Array<Record<string, Value>>)
      .map((record) => ({ id: String(record.id ?? ''), record }))
      .filter((r) => !seen.has(r.id));
    for (const r of fresh) seen.add(r.id);
    rows.push(...fresh);
    const total = Number(p.total);
    const done = Number.isFinite(total) && p.total !== undefined ? rows.length >= total : fresh.length < size;
    if (fresh.length === 0 || done) return rows;
  }
  throw new RouterError('E020', `${what}: the router kept sending rows past ${MAX_PAGES} pages`);
}

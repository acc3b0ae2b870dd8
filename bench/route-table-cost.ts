// Route-table lookup cost against the number of modules (issue 17: it must not grow with
// them). Each module holds `/api/v1/<name>` and `/<name>`, as the kernel routes them; the
// lookups spread over every module and over paths of a few segments with a query string.
import { RouteTable } from '../kernel/route-table.js';
import { round } from './stats.js';

export function routeTableCost(counts: number[], lookups = 1_000_000) {
  return counts.map((n) => {
    const table = new RouteTable<number>();
    for (let i = 0; i < n; i++) {
      table.set(`/api/v1/m${i}`, i);
      table.set(`/m${i}`, i);
    }
    const urls = Array.from({ length: 1024 }, (_, j) => (j % 2 ? `/api/v1/m${j % n}/items/${j}?page=2` : `/m${j % n}/view`));
    let hits = 0;
    for (let i = 0; i < 100_000; i++) if (table.match(urls[i & 1023]!) !== undefined) hits++; // warm-up
    hits = 0;
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < lookups; i++) if (table.match(urls[i & 1023]!) !== undefined) hits++;
    const ns = Number(process.hrtime.bigint() - t0) / lookups;
    if (hits !== lookups) throw new Error(`route table missed ${lookups - hits} lookups`);
    return { modules: n, routes: 2 * n, ns_per_lookup: round(ns, 0) };
  });
}

// Route-table lookup cost against the number of modules (issue 17: it must not grow with
// them). Each module holds `/api/v1/<name>` and `/<name>`, as the kernel routes them; the
// lookups spread over every module and over paths of a few segments with a query string.
// The sizes are measured in turn, five rounds, and each keeps its fastest round: on a shared
// machine the slow rounds are other processes' time, not the table's.
import { RouteTable } from '../kernel/route-table.js';
import { round } from './stats.js';

function table(n: number) {
  const t = new RouteTable<number>();
  for (let i = 0; i < n; i++) {
    t.set(`/api/v1/m${i}`, i);
    t.set(`/m${i}`, i);
  }
  const urls = Array.from({ length: 1024 }, (_, j) => (j % 2 ? `/api/v1/m${j % n}/items/${j}?page=2` : `/m${j % n}/view`));
  return { t, urls };
}

function nsPerLookup(t: RouteTable<number>, urls: string[], lookups: number): number {
  let hits = 0;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < lookups; i++) if (t.match(urls[i & 1023]!) !== undefined) hits++;
  const ns = Number(process.hrtime.bigint() - t0) / lookups;
  if (hits !== lookups) throw new Error(`route table missed ${lookups - hits} lookups`);
  return ns;
}

export function routeTableCost(counts: number[], lookups = 500_000, rounds = 5) {
  const tables = counts.map((n) => ({ n, ...table(n), best: Infinity }));
  for (const x of tables) nsPerLookup(x.t, x.urls, 100_000); // warm-up
  for (let r = 0; r < rounds; r++) for (const x of tables) x.best = Math.min(x.best, nsPerLookup(x.t, x.urls, lookups));
  return tables.map((x) => ({ modules: x.n, routes: 2 * x.n, ns_per_lookup: round(x.best, 0) }));
}

// `npm run bench`: every timing goal of the hub, measured on loopback, bounded in time.
// Prints a table per scenario and writes bench/results.json. BENCH_QUICK=1 shortens runs.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { HUB_ROOT } from '../shared/paths.js';
import { removeTempDirs } from '../tests/helpers/modules.js';
import { database } from './database.js';
import { memory } from './memory.js';
import { floorVerdicts, gatewayFloor } from './gateway-floor.js';
import { hang } from './hang.js';
import { kernelSecretCost } from './kernel-secret-cost.js';
import { identityCost, identityGateCost } from './identity-cost.js';
import { recovery } from './recovery.js';
import { reload } from './reload.js';
import { restartUnderLoad } from './restart-under-load.js';
import { routeTableCost } from './route-table-cost.js';
import { scale } from './scale.js';
import { taskPool } from './task-pool.js';

const quick = process.env.BENCH_QUICK === '1';
const only = process.argv[2];

const machine = {
  cpus: `${cpus().length} × ${cpus()[0]?.model ?? 'unknown'}`,
  memory_gb: Math.round(totalmem() / 2 ** 30),
  node: process.version,
  date: new Date().toISOString(),
};
const results: Record<string, unknown> = { machine };
const want = (name: string) => !only || only === name;

console.log(`machine: ${machine.cpus}, ${machine.memory_gb} GiB, node ${machine.node}`);
if (want('recovery')) {
  results.recovery = await recovery(quick ? 5 : 20);
  console.log('\nrecovery after SIGKILL (goal: median ≤ 100 ms, p95 ≤ 250 ms)');
  console.table([results.recovery]);
}
if (want('hang')) {
  results.hang = await hang(quick ? 1 : 3);
  console.log('\nblocked event loop → answering again (goal ≤ 3000 ms)');
  console.table([results.hang]);
}
if (want('restart')) {
  results.restart = await restartUnderLoad(quick ? 3 : 10);
  console.log('\nzero-downtime restarts under load (goal: 0 non-2xx, 0 errors)');
  console.table([results.restart]);
}
if (want('secret')) {
  results.secret = kernelSecretCost(quick ? 50_000 : 200_000);
  console.log('\nkernel secret per request, µs (goal: a few µs; subtract baseline_us, the cost of building the test request)');
  console.table([results.secret]);
}
if (want('gateway')) {
  const g = await gatewayFloor({ rounds: 3, durationS: quick ? 3 : 6, warmupS: quick ? 1 : 2, connections: [50, 10] });
  results.gateway = g;
  console.log('\ngateway against its floor: direct to the module, a bare Node proxy, http-proxy-middleware alone, the gateway; round-robin, medians over rounds');
  console.table(
    g.rows.map((r) => ({
      c: r.connections,
      direct_rps: r.direct_rps,
      bare_rps: r.bare_rps,
      library_rps: r.library_rps,
      gateway_rps: r.gateway_rps,
      kernel_us_per_req: r.kernel_us_per_req,
      bare_us_per_req: r.bare_us_per_req,
      library_us_per_req: r.library_us_per_req,
      all_clean: r.all_clean,
    })),
  );
  console.table(floorVerdicts(g.rows));
}
if (want('memory')) {
  const m = await memory({ idleMs: quick ? 1000 : 3000, requests: 20 });
  results.memory = m;
  console.log('\nidle module child private memory (smaps_rollup Private_*) beside a bare node http server');
  console.table([{ child_mb: m.child_private_mb, bare_node_mb: m.bare_node_private_mb, ratio: m.ratio, goal: m.goal, verdict: m.verdict }]);
  console.log('packages the child loads at start, and why:');
  console.table(m.loaded_at_start);
}
if (want('identity')) {
  const gate = await identityGateCost(quick ? 50_000 : 200_000);
  console.log('\nidentity gate per request, in-process, µs (subtract baseline_us, the cost of building the test request)');
  console.table([gate]);
  const proxied = await identityCost({ pairs: quick ? 1 : 3, durationS: quick ? 3 : 5, connections: 10 });
  results.identity = { gate, proxied };
  console.log('\ngateway cost of identity: kernel CPU µs per proxied request (goal: cookie and token within a few µs of anonymous)');
  console.table(['anonymous', 'session_cookie', 'bearer_token'].map((leg) => ({ leg, ...(proxied as unknown as Record<string, object>)[leg] })));
}
if (want('reload')) {
  results.reload = await reload(quick ? 3 : 10);
  console.log('\nhot reload: save → new code answering, under load (goal: 0 failed requests)');
  console.table([results.reload]);
}
if (want('scale')) {
  const modules = await scale(quick ? [1, 10] : [1, 10, 50]);
  const routes = routeTableCost([1, 50, 500]);
  results.scale = { modules, route_table: routes };
  console.log('\nscale with the number of modules (goal: 50 modules start → all running ≤ 10 s)');
  console.table(modules);
  console.log('route-table lookup cost against the number of modules (goal: flat)');
  console.table(routes);
}

if (want('database')) {
  results.database = await database();
  console.log('\nembedded PostgreSQL and migrations');
  console.table([results.database]);
}
if (want('tasks')) {
  results.tasks = await taskPool(quick ? 100 : 500);
  console.log('\n/health while the task pool is saturated (goal: p99 < 50 ms, no missed heartbeat)');
  console.table([results.tasks]);
}

// a run of one scenario updates its entry and keeps the others
const file = join(HUB_ROOT, 'bench', 'results.json');
const previous = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>) : {};
writeFileSync(file, JSON.stringify({ ...previous, ...results }, null, 2) + '\n');
console.log('\nwritten: bench/results.json');
// the scenarios' module and data folders (tests/helpers tempDir), so a bench run leaves /tmp as it found it
removeTempDirs();

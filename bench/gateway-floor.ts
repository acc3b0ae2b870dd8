// The gateway against its floor (issue 17), in one run: the same route of the same module
// process requested (a) straight at its port, (b) through a bare Node proxy (bench/bare-proxy.ts:
// http.request + pipe, keep-alive agent), (c) through http-proxy-middleware alone
// (bench/library-proxy.ts) and (d) through the kernel's gateway, round-robin (the leg order
// rotates each round) so the noise of a shared machine hits all four alike.
// The module runs as a remote module (`hubctl serve-module`, secret known to the bench), so
// all three legs get the very same 200 answer; the kernel proxies to it with the same
// proxy code (kernel/proxy.ts) as to a forked child. Kernel CPU per request is read from
// /proc/<pid>/stat for the kernel and for the bare proxy process around their own legs.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { HUB_ROOT } from '../shared/paths.js';
import { KERNEL_SECRET_HEADER, newKernelSecret } from '../shared/runtime/kernel-secret.js';
import { startKernel } from '../tests/helpers/kernel.js';
import { tempDir, writeModule } from '../tests/helpers/modules.js';
import { waitFor } from '../tests/helpers/wait.js';
import { benchRouter } from './fixtures.js';
import { cannon, type CannonRun } from './cannon.js';
import { median, processCpuMicros, round } from './stats.js';

/** The goals of issue 17 for this scenario. */
export const GATEWAY_GOALS = { vsBare: 0.9, cpuVsBare: 1.25, vsDirect: 0.8 };

type Leg = 'direct' | 'bare' | 'library' | 'gateway';
const LEGS: Leg[] = ['direct', 'bare', 'library', 'gateway'];

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

function firstJsonLine(proc: ChildProcess): Promise<{ port: number }> {
  return new Promise((resolve, reject) => {
    const rl = createInterface({ input: proc.stdout! });
    rl.once('line', (line) => resolve(JSON.parse(line) as { port: number }));
    proc.once('exit', (code) => reject(new Error(`bare proxy exited with ${code}`)));
  });
}

function stopProcess(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    proc.once('exit', () => resolve());
    proc.kill('SIGTERM');
    setTimeout(() => proc.kill('SIGKILL'), 5000).unref();
  });
}

export interface FloorRow {
  connections: number;
  rounds: { direct: CannonRun; bare: CannonRun; library: CannonRun; gateway: CannonRun; kernel_us_per_req: number; bare_us_per_req: number; library_us_per_req: number }[];
  direct_rps: number;
  bare_rps: number;
  gateway_rps: number;
  /** medians over rounds of the per-round ratios */
  gateway_vs_bare: number;
  gateway_vs_direct: number;
  kernel_us_per_req: number;
  bare_us_per_req: number;
  cpu_vs_bare: number;
  /** http-proxy-middleware alone (bench/library-proxy.ts): its CPU per request, ÷ bare, and the kernel's ÷ it */
  library_rps: number;
  library_us_per_req: number;
  library_cpu_vs_bare: number;
  cpu_vs_library: number;
  all_clean: boolean;
}

export async function gatewayFloor(opts: { rounds: number; durationS: number; warmupS: number; connections: number[] }): Promise<{ rows: FloorRow[] }> {
  const modulesDir = tempDir('bench-floor-modules');
  writeModule(modulesDir, 'm00', { router: benchRouter });
  const secret = newKernelSecret();
  const port = await freePort();
  const procs: ChildProcess[] = [];
  let kernel: Awaited<ReturnType<typeof startKernel>> | undefined;
  try {
    const module = spawn(process.execPath, [join(HUB_ROOT, 'dist/cli/hubctl.js'), 'serve-module', 'm00', '--port', String(port), '--host', '127.0.0.1'], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, HUB_MODULES_DIR: modulesDir, HUB_DATA_DIR: tempDir('bench-floor-data'), HUB_MODULE_SECRET: secret, LOG_LEVEL: 'warn', NODE_ENV: 'production' },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    procs.push(module);
    const direct = `http://127.0.0.1:${port}/api/v1/m00/ping`;
    await waitFor(async () => (await fetch(direct, { headers: { [KERNEL_SECRET_HEADER]: secret } }).catch(() => null))?.status === 200, { timeoutMs: 60_000, what: 'serve-module m00 answering' });

    kernel = await startKernel({ modulesDir, env: { MODULES__M00__URL: `http://127.0.0.1:${port}`, MODULES__M00__SECRET: secret } });
    await kernel.waitForState('m00', 'running', 60_000);
    const bare = spawn(process.execPath, [join(HUB_ROOT, 'dist/bench/bare-proxy.js'), String(port), KERNEL_SECRET_HEADER, secret], { stdio: ['ignore', 'pipe', 'inherit'] });
    procs.push(bare);
    const barePort = (await firstJsonLine(bare)).port;
    const library = spawn(process.execPath, [join(HUB_ROOT, 'dist/bench/library-proxy.js'), String(port), KERNEL_SECRET_HEADER, secret], { stdio: ['ignore', 'pipe', 'inherit'] });
    procs.push(library);
    const libraryPort = (await firstJsonLine(library)).port;

    const urls: Record<Leg, string> = { direct, bare: `http://127.0.0.1:${barePort}/api/v1/m00/ping`, library: `http://127.0.0.1:${libraryPort}/api/v1/m00/ping`, gateway: `${kernel.url}/api/v1/m00/ping` };
    const pidOf: Record<Leg, number | undefined> = { direct: undefined, bare: bare.pid, library: library.pid, gateway: kernel.proc.pid };
    const run = async (leg: Leg, c: number, s: number) => {
      const pid = pidOf[leg];
      const cpu0 = pid ? await processCpuMicros(pid) : 0;
      const r = await cannon(urls[leg], c, s, leg === 'direct' ? { [KERNEL_SECRET_HEADER]: secret } : undefined);
      const cpu1 = pid ? await processCpuMicros(pid) : 0;
      return { r, usPerReq: pid ? (cpu1 - cpu0) / Math.max(1, r.requests) : 0 };
    };

    const rows: FloorRow[] = [];
    for (const c of opts.connections) {
      for (const leg of LEGS) await run(leg, c, opts.warmupS);
      const rounds: FloorRow['rounds'] = [];
      for (let i = 0; i < opts.rounds; i++) {
        const order = LEGS.map((_, j) => LEGS[(i + j) % LEGS.length]!);
        const got = {} as Record<Leg, { r: CannonRun; usPerReq: number }>;
        for (const leg of order) got[leg] = await run(leg, c, opts.durationS);
        rounds.push({ direct: got.direct.r, bare: got.bare.r, library: got.library.r, gateway: got.gateway.r, kernel_us_per_req: round(got.gateway.usPerReq, 1), bare_us_per_req: round(got.bare.usPerReq, 1), library_us_per_req: round(got.library.usPerReq, 1) });
      }
      const med = (f: (x: FloorRow['rounds'][number]) => number, digits = 3) => round(median(rounds.map(f)), digits);
      rows.push({
        connections: c,
        rounds,
        direct_rps: med((x) => x.direct.rps, 0),
        bare_rps: med((x) => x.bare.rps, 0),
        gateway_rps: med((x) => x.gateway.rps, 0),
        gateway_vs_bare: med((x) => x.gateway.rps / x.bare.rps),
        gateway_vs_direct: med((x) => x.gateway.rps / x.direct.rps),
        kernel_us_per_req: med((x) => x.kernel_us_per_req, 1),
        bare_us_per_req: med((x) => x.bare_us_per_req, 1),
        cpu_vs_bare: med((x) => x.kernel_us_per_req / x.bare_us_per_req),
        library_rps: med((x) => x.library.rps, 0),
        library_us_per_req: med((x) => x.library_us_per_req, 1),
        library_cpu_vs_bare: med((x) => x.library_us_per_req / x.bare_us_per_req),
        cpu_vs_library: med((x) => x.kernel_us_per_req / x.library_us_per_req),
        all_clean: rounds.every((x) => LEGS.every((l) => x[l].errors + x[l].non2xx === 0)),
      });
    }
    return { rows };
  } finally {
    await kernel?.stop();
    await Promise.all(procs.map(stopProcess));
  }
}

/** The goal table: one line per figure and connection count, with PASS/MISS. */
export function floorVerdicts(rows: FloorRow[]) {
  const pass = (ok: boolean) => (ok ? 'PASS' : 'MISS');
  return rows.flatMap((r) => [
    { c: r.connections, figure: 'gateway req/s ÷ bare proxy', value: r.gateway_vs_bare, goal: `≥ ${GATEWAY_GOALS.vsBare}`, verdict: pass(r.gateway_vs_bare >= GATEWAY_GOALS.vsBare) },
    { c: r.connections, figure: 'kernel CPU/req ÷ bare proxy', value: r.cpu_vs_bare, goal: `≤ ${GATEWAY_GOALS.cpuVsBare}`, verdict: pass(r.cpu_vs_bare <= GATEWAY_GOALS.cpuVsBare) },
    { c: r.connections, figure: 'gateway req/s ÷ direct', value: r.gateway_vs_direct, goal: `≥ ${GATEWAY_GOALS.vsDirect}`, verdict: pass(r.gateway_vs_direct >= GATEWAY_GOALS.vsDirect) },
    // no goal: what the card's library costs alone, and the hub's own work on top of it
    { c: r.connections, figure: 'http-proxy-middleware alone: CPU/req ÷ bare proxy', value: r.library_cpu_vs_bare, goal: '(floor)', verdict: '' },
    { c: r.connections, figure: 'kernel CPU/req ÷ http-proxy-middleware alone', value: r.cpu_vs_library, goal: '(ours)', verdict: '' },
  ]);
}

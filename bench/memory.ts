// An idle module child's own memory beside a bare `node` HTTP server's (issue 17): private
// memory (smaps_rollup Private_Clean + Private_Dirty), not RSS, since RSS also counts the
// node binary's pages every process shares. Both processes have answered a few requests
// and then sat idle for the same time. Then the packages a child loads at start, found by
// running the real child program (shared/runtime/child.ts) under module-trace hooks.
import { spawn } from 'node:child_process';
import { startKernel } from '../tests/helpers/kernel.js';
import { childStartPackages } from '../tests/helpers/child-trace.js';
import { benchModules } from './fixtures.js';
import { processPrivateBytes, round } from './stats.js';

/** issue 17: idle child private memory ÷ a bare node http server's. */
export const MEMORY_GOAL = 2.0;

/** Why the runtime loads each package when it does (anything else shows as "?"). */
const WHY: Record<string, string> = {
  express: 'the module app: routing, req/res helpers (shared/runtime/module-app.ts)',
  pino: "logs: the child's log lines go to the kernel as JSON (shared/logger.ts)",
  'pino-std-serializers': 'pino: error serializers',
  'sonic-boom': "pino: the log destination",
  'thread-stream': 'pino: transports',
  'on-exit-leak-free': 'pino: flush on exit',
  'quick-format-unescaped': 'pino: message formatting',
  'safe-stable-stringify': 'pino: JSON',
  'atomic-sleep': 'pino: sync writes',
  'real-require': 'pino: transports',
  'process-warning': 'pino: warnings',
  '@pinojs/redact': 'pino: redaction',
  'fast-redact': 'pino: redaction',
  ejs: 'ctx.render and res.render (templates)',
  pg: 'ctx.db (the module database pool)',
  piscina: 'ctx.tasks (the worker-thread pool)',
  busboy: 'multipart bodies',
  zod: 'manifest and IPC validation',
  semver: 'manifest version checks',
};

function idleServer(): string {
  return "require('node:http').createServer((q, s) => s.end('ok')).listen(0, '127.0.0.1', function () { console.log(this.address().port); });";
}

async function hit(url: string, n: number, headers: Record<string, string> = {}): Promise<void> {
  for (let i = 0; i < n; i++) await (await fetch(url, { headers })).arrayBuffer();
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The bare floor: a `node` http server that answered `requests` requests, idle for `idleMs`. */
async function bareNodePrivate(requests: number, idleMs: number): Promise<number> {
  const proc = spawn(process.execPath, ['-e', idleServer()], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const port = await new Promise<number>((resolve) => proc.stdout!.once('data', (d: Buffer) => resolve(Number(String(d).trim()))));
    await hit(`http://127.0.0.1:${port}/`, requests);
    await sleep(idleMs);
    return await processPrivateBytes(proc.pid!);
  } finally {
    proc.kill('SIGKILL');
  }
}

export async function memory(opts: { idleMs: number; requests: number }) {
  const k = await startKernel({ modulesDir: benchModules(1) });
  let childBytes: number;
  try {
    const rec = await k.waitForState('m00', 'running', 60_000);
    await hit(`${k.url}/api/v1/m00/ping`, opts.requests);
    await sleep(opts.idleMs);
    childBytes = await processPrivateBytes(rec.pid);
  } finally {
    await k.stop();
  }
  const bareBytes = await bareNodePrivate(opts.requests, opts.idleMs);
  const packages = await childStartPackages(benchModules(1), 'm00');
  const ratio = round(childBytes / bareBytes, 2);
  return {
    child_private_mb: round(childBytes / 1048576, 1),
    bare_node_private_mb: round(bareBytes / 1048576, 1),
    ratio,
    goal: `≤ ${MEMORY_GOAL}`,
    verdict: ratio <= MEMORY_GOAL ? 'PASS' : 'MISS',
    loaded_at_start: packages.map((p) => ({ package: p, why: WHY[p] ?? '?' })),
  };
}

// An idle module child's own memory beside a bare `node` HTTP server's (issue 17): private
// memory (smaps_rollup Private_Clean + Private_Dirty), not RSS, since RSS also counts the
// node binary's pages every process shares. Both processes have answered a few requests
// and then sat idle for the same time. Then the packages a child loads at start, found by
// running the real child program (shared/runtime/child.ts) under module-trace hooks.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Socket } from 'node:net';
import { specFromEnv } from '../cli/serve-module.js';
import { IpcChannel } from '../shared/ipc-channel.js';
import { CHILD_ENTRY, HUB_ROOT } from '../shared/paths.js';
import { newKernelSecret } from '../shared/runtime/kernel-secret.js';
import { startKernel } from '../tests/helpers/kernel.js';
import { tempDir } from '../tests/helpers/modules.js';
import { waitFor } from '../tests/helpers/wait.js';
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

/** The packages (node_modules/<name>) the child program loads up to `ready`, in load order. */
export async function childStartPackages(): Promise<string[]> {
  const modulesDir = benchModules(1);
  const dataDir = tempDir('bench-memory-data');
  const trace = join(tempDir('bench-memory-trace'), 'loaded.txt');
  const spec = await specFromEnv('m00', { HUB_MODULES_DIR: modulesDir, HUB_DATA_DIR: dataDir, HUB_MODULE_SECRET: newKernelSecret() });
  const proc = spawn(process.execPath, ['--import', join(HUB_ROOT, 'dist/bench/module-trace.js'), CHILD_ENTRY], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, NODE_ENV: 'production', HUB_TRACE_FILE: trace },
    stdio: ['ignore', 'ignore', 'inherit', 'pipe'],
  });
  try {
    let ready = false;
    const channel = new IpcChannel<unknown>(proc.stdio[3] as Socket, 1024 * 1024, {
      onMessage: (m) => {
        if ((m as { type?: string }).type === 'ready') ready = true;
      },
    });
    channel.send({ type: 'init', spec });
    await waitFor(() => ready || proc.exitCode !== null, { timeoutMs: 30_000, what: 'traced child ready' });
    const seen: string[] = [];
    for (const url of readFileSync(trace, 'utf8').split('\n')) {
      const m = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
      if (m && !seen.includes(m[1]!)) seen.push(m[1]!);
    }
    return seen;
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
  const packages = await childStartPackages();
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

// What a module child loads at start: the real child program (shared/runtime/child.ts) run
// under module-trace hooks (./module-trace.ts), told over its fd-3 channel to become one
// module, as the kernel would. Used by bench/memory.ts and tests/child-lazy-loading.test.ts.
// The spec is built as `hubctl serve-module` builds it (cli/serve-module.ts).
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Socket } from 'node:net';
import { specFromEnv } from '../../cli/serve-module.js';
import { IpcChannel } from '../../shared/ipc-channel.js';
import { CHILD_ENTRY, HUB_ROOT } from '../../shared/paths.js';
import { newKernelSecret } from '../../shared/runtime/kernel-secret.js';
import { tempDir } from './modules.js';
import { waitFor } from './wait.js';

/**
 * The packages (node_modules/<name>) the child program loads from its start until it reports
 * `ready` as module `name` of `modulesDir`, in load order. Needs a build (dist/).
 */
export async function childStartPackages(modulesDir: string, name: string): Promise<string[]> {
  const dataDir = tempDir('bench-memory-data');
  const trace = join(tempDir('bench-memory-trace'), 'loaded.txt');
  const spec = await specFromEnv(name, { HUB_MODULES_DIR: modulesDir, HUB_DATA_DIR: dataDir, HUB_MODULE_SECRET: newKernelSecret() });
  const proc = spawn(process.execPath, ['--import', join(HUB_ROOT, 'dist/tests/helpers/module-trace.js'), CHILD_ENTRY], {
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
    if (!ready) throw new Error(`the traced child exited with ${proc.exitCode} before it was ready`);
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


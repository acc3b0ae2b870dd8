// Where the hub itself lives, found the same way from source (vitest, tsx) and from dist/.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findRoot(start: string): string {
  let dir = start;
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'bmc-hub') return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error(`cannot find the hub's package.json above ${start}`);
    dir = up;
  }
}

export const HUB_ROOT = findRoot(dirname(fileURLToPath(import.meta.url)));
export const HUB_VERSION: string = (JSON.parse(readFileSync(join(HUB_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
/** The compiled child program; the kernel forks this, never TypeScript. */
export const CHILD_ENTRY = join(HUB_ROOT, 'dist', 'shared', 'runtime', 'child.js');
/** The worker guard as a CommonJS preload (`--require`): Node runs it in every worker thread too, before the worker's code. */
export const WORKER_GUARD_PRELOAD = join(HUB_ROOT, 'dist', 'shared', 'runtime', 'worker-guard-preload.cjs');
export const KERNEL_MIGRATIONS_DIR = join(HUB_ROOT, 'migrations');

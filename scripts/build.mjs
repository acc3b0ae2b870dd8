// Transpiles the hub's own TypeScript (kernel/, shared/, cli/, bench/) to dist/ with esbuild.
// One file in, one file out: no bundling, so stack traces and imports stay as written.
// Takes well under a second, which is why `npm start` and `npm test` can run it every time.
import { build } from 'esbuild';
import { readdirSync, rmSync, chmodSync, existsSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
// tests/helpers is built too: the benchmarks start kernels the same way the tests do
const sources = ['kernel', 'shared', 'cli', 'bench', 'tests/helpers'];

function walk(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return walk(p);
    return e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [p] : [];
  });
}

rmSync(join(root, 'dist'), { recursive: true, force: true });
const entryPoints = sources.flatMap((s) => walk(join(root, s)));
await build({
  entryPoints,
  outdir: join(root, 'dist'),
  outbase: root,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  sourcemap: 'linked',
  logLevel: 'warning',
});
// the worker guard as one CommonJS file for `--require` (see shared/runtime/worker-guard-preload.ts)
await build({
  entryPoints: [join(root, 'shared/runtime/worker-guard-preload.ts')],
  outfile: join(root, 'dist/shared/runtime/worker-guard-preload.cjs'),
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  logLevel: 'warning',
});
const cli = join(root, 'dist/cli/hubctl.js');
if (existsSync(cli)) chmodSync(cli, 0o755);

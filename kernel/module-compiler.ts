// Turns a module's TypeScript into plain JavaScript under HUB_DATA_DIR/build, so a child
// starts with `node` alone: no TS loader in every child (it costs a fifth of a second per
// start). esbuild bundles the module's own files and leaves npm packages external; a
// node_modules link beside the output lets Node resolve those packages as the source would.
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { HubError } from '../shared/errors.js';
import { HUB_ROOT } from '../shared/paths.js';

const ENTRY_FILES = ['backend/router', 'frontend/views'];
const SOURCE_EXT = ['.ts', '.mts', '.js', '.mjs'];

async function listSources(dir: string, base = dir): Promise<string[]> {
  const out: string[] = [];
  for (const d of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    if (d.name === 'node_modules' || d.name.startsWith('.')) continue;
    const p = join(dir, d.name);
    if (d.isDirectory()) out.push(...(await listSources(p, base)));
    else if (SOURCE_EXT.some((x) => d.name.endsWith(x)) && !d.name.endsWith('.d.ts')) out.push(relative(base, p));
  }
  return out.sort();
}

function findEntry(moduleDir: string, base: string): string | null {
  for (const ext of SOURCE_EXT) if (existsSync(join(moduleDir, base + ext))) return base + ext;
  return null;
}

/** The nearest node_modules above the module, else the hub's own: what the source would resolve. */
function nodeModulesFor(moduleDir: string): string {
  let dir = moduleDir;
  for (;;) {
    const candidate = join(dir, 'node_modules');
    if (existsSync(candidate)) return candidate;
    const up = dirname(dir);
    if (up === dir) return join(HUB_ROOT, 'node_modules');
    dir = up;
  }
}

async function fingerprint(moduleDir: string, files: string[]): Promise<string> {
  const h = createHash('sha256');
  for (const f of files) {
    const s = await stat(join(moduleDir, f));
    h.update(`${f}\0${s.size}\0${s.mtimeMs}\0`);
  }
  return h.digest('hex').slice(0, 12);
}

/** Keeps the newest `keep` builds: a child still running from an older one may load a task file late. */
async function pruneOldBuilds(root: string, keep: number): Promise<void> {
  const dirs = await readdir(root, { withFileTypes: true }).catch(() => []);
  const aged = await Promise.all(
    dirs.filter((d) => d.isDirectory()).map(async (d) => ({ p: join(root, d.name), t: (await stat(join(root, d.name))).mtimeMs })),
  );
  aged.sort((a, b) => b.t - a.t);
  await Promise.all(aged.slice(keep).map((a) => rm(a.p, { recursive: true, force: true })));
}

/**
 * Compiles the module if its sources changed since the last build; returns the build folder.
 * Builds are keyed by a fingerprint of the sources, so a crash restart never recompiles.
 */
export async function compileModule(name: string, moduleDir: string, dataDir: string): Promise<string> {
  const sources = await listSources(moduleDir);
  const entries = [
    ...ENTRY_FILES.map((b) => findEntry(moduleDir, b)).filter((e): e is string => e !== null),
    ...sources.filter((f) => /^backend\/tasks\/[^/]+\.(ts|mts|js|mjs)$/.test(f)),
  ];
  const root = join(dataDir, 'build', name);
  const outdir = join(root, await fingerprint(moduleDir, sources));
  if (existsSync(join(outdir, '.complete'))) return outdir;
  await pruneOldBuilds(root, 2);
  await rm(outdir, { recursive: true, force: true });
  await mkdir(outdir, { recursive: true });
  if (entries.length > 0) {
    try {
      await build({
        absWorkingDir: moduleDir,
        entryPoints: entries,
        outdir,
        outbase: moduleDir,
        bundle: true,
        packages: 'external',
        format: 'esm',
        platform: 'node',
        target: 'node20',
        sourcemap: 'inline',
        outExtension: { '.js': '.js' },
        logLevel: 'silent',
      });
    } catch (e) {
      const errors = (e as { errors?: { text: string; location?: { file: string; line: number } }[] }).errors ?? [];
      const first = errors[0];
      const where = first?.location ? `${first.location.file}:${first.location.line}: ` : '';
      throw new HubError('start_failed', `modules/${name}: cannot compile: ${where}${first?.text ?? (e as Error).message}`);
    }
  }
  await symlink(nodeModulesFor(moduleDir), join(outdir, 'node_modules'), 'dir').catch(() => undefined);
  await writeFile(join(outdir, '.complete'), new Date().toISOString());
  return outdir;
}

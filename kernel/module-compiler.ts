// Turns a module's TypeScript into plain JavaScript under HUB_DATA_DIR/build, so a child
// starts with `node` alone: no TS loader in every child (it costs a fifth of a second per
// start). esbuild bundles the module's own files and leaves npm packages external; a
// node_modules link beside the output lets Node resolve those packages as the source would.
// The module's other files (templates, data) are staged beside the compiled code, so a
// child never reads the module's source folder. Compilation happens in the module's own
// box: an import may resolve only inside the module folder, its node_modules and the hub's
// packages (issue 11, item 4), and no compile error carries a line of source text.
// esbuild reads no file of its own choosing either: the box loads every code file itself,
// and tsconfig comes from the module's own tsconfig.json, never from disk lookups.
import { build, type Loader, type Plugin } from 'esbuild';
import { existsSync, realpathSync } from 'node:fs';
import { copyFile, mkdir, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { dirname, extname, isAbsolute, join, relative, sep } from 'node:path';
import { HubError } from '../shared/errors.js';
import { HUB_ROOT } from '../shared/paths.js';
import { fingerprintFiles, listModuleFiles } from './module-fingerprint.js';

const ENTRY_FILES = ['backend/router', 'frontend/views'];
const SOURCE_EXT = ['.ts', '.mts', '.js', '.mjs'];

const isSource = (name: string) => SOURCE_EXT.some((x) => name.endsWith(x)) && !name.endsWith('.d.ts');

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

const real = (p: string) => {
  try {
    return realpathSync(p);
  } catch {
    return p;
  }
};

/**
 * The module's own files the tested hash covers (module-fingerprint.ts): `dir` its real path,
 * `files` the real paths of listModuleFiles. A file inside `dir` outside this set (a dotfile,
 * a symlink's target, coverage/) may not be compiled in: an edit to it would not untest the module.
 */
export interface OwnFiles { dir: string; files: Set<string> }

/**
 * The compile box: every import esbuild resolves must, by its real path (symlinks
 * followed), lie inside one of `roots`; bare package imports stay external (the child
 * resolves them under its own permissions). Anything else fails the build with
 * `imports a file outside its folder: <path>` before esbuild reads a byte of it.
 */
export function compileBox(roots: string[], own?: OwnFiles): Plugin {
  const inside = (p: string) => roots.some((r) => p === r || p.startsWith(r + sep));
  const within = (p: string, r: string) => p === r || p.startsWith(r + sep);
  return {
    name: 'hub-module-box',
    setup(b) {
      b.onResolve({ filter: /.*/ }, async (args) => {
        if ((args.pluginData as { boxed?: boolean } | undefined)?.boxed) return undefined;
        const resolved = await b.resolve(args.path, {
          kind: args.kind,
          importer: args.importer,
          resolveDir: args.resolveDir,
          with: args.with,
          pluginData: { boxed: true },
        });
        if (resolved.errors.length > 0) return { errors: resolved.errors.map((e) => ({ text: e.text })) };
        if (resolved.external || !isAbsolute(resolved.path)) return resolved;
        const target = real(resolved.path);
        if (!inside(target)) return { errors: [{ text: `imports a file outside its folder: ${target}` }] };
        if (own && within(target, own.dir) && !within(target, join(own.dir, 'node_modules')) && !own.files.has(target)) {
          return { errors: [{ text: `uses ${relative(own.dir, target)}, a file its tested hash leaves out (a dotfile, a symlink or coverage/); give it a plain name` }] };
        }
        return resolved;
      });
      // esbuild follows a file's `sourceMappingURL` comment to read a source map, and that
      // map's `sources` to read (and inline in the bundle) any file, by itself, past the
      // resolver above; it quotes a map that is not JSON in its error (red team: the admin
      // token in the bundle the module's child reads, its first word in the public
      // last_error). So the box loads code itself and ends every file with a map comment of
      // its own: esbuild honours the last one, finds it empty and maps the file as it is.
      b.onLoad({ filter: /\.(?:[mc]?[jt]s|[jt]sx|css)$/, namespace: 'file' }, async (args) => {
        if (args.with && Object.keys(args.with).length > 0) return undefined; // `with { type: 'text' }`: no comments read
        const loader = LOADERS[extname(args.path)];
        if (!loader) return undefined;
        const text = await readFile(args.path, 'utf8');
        return { contents: text + (loader === 'css' ? `\n/*# sourceMappingURL=${EMPTY_MAP} */\n` : `\n//# sourceMappingURL=${EMPTY_MAP}\n`), loader, resolveDir: dirname(args.path) };
      });
    },
  };
}

const LOADERS: Record<string, Loader> = {
  '.js': 'js', '.mjs': 'js', '.cjs': 'js', '.jsx': 'jsx', '.ts': 'ts', '.mts': 'ts', '.cts': 'ts', '.tsx': 'tsx', '.css': 'css',
};

/** A data URL of `{}`: not a usable map, so esbuild maps the file from its own text. */
const EMPTY_MAP = 'data:application/json;base64,e30=';

/** JSON with the comments and trailing commas tsconfig.json allows. */
function parseJsonc(text: string): unknown {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '"') {
      const end = /^"(?:[^"\\]|\\.)*"/.exec(text.slice(i));
      if (!end) throw new SyntaxError('unterminated string');
      out += end[0];
      i += end[0].length - 1;
    } else if (c === '/' && text[i + 1] === '/') {
      while (i < text.length && text[i] !== '\n') i++;
      out += '\n';
    } else if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      if (end < 0) throw new SyntaxError('unterminated comment');
      i = end + 1;
    } else out += c;
  }
  return JSON.parse(out.replace(/,(\s*[}\]])/g, '$1'));
}

/**
 * The tsconfig esbuild compiles with: the compilerOptions of the module's own tsconfig.json,
 * or none. esbuild would otherwise read tsconfig.json files above the module and follow
 * `extends` anywhere, quoting what it finds in its error (red team: a kernel file's first word).
 */
export async function moduleTsconfig(name: string, moduleDir: string): Promise<{ compilerOptions?: Record<string, unknown> }> {
  let text: string;
  try {
    text = await readFile(join(moduleDir, 'tsconfig.json'), 'utf8');
  } catch {
    return {};
  }
  if (text.length > 256 * 1024) throw new HubError('start_failed', `modules/${name}/tsconfig.json is over 256 KiB; a tsconfig needs only compilerOptions`);
  let parsed: unknown;
  try {
    parsed = parseJsonc(text);
  } catch (e) {
    throw new HubError('start_failed', `modules/${name}/tsconfig.json is not valid JSON (${(e as Error).message.slice(0, 120)}); fix the file`);
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new HubError('start_failed', `modules/${name}/tsconfig.json is not a JSON object; fix the file`);
  }
  const config = parsed as { extends?: unknown; compilerOptions?: unknown };
  if (config.extends !== undefined) {
    throw new HubError('start_failed', `modules/${name}/tsconfig.json uses "extends": the hub compiles with this file's own compilerOptions only; copy the options you need into it`);
  }
  const opts = config.compilerOptions;
  return opts && typeof opts === 'object' && !Array.isArray(opts) ? { compilerOptions: opts as Record<string, unknown> } : {};
}

/** Copies the module's non-code files beside its compiled code (same relative paths). */
async function stageFiles(moduleDir: string, files: string[], outdir: string): Promise<void> {
  for (const f of files) {
    if (isSource(f)) continue;
    await mkdir(dirname(join(outdir, f)), { recursive: true });
    await copyFile(join(moduleDir, f), join(outdir, f));
  }
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
  // A file edited while it is compiled would leave a build of the new text under the old
  // text's key, marked complete: once the text is back (an undo, a checkout) the stale build
  // would run (issue 14, item 8's kind). The key is taken again afterwards; a build whose
  // inputs moved under it is thrown away and made again.
  for (let attempt = 1; ; attempt++) {
    const files = await listModuleFiles(moduleDir);
    const key = (await fingerprintFiles(moduleDir, files)).slice(0, 16);
    const { outdir, built } = await compileOnce(name, moduleDir, dataDir, files, key);
    if (!built) return outdir;
    const now = await listModuleFiles(moduleDir);
    if ((await fingerprintFiles(moduleDir, now)).slice(0, 16) === key) {
      await writeFile(join(outdir, '.complete'), new Date().toISOString());
      return outdir;
    }
    await rm(outdir, { recursive: true, force: true });
    if (attempt >= 5) throw new HubError('start_failed', `modules/${name}: its files kept changing while it was compiled (${attempt} tries); start it again once they are saved`);
  }
}

/** One build of `files` into build/<name>/<key>, not marked complete here; or the complete one already there (`built` false). */
async function compileOnce(name: string, moduleDir: string, dataDir: string, files: string[], key: string): Promise<{ outdir: string; built: boolean }> {
  const sources = files.filter(isSource);
  const entries = [
    ...ENTRY_FILES.map((b) => findEntry(moduleDir, b)).filter((e): e is string => e !== null),
    ...sources.filter((f) => /^backend\/tasks\/[^/]+\.(ts|mts|js|mjs)$/.test(f)),
  ];
  const root = join(dataDir, 'build', name);
  const outdir = join(root, key);
  if (existsSync(join(outdir, '.complete'))) return { outdir, built: false };
  await pruneOldBuilds(root, 2);
  await rm(outdir, { recursive: true, force: true });
  await mkdir(outdir, { recursive: true });
  const realDir = real(moduleDir);
  const own: OwnFiles = { dir: realDir, files: new Set(files.map((f) => join(realDir, f))) };
  const tsconfigRaw = await moduleTsconfig(name, moduleDir);
  const box = compileBox([realDir, real(nodeModulesFor(moduleDir)), real(join(HUB_ROOT, 'node_modules')), real(join(HUB_ROOT, 'shared'))], own);
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
        tsconfigRaw: tsconfigRaw as never,
        plugins: [box],
      });
    } catch (e) {
      throw new HubError('start_failed', `modules/${name}: cannot compile: ${compileErrorText(e)}`);
    }
  }
  await stageFiles(moduleDir, files, outdir);
  await symlink(nodeModulesFor(moduleDir), join(outdir, 'node_modules'), 'dir').catch(() => undefined);
  return { outdir, built: true };
}

/**
 * One line for last_error from an esbuild failure: `file:line: message` of the first error.
 * Never the source line (esbuild's lineText), notes or the formatted message, which quote
 * file contents: the record is public and the file may not be the module's.
 */
export function compileErrorText(e: unknown): string {
  const errors = (e as { errors?: { text?: unknown; location?: { file?: unknown; line?: unknown } | null }[] }).errors;
  const first = Array.isArray(errors) ? errors[0] : undefined;
  if (!first) return 'the build failed';
  const loc = first.location;
  const where = loc && typeof loc.file === 'string' ? `${loc.file}:${Number(loc.line) || 0}: ` : '';
  return `${where}${String(first.text ?? 'error').slice(0, 500)}`;
}

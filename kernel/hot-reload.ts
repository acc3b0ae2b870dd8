// MODULES_AUTO_RELOAD=true: watch the modules folder and apply changes live. Events are
// collected for a short quiet period so an editor's save (often several writes and a
// rename) or a `git checkout` of many files becomes one reload per module.
import { watch, type FSWatcher } from 'chokidar';
import { relative, sep } from 'node:path';
import type { Logger } from 'pino';

const QUIET_MS = 200;

function ignored(path: string): boolean {
  const parts = path.split(sep);
  return parts.includes('node_modules') || parts.some((p) => p.startsWith('.') && p.length > 1) || path.endsWith('.tmp') || path.endsWith('~');
}

/** Resolves once the watcher has seen the whole folder: an edit made after that is never missed. */
export async function watchModules(root: string, log: Logger, sync: (changed: Set<string>) => Promise<void>): Promise<{ close(): Promise<void> }> {
  const watcher: FSWatcher = watch(root, { ignoreInitial: true, ignored, awaitWriteFinish: { stabilityThreshold: 80, pollInterval: 20 } });
  const changed = new Set<string>();
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();

  const flush = () => {
    const batch = new Set(changed);
    changed.clear();
    running = running.then(() => sync(batch)).catch((e) => log.error({ err: e }, `hot reload failed: ${(e as Error).message}`));
  };

  watcher.on('all', (_event, path) => {
    const [folder, ...rest] = relative(root, path).split(sep);
    if (!folder || folder.startsWith('_') || folder.startsWith('.')) return;
    // module.json edits are found by the rescan itself; anything else is code, templates or migrations
    if (!(rest.length === 1 && rest[0] === 'module.json') && !(rest.length === 1 && rest[0] === 'README.md')) changed.add(folder);
    clearTimeout(timer);
    timer = setTimeout(flush, QUIET_MS);
  });
  watcher.on('error', (err) => log.warn({ err }, `module watcher: ${(err as Error).message}`));
  await new Promise<void>((resolve) => watcher.once('ready', () => resolve()));
  log.info(`👀 Watching ${root} for module changes (MODULES_AUTO_RELOAD=true)`);

  return {
    async close() {
      clearTimeout(timer);
      await watcher.close();
      await running;
    },
  };
}

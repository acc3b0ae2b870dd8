// A child's environment is built from an allow-list, never copied from the kernel's:
// the kernel's secrets (DATABASE_URL, HUB_ADMIN_TOKEN) and other modules' keys must not
// leak, and NODE_OPTIONS could re-enable anything we turned off. Module config travels
// over IPC in the init message, so it reaches only its own module.
import { WORKER_GUARD_PRELOAD } from '../shared/paths.js';

const ALLOWED = ['PATH', 'HOME', 'TZ', 'LANG', 'LC_ALL', 'TMPDIR', 'NODE_ENV', 'UV_THREADPOOL_SIZE'];

export function childEnvironment(parent: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const key of ALLOWED) {
    const v = parent[key];
    if (v !== undefined) env[key] = v;
  }
  env.NODE_ENV ??= 'production';
  return env;
}

/**
 * Node flags for one child: the heap cap from max_memory_mb, and Node's permission model
 * (unless turned off): a child may read only the hub's runtime, the modules and their
 * compiled code, may write no files and start no processes. Without it a module's code
 * could read the embedded database's superuser password or another module's logs from
 * HUB_DATA_DIR, since every child runs as the kernel's OS user.
 */
export function childExecArgv(maxMemoryMb: number | undefined, readPaths: string[] | null): string[] {
  // a 1 MB young generation (V8's default is 16 MB a semi-space): an idle child keeps 1.3 MB
  // less private memory (npm run bench memory: 17.5 → 16.2 MB); scavenges get more frequent
  // but each stays small for a request handler's short-lived garbage (issue 17)
  // the worker guard as a preload, so it runs in every worker thread before the worker's
  // code: installed by child.js alone it guarded the main thread only, and a plain Worker
  // could start a nested one with NODE_OPTIONS=--allow-fs-read=* (red team)
  const args = ['--enable-source-maps', '--max-semi-space-size=1', '--require', WORKER_GUARD_PRELOAD];
  if (maxMemoryMb) args.push(`--max-old-space-size=${maxMemoryMb}`);
  if (readPaths) {
    args.push('--experimental-permission', '--allow-worker', '--disable-warning=ExperimentalWarning', '--disable-warning=SecurityWarning');
    for (const p of readPaths) args.push(`--allow-fs-read=${p}`);
  }
  return args;
}

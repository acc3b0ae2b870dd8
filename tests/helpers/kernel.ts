// Starts a real kernel process (node dist/kernel/main.js) on a temporary data folder and
// free ports (public and admin origin), and gives tests a handle on it: its URLs, its log
// lines, and a clean stop. Tests call admin routes only through `admin()`, which goes to the
// admin origin with the admin credential.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HUB_ROOT } from '../../shared/paths.js';
import { tempDir } from './modules.js';
import { fatal, waitFor } from './wait.js';

export interface KernelOptions {
  modulesDir: string;
  dataDir?: string;
  /** A database for this kernel; without it (and without `embedded`) the kernel runs with HUB_DATABASE=off. */
  databaseUrl?: string;
  /** Run on the embedded PostgreSQL under the data folder, as `npm start` does by default. */
  embedded?: boolean;
  env?: Record<string, string>;
  /** Wait for the "Loaded N modules" line (default true). */
  waitLoaded?: boolean;
}

export interface RunningKernel {
  /** The public origin (modules, /health, records, docs). */
  url: string;
  port: number;
  /** The admin origin (dashboard, admin API, /metrics), from the "Admin listening" line. */
  adminUrl: string;
  adminPort: number;
  proc: ChildProcess;
  dataDir: string;
  modulesDir: string;
  lines: string[];
  /** The log lines parsed as JSON (non-JSON lines are skipped). */
  entries(): Record<string, unknown>[];
  waitForLog(match: RegExp, timeoutMs?: number): Promise<string>;
  get(path: string, init?: RequestInit): Promise<Response>;
  /** The admin credential this kernel accepts (HUB_ADMIN_TOKEN, else HUB_DATA_DIR/admin-token), if any. */
  adminToken(): string | undefined;
  /** A request to the kernel's admin origin with the admin credential as a bearer header (unless init sets authorization). */
  admin(path: string, init?: RequestInit): Promise<Response>;
  json<T = any>(path: string, init?: RequestInit): Promise<T>;
  record(name: string): Promise<any>;
  waitForState(name: string, state: string, timeoutMs?: number): Promise<any>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

const running = new Set<RunningKernel>();

function readIfExists(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

export async function startKernel(opts: KernelOptions): Promise<RunningKernel> {
  const dataDir = opts.dataDir ?? tempDir('data');
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? '/tmp',
    HUB_PORT: '0',
    HUB_ADMIN_PORT: '0',
    HUB_MODULES_DIR: opts.modulesDir,
    HUB_DATA_DIR: dataDir,
    LOG_LEVEL: 'info',
    ...(opts.databaseUrl ? { DATABASE_URL: opts.databaseUrl } : opts.embedded ? {} : { HUB_DATABASE: 'off' }),
    ...opts.env,
  };
  const proc = spawn(process.execPath, [join(HUB_ROOT, 'dist/kernel/main.js')], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let buffered = '';
  const onData = (chunk: Buffer) => {
    buffered += chunk.toString('utf8');
    const parts = buffered.split('\n');
    buffered = parts.pop() ?? '';
    lines.push(...parts.filter((l) => l.length > 0));
  };
  proc.stdout!.on('data', onData);
  proc.stderr!.on('data', onData);
  let stopRequested = false;
  const exited = new Promise<number | null>((resolve) =>
    proc.once('exit', (code, signal) => {
      // a kernel that dies on its own is always a finding: show why
      if (!stopRequested) console.error(`kernel exited unexpectedly (${code ?? signal}):\n${lines.slice(-40).join('\n')}`);
      resolve(code);
    }),
  );

  const find = (re: RegExp) => lines.find((l) => re.test(l));
  const waitForLog = (re: RegExp, timeoutMs = 30_000) =>
    waitFor(() => {
      if (proc.exitCode !== null) throw fatal(`kernel exited with ${proc.exitCode}:\n${lines.slice(-20).join('\n')}`);
      return find(re);
    }, { timeoutMs, what: `log line ${re}` });

  let port = 0;
  let adminPort = 0;
  try {
    const listening = await waitForLog(/Gateway listening on http:\/\/[^:]+:(\d+)/, 60_000);
    port = Number(/Gateway listening on http:\/\/[^:]+:(\d+)/.exec(listening)![1]);
    const adminLine = await waitForLog(/Admin listening on http:\/\/[^:]+:(\d+)/, 60_000);
    adminPort = Number(/Admin listening on http:\/\/[^:]+:(\d+)/.exec(adminLine)![1]);
    if (opts.waitLoaded !== false) await waitForLog(/✅ Loaded \d+ modules/, 90_000);
  } catch (e) {
    proc.kill('SIGKILL');
    throw new Error(`${(e as Error).message}\n--- kernel output ---\n${lines.join('\n')}`);
  }
  const url = `http://127.0.0.1:${port}`;
  const adminUrl = `http://127.0.0.1:${adminPort}`;
  const k: RunningKernel = {
    url,
    port,
    adminUrl,
    adminPort,
    proc,
    dataDir,
    modulesDir: opts.modulesDir,
    lines,
    entries: () =>
      lines.flatMap((l) => {
        try {
          return [JSON.parse(l) as Record<string, unknown>];
        } catch {
          return [];
        }
      }),
    waitForLog,
    get: (path, init) => fetch(url + path, init),
    adminToken: () => opts.env?.HUB_ADMIN_TOKEN ?? readIfExists(join(dataDir, 'admin-token')),
    admin: (path, init = {}) => {
      const token = k.adminToken();
      const headers = new Headers(init.headers);
      if (token && !headers.has('authorization')) headers.set('authorization', `Bearer ${token}`);
      return fetch(adminUrl + path, { ...init, headers });
    },
    json: async <T,>(path: string, init?: RequestInit) => (await (await fetch(url + path, init)).json()) as T,
    record: async (name) => (await fetch(`${url}/api/v1/modules/${name}`)).json(),
    waitForState: (name, state, timeoutMs = 30_000) =>
      waitFor(async () => {
        const r = await k.record(name);
        return r.state === state ? r : undefined;
      }, { timeoutMs, what: `${name} to be ${state}` }),
    async stop(signal = 'SIGTERM') {
      running.delete(k);
      stopRequested = true;
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      const timer = setTimeout(() => proc.kill('SIGKILL'), 20_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
  running.add(k);
  return k;
}

export async function stopAllKernels(): Promise<void> {
  await Promise.all([...running].map((k) => k.stop()));
}

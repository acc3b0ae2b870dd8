// The real-child check of `hubctl test`: a real kernel (dist/kernel/main.js) on the run's
// throwaway database, with HUB_MODULES_DIR a temp folder holding a copy of the module and its
// dependencies (copies, not symlinks: the kernel refuses a module folder that links outside
// the modules folder), enabled in the copy; free ports, its own admin token. The module must
// reach `running`, and GET <api_prefix>/health through the gateway must answer 200.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join, relative, sep } from 'node:path';
import { hasGivenUp, isModuleState, isStarted } from '../shared/module-states.js';
import { envName } from '../shared/names.js';
import { HUB_ROOT } from '../shared/paths.js';
import { timed, type CheckContext, type CheckResult } from './module-test-checks.js';

/** Top-level folders not copied: tool output and the module's tests (they run in their own check). */
const SKIP_TOP = new Set(['coverage', 'tests']);

/** Not copied anywhere: installed packages (resolved from the hub's, as the compiler does) and dotfiles. */
function copied(from: string, src: string): boolean {
  const parts = relative(from, src).split(sep).filter(Boolean);
  if (parts.length === 0) return true;
  return !SKIP_TOP.has(parts[0]!) && !parts.some((p) => p === 'node_modules' || p.startsWith('.'));
}

function copyModule(from: string, toModules: string): void {
  const to = join(toModules, basename(from));
  cpSync(from, to, { recursive: true, filter: (src) => copied(from, src) });
  const file = join(to, 'module.json');
  const manifest = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  writeFileSync(file, JSON.stringify({ ...manifest, enabled: true }, null, 2));
}

async function until<T>(fn: () => Promise<T | undefined> | T | undefined, ms: number, what: string): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function childCheck(ctx: CheckContext): Promise<CheckResult> {
  return timed('real child', async () => {
    const modulesDir = join(ctx.tmp, 'modules');
    mkdirSync(modulesDir, { recursive: true });
    for (const e of [...ctx.deps, ctx.mod]) copyModule(e.dir, modulesDir);
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: process.env.HOME ?? '/tmp',
      HUB_PORT: '0',
      HUB_ADMIN_PORT: '0',
      HUB_MODULES_DIR: modulesDir,
      HUB_DATA_DIR: join(ctx.tmp, 'data'),
      DATABASE_URL: ctx.tdb.url,
      HUB_ADMIN_TOKEN: randomBytes(24).toString('hex'),
      HUB_SPARE_CHILDREN: '0',
      LOG_LEVEL: 'info',
      LOG_FORMAT: 'json',
    };
    // the module's own settings as the operator set them (MODULES__<NAME>__<KEY>), for it and its dependencies
    for (const e of [...ctx.deps, ctx.mod]) {
      const head = `MODULES__${envName(e.name)}__`;
      for (const [k, v] of Object.entries(process.env)) if (k.startsWith(head) && v !== undefined) env[k] = v;
    }
    const kernel = spawn(process.execPath, [join(HUB_ROOT, 'dist', 'kernel', 'main.js')], { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    if (kernel.pid) ctx.cleanup.tell({ pid: kernel.pid });
    const exited = new Promise<void>((resolve) => kernel.once('exit', () => resolve()));
    const stop = async () => {
      if (kernel.exitCode === null && kernel.signalCode === null) kernel.kill('SIGTERM');
      const timer = setTimeout(() => kernel.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    };
    ctx.cleanup.add(stop);
    let lines = '';
    const onData = (d: Buffer) => (lines = (lines + d.toString()).slice(-200_000));
    kernel.stdout!.on('data', onData);
    kernel.stderr!.on('data', onData);
    try {
      const port = await until(() => {
        if (kernel.exitCode !== null) throw new Error(`the kernel exited with ${kernel.exitCode}: ${lines.split('\n').filter(Boolean).slice(-3).join(' | ')}`);
        const m = /Gateway listening on http:\/\/[^:]+:(\d+)/.exec(lines);
        return m ? Number(m[1]) : undefined;
      }, 60_000, 'the kernel to listen');
      const url = `http://127.0.0.1:${port}`;
      const name = ctx.mod.name;
      const record = await until(async () => {
        if (kernel.exitCode !== null) throw new Error(`the kernel exited with ${kernel.exitCode}`);
        const r = (await (await fetch(`${url}/api/v1/modules/${name}`)).json()) as { state?: string; last_error?: string | null };
        if (isModuleState(r.state) && isStarted(r.state)) return r;
        if (isModuleState(r.state) && hasGivenUp(r.state)) throw new Error(`${name} failed to start: ${r.last_error ?? 'no reason given'}`);
        return undefined;
      }, 60_000, `${name} to be running`);
      const health = await fetch(`${url}${ctx.mod.manifest!.api_prefix}/health`);
      if (health.status !== 200) return { status: 'fail', message: `GET ${ctx.mod.manifest!.api_prefix}/health answered ${health.status}` };
      return { status: 'pass', message: `${record.state}; GET ${ctx.mod.manifest!.api_prefix}/health 200` };
    } finally {
      await stop();
    }
  });
}

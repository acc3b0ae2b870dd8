// `hubctl top` and the CPU column of `hubctl status`, run as an operator would (the built
// hubctl against a real kernel): after load through the gateway, `top --once` shows each
// module's row with numbers (CPU %, memory, req/s, p95) and `--json` the same figures, with
// no escape codes when not on a terminal; without --once it redraws until SIGINT; `status`
// shows a CPU figure measured by the kernel.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hubctl } from './helpers/hubctl.js';
import { startKernel, stopAllKernels, type RunningKernel } from './helpers/kernel.js';
import { helloRouter, tempDir, writeModule } from './helpers/modules.js';
import { waitFor } from './helpers/wait.js';
import type { TopRow } from '../cli/top.js';

let k: RunningKernel;
let env: Record<string, string>;

beforeAll(async () => {
  const modulesDir = tempDir('top');
  writeModule(modulesDir, 'alpha', { router: helloRouter });
  writeModule(modulesDir, 'beta', { router: helloRouter, manifest: { enabled: false } });
  k = await startKernel({ modulesDir, env: { HUB_HISTORY_INTERVAL_MS: '500' } });
  env = { HUB_URL: k.adminUrl, HUB_DATA_DIR: k.dataDir, NO_COLOR: '1' };
}, 60_000);

afterAll(async () => {
  await stopAllKernels();
});

// the shape `hubctl top --json` promises (cli/top.ts)
type Row = TopRow;

/** Requests to alpha through the gateway until a `top --json` frame shows a request rate. */
async function loadUntilSeen(): Promise<Row[]> {
  return waitFor(
    async () => {
      await Promise.all(Array.from({ length: 50 }, async () => (await k.get('/api/v1/alpha/hello')).arrayBuffer()));
      const r = await hubctl(['top', '--json'], env);
      expect(r.code).toBe(0);
      const rows = JSON.parse(r.stdout) as Row[];
      return (rows.find((x) => x.name === 'alpha')?.req_per_s ?? 0) > 0 ? rows : undefined;
    },
    { what: 'a request rate in hubctl top --json', timeoutMs: 30_000, intervalMs: 200 },
  );
}

describe('hubctl top', () => {
  it('shows every module with its figures after load, as JSON and as one frame', async () => {
    const rows = await loadUntilSeen();
    const alpha = rows.find((r) => r.name === 'alpha')!;
    expect(alpha.state).toBe('running');
    expect(alpha.cpu_percent).toEqual(expect.any(Number));
    expect(alpha.memory_rss_bytes).toBeGreaterThan(10 * 1024 * 1024);
    expect(alpha.p95_ms).toBeGreaterThan(0);
    expect(rows.find((r) => r.name === 'beta')).toMatchObject({ state: 'disabled', cpu_percent: null, memory_rss_bytes: null });

    await loadUntilSeen();
    const once = await hubctl(['top', '--once'], env);
    expect(once.code).toBe(0);
    expect(once.stderr).toBe('');
    const lines = once.stdout.split('\n');
    expect(lines[0]).toMatch(/^hubctl top · http:\/\/127\.0\.0\.1:\d+ · \d\d:\d\d:\d\d UTC$/);
    expect(lines).toContainEqual(expect.stringMatching(/^MODULE\s+STATE\s+CPU\s+MEMORY\s+REQ\/S\s+ERR\/S\s+P95$/));
    expect(lines.find((l) => l.startsWith('alpha '))).toMatch(/^alpha\s+running\s+\d+\.\d%\s+\d+ MB\s+\d+\.\d\s+\d+\.\d\s+(\d+\.\d ms|-)$/);
    expect(lines.find((l) => l.startsWith('beta '))).toMatch(/^beta\s+disabled\s+-\s+-\s+\d+\.\d\s+\d+\.\d\s+(-|\d+\.\d ms)$/);
    // not a terminal: no cursor movement, no colour
    expect(once.stdout).not.toMatch(/\x1b/);
  });

  it('refuses a bad --interval with one line', async () => {
    const r = await hubctl(['top', '--interval', 'fast'], env);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--interval wants seconds between 0\.5 and 3600, got "fast"/);
  });

  it('keeps drawing frames until stopped when not asked for one', async () => {
    const { spawn } = await import('node:child_process');
    const { HUBCTL } = await import('./helpers/hubctl.js');
    const p = spawn(process.execPath, [HUBCTL, 'top', '--interval', '0.5'], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    try {
      await waitFor(() => (out.match(/^MODULE /gm) ?? []).length >= 2, { what: 'two frames' });
    } finally {
      p.kill('SIGINT');
    }
    const code = await new Promise<number | null>((resolve) => p.on('close', (c) => resolve(c)));
    expect(code).toBe(0);
  });
});

describe('hubctl status', () => {
  it('shows the CPU the kernel measured', async () => {
    const r = await hubctl(['status'], env);
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toMatch(/\bRESTARTS\s+CPU\s+MEMORY\b/);
    expect(lines.find((l) => l.startsWith('alpha '))).toMatch(/\s\d+\.\d%\s+\d+ MB\s/);
    expect(lines.find((l) => l.startsWith('beta '))).toMatch(/\s0\s+-\s+-\s/);
  });
});

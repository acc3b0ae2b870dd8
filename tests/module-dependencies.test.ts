// Dependencies: start order follows the graph, enabling pulls in what a module needs,
// and missing, mismatched or circular dependencies keep only the affected modules out.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKernel, stopAllKernels, type RunningKernel } from './helpers/kernel.js';
import { helloRouter, tempDir, writeModule } from './helpers/modules.js';

let k: RunningKernel;
let modulesDir: string;

const mod = (name: string, manifest: Record<string, unknown>) => writeModule(modulesDir, name, { router: helloRouter, manifest });
const post = (path: string) => k.admin(path, { method: 'POST' });

beforeAll(async () => {
  modulesDir = tempDir('modules');
  // chain: app → billing@^1.2 → ledger, all enabled; started leaves first
  mod('ledger', { version: '1.4.0' });
  mod('billing', { version: '1.2.3', dependencies: ['ledger'] });
  mod('app', { dependencies: ['billing@^1.2.0'] });
  // diamond, disabled: top → left, right → base
  mod('base', { enabled: false });
  mod('left', { enabled: false, dependencies: ['base'] });
  mod('right', { enabled: false, dependencies: ['base'] });
  mod('top', { enabled: false, dependencies: ['left', 'right'] });
  // cycle and a version mismatch
  mod('cyc_a', { dependencies: ['cyc_b'] });
  mod('cyc_b', { dependencies: ['cyc_a'] });
  mod('too_new', { dependencies: ['ledger@>=2.0.0'] });
  mod('future_hub', { hub_version: '>=99.0.0' });
  k = await startKernel({ modulesDir });
});

afterAll(stopAllKernels);

describe('module dependencies', () => {
  it('starts a chain leaves first', async () => {
    // one snapshot, so every uptime is measured at the same instant
    const all = await k.json<any[]>('/api/v1/modules');
    const [ledger, billing, app] = ['ledger', 'billing', 'app'].map((n) => all.find((r) => r.name === n));
    for (const r of [ledger, billing, app]) expect(r.state).toBe('running');
    // a dependency has been up at least as long as what depends on it
    expect(ledger.uptime_ms).toBeGreaterThanOrEqual(billing.uptime_ms);
    expect(billing.uptime_ms).toBeGreaterThanOrEqual(app.uptime_ms);
  });

  it('enables the whole diamond below a module, and says what it enabled', async () => {
    const res = await post('/api/v1/modules/top/enable');
    expect(res.status).toBe(200);
    const body = (await res.json()) as any;
    expect(body.state).toBe('running');
    expect([...body.enabled_dependencies].sort()).toEqual(['base', 'left', 'right']);
    for (const n of ['base', 'left', 'right', 'top']) {
      expect((await k.record(n)).state).toBe('running');
      expect(JSON.parse(readFileSync(join(modulesDir, n, 'module.json'), 'utf8')).enabled).toBe(true);
    }
  });

  it('refuses to disable a module an enabled module depends on, naming it', async () => {
    const res = await post('/api/v1/modules/base/disable');
    expect(res.status).toBe(409);
    const body = (await res.json()) as any;
    expect(body.error).toBe('dependency_in_use');
    expect(body.message).toMatch(/left, right/);
    expect((await k.record('base')).state).toBe('running');
  });

  it('disables from the top down', async () => {
    for (const n of ['top', 'left', 'right', 'base']) expect((await post(`/api/v1/modules/${n}/disable`)).status).toBe(200);
    expect((await k.record('base')).state).toBe('disabled');
  });

  it('keeps a dependency cycle out with the whole chain in last_error', async () => {
    const a = await k.record('cyc_a');
    expect(a.state).toBe('failed');
    expect(a.last_error).toMatch(/dependency cycle cyc_a → cyc_b → cyc_a/);
    expect((await k.record('cyc_b')).state).toBe('failed');
  });

  it('keeps a version mismatch out, naming both versions', async () => {
    const rec = await k.record('too_new');
    expect(rec.state).toBe('failed');
    expect(rec.last_error).toMatch(/needs ledger@>=2\.0\.0 but ledger is 1\.4\.0/);
  });

  it('checks hub_version against the kernel', async () => {
    const rec = await k.record('future_hub');
    expect(rec.state).toBe('failed');
    expect(rec.last_error).toMatch(/needs hub >=99\.0\.0, this hub is \d+\.\d+\.\d+/);
  });
});

// Two kernels behind one load balancer share one PostgreSQL: an enable or disable on one
// is applied by the other within moments, and a kernel that starts later converges to
// what was decided while it was away.
import { cpSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from './helpers/database.js';
import { startKernel, stopAllKernels, type RunningKernel } from './helpers/kernel.js';
import { helloRouter, tempDir, writeModule } from './helpers/modules.js';
import { waitFor } from './helpers/wait.js';

let db: TestDatabase;
let a: RunningKernel;
let b: RunningKernel;
let dirA: string;
let dirB: string;

const enabledOnDisk = (dir: string, name: string) => JSON.parse(readFileSync(join(dir, name, 'module.json'), 'utf8')).enabled;

beforeAll(async () => {
  db = await createTestDatabase();
  // each kernel has its own copy of the modules, as on two machines
  dirA = tempDir('modules-a');
  writeModule(dirA, 'shared_mod', { router: helloRouter, manifest: { enabled: false }, files: { 'migrations/001_init.sql': 'CREATE TABLE sharedmod_x (id int);\n' } });
  writeModule(dirA, 'always', { router: helloRouter });
  dirB = tempDir('modules-b');
  cpSync(dirA, dirB, { recursive: true });
  [a, b] = await Promise.all([startKernel({ modulesDir: dirA, databaseUrl: db.url }), startKernel({ modulesDir: dirB, databaseUrl: db.url })]);
});

afterAll(async () => {
  await stopAllKernels();
  await db.drop();
});

describe('several kernels on one database', () => {
  it('migrates once even though both kernels start together', async () => {
    expect((await a.record('always')).state).toBe('running');
    expect((await b.record('always')).state).toBe('running');
  });

  it('applies an enable made on one kernel on the other within a second or two', async () => {
    const res = await a.admin('/api/v1/modules/shared_mod/enable', { method: 'POST' });
    expect(res.status, await res.clone().text()).toBe(200);
    const t0 = Date.now();
    await b.waitForState('shared_mod', 'running', 10_000);
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(enabledOnDisk(dirB, 'shared_mod')).toBe(true);
    expect((await b.get('/api/v1/shared_mod/hello')).status).toBe(200);
  });

  it('applies a disable the same way', async () => {
    expect((await b.admin('/api/v1/modules/shared_mod/disable', { method: 'POST' })).status).toBe(200);
    await a.waitForState('shared_mod', 'disabled', 10_000);
    // the switch is written right after the child has drained
    await waitFor(() => enabledOnDisk(dirA, 'shared_mod') === false, { what: 'module.json to say disabled' });
  });

  it('converges a kernel that was down during a change', async () => {
    await b.stop();
    expect((await a.admin('/api/v1/modules/shared_mod/enable', { method: 'POST' })).status).toBe(200);
    expect(enabledOnDisk(dirB, 'shared_mod')).toBe(false);
    b = await startKernel({ modulesDir: dirB, databaseUrl: db.url });
    expect((await b.record('shared_mod')).state).toBe('running');
    expect(enabledOnDisk(dirB, 'shared_mod')).toBe(true);
    expect(b.lines.join('\n')).toMatch(/shared_mod: another kernel enabled it while this one was down/);
  });
});

// hubctl driven as an operator would: real `node dist/cli/hubctl.js` processes against real
// kernels. Enable → running → disable → persisted → new kernel → still disabled; the status
// table; create → enable on a real database → the new module answers; enable/disable with no
// kernel running; one clear line and a distinct exit code for each kind of failure.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from './helpers/database.js';
import { hubctl } from './helpers/hubctl.js';
import { startKernel, stopAllKernels, type RunningKernel } from './helpers/kernel.js';
import { helloRouter, tempDir, writeModule } from './helpers/modules.js';



const manifestOf = (dir: string, name: string) => JSON.parse(readFileSync(join(dir, name, 'module.json'), 'utf8'));

let db: TestDatabase;
let modulesDir: string;
let dataDir: string;
let k: RunningKernel;
let env: Record<string, string>;

async function kernel(): Promise<RunningKernel> {
  k = await startKernel({ modulesDir, dataDir, databaseUrl: db.url });
  env = { HUB_URL: k.adminUrl, HUB_MODULES_DIR: modulesDir, HUB_DATA_DIR: dataDir };
  return k;
}

beforeAll(async () => {
  db = await createTestDatabase();
  modulesDir = tempDir('modules');
  dataDir = tempDir('data');
  writeModule(modulesDir, 'alpha', { router: helloRouter, manifest: { enabled: false } });
  writeModule(modulesDir, 'beta', { router: helloRouter });
  writeModule(modulesDir, 'gamma', { router: helloRouter, manifest: { dependencies: ['beta'] } });
  await kernel();
});

afterAll(async () => {
  await stopAllKernels();
  await db?.drop();
});

describe('hubctl against a running hub', () => {
  it('enables a module live and prints its record once it is running', async () => {
    const r = await hubctl(['enable', 'alpha'], env);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/alpha enabled: running/);
    const rec = await k.record('alpha');
    expect(rec.state).toBe('running');
    expect(r.stdout).toContain(`pid      ${rec.pid}`);
    expect((await k.json('/api/v1/alpha/hello')).module).toBe('alpha');
    expect(manifestOf(modulesDir, 'alpha').enabled).toBe(true);
  });

  it('shows every module in the status table and as JSON', async () => {
    const table = await hubctl(['status'], env);
    expect(table.code).toBe(0);
    const lines = table.stdout.split('\n');
    expect(lines[0]).toMatch(/^NAME\s+VERSION\s+STATE\s+PID\s+UPTIME\s+RESTARTS\s+CPU\s+MEMORY\s+API PREFIX$/);
    expect(lines.find((l) => l.startsWith('alpha '))).toMatch(/^alpha\s+1\.0\.0\s+running\s+\d+\s+\S+\s+0\s+\d+\.\d%\s+\d+ [KM]B\s+\/api\/v1\/alpha$/);
    expect(table.stdout).not.toMatch(/\x1b\[/); // not a TTY: no colour codes

    const json = await hubctl(['status', '--json'], env);
    expect(json.code).toBe(0);
    const records = JSON.parse(json.stdout) as { name: string; state: string; enabled: boolean }[];
    expect(records.map((r) => r.name).sort()).toEqual(['alpha', 'beta', 'gamma']);
    expect(records.find((r) => r.name === 'alpha')).toMatchObject({ state: 'running', enabled: true });
  });

  it('restarts a module into a new process', async () => {
    const before = (await k.record('alpha')).pid;
    const r = await hubctl(['restart', 'alpha'], env);
    expect(r.code).toBe(0);
    const after = await k.record('alpha');
    expect(after.state).toBe('running');
    expect(after.pid).not.toBe(before);
  });

  it('refuses with one line and a distinct code: unknown module, bad name, module in use', async () => {
    const unknown = await hubctl(['enable', 'nosuch'], env);
    expect(unknown.code).toBe(5);
    expect(unknown.stderr).toMatch(/^hubctl: no module named "nosuch".*\n$/);

    const bad = await hubctl(['logs', 'Bad-Name'], env);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^hubctl: invalid module name "Bad-Name".*\n$/);

    const inUse = await hubctl(['disable', 'beta'], env);
    expect(inUse.code).toBe(6);
    expect(inUse.stderr).toMatch(/^hubctl: cannot disable beta: enabled modules depend on it: gamma.*\n$/);
    expect((await k.record('beta')).state).toBe('running');
  });

  it('disables, persists it, and a new kernel on the same folder keeps it disabled', async () => {
    const r = await hubctl(['disable', 'alpha'], env);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/alpha disabled/);
    expect((await k.record('alpha')).state).toBe('disabled');
    expect(manifestOf(modulesDir, 'alpha').enabled).toBe(false);

    await k.stop();
    await kernel();
    expect((await k.record('alpha')).state).toBe('disabled');
    expect((await k.record('beta')).state).toBe('running');
  });

  it('prints recent lines with logs, readable or raw', async () => {
    const r = await hubctl(['logs', 'beta', '-n', '5'], env);
    expect(r.code).toBe(0);
    const json = await hubctl(['logs', 'beta', '-n', '5', '--json'], env);
    expect(json.code).toBe(0);
    for (const line of json.stdout.split('\n').filter(Boolean)) expect(JSON.parse(line).module).toBe('beta');
  });
});

describe('hubctl create', () => {
  it('scaffolds a module from the template that migrates, starts and answers', async () => {
    const r = await hubctl(['create', 'my_feature', 'My feature'], env);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/created module my_feature/);
    expect(r.stdout).toMatch(/hubctl enable my_feature/);
    const dir = join(modulesDir, 'my_feature');
    expect(manifestOf(modulesDir, 'my_feature')).toMatchObject({
      name: 'my_feature',
      description: 'My feature',
      enabled: false,
      table_prefix: 'myfeature_',
      api_prefix: '/api/v1/my_feature',
      tags: ['My Feature'],
    });
    // no trace of the template's identifiers anywhere in the copy
    const walk = (d: string): string[] => readdirSync(d).flatMap((n) => (statSync(join(d, n)).isDirectory() ? walk(join(d, n)) : [join(d, n)]));
    for (const file of walk(dir)) {
      expect(readFileSync(file, 'utf8'), file).not.toMatch(/template_|Template Module/);
    }
    expect(readFileSync(join(dir, 'migrations/001_init.sql'), 'utf8')).toMatch(/CREATE TABLE IF NOT EXISTS myfeature_items/);
    // no half-built folders left behind
    expect(readdirSync(modulesDir).filter((n) => n.startsWith('.'))).toEqual([]);

    const again = await hubctl(['create', 'my_feature', 'Again'], env);
    expect(again.code).toBe(6);
    expect(again.stderr).toMatch(/^hubctl: .*my_feature already exists.*\n$/);
    const clash = await hubctl(['create', 'myfeature', 'Same table prefix'], env);
    expect(clash.code).toBe(6);
    expect(clash.stderr).toMatch(/table prefix myfeature_/);
    expect(existsSync(join(modulesDir, 'myfeature'))).toBe(false);

    // the running kernel picks the new folder up on enable: no restart needed
    const en = await hubctl(['enable', 'my_feature'], env);
    expect(en.stderr).toBe('');
    expect(en.code).toBe(0);
    expect((await k.record('my_feature')).state).toBe('running');
    // hubctl create writes the template's permissions and roles: nobody signed in → 401
    const anonymous = await k.get('/api/v1/my_feature/items');
    expect(anonymous.status).toBe(401);
    expect(((await anonymous.json()) as any).error).toBe('unauthenticated');
    const created = JSON.parse(readFileSync(join(modulesDir, 'my_feature', 'module.json'), 'utf8'));
    expect(created.roles).toEqual({ viewer: ['read'], editor: ['read', 'write'] });
    const items = await k.get('/api/v1/my_feature/items', { headers: { authorization: `Bearer ${k.adminToken()}` } });
    expect(items.status).toBe(200);
    expect((await items.json()) as any).toEqual([]);
    expect((await k.get('/api/v1/my_feature/health')).status).toBe(200);
  });
});

describe('hubctl with no hub running', () => {
  it('says so in one line for commands that need the hub', async () => {
    await k.stop();
    const r = await hubctl(['status'], env);
    expect(r.code).toBe(3);
    expect(r.stderr).toBe(`hubctl: no hub at ${k.adminUrl}: is it running? (npm start; if its admin origin is on another port, set HUB_URL=http://127.0.0.1:<HUB_ADMIN_PORT>)\n`);
  });

  it('enables and disables by editing module.json, applying at next start', async () => {
    const on = await hubctl(['enable', 'alpha'], env);
    expect(on.stderr).toBe('');
    expect(on.code).toBe(0);
    expect(on.stdout).toMatch(/applies at next start/);
    expect(manifestOf(modulesDir, 'alpha').enabled).toBe(true);

    const off = await hubctl(['disable', 'alpha'], env);
    expect(off.code).toBe(0);
    expect(off.stdout).toMatch(/applies at next start/);
    expect(manifestOf(modulesDir, 'alpha').enabled).toBe(false);

    const inUse = await hubctl(['disable', 'beta'], env);
    expect(inUse.code).toBe(6);
    expect(inUse.stderr).toMatch(/gamma/);
    expect(manifestOf(modulesDir, 'beta').enabled).toBe(true);

    const unknown = await hubctl(['enable', 'nosuch'], env);
    expect(unknown.code).toBe(5);
  });

  it('validates names before anything else', async () => {
    const r = await hubctl(['enable', '../../etc'], env);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });
});

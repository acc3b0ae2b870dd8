// Issue 13: one owner reconciles the wanted state of every module into running state. Each
// observed fault on main is a test here, with the right value stated in the issue.
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { launchChromium } from './helpers/browser.js';
import { createTestDatabase, type TestDatabase } from './helpers/database.js';
import { hubctl } from './helpers/hubctl.js';
import { startKernel, stopAllKernels } from './helpers/kernel.js';
import { helloRouter, tempDir, writeModule } from './helpers/modules.js';
import { waitFor } from './helpers/wait.js';

// the router's default export awaits a promise that never settles: the child never gets ready
const neverReady = `export default async () => { await new Promise(() => {}); };`;
const crashAtImport = `throw new Error('broken at import');\nexport default () => {};`;
const count = (lines: string[], re: RegExp) => lines.filter((l) => re.test(l)).length;
const dbs: TestDatabase[] = [];

afterAll(async () => {
  await stopAllKernels();
  for (const d of dbs) await d.drop();
});

describe('issue 13 item 1: a module that never becomes ready', () => {
  // scaled timings: the start timeout is longer than window/limit, so on main no 3 crashes
  // ever fit in the window and the module was retried forever
  const timing = { HUB_START_TIMEOUT_MS: '2500', HUB_CRASH_WINDOW_MS: '4000', HUB_CRASH_LIMIT: '3', HUB_DRAIN_MS: '1000', HUB_SPARE_CHILDREN: '0' };

  it('ends in failed with start_timeout after the crash limit, the rest of the hub ready meanwhile', async () => {
    const dir = tempDir('modules');
    writeModule(dir, 'hang', { router: neverReady });
    writeModule(dir, 'fine', { router: helloRouter });
    const t0 = Date.now();
    const k = await startKernel({ modulesDir: dir, env: timing });
    expect((await k.get('/health/ready')).status).toBe(200);
    expect((await k.get('/api/v1/fine/hello')).status).toBe(200);
    const rec = await k.waitForState('hang', 'failed', 30_000);
    const seconds = (Date.now() - t0) / 1000;
    console.log(`never-ready module: failed after ${seconds.toFixed(1)} s (start timeout 2.5 s, limit 3)`);
    expect(rec.last_error).toMatch(/crash loop: 3 crashes in a row.*start_timeout/);
    expect(rec.restarts).toBe(2);
    // three start timeouts of 2.5 s plus the backoff in between
    expect(seconds).toBeGreaterThanOrEqual(7.5);
    expect(seconds).toBeLessThan(20);
    await k.stop();
  });

  it('answers disable and restart within 5 s at any moment, and a disable cancels a start', async () => {
    const dir = tempDir('modules');
    writeModule(dir, 'hang', { router: neverReady });
    const k = await startKernel({ modulesDir: dir, env: timing });
    // the enable is waiting for an answer while the child starts
    await k.admin('/api/v1/modules/hang/disable', { method: 'POST' });
    const enabling = k.admin('/api/v1/modules/hang/enable', { method: 'POST' });
    await k.waitForState('hang', 'starting');
    let t = Date.now();
    const restart = await k.admin('/api/v1/modules/hang/restart', { method: 'POST' });
    expect(Date.now() - t).toBeLessThan(5000);
    expect([200, 202]).toContain(restart.status);
    t = Date.now();
    const disable = await k.admin('/api/v1/modules/hang/disable', { method: 'POST' });
    const disableMs = Date.now() - t;
    console.log(`disable during a start answered in ${disableMs} ms`);
    expect(disable.status).toBe(200);
    expect(disableMs).toBeLessThan(5000);
    expect(((await disable.json()) as any).state).toBe('disabled');
    // the enable that was waiting gets its answer too: the module is disabled now
    expect((await enabling).status).toBeLessThan(500);
    expect((await k.record('hang')).state).toBe('disabled');
    await k.stop();
  });

  it('exits on one SIGTERM within HUB_DRAIN_MS + 5 s while a module is starting', async () => {
    const dir = tempDir('modules');
    writeModule(dir, 'hang', { router: neverReady });
    const k = await startKernel({ modulesDir: dir, env: { ...timing, HUB_START_TIMEOUT_MS: '60000' }, waitLoaded: false });
    await k.waitForState('hang', 'starting');
    const t = Date.now();
    const code = await k.stop('SIGTERM');
    console.log(`SIGTERM during a start: exited in ${Date.now() - t} ms`);
    expect(Date.now() - t).toBeLessThan(1000 + 5000);
    expect(code).toBe(0);
  });
});

describe('issue 13 item 1 through another door: a start that hangs in its migration', () => {
  // the module's SQL sleeps well inside the default 300 s statement timeout; on the branch as
  // delivered the kernel never got ready while it slept, disable got no answer and SIGTERM
  // did not stop the kernel (the start held the module's lock until the migration ended)
  const sleepy = { 'migrations/001_init.sql': 'CREATE TABLE slowpoke_t (id int);\nSELECT pg_sleep(120);\n' };
  const sessions = async (url: string) => {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      return (await c.query(`SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'hub-migrate:slowpoke'`)).rowCount;
    } finally {
      await c.end();
    }
  };

  it('the rest of the hub gets ready, disable answers within 5 s and ends the migration, one SIGTERM exits within HUB_DRAIN_MS + 5 s', async () => {
    const db = await createTestDatabase();
    dbs.push(db);
    const dir = tempDir('modules');
    writeModule(dir, 'slowpoke', { router: helloRouter, files: sleepy });
    writeModule(dir, 'fine', { router: helloRouter });
    const k = await startKernel({ modulesDir: dir, databaseUrl: db.url, env: { HUB_START_TIMEOUT_MS: '3000', HUB_DRAIN_MS: '1000' } });
    expect((await k.get('/health/ready')).status).toBe(200);
    expect((await k.get('/api/v1/fine/hello')).status).toBe(200);
    expect((await k.record('slowpoke')).state).toBe('starting');
    await k.waitForLog(/slowpoke is still starting after 3 s/);
    expect(await sessions(db.url)).toBe(1);
    let t = Date.now();
    const disable = await k.admin('/api/v1/modules/slowpoke/disable', { method: 'POST' });
    expect(Date.now() - t).toBeLessThan(5000);
    expect(disable.status).toBe(200);
    expect(((await disable.json()) as any).state).toBe('disabled');
    await waitFor(async () => (await sessions(db.url)) === 0, { what: 'the migration session ended' });
    expect(count(k.lines, /Could not load module slowpoke/)).toBe(0);
    // once more, and this time the kernel is stopped while the module migrates
    const enabling = k.admin('/api/v1/modules/slowpoke/enable', { method: 'POST' }).catch(() => null);
    await waitFor(async () => (await sessions(db.url)) === 1, { what: 'migrating again' });
    t = Date.now();
    const code = await k.stop('SIGTERM');
    expect(Date.now() - t).toBeLessThan(1000 + 5000);
    expect(code).toBe(0);
    await enabling;
    await waitFor(async () => (await sessions(db.url)) === 0, { what: 'no migration session left behind' });
  });
});

describe('issue 13 item 2: a dependent never runs without its dependency', () => {
  it('holds invoices out while billing is disabled, at boot, from the API and from a module.json edit', async () => {
    const dir = tempDir('modules');
    writeModule(dir, 'billing', { router: helloRouter, manifest: { enabled: false } });
    writeModule(dir, 'invoices', { router: helloRouter, manifest: { dependencies: ['billing'] } });
    const k = await startKernel({ modulesDir: dir, env: { MODULES_AUTO_RELOAD: 'true' } });
    const inv = await k.record('invoices');
    expect(inv.state).toBe('failed');
    expect(inv.last_error).toBe('dependency billing is disabled');
    expect((await k.get('/api/v1/invoices/hello')).status).toBe(503);
    const health = await k.json('/health');
    expect(health.status).toBe('degraded');
    expect(health.modules.invoices).toBe('failed');
    // disabling the already-disabled billing is not refused
    expect((await k.admin('/api/v1/modules/billing/disable', { method: 'POST' })).status).toBe(200);
    // invoices comes up when billing does
    expect((await k.admin('/api/v1/modules/billing/enable', { method: 'POST' })).status).toBe(200);
    await k.waitForState('invoices', 'running');
    // a hand edit cannot leave invoices running without billing
    const file = join(dir, 'billing', 'module.json');
    writeFileSync(file, JSON.stringify({ ...JSON.parse(readFileSync(file, 'utf8')), enabled: false }, null, 2));
    await k.waitForState('billing', 'disabled');
    const held = await k.waitForState('invoices', 'failed');
    expect(held.last_error).toBe('dependency billing is disabled');
    writeFileSync(file, JSON.stringify({ ...JSON.parse(readFileSync(file, 'utf8')), enabled: true }, null, 2));
    await k.waitForState('invoices', 'running');
    expect((await k.get('/api/v1/invoices/hello')).status).toBe(200);
    await k.stop();
  });
});

describe('issue 13 item 2 through another door: an edit that adds a dependency that is off', () => {
  const addDependency = (dir: string) => {
    const f = join(dir, 'invoices', 'module.json');
    writeFileSync(f, JSON.stringify({ ...JSON.parse(readFileSync(f, 'utf8')), dependencies: ['billing'] }, null, 2));
  };

  it('holds the running module out, whether the edit arrives by hot reload or by a restart that re-reads it', async () => {
    for (const door of ['hot reload', 'restart'] as const) {
      const dir = tempDir('modules');
      writeModule(dir, 'billing', { router: helloRouter, manifest: { enabled: false } });
      writeModule(dir, 'invoices', { router: helloRouter });
      const k = await startKernel({ modulesDir: dir, env: { MODULES_AUTO_RELOAD: door === 'hot reload' ? 'true' : 'false' } });
      expect((await k.record('invoices')).state).toBe('running');
      addDependency(dir);
      if (door === 'restart') {
        const r = await k.admin('/api/v1/modules/invoices/restart', { method: 'POST' });
        // the restart's answer says why the module is not running (the API's answer for a start that ends failed)
        expect(((await r.json()) as any).message, door).toBe('module invoices failed: dependency billing is disabled');
      }
      // on the branch as delivered: reloaded onto the new manifest and kept running without billing
      const held = await k.waitForState('invoices', 'failed', 15_000);
      expect(held.last_error, door).toBe('dependency billing is disabled');
      expect((await k.get('/api/v1/invoices/hello')).status, door).toBe(503);
      expect((await k.admin('/api/v1/modules/billing/enable', { method: 'POST' })).status, door).toBe(200);
      await k.waitForState('invoices', 'running');
      await k.stop();
    }
  });
});

describe('issue 13 item 2 from the cluster: the same rule when another kernel disables a dependency', () => {
  it('holds invoices out while billing is disabled on another kernel, and brings it back when billing is enabled there', async () => {
    const db = await createTestDatabase();
    dbs.push(db);
    const dirA = tempDir('modules-a');
    writeModule(dirA, 'billing', { router: helloRouter });
    writeModule(dirA, 'invoices', { router: helloRouter, manifest: { dependencies: ['billing'] } });
    // kernel B has billing only, so nothing on B depends on it and B's API allows the disable
    const dirB = tempDir('modules-b');
    writeModule(dirB, 'billing', { router: helloRouter });
    const a = await startKernel({ modulesDir: dirA, databaseUrl: db.url });
    const b = await startKernel({ modulesDir: dirB, databaseUrl: db.url });
    expect((await a.record('invoices')).state).toBe('running');
    expect((await b.admin('/api/v1/modules/billing/disable', { method: 'POST' })).status).toBe(200);
    await a.waitForState('billing', 'disabled');
    const held = await a.waitForState('invoices', 'failed');
    expect(held.last_error).toBe('dependency billing is disabled');
    expect((await a.get('/api/v1/invoices/hello')).status).toBe(503);
    expect((await b.admin('/api/v1/modules/billing/enable', { method: 'POST' })).status).toBe(200);
    await a.waitForState('invoices', 'running');
    expect((await a.get('/api/v1/invoices/hello')).status).toBe(200);
    await a.stop();
    await b.stop();
  });
});

describe('issue 13 item 3: edits made while the hub was down', () => {
  const enabledOnDisk = (dir: string, name: string) => JSON.parse(readFileSync(join(dir, name, 'module.json'), 'utf8')).enabled;
  const setOnDisk = (dir: string, name: string, enabled: boolean) => {
    const file = join(dir, name, 'module.json');
    writeFileSync(file, JSON.stringify({ ...JSON.parse(readFileSync(file, 'utf8')), enabled }, null, 2));
  };
  const recorded = async (url: string, name: string) => {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      return (await c.query('SELECT enabled FROM hub_module_state WHERE module = $1', [name])).rows[0]?.enabled;
    } finally {
      await c.end();
    }
  };

  it('a hand edit (or hubctl disable with the hub stopped) wins at the next start and is published', async () => {
    const db = await createTestDatabase();
    dbs.push(db);
    const dir = tempDir('modules');
    const data = tempDir('data');
    writeModule(dir, 'notes', { router: helloRouter });
    writeModule(dir, 'other', { router: helloRouter });
    let k = await startKernel({ modulesDir: dir, dataDir: data, databaseUrl: db.url });
    expect((await k.record('notes')).state).toBe('running');
    await k.stop();
    setOnDisk(dir, 'notes', false); // the original hub's documented way
    const off = await hubctl(['disable', 'other'], { HUB_MODULES_DIR: dir, HUB_DATA_DIR: data, HUB_URL: k.adminUrl });
    expect(off.code, off.stdout + off.stderr).toBe(0);
    k = await startKernel({ modulesDir: dir, dataDir: data, databaseUrl: db.url });
    expect((await k.record('notes')).state).toBe('disabled');
    expect((await k.record('other')).state).toBe('disabled');
    expect(enabledOnDisk(dir, 'notes')).toBe(false);
    expect(await recorded(db.url, 'notes')).toBe(false);
    expect(count(k.lines, /notes: modules\/notes\/module.json was edited while the hub was down/)).toBe(1);
    await k.stop();
  });

  it('a change made on another kernel meanwhile arrives; when both happened the later wins, in one log line', async () => {
    const db = await createTestDatabase();
    dbs.push(db);
    const dirA = tempDir('modules-a');
    const dataA = tempDir('data-a');
    const dirB = tempDir('modules-b');
    for (const d of [dirA, dirB]) writeModule(d, 'notes', { router: helloRouter });
    let a = await startKernel({ modulesDir: dirA, dataDir: dataA, databaseUrl: db.url });
    await a.stop();
    const b = await startKernel({ modulesDir: dirB, databaseUrl: db.url });
    expect((await b.admin('/api/v1/modules/notes/disable', { method: 'POST' })).status).toBe(200);
    a = await startKernel({ modulesDir: dirA, dataDir: dataA, databaseUrl: db.url });
    expect((await a.record('notes')).state).toBe('disabled');
    expect(enabledOnDisk(dirA, 'notes')).toBe(false);
    expect(count(a.lines, /notes: another kernel disabled it while this one was down/)).toBe(1);
    await a.stop();
    // both: A's file is edited by hand (earlier), then B disables and enables again (later): B wins
    setOnDisk(dirA, 'notes', true);
    expect((await b.admin('/api/v1/modules/notes/enable', { method: 'POST' })).status).toBe(200);
    a = await startKernel({ modulesDir: dirA, dataDir: dataA, databaseUrl: db.url });
    expect((await a.record('notes')).state).toBe('running');
    await a.stop();
    setOnDisk(dirA, 'notes', false);
    await waitFor(() => Date.now() - statSync(join(dirA, 'notes', 'module.json')).mtimeMs > 20, { what: 'a later clock' });
    expect((await b.admin('/api/v1/modules/notes/disable', { method: 'POST' })).status).toBe(200);
    expect((await b.admin('/api/v1/modules/notes/enable', { method: 'POST' })).status).toBe(200);
    a = await startKernel({ modulesDir: dirA, dataDir: dataA, databaseUrl: db.url });
    expect(count(a.lines, /notes: .* was edited .* and later another kernel changed it .* the later wins: enabled/)).toBe(1);
    expect((await a.record('notes')).state).toBe('running');
    expect(enabledOnDisk(dirA, 'notes')).toBe(true);
  });
});

describe('issue 13 item 3 through another door: an API change the cluster record did not take', () => {
  it('still applies here, and the next start publishes it instead of following the stale record back', async () => {
    const db = await createTestDatabase();
    dbs.push(db);
    const dir = tempDir('modules');
    const data = tempDir('data');
    writeModule(dir, 'notes', { router: helloRouter });
    let k = await startKernel({ modulesDir: dir, dataDir: data, databaseUrl: db.url });
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    try {
      // the record cannot be written (as when the database is lost at that moment)
      await c.query('ALTER TABLE hub_module_state RENAME TO hub_module_state_away');
      const r = await k.admin('/api/v1/modules/notes/disable', { method: 'POST' });
      expect(r.status).toBe(500);
      // on the branch as delivered: wanted off, module.json false, yet still running
      await k.waitForState('notes', 'disabled');
      expect(JSON.parse(readFileSync(join(dir, 'notes', 'module.json'), 'utf8')).enabled).toBe(false);
      await k.stop();
      await c.query('ALTER TABLE hub_module_state_away RENAME TO hub_module_state');
      k = await startKernel({ modulesDir: dir, dataDir: data, databaseUrl: db.url });
      // on the branch as delivered: "another kernel enabled it while this one was down", running
      expect((await k.record('notes')).state).toBe('disabled');
      expect(count(k.lines, /notes: modules\/notes\/module.json was edited while the hub was down; notes is disabled, published/)).toBe(1);
      expect((await c.query(`SELECT enabled FROM hub_module_state WHERE module = 'notes'`)).rows[0].enabled).toBe(false);
    } finally {
      await c.end();
    }
    await k.stop();
  });
});

describe('races between API actions', () => {
  it('an enable and a disable sent together leave module.json, the cluster record, the memory and the state agreeing', async () => {
    const db = await createTestDatabase();
    dbs.push(db);
    const dir = tempDir('modules');
    const data = tempDir('data');
    writeModule(dir, 'notes', { router: helloRouter });
    const k = await startKernel({ modulesDir: dir, dataDir: data, databaseUrl: db.url, env: { HUB_DRAIN_MS: '300', MODULES_AUTO_RELOAD: 'true' } });
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    const disagreements: string[] = [];
    try {
      for (let i = 0; i < 10; i++) {
        const order = i % 2 === 0 ? ['enable', 'disable'] : ['disable', 'enable'];
        await Promise.all(order.map((a) => k.admin(`/api/v1/modules/notes/${a}`, { method: 'POST' })));
        const rec = await waitFor(async () => {
          const r = await k.record('notes');
          return r.state === 'running' || r.state === 'disabled' ? r : undefined;
        }, { what: 'notes settled' });
        const on = rec.state === 'running';
        const file = JSON.parse(readFileSync(join(dir, 'notes', 'module.json'), 'utf8')).enabled;
        const row = (await c.query(`SELECT enabled FROM hub_module_state WHERE module = 'notes'`)).rows[0]?.enabled;
        const seen = JSON.parse(readFileSync(join(data, 'module-switches.json'), 'utf8')).notes;
        // on the branch as delivered: running, while module.json (and then the record) said disabled
        if (file !== on || row !== on || seen !== on || rec.enabled !== on) disagreements.push(`${order.join(' + ')}: ${rec.state}, file ${file}, record ${row}, memory ${seen}`);
      }
    } finally {
      await c.end();
    }
    expect(disagreements).toEqual([]);
    await k.stop();
  });
});

describe('a hand edit that is not JSON, met by an API action', () => {
  it('answers 422 manifest_invalid naming the file, not 500 internal_error', async () => {
    const dir = tempDir('modules');
    writeModule(dir, 'notes', { router: helloRouter });
    const k = await startKernel({ modulesDir: dir });
    writeFileSync(join(dir, 'notes', 'module.json'), '{ "name": "notes", ');
    const r = await k.admin('/api/v1/modules/notes/disable', { method: 'POST' });
    const body = (await r.json()) as any;
    // on the branch as delivered: 500 {"error":"internal_error","message":"Unexpected end of JSON input"}
    expect(r.status).toBe(422);
    expect(body.error).toBe('manifest_invalid');
    expect(body.message).toMatch(/^modules\/notes\/module.json is not valid JSON \(.+\); fix it, then try again$/);
    await k.stop();
  });
});

describe('issue 13 item 3, two kernels: a change made while this kernel is starting', () => {
  it('arrives even when it lands between the start\'s read of hub_module_state and its LISTEN', async () => {
    const db = await createTestDatabase();
    dbs.push(db);
    const dir = tempDir('modules');
    writeModule(dir, 'notes', { router: helloRouter });
    // a first start records notes as enabled
    let k = await startKernel({ modulesDir: dir, databaseUrl: db.url });
    await k.stop();
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    try {
      k = await startKernel({ modulesDir: dir, databaseUrl: db.url, waitLoaded: false });
      // the gateway listens after the switches were settled and before the LISTEN: another
      // kernel's disable (its record and NOTIFY) lands in that window
      await k.waitForLog(/Gateway listening/);
      await c.query(`UPDATE hub_module_state SET enabled = false, updated_at = now() WHERE module = 'notes'`);
      await c.query(`SELECT pg_notify('hub_module_state', 'notes')`);
      // the window is milliseconds wide and this timing does not always hit it (the test also
      // passes on the branch as delivered when the LISTEN is already up); it pins the outcome
      await k.waitForState('notes', 'disabled', 15_000);
    } finally {
      await c.end();
    }
    await k.stop();
  });
});

describe('issue 13 items 4 and 5: hot reload on the record, quiet failures, one listener', () => {
  it('carries a failed reload on the record, clears it on the next good edit, and counts reloads apart from restarts', async () => {
    const dir = tempDir('modules');
    writeModule(dir, 'live', { router: helloRouter });
    const k = await startKernel({ modulesDir: dir, env: { MODULES_AUTO_RELOAD: 'true', HUB_START_TIMEOUT_MS: '5000' } });
    const router = join(dir, 'live', 'backend', 'router.js');
    writeFileSync(router, crashAtImport);
    const broken = await waitFor(async () => {
      const r = await k.record('live');
      return r.reload_error ? r : undefined;
    }, { what: 'reload_error on the record' });
    expect(broken.state).toBe('running');
    expect(broken.reload_error).toMatch(/broken at import/);
    expect((await k.get('/api/v1/live/hello')).status).toBe(200);
    const status = await hubctl(['status'], { HUB_URL: k.adminUrl, HUB_ADMIN_TOKEN: k.adminToken() ?? '', NO_COLOR: '1' });
    expect(status.stdout).toMatch(/reload failed.*broken at import/);
    writeFileSync(router, helloRouter.replace('pid: process.pid', 'pid: process.pid, v: 2'));
    const fixed = await waitFor(async () => {
      const r = await k.record('live');
      return r.reload_error === null && r.reloads === 1 ? r : undefined;
    }, { what: 'the reload error to clear' });
    expect(fixed.restarts).toBe(0);
    await k.stop();
  });

  it('shows a failed reload on the dashboard beside the running badge, live, and clears it when a later edit loads', async () => {
    const dir = tempDir('modules');
    writeModule(dir, 'live', { router: helloRouter });
    const k = await startKernel({ modulesDir: dir, env: { MODULES_AUTO_RELOAD: 'true', HUB_START_TIMEOUT_MS: '5000' } });
    const browser = await launchChromium();
    try {
      const page = await (await browser.newContext()).newPage();
      await page.goto(`${k.adminUrl}/`);
      await page.fill('#token', k.adminToken()!);
      await page.locator('form.login-form button[type="submit"]').click();
      await page.waitForURL(`${k.adminUrl}/`);
      await page.locator('#live[data-state="open"]').waitFor({ timeout: 15_000 });
      const row = page.locator('tr[data-module="live"]');
      const router = join(dir, 'live', 'backend', 'router.js');
      writeFileSync(router, crashAtImport);
      await row.locator('.row-error', { hasText: 'broken at import' }).waitFor({ timeout: 20_000 });
      expect(await row.locator('.row-error').textContent()).toMatch(/reload failed, the previous version keeps serving: .*broken at import/);
      expect(await row.locator('[data-field="state"]').textContent()).toBe('running');
      writeFileSync(router, helloRouter.replace('pid: process.pid', 'pid: process.pid, v: 2'));
      await waitFor(async () => (await k.record('live')).reloads === 1, { what: 'the fixed edit loaded' });
      await row.locator('.row-error', { hasText: 'broken at import' }).waitFor({ state: 'hidden', timeout: 20_000 });
    } finally {
      await browser.close();
    }
    await k.stop();
  });

  it('clears a failed reload once the fixed code loads by disable and enable (not only by a reload)', async () => {
    const dir = tempDir('modules');
    writeModule(dir, 'live', { router: helloRouter });
    writeModule(dir, 'other', { router: helloRouter });
    const k = await startKernel({ modulesDir: dir, env: { MODULES_AUTO_RELOAD: 'true', HUB_START_TIMEOUT_MS: '5000' } });
    const router = join(dir, 'live', 'backend', 'router.js');
    writeFileSync(router, crashAtImport);
    await waitFor(async () => (await k.record('live')).reload_error || undefined, { what: 'reload_error on the record' });
    expect((await k.admin('/api/v1/modules/live/disable', { method: 'POST' })).status).toBe(200);
    writeFileSync(router, helloRouter.replace('pid: process.pid', 'pid: process.pid, v: 2'));
    // the watcher handles batches in order: once an edit of "other" reloads, the fix has been seen too
    writeFileSync(join(dir, 'other', 'backend', 'router.js'), helloRouter.replace('pid: process.pid', 'pid: process.pid, o: 1'));
    await k.waitForLog(/Reloaded module other/);
    expect((await k.admin('/api/v1/modules/live/enable', { method: 'POST' })).status).toBe(200);
    expect((await k.json('/api/v1/live/hello')).v).toBe(2);
    // on the branch as delivered: running the fixed code, yet "reload of live failed … broken at import"
    const rec = await k.record('live');
    expect(rec.state).toBe('running');
    expect(rec.reload_error).toBeNull();
    await k.stop();
  });

  it('logs a failed module once, not again on unrelated edits, and logs its recovery', async () => {
    const dir = tempDir('modules');
    writeModule(dir, 'bad', { router: crashAtImport });
    writeModule(dir, 'good', { router: helloRouter });
    const k = await startKernel({ modulesDir: dir, env: { MODULES_AUTO_RELOAD: 'true', HUB_CRASH_LIMIT: '2', HUB_SPARE_CHILDREN: '0' } });
    await k.waitForState('bad', 'failed');
    const failures = () => count(k.lines, /Could not load module bad: crash loop/);
    const before = failures();
    expect(before).toBe(1);
    for (let i = 0; i < 3; i++) {
      writeFileSync(join(dir, 'good', 'backend', 'router.js'), helloRouter.replace('pid: process.pid', `pid: process.pid, i: ${i}`));
      await waitFor(async () => (await k.json('/api/v1/good/hello')).i === i, { what: `good reload ${i}` });
    }
    expect(failures()).toBe(before);
    writeFileSync(join(dir, 'bad', 'backend', 'router.js'), helloRouter);
    await k.waitForState('bad', 'running');
    await k.waitForLog(/Module bad recovered and is running/);
    await k.stop();
  });

  it('keeps one LISTEN connection across lost connections and applies a change once', async () => {
    const db = await createTestDatabase();
    dbs.push(db);
    const dir = tempDir('modules');
    writeModule(dir, 'notes', { router: helloRouter });
    const k = await startKernel({ modulesDir: dir, databaseUrl: db.url });
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    try {
      const listeners = async () =>
        // listening, not only connected: a connection cut before its LISTEN is a failed connect
        // (retried quietly), not a lost listener
        (await c.query(`SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'bmc-hub-listen'
                          AND state = 'idle' AND query LIKE 'LISTEN%'`)).rows.map((r) => r.pid as number);
      for (let i = 0; i < 3; i++) {
        const [pid] = await waitFor(async () => {
          const l = await listeners();
          return l.length === 1 ? l : undefined;
        }, { what: 'one listener', timeoutMs: 40_000 });
        await c.query('SELECT pg_terminate_backend($1)', [pid]);
        await waitFor(async () => {
          const l = await listeners();
          return l.length === 1 && l[0] !== pid;
        }, { what: `reconnect ${i}`, timeoutMs: 40_000 });
      }
      await waitFor(() => count(k.lines, /lost the LISTEN connection/) === 3, { what: 'three losses logged' });
      expect((await listeners()).length).toBe(1);
      await c.query(`UPDATE hub_module_state SET enabled = false, updated_at = now() WHERE module = 'notes'`);
      await c.query(`SELECT pg_notify('hub_module_state', 'notes')`);
      await k.waitForState('notes', 'disabled');
      await waitFor(() => count(k.lines, /Another kernel disabled notes/) === 1, { what: 'the change applied' });
      expect(count(k.lines, /Another kernel disabled notes/)).toBe(1);
      expect(count(k.lines, /notes disabled \(cluster\)/)).toBe(1);
    } finally {
      await c.end();
    }
    await k.stop();
  });
});

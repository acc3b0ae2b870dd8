// Issue 11, item 6: a module's own database role could NOTIFY hub_module_state with
// {"module":"other","enabled":false,...} and every kernel disabled `other`. A notification is
// now only a hint to re-read hub_module_state, which module roles cannot write, and a flood
// of hints costs a few re-reads, not one per notification.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClusterSync } from '../kernel/cluster-sync.js';
import type { Database } from '../kernel/database.js';
import { migrateModule } from '../kernel/migrator.js';
import { issueRuntimeCredentials } from '../kernel/module-roles.js';
import { createModuleDb, type ModuleDb } from '../shared/db.js';
import { createLogger } from '../shared/logger.js';
import { createTestDatabase, makeModule, openTestDatabase, type TestDatabase, type TestModule } from './helpers/database.js';
import { waitFor } from './helpers/wait.js';

let tdb: TestDatabase;
let kernelA: Database;
let kernelB: Database;
let attacker: ModuleDb;
let syncA: ClusterSync;
let syncB: ClusterSync;
const applied: [string, boolean][] = [];
const modules: TestModule[] = [];

beforeAll(async () => {
  tdb = await createTestDatabase();
  [kernelA, kernelB] = await Promise.all([openTestDatabase(tdb.url, 'error'), openTestDatabase(tdb.url, 'error')]);
  const evil = makeModule('evil', 'evil_', { '001_init.sql': 'CREATE TABLE evil_t (id int);' });
  modules.push(evil);
  await migrateModule(kernelA, evil);
  attacker = createModuleDb((await issueRuntimeCredentials(kernelA, evil)).connection);
  syncA = new ClusterSync(kernelA);
  syncB = new ClusterSync(kernelB);
  await syncA.record('other', true);
  await syncB.recorded();
  await syncB.listen(async (m, e) => { applied.push([m, e]); }, { log: createLogger({ level: 'silent' }) });
});

afterAll(async () => {
  await attacker?.close();
  await syncA?.close();
  await syncB?.close();
  await Promise.all([kernelA?.close(), kernelB?.close()]);
  await tdb?.drop();
  for (const m of modules) m.remove();
});

describe('cluster notifications from a module', () => {
  it('a forged announcement disables nothing', async () => {
    await attacker.query("SELECT pg_notify('hub_module_state', $1)", ['{"module":"other","enabled":false,"kernel":"x"}']);
    await waitFor(() => syncB.hints >= 1 || undefined, { what: 'the notification to arrive' });
    await syncB.idle();
    expect(syncB.rereads).toBe(1);
    expect(applied).toEqual([]);
    expect((await kernelA.pool.query("SELECT enabled FROM hub_module_state WHERE module = 'other'")).rows).toEqual([{ enabled: true }]);
  });

  it('a module role cannot write the recorded state', async () => {
    await expect(attacker.query("UPDATE hub_module_state SET enabled = false WHERE module = 'other'")).rejects.toThrow(/permission denied for table hub_module_state/);
    await expect(attacker.query("INSERT INTO hub_module_state (module, enabled) VALUES ('x', true)")).rejects.toThrow(/permission denied for table hub_module_state/);
  });

  it('2000 notifications cost a handful of re-reads', async () => {
    const before = { rereads: syncB.rereads, hints: syncB.hints };
    // distinct payloads: PostgreSQL folds identical notifications of one transaction into one
    for (let i = 0; i < 4; i++) await attacker.query("SELECT pg_notify('hub_module_state', $1 || g) FROM generate_series(1, 500) g", [`f${i}-`]);
    await waitFor(() => syncB.hints >= before.hints + 2000 || undefined, { what: '2000 notifications to arrive' });
    await syncB.idle();
    expect(syncB.rereads - before.rereads).toBeGreaterThanOrEqual(1);
    expect(syncB.rereads - before.rereads).toBeLessThanOrEqual(5);
    expect(applied).toEqual([]);
  });

  it('a real decision by another kernel is still applied', async () => {
    await syncA.record('other', false);
    await waitFor(() => applied.length > 0 || undefined, { what: 'the decision to arrive' });
    expect(applied).toEqual([['other', false]]);
  });
});

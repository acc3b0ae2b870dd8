// Issue 11, item 13: on a server that trusts loopback logins any module can connect as any
// role, so per-module roles isolate nothing. The kernel finds out at start (a login with a
// wrong password that gets through) and says so in one loud log line and in /health. The
// system PostgreSQL of the test machine trusts loopback; the embedded one (scram) is checked
// in embedded-default.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probePasswordTrust } from '../kernel/database-trust.js';
import { parseDatabaseUrl } from '../kernel/database.js';
import { createTestDatabase, type TestDatabase } from './helpers/database.js';
import { startKernel, stopAllKernels } from './helpers/kernel.js';
import { helloRouter, tempDir, writeModule } from './helpers/modules.js';

let tdb: TestDatabase;

beforeAll(async () => {
  tdb = await createTestDatabase();
});

afterAll(async () => {
  await stopAllKernels();
  await tdb?.drop();
});

describe('a database server that does not check passwords', () => {
  it('is detected by a login with a wrong password', async () => {
    expect(await probePasswordTrust(parseDatabaseUrl(tdb.url))).toBe(true);
  });

  it('is reported in one loud log line and in /health, next to the usual fields', async () => {
    const modulesDir = tempDir('modules');
    writeModule(modulesDir, 'plain', { router: helloRouter });
    const k = await startKernel({ modulesDir, databaseUrl: tdb.url });
    const warnings = k.entries().filter((e) => /lets logins in without checking passwords/.test(String(e.msg)));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ level: 40, trusts_passwords: true });
    const health = await k.json('/health');
    expect(health).toMatchObject({ status: 'ok', modules: { plain: 'running' }, database: { trusts_passwords: true } });
    expect(health.warnings).toContainEqual(expect.stringMatching(/does not check passwords/));
    // the test server leaves its other databases open to PUBLIC, as PostgreSQL does by default
    expect(health.database.open_to_all_roles).toContain('postgres');
    expect(health.warnings).toContainEqual(expect.stringMatching(/module roles may connect to other databases of this server: .*postgres/));
    expect(k.entries().some((e) => /every role, module roles included, may connect to .*"postgres"/.test(String(e.msg)))).toBe(true);
    await k.stop();
  });
});

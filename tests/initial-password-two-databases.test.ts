// One data folder, two databases (DATABASE_URL set, changed or unset between starts): the
// second first start must not overwrite the first database's admin password, or switching
// back leaves no way in (found following the README from a clean clone).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from './helpers/database.js';
import { startKernel, stopAllKernels, type RunningKernel } from './helpers/kernel.js';
import { tempDir } from './helpers/modules.js';

const dbs: TestDatabase[] = [];

afterAll(async () => {
  await stopAllKernels();
  await Promise.all(dbs.map((d) => d.drop()));
});

const signIn = async (k: RunningKernel, password: string) =>
  (await k.get('/api/v1/auth/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password }) })).status;

it('keeps the first database admin password when the folder meets a second empty database', async () => {
  dbs.push(await createTestDatabase(), await createTestDatabase());
  const [a, b] = dbs as [TestDatabase, TestDatabase];
  const modulesDir = tempDir('modules');
  const dataDir = tempDir('data');
  const file = join(dataDir, 'initial-admin-password');

  let k = await startKernel({ modulesDir, dataDir, databaseUrl: a.url });
  const first = readFileSync(file, 'utf8').trim();
  await k.stop();

  k = await startKernel({ modulesDir, dataDir, databaseUrl: b.url });
  const second = readFileSync(file, 'utf8').trim();
  expect(second).not.toBe(first);
  expect(await signIn(k, second)).toBe(200);
  const kept = readdirSync(dataDir).filter((f) => f.startsWith('initial-admin-password.'));
  expect(kept).toHaveLength(1);
  const keptFile = kept[0]!;
  expect(readFileSync(join(dataDir, keptFile), 'utf8').trim()).toBe(first);
  expect(statSync(join(dataDir, keptFile)).mode & 0o777).toBe(0o600);
  expect(k.lines.some((l) => l.includes(keptFile) && l.includes('another database'))).toBe(true);
  await k.stop();

  // back on the first database: the kept password still signs in
  k = await startKernel({ modulesDir, dataDir, databaseUrl: a.url });
  expect(await signIn(k, first)).toBe(200);
}, 120_000);

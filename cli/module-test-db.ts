// The throwaway database of one `hubctl test` run: a fresh database hubtest_<10 hex> on
// DATABASE_URL's server (CREATE DATABASE takes ~0.1-0.3 s), or, without DATABASE_URL, a
// throwaway embedded PostgreSQL cluster in a temp folder (kernel/embedded-postgres.ts; it
// picks a free port, never 5432's server). Both are told to the reaper before they exist and
// dropped by the run's cleanup (module-test-cleanup.ts), module roles included.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { openDatabase, type Database } from '../kernel/database.js';
import { createLogger } from '../shared/logger.js';
import type { RunCleanup } from './module-test-cleanup.js';
import { dropThrowaway } from './module-test-reaper-drop.js';

export interface ThrowawayDatabase {
  /** What the kernel child and the module's tests connect with. */
  url: string;
  name: string;
  embedded: boolean;
  /** The kernel's Database on it (admin pool): migrator, roles. */
  db: Database;
}

/** Creates the database and registers its removal with `cleanup`; `tmp` is the run's temp folder (the kernel id of hubctl's Database goes there). */
export async function createThrowaway(databaseUrl: string | undefined, cleanup: RunCleanup, tmp: string): Promise<ThrowawayDatabase> {
  const log = createLogger({ level: 'silent' });
  if (databaseUrl) {
    const name = `hubtest_${randomBytes(5).toString('hex')}`;
    cleanup.tell({ database: { adminUrl: databaseUrl, name } });
    const admin = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 5_000 });
    await admin.connect();
    try {
      await admin.query(`CREATE DATABASE "${name}"`);
      // says whose it is, should both hubctl and its reaper be killed (a whole container stopped)
      await admin.query(`COMMENT ON DATABASE "${name}" IS ${pg.escapeLiteral(`hubctl test throwaway database (pid ${process.pid} on ${hostname()}, ${new Date().toISOString()}); safe to drop`)}`);
    } finally {
      await admin.end().catch(() => undefined);
    }
    cleanup.add(() => dropThrowaway(databaseUrl, name));
    const u = new URL(databaseUrl);
    u.pathname = `/${name}`;
    const url = u.toString();
    const db = await openDatabase({ databaseUrl: url, dataDir: join(tmp, 'hubctl-data'), log, connectTimeoutMs: 5_000 });
    cleanup.add(() => db.close());
    return { url, name, embedded: false, db };
  }
  const dir = mkdtempSync(join(tmpdir(), 'hubtest-pg-'));
  cleanup.tell({ pgData: join(dir, 'pg', 'data') });
  cleanup.tell({ dir });
  cleanup.add(async () => rmSync(dir, { recursive: true, force: true }));
  const db = await openDatabase({ dataDir: dir, log });
  cleanup.add(() => db.close());
  const c = db.connection;
  const url = `postgres://${encodeURIComponent(c.user)}:${encodeURIComponent(c.password ?? '')}@${c.host}:${c.port}/${c.database}`;
  return { url, name: c.database, embedded: true, db };
}

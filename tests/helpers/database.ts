// A fresh PostgreSQL database per test file on the server named by DATABASE_URL, so files
// can run in parallel without seeing each other's tables, ledgers or module roles.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { openDatabase, type Database } from '../../kernel/database.js';
import { createLogger } from '../../shared/logger.js';
import { createThrowawayDatabase } from '../../shared/testing/throwaway-database.js';

export const ADMIN_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface TestDatabase {
  url: string;
  name: string;
  drop(): Promise<void>;
}

/**
 * `withoutRoles`: the URL logs in as a plain user that owns the database but may not create
 * roles, like a managed PostgreSQL account; the kernel must then fall back to shared isolation.
 */
export async function createTestDatabase(opts: { withoutRoles?: boolean } = {}): Promise<TestDatabase> {
  const db = await createThrowawayDatabase(ADMIN_URL, opts.withoutRoles ? { owner: 'plain' } : {});
  return { url: db.url, name: db.name, drop: db.drop };
}

/** The kernel's Database object on a test database (never the embedded server). */
export function openTestDatabase(url: string, level = 'warn'): Promise<Database> {
  return openDatabase({ databaseUrl: url, dataDir: tmpdir(), log: createLogger({ level, name: 'test' }) });
}

export interface TestModule {
  name: string;
  tablePrefix: string;
  dir: string;
  /** Writes (or overwrites) migrations/<file>. */
  write(file: string, content: string): void;
  remove(): void;
}

/** A module folder with the given migrations, in a temp directory. */
export function makeModule(name: string, tablePrefix: string, migrations: Record<string, string> = {}): TestModule {
  const dir = join(mkdtempSync(join(tmpdir(), `hub-mod-${name}-`)), name);
  mkdirSync(join(dir, 'migrations'), { recursive: true });
  const write = (file: string, content: string): void => writeFileSync(join(dir, 'migrations', file), content);
  for (const [file, content] of Object.entries(migrations)) write(file, content);
  return { name, tablePrefix, dir, write, remove: () => rmSync(join(dir, '..'), { recursive: true, force: true }) };
}

/** A plain client on a test database as a given user (default: the admin user of the URL). */
export async function connectAs(url: string, user?: string, password?: string): Promise<pg.Client> {
  const u = new URL(url);
  if (user !== undefined) u.username = user;
  if (password !== undefined) u.password = encodeURIComponent(password);
  const c = new pg.Client({ connectionString: u.toString(), connectionTimeoutMillis: 10_000 });
  await c.connect();
  return c;
}

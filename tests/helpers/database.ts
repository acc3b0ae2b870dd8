// A fresh PostgreSQL database per test file on the server named by DATABASE_URL, so files
// can run in parallel without seeing each other's tables, ledgers or module roles.
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { openDatabase, type Database } from '../../kernel/database.js';
import { rolePrefixFor } from '../../kernel/module-roles.js';
import { createLogger } from '../../shared/logger.js';

export const ADMIN_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface TestDatabase {
  url: string;
  name: string;
  drop(): Promise<void>;
}

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 10_000 });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/**
 * `withoutRoles`: the URL logs in as a plain user that owns the database but may not create
 * roles, like a managed PostgreSQL account; the kernel must then fall back to shared isolation.
 */
export async function createTestDatabase(opts: { withoutRoles?: boolean } = {}): Promise<TestDatabase> {
  const name = `hubtest_${randomBytes(5).toString('hex')}`;
  const owner = opts.withoutRoles ? `${rolePrefixFor(name)}plain` : null;
  await admin(async (c) => {
    if (owner) await c.query(`CREATE ROLE "${owner}" LOGIN NOSUPERUSER NOCREATEROLE NOCREATEDB`);
    await c.query(`CREATE DATABASE ${name}${owner ? ` OWNER "${owner}"` : ''}`);
  });
  const u = new URL(ADMIN_URL);
  u.pathname = `/${name}`;
  if (owner) {
    u.username = owner;
    u.password = '';
  }
  return {
    url: u.toString(),
    name,
    async drop() {
      await admin(async (c) => {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
        // Module roles are cluster-wide; ours all carry this database's prefix.
        const prefix = rolePrefixFor(name);
        const roles = await c.query<{ rolname: string }>('SELECT rolname FROM pg_roles WHERE starts_with(rolname, $1)', [prefix]);
        for (const r of roles.rows) await c.query(`DROP ROLE IF EXISTS "${r.rolname}"`);
      });
    },
  };
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

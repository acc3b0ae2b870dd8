// A database handle on one module's tables for its tests. `as: 'runtime'` logs in with the
// test database's (superuser) URL and then SET ROLE to the module's runtime role, so a query
// sees exactly what the module's child sees (its grants, row-level security, no other
// module's tables). `as: 'owner'` takes the owner role, which owns the tables: for fixtures
// and for looking past row-level security. Where the kernel made no module roles (a server
// that refuses CREATE ROLE) both log in as the URL's own user, as the child does then.
import pg from 'pg';
import { roleNamesFor } from '../../kernel/module-roles.js';

export interface ModuleDb {
  /** Rows of one statement, with `$1…` parameters (the same shape as the module's ctx.db.query). */
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  /** The first row, or null. */
  one<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T | null>;
  /**
   * The same handle acting for signed-in user `userId` (what the hub sets as hub.user_id for
   * a signed-in request, which row-level security policies read); `null`: nobody signed in.
   */
  asUser(userId: number | null): ModuleDb;
  /** The role queries run as (null: the URL's own user). */
  role(): Promise<string | null>;
  /** Closes the connection (startModule's stop() does it). */
  close(): Promise<void>;
}

/**
 * A lazily opened single connection to `databaseUrl` acting as `module`'s runtime or owner
 * role; `instance` gives the kernel's id, which names its runtime role. Errors: the server's own, with the role named when SET ROLE fails.
 */
export function moduleDb(databaseUrl: string, module: string, as: 'runtime' | 'owner', instance?: () => string | undefined): ModuleDb {
  let client: Promise<{ c: pg.Client; role: string | null }> | undefined;
  const open = () =>
    (client ??= (async () => {
      const c = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 10_000 });
      c.on('error', () => {}); // a connection cut at stop() is not the test's failure
      await c.connect();
      const database = (await c.query<{ db: string }>('SELECT current_database() AS db')).rows[0]!.db;
      // the runtime role carries the kernel's id (<prefix><module>_rt_<id>, HUB_DATA_DIR/kernel-id):
      // this kernel's own, else any kernel's (they all have the same rights)
      const id = instance?.();
      const names = roleNamesFor(database, module, as === 'runtime' ? id : undefined);
      const found = await c.query<{ rolname: string }>(
        as === 'owner' || id
          ? 'SELECT rolname FROM pg_roles WHERE rolname = $1'
          : "SELECT rolname FROM pg_roles WHERE rolname ~ ('^' || $1 || '_[0-9a-f]{6}$') ORDER BY rolname LIMIT 1",
        [as === 'owner' ? names.owner : names.runtime],
      );
      const role = found.rows[0]?.rolname ?? null;
      if (role) {
        try {
          await c.query(`SET ROLE "${role.replace(/"/g, '""')}"`);
        } catch (e) {
          await c.end();
          throw new Error(`bmc-hub/testing: cannot act as ${module}'s ${as} role ${role}: ${(e as Error).message}; the test database URL must be a superuser's`);
        }
      }
      return { c, role };
    })());
  // Every query is preceded by its own set_config, issued in the same tick: a pg client runs
  // queries in the order they were issued, so one handle's user never applies to another's query.
  const run = async (user: number | null, sql: string, params: unknown[]) => {
    const { c } = await open();
    const set = c.query("SELECT set_config('hub.user_id', $1, false)", [user === null ? '' : String(user)]);
    const result = c.query(sql, params);
    const [, rows] = await Promise.all([set, result]);
    return rows.rows;
  };
  const handle = (user: number | null): ModuleDb => ({
    async query<T>(sql: string, params: unknown[] = []) {
      return (await run(user, sql, params)) as T[];
    },
    async one<T>(sql: string, params: unknown[] = []) {
      return ((await run(user, sql, params))[0] as T | undefined) ?? null;
    },
    asUser: (id) => handle(id),
    role: () => base.role(),
    close: () => base.close(),
  });
  const base = {
    async role() {
      return (await open()).role;
    },
    async close() {
      const pending = client;
      client = undefined;
      if (pending) await pending.then(({ c }) => c.end()).catch(() => {});
    },
  };
  return handle(null);
}

// ctx.db without loading pg until a module first queries (issue 17: a child loads only what
// its module uses). Every ModuleDb method is already async, so the module sees the same API;
// the first call imports ../db.js (and with it pg) and creates the pool, later calls go
// straight to it. close() on a pool never created does nothing.
import type { ModuleDb, ModuleDbConnection, ModuleDbOptions, ModuleQueries } from '../db.js';

/** True once a lazy pool has loaded pg (for tests and the memory benchmark). */
export function dbLoaded(db: ModuleDb): boolean {
  return (db as { loaded?: () => boolean }).loaded?.() ?? true;
}

/**
 * A ModuleDb whose pool (and the pg package) is created on the first query, transaction or
 * insert. Errors are those of createModuleDb's pool; a failed import rejects that call.
 */
export function lazyModuleDb(connection: ModuleDbConnection, opts: ModuleDbOptions = {}): ModuleDb {
  let real: ModuleDb | undefined;
  let creating: Promise<ModuleDb> | undefined;
  const get = (): Promise<ModuleDb> =>
    real !== undefined ? Promise.resolve(real) : (creating ??= import('../db.js').then(({ createModuleDb }) => (real = createModuleDb(connection, opts))));
  const db: ModuleDb & { loaded(): boolean } = {
    async query(sql, params) {
      return (await get()).query(sql, params);
    },
    async one(sql, params) {
      return (await get()).one(sql, params);
    },
    async insert(sql, params) {
      return (await get()).insert(sql, params);
    },
    async transaction<T>(fn: (tx: ModuleQueries) => Promise<T>): Promise<T> {
      return (await get()).transaction(fn);
    },
    async close() {
      if (creating !== undefined) await (await creating).close();
    },
    loaded: () => creating !== undefined,
  } as ModuleDb & { loaded(): boolean };
  return db;
}

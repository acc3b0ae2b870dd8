// The embedded database: cold start (initdb + start + first query) and warm start, and
// the migration of a module with 20 files (prefix seal and roles on).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openDatabase } from '../kernel/database.js';
import { migrateModule } from '../kernel/migrator.js';
import { createLogger } from '../shared/logger.js';
import { tempDir } from '../tests/helpers/modules.js';
import { round } from './stats.js';

export async function database() {
  const log = createLogger({ level: 'warn', name: 'bench' });
  const dataDir = tempDir('bench-pg');
  const timeOpen = async () => {
    const t0 = performance.now();
    const db = await openDatabase({ dataDir, log });
    await db.pool.query('SELECT 1');
    return { db, s: (performance.now() - t0) / 1000 };
  };
  const cold = await timeOpen();
  await cold.db.close();
  const warm = await timeOpen();
  try {
    const dir = join(tempDir('bench-mod'), 'twenty');
    mkdirSync(join(dir, 'migrations'), { recursive: true });
    for (let i = 1; i <= 20; i++) {
      const n = String(i).padStart(3, '0');
      writeFileSync(join(dir, 'migrations', `${n}_step.sql`), `CREATE TABLE twenty_t${i} (id serial primary key, label text);\nCREATE INDEX twenty_t${i}_label ON twenty_t${i} (label);\n-- migrate:down\nDROP TABLE twenty_t${i};\n`);
    }
    const t0 = performance.now();
    const result = await migrateModule(warm.db, { name: 'twenty', tablePrefix: 'twenty_', dir });
    const migrateMs = performance.now() - t0;
    return { cold_start_s: round(cold.s, 2), warm_start_s: round(warm.s, 2), migrate_20_files_ms: round(migrateMs, 0), applied: result.applied.length };
  } finally {
    await warm.db.close();
  }
}

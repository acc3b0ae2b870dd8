// Where hubctl finds the hub's database when it goes there directly (migrate, psql, db-url):
// DATABASE_URL, else the embedded server the running hub keeps under HUB_DATA_DIR/pg (its
// port in postmaster.pid, the superuser's password in pg-password, mode 0600 — readable by
// the operator who runs the hub, not by modules' users; kernel/embedded-postgres.ts).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { dataDir as hubDataDir } from './env.js';
import { CliError, EXIT } from './errors.js';

/** The embedded server's address, as the running hub left it: port in postmaster.pid, password beside it; null when it is not running. */
export function embeddedUrl(dataDir: string): string | null {
  const pgRoot = join(dataDir, 'pg');
  const pidFile = join(pgRoot, 'data', 'postmaster.pid');
  const pwFile = join(pgRoot, 'pg-password');
  if (!existsSync(pidFile) || !existsSync(pwFile)) return null;
  try {
    const lines = readFileSync(pidFile, 'utf8').split('\n');
    const port = Number(lines[3]);
    const pid = Number(lines[0]);
    if (!Number.isInteger(port) || port <= 0 || !Number.isInteger(pid) || pid <= 0) return null;
    process.kill(pid, 0);
    const password = readFileSync(pwFile, 'utf8').trim();
    return `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/hub`;
  } catch {
    return null;
  }
}

/**
 * The hub's privileged connection string: DATABASE_URL, else the running embedded server's.
 * Throws CliError (EXIT.unreachable) naming both places when neither is there.
 */
export function hubDatabaseUrl(env: NodeJS.ProcessEnv = process.env): string {
  const dataDir = hubDataDir(env);
  const url = env.DATABASE_URL || embeddedUrl(dataDir);
  if (!url) {
    throw new CliError(`no database reachable: DATABASE_URL is unset and no embedded database is running in ${join(dataDir, 'pg')}, start the hub (npm start) or set DATABASE_URL`, EXIT.unreachable);
  }
  return url;
}

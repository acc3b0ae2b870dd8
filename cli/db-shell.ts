// `hubctl db-url [<module>] [--admin]` and `hubctl psql [<module>] [--admin] [psql args…]`
// (issue 18 item 6): a SQL shell on the hub's database, for the embedded server
// (HUB_DATA_DIR/pg) and for DATABASE_URL alike (./database-url.ts).
// With a module: the privileged login with the startup option `role=<the module's runtime
// role>`, so every statement runs with exactly the rights the module's child has (its tables,
// nothing of other modules' or the hub's). The runtime role's own password is random per child
// start and never stored (kernel/module-roles.ts), so hubctl neither knows it nor changes it:
// a running module keeps its connections, and modules gain nothing. The URL therefore carries
// the privileged password: it is for the operator, who could read HUB_DATA_DIR anyway, and
// `RESET ROLE` inside the session returns to the privileged login (a view through the
// module's eyes, not a sandbox).
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { rolePrefixFor } from '../kernel/module-roles.js';
import { dataDir as hubDataDir } from './env.js';
import { CliError, EXIT } from './errors.js';
import { hubDatabaseUrl } from './database-url.js';
import { checkName } from './module-commands.js';

/** This hub's kernel id (HUB_DATA_DIR/kernel-id), which names its runtime roles; null when absent. */
function kernelId(env: NodeJS.ProcessEnv): string | null {
  try {
    const id = readFileSync(join(hubDataDir(env), 'kernel-id'), 'utf8').trim();
    return /^[0-9a-f]{6}$/.test(id) ? id : null;
  } catch {
    return null;
  }
}

/**
 * The runtime role the hub made for `module` in the database at `adminUrl`: this kernel's
 * (`<prefix><module>_rt_<kernel id>`) when it exists, else another kernel's of the same
 * database (they hold the same rights). Throws CliError when there is none: the hub has not
 * started the module here, or modules share the kernel's login (no CREATEROLE).
 */
export async function runtimeRoleOf(adminUrl: string, module: string, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 5_000 });
  try {
    await client.connect();
  } catch (e) {
    throw new CliError(`cannot connect to the hub's database: ${(e as Error).message}, check DATABASE_URL or start the hub`, EXIT.unreachable);
  }
  try {
    const db = (await client.query<{ db: string }>('SELECT current_database() AS db')).rows[0]!.db;
    const base = `${rolePrefixFor(db)}${module}_rt`;
    const id = kernelId(env);
    const rows = (await client.query<{ rolname: string }>(
      `SELECT rolname FROM pg_roles WHERE rolcanlogin AND (rolname = $1 OR rolname LIKE $2 ESCAPE '\\') ORDER BY (rolname = $3) DESC, rolname LIMIT 1`,
      [base, `${base.replace(/_/g, '\\_')}\\_%`, id ? `${base}_${id}` : ''],
    )).rows;
    if (rows.length === 0) {
      throw new CliError(`no runtime role for module ${module} in database ${db}: the hub has not started it here, or its modules share the kernel's login (no CREATEROLE); use --admin`, EXIT.notFound);
    }
    return rows[0]!.rolname;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * `url` with the libpq startup option `-c role=<role>` added (current_user becomes `role`).
 * Percent-encoded by hand: libpq reads `%20` as a space but not URLSearchParams' `+`.
 */
export function withRole(url: string, role: string): string {
  const u = new URL(url);
  const options = [u.searchParams.get('options'), `-c role=${role}`].filter(Boolean).join(' ');
  u.searchParams.delete('options');
  const rest = u.search ? `${u.search}&` : '?';
  u.search = '';
  return `${u.toString()}${rest}options=${encodeURIComponent(options)}`;
}

/** The connection string: the privileged login (no module, or `admin`), else as `module`'s runtime role. */
export async function databaseUrlFor(module: string | undefined, opts: { admin?: boolean }, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const url = hubDatabaseUrl(env);
  if (module === undefined || opts.admin) return url;
  checkName(module);
  return withRole(url, await runtimeRoleOf(url, module, env));
}

/** hubctl db-url: prints the connection string. */
export async function dbUrl(module: string | undefined, opts: { admin?: boolean }): Promise<void> {
  process.stdout.write((await databaseUrlFor(module, opts)) + '\n');
}

/** Splits `hubctl psql` arguments: leading `--admin`, then an optional module name, then psql's own. */
export function parsePsqlArgs(args: string[]): { module?: string; admin: boolean; rest: string[] } {
  const rest = [...args];
  let admin = false;
  let module: string | undefined;
  while (rest[0] === '--admin') {
    admin = true;
    rest.shift();
  }
  if (rest[0] !== undefined && !rest[0].startsWith('-')) module = rest.shift();
  while (rest[0] === '--admin') {
    admin = true;
    rest.shift();
  }
  return { module, admin, rest };
}

/**
 * hubctl psql: runs psql on the connection, its terminal inherited; resolves with psql's exit
 * code. The password goes to psql in PGPASSWORD, not on its command line (where `ps` shows it).
 */
export async function psql(args: string[]): Promise<number> {
  const { module, admin, rest } = parsePsqlArgs(args);
  const url = await databaseUrlFor(module, { admin });
  const u = new URL(url);
  const password = decodeURIComponent(u.password);
  u.password = '';
  const env = { ...process.env, ...(password ? { PGPASSWORD: password } : {}) };
  // Ctrl-C at the terminal reaches psql and hubctl alike: psql cancels the running query and
  // carries on, so hubctl must not die under it (the shell would take the terminal back)
  const ignore = () => undefined;
  process.on('SIGINT', ignore);
  process.on('SIGQUIT', ignore);
  try {
    return await new Promise<number>((resolve, reject) => {
      const child = spawn('psql', [u.toString(), ...rest], { stdio: 'inherit', env });
      child.on('error', (e: NodeJS.ErrnoException) => {
        if (e.code === 'ENOENT') {
          reject(new CliError(`psql is not installed (apt-get install postgresql-client); connect another tool with: ${url}`, EXIT.error));
        } else reject(new CliError(`cannot run psql: ${e.message}`));
      });
      child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
    });
  } finally {
    process.off('SIGINT', ignore);
    process.off('SIGQUIT', ignore);
  }
}

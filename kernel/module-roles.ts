// One pair of PostgreSQL roles per module, so a module's code can touch only its own tables:
//   <prefix><module>_own  owns the module's objects; migrations LOG IN as it, with a password
//                         the kernel sets afresh for every migration run and never hands out.
//                         NOSUPERUSER NOCREATEROLE NOCREATEDB NOINHERIT and a member of
//                         nothing, so RESET ROLE or SET SESSION AUTHORIZATION inside a DO block
//                         lands on the owner itself: a migration can never become the kernel.
//   <prefix><module>_rt   LOGIN; DML on what _own owns, nothing else; what the module's child connects as
// Role names are cluster-wide while several hub databases may share one server, so the prefix
// is derived from the database name: h<8 hex of sha256(dbname)>_. Two kernels on one database
// share the owner role (they must see the same tables); each has its own runtime role
// (<prefix><module>_rt_<kernel id>), so rotating its password never breaks the other's children.
// Where the server refuses CREATE ROLE, modules share the kernel's connection instead.
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import pg, { type PoolClient } from 'pg';
import type { Database, DatabaseConnection } from './database.js';
import { migrationAppName, withLock } from './migration-lock.js';

export interface ModuleRoleNames { owner: string; runtime: string }

/** Only the name matters here; the rest lets callers pass a migration target as is. */
export interface ModuleRef { name: string; tablePrefix?: string; dir?: string }

export interface RuntimeCredentials {
  isolation: 'role' | 'shared';
  connection: Required<DatabaseConnection>;
}

/** The hub_locks row that serialises role setup across kernels and parallel module starts. */
const ROLES_LOCK = 'roles';
const ROLES_LOCK_WAIT_MS = 60_000;
const RUNTIME_CONNECTION_LIMIT = 10;
/**
 * The owner logs in only for migrations: one session, the kernel's. It is NOLOGIN outside that
 * window (openOwnerSession/closeOwnerSession), so a password a migration sets for it (ALTER ROLE
 * is hidden from the parser inside EXECUTE) opens nothing afterwards, and with a limit of one
 * connection nobody else gets in while the kernel's session holds the window.
 */
const OWNER_CONNECTION_LIMIT = 1;
const OWNER_ATTRIBUTES = 'NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT NOREPLICATION NOBYPASSRLS';
const RUNTIME_STATEMENT_TIMEOUT = '30s';

interface RoleState {
  supported?: Promise<boolean>;
  warned: boolean;
  ensured: Map<string, Promise<ModuleRoleNames | null>>;
}
const states = new WeakMap<Database, RoleState>();

function stateOf(db: Database): RoleState {
  let s = states.get(db);
  if (!s) states.set(db, (s = { warned: false, ensured: new Map() }));
  return s;
}

export function rolePrefixFor(database: string): string {
  return `h${createHash('sha256').update(database, 'utf8').digest('hex').slice(0, 8)}_`;
}

/** `instance` (a kernel's id) gives each kernel sharing the database its own runtime role. */
export function roleNamesFor(database: string, moduleName: string, instance?: string): ModuleRoleNames {
  const base = rolePrefixFor(database) + moduleName;
  return { owner: `${base}_own`, runtime: instance ? `${base}_rt_${instance}` : `${base}_rt` };
}

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** True when the kernel's user may create roles (superuser or CREATEROLE). */
export function rolesSupported(db: Database): Promise<boolean> {
  const s = stateOf(db);
  s.supported ??= db.pool
    .query<{ ok: boolean }>('SELECT (rolsuper OR rolcreaterole) AS ok FROM pg_roles WHERE rolname = current_user')
    .then((r) => r.rows[0]?.ok === true);
  return s.supported;
}

/**
 * Creates (idempotently) the module's roles, schema rights and default privileges.
 * Returns null when the server does not allow it: the caller then uses the shared connection.
 */
export function ensureModuleRoles(db: Database, mod: ModuleRef): Promise<ModuleRoleNames | null> {
  const s = stateOf(db);
  let p = s.ensured.get(mod.name);
  if (!p) {
    p = setupRoles(db, mod.name).catch((e: unknown) => {
      s.ensured.delete(mod.name);
      throw e;
    });
    s.ensured.set(mod.name, p);
  }
  return p;
}

async function setupRoles(db: Database, moduleName: string): Promise<ModuleRoleNames | null> {
  if (!(await rolesSupported(db))) {
    warnShared(db, 'the database user may not create roles');
    return null;
  }
  try {
    // Kernels sharing a database (and parallel module starts) would otherwise race on CREATE ROLE.
    return await withLock(db, ROLES_LOCK, ROLES_LOCK_WAIT_MS, async ({ client }) => {
      const meta = await client.query<{ db: string }>('SELECT current_database() AS db');
      const names = roleNamesFor(meta.rows[0]!.db, moduleName, db.instance);
      await createRoles(client, names);
      return names;
    });
  } catch (e) {
    if ((e as { code?: string }).code === '42501') {
      warnShared(db, (e as Error).message);
      return null;
    }
    throw e;
  }
}

async function createRoles(client: Pick<PoolClient, 'query'>, names: ModuleRoleNames): Promise<void> {
  const own = quoteIdent(names.owner);
  const rt = quoteIdent(names.runtime);
  // Only what differs is altered: another kernel may be rotating the owner's password under
  // the module's migration lock, and two writes to one pg_authid row collide.
  const existing = new Map((await client.query<{ rolname: string; ok: boolean; limit: number; config: string[] | null }>(
    `SELECT rolname, (NOT rolsuper AND NOT rolcreatedb AND NOT rolcreaterole AND NOT rolinherit
                      AND NOT rolreplication AND NOT rolbypassrls) AS ok, rolconnlimit AS limit, rolconfig AS config
       FROM pg_roles WHERE rolname = ANY($1)`, [[names.owner, names.runtime]])).rows.map((r) => [r.rolname, r]));
  const owner = existing.get(names.owner);
  const runtime = existing.get(names.runtime);
  // LOGIN is the migration window's to switch (another kernel may hold it open right now)
  if (!owner) await client.query(`CREATE ROLE ${own} NOLOGIN ${OWNER_ATTRIBUTES} CONNECTION LIMIT ${OWNER_CONNECTION_LIMIT}`);
  else if (!owner.ok || owner.limit !== OWNER_CONNECTION_LIMIT) {
    await client.query(`ALTER ROLE ${own} ${OWNER_ATTRIBUTES} CONNECTION LIMIT ${OWNER_CONNECTION_LIMIT}`);
  }
  if (!runtime) await client.query(`CREATE ROLE ${rt} LOGIN NOINHERIT CONNECTION LIMIT ${RUNTIME_CONNECTION_LIMIT}`);
  else if (runtime.limit !== RUNTIME_CONNECTION_LIMIT) await client.query(`ALTER ROLE ${rt} CONNECTION LIMIT ${RUNTIME_CONNECTION_LIMIT}`);
  if (!runtime?.config?.includes(`statement_timeout=${RUNTIME_STATEMENT_TIMEOUT}`)) {
    await client.query(`ALTER ROLE ${rt} SET statement_timeout = '${RUNTIME_STATEMENT_TIMEOUT}'`);
  }

  const db = quoteIdent((await client.query<{ d: string }>('SELECT current_database() AS d')).rows[0]!.d);
  for (const role of [names.owner, names.runtime]) {
    const canConnect = await client.query<{ ok: boolean }>(
      "SELECT has_database_privilege($1, current_database(), 'CONNECT') AS ok", [role]);
    if (!canConnect.rows[0]!.ok) await client.query(`GRANT CONNECT ON DATABASE ${db} TO ${quoteIdent(role)}`);
  }
  const schema = await client.query<{ own: boolean; rt: boolean }>(
    "SELECT has_schema_privilege($1, 'public', 'CREATE') AND has_schema_privilege($1, 'public', 'USAGE') AS own, has_schema_privilege($2, 'public', 'USAGE') AS rt", [names.owner, names.runtime]);
  if (!schema.rows[0]!.own) await client.query(`GRANT USAGE, CREATE ON SCHEMA public TO ${own}`);
  if (!schema.rows[0]!.rt) await client.query(`GRANT USAGE ON SCHEMA public TO ${rt}`);
  // Before PostgreSQL 15 every role could create in public; the runtime role must not.
  const rtCreates = await client.query<{ ok: boolean }>("SELECT has_schema_privilege($1, 'public', 'CREATE') AS ok", [names.runtime]);
  if (rtCreates.rows[0]!.ok) await client.query('REVOKE CREATE ON SCHEMA public FROM PUBLIC');
}

/**
 * Lets the owner role record its own module's migrations (hub_record_migration, kernel
 * migrations 003 and 005, with a one-use token only the kernel has) and drops the kernel's membership in the owner role that older hubs granted
 * for SET ROLE: the kernel needs no membership in any module role. Needs the kernel's tables,
 * so the migrator calls it (after migrating the kernel); cheap when already done, and takes
 * the roles lock only to change something (two GRANTs on one function at once collide).
 */
export async function registerOwner(db: Database, names: ModuleRoleNames, moduleName: string): Promise<void> {
  const state = async (q: Pick<PoolClient, 'query'>) => (await q.query<{ row: boolean; exec: boolean; member: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM public.hub_module_owners WHERE owner_role = $1 AND module = $2) AS row,
            has_function_privilege($1, 'public.hub_record_migration(text, integer, text, text, integer, boolean)', 'EXECUTE') AS exec,
            EXISTS (SELECT 1 FROM pg_auth_members WHERE roleid = (SELECT oid FROM pg_roles WHERE rolname = $1)
                                                    AND member = (SELECT oid FROM pg_roles WHERE rolname = current_user)) AS member`,
    [names.owner, moduleName])).rows[0]!;
  const now = await state(db.pool);
  if (now.row && now.exec && !now.member) return;
  await withLock(db, ROLES_LOCK, ROLES_LOCK_WAIT_MS, async ({ client }) => {
    const s = await state(client);
    const own = quoteIdent(names.owner);
    if (!s.row) {
      await client.query(
        `INSERT INTO public.hub_module_owners (owner_role, module) VALUES ($1, $2)
         ON CONFLICT (owner_role) DO UPDATE SET module = EXCLUDED.module`, [names.owner, moduleName]);
    }
    if (!s.exec) await client.query(`GRANT EXECUTE ON FUNCTION public.hub_record_migration(text, integer, text, text, integer, boolean) TO ${own}`);
    if (s.member) await client.query(`REVOKE ${own} FROM CURRENT_USER`);
  });
}

export interface OwnerSessionOptions {
  /** statement_timeout of every statement, ms (HUB_MIGRATION_STATEMENT_TIMEOUT_MS). */
  statementTimeoutMs: number;
  /** lock_timeout of every statement, ms (HUB_MIGRATION_LOCK_TIMEOUT_MS). */
  lockTimeoutMs: number;
}

/**
 * Logs in as the module's owner role, on a connection of its own (never the admin pool), with
 * a password set just now and known only to this kernel. Call only while holding the module's
 * migration lock: another kernel rotating the same password would otherwise lock this one out.
 * The session carries application_name `hub-migrate:<module>` (how a later kernel recognises an
 * orphan), the statement and lock timeouts, and client_connection_check_interval, so a session
 * whose kernel died notices by itself.
 */
export async function openOwnerSession(db: Database, moduleName: string, names: ModuleRoleNames, opts: OwnerSessionOptions): Promise<pg.Client> {
  const password = randomBytes(24).toString('base64url');
  await db.pool.query(`ALTER ROLE ${quoteIdent(names.owner)} LOGIN PASSWORD '${scramVerifier(password)}'`);
  const c = db.connection;
  const client = new pg.Client({
    host: c.host, port: c.port, database: c.database, user: names.owner, password,
    application_name: migrationAppName(moduleName), connectionTimeoutMillis: 10_000,
    statement_timeout: Math.max(1, Math.floor(opts.statementTimeoutMs)),
    lock_timeout: Math.max(1, Math.floor(opts.lockTimeoutMs)),
  });
  client.on('error', () => undefined); // surfaces on the next query
  try {
    await client.connect();
  } catch (e) {
    // The window must not stay open behind a failed login (on a server that trusts local
    // logins, something else may have taken the role's one connection meanwhile): close it
    // and end whatever session the role has, as closeOwnerSession does.
    await closeOwnerSession(db, names, client).catch(() => undefined);
    throw e;
  }
  await client.query("SELECT pg_catalog.set_config('client_connection_check_interval', '2000', false)").catch(() => undefined);
  return client;
}

/**
 * Ends the migration window: the owner role becomes NOLOGIN with no password before the
 * kernel's session closes (so no new login can slip in between), then any other session of
 * the role is ended (best effort: that needs pg_signal_backend or superuser; with the window
 * closed and a one-connection limit there should be none).
 */
export async function closeOwnerSession(db: Database, names: ModuleRoleNames, client: pg.Client): Promise<void> {
  await db.pool.query(`ALTER ROLE ${quoteIdent(names.owner)} NOLOGIN PASSWORD NULL`);
  await client.end().catch(() => undefined);
  await db.pool.query('SELECT pg_catalog.pg_terminate_backend(pid) FROM pg_catalog.pg_stat_activity WHERE usename = $1', [names.owner]).catch(() => undefined);
}

/**
 * From the owner's own session: default privileges for what it creates from now on, and the
 * same grants on what it already owns, for this kernel's runtime role. Run after migrations.
 * No FOR ROLE and no membership needed: a role may always grant on its own objects.
 */
export async function grantToRuntime(owner: Pick<PoolClient, 'query'>, names: ModuleRoleNames): Promise<void> {
  const rt = quoteIdent(names.runtime);
  await owner.query(`ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO ${rt}`);
  await owner.query(`ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO ${rt}`);
  await owner.query(`ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT EXECUTE ON FUNCTIONS TO ${rt}`);
  // Functions are executable by PUBLIC by default, i.e. by every other module's role.
  await owner.query('ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC');
  await grantExisting(owner, names);
}

/** Default privileges cover objects created from now on; this covers ones that already exist. */
async function grantExisting(client: Pick<PoolClient, 'query'>, names: ModuleRoleNames): Promise<void> {
  const rt = quoteIdent(names.runtime);
  const rels = await client.query<{ q: string; relkind: string }>(
    `SELECT format('%I.%I', n.nspname, c.relname) AS q, c.relkind::text AS relkind
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relowner = (SELECT oid FROM pg_roles WHERE rolname = $1) AND c.relkind IN ('r','p','v','m','f','S')`,
    [names.owner]);
  for (const r of rels.rows) {
    if (r.relkind === 'S') await client.query(`GRANT USAGE, SELECT ON SEQUENCE ${r.q} TO ${rt}`);
    else if (r.relkind === 'm') await client.query(`GRANT SELECT ON ${r.q} TO ${rt}`);
    else await client.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON ${r.q} TO ${rt}`);
  }
  const procs = await client.query<{ sig: string; prokind: string }>(
    `SELECT p.oid::regprocedure::text AS sig, p.prokind::text AS prokind FROM pg_proc p
      WHERE p.proowner = (SELECT oid FROM pg_roles WHERE rolname = $1) AND p.prokind IN ('f','p')`,
    [names.owner]);
  for (const p of procs.rows) {
    await client.query(`GRANT EXECUTE ON ${p.prokind === 'p' ? 'PROCEDURE' : 'FUNCTION'} ${p.sig} TO ${rt}`);
  }
}

function warnShared(db: Database, reason: string): void {
  const s = stateOf(db);
  if (s.warned) return;
  s.warned = true;
  db.log.warn(`database: cannot create per-module roles (${reason}); modules share the kernel's database connection and are not isolated from each other`);
}

/**
 * The connection a module's child should use. In role mode the runtime role gets a fresh
 * random password on every call (every child start), so a password leaked by an old child
 * process stops working.
 */
export async function issueRuntimeCredentials(db: Database, mod: ModuleRef): Promise<RuntimeCredentials> {
  const names = await ensureModuleRoles(db, mod);
  const c = db.connection;
  if (!names) {
    return { isolation: 'shared', connection: { host: c.host, port: c.port, database: c.database, user: c.user, password: c.password ?? '' } };
  }
  const password = randomBytes(24).toString('base64url');
  // A SCRAM verifier rather than the password itself, so the secret never appears in server logs.
  await db.pool.query(`ALTER ROLE ${quoteIdent(names.runtime)} PASSWORD '${scramVerifier(password)}'`);
  return { isolation: 'role', connection: { host: c.host, port: c.port, database: c.database, user: names.runtime, password } };
}

/** RFC 5802/7677 stored form as PostgreSQL writes it; base64url passwords need no SASLprep. */
export function scramVerifier(password: string, iterations = 4096): string {
  const salt = randomBytes(16);
  const salted = pbkdf2Sync(password, salt, iterations, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}


// The identity tables (migrations/004_identity.sql): users, grants, sessions, API tokens.
// Every change that can take access away bumps hub_identity_generation in its own
// transaction and sends a NOTIFY hint, so every kernel's cache (kernel/identity-cache.ts)
// drops what it knew within a second. Rule: DESIGN.md "Identity and permissions".
import { createHash, randomBytes } from 'node:crypto';
import type pg from 'pg';
import { HubError } from '../shared/errors.js';
import { HUB_ADMIN, parseGrant, type ModulePermissions } from '../shared/grants.js';
import { hashPassword, verifyPassword } from './identity-passwords.js';

/** The NOTIFY channel kernels listen on for identity changes (a hint only). */
export const IDENTITY_CHANNEL = 'hub_identity';
/** A browser session lasts this long, in ms (12 h). */
export const SESSION_TTL_MS = 12 * 60 * 60 * 1000;
/** API tokens start with this, so scanners and the gateway can recognise them. */
export const TOKEN_PREFIX = 'bmc_pat_';
/** Longest expiry a token may ask for, in days. */
export const MAX_TOKEN_DAYS = 366;
/** `^[a-z][a-z0-9_.-]{1,39}$`: user names are lower case, so `Alice` and `alice` are one user. */
export const USERNAME_RE = /^[a-z][a-z0-9_.-]{1,39}$/;

/** Who a request is: a user (from a session or a token) or the admin credential. */
export interface Identity {
  /** hub_users.id; 0 for the admin credential. */
  id: number;
  username: string;
  grants: string[];
  via: 'session' | 'token' | 'admin';
  /** When the session or token behind it expires (ms since the epoch); the cache trusts it no longer. */
  expiresAt?: number;
}

/** The admin credential's identity: id 0, grant hub.admin. */
export const ADMIN_IDENTITY: Identity = Object.freeze({ id: 0, username: 'admin-token', grants: [HUB_ADMIN], via: 'admin' }) as Identity;

/** The SHA-256 (hex) under which a session id or token is stored. */
export function secretDigest(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

/** Throws `invalid_name` (400) unless the name matches USERNAME_RE. */
export function checkUsername(username: unknown): string {
  if (typeof username !== 'string' || !USERNAME_RE.test(username)) {
    throw new HubError('invalid_name', 'username must match ^[a-z][a-z0-9_.-]{1,39}$ (lower case letter first)');
  }
  return username;
}

/** Throws `bad_request` unless the grant is `<module>.<name>` or `hub.admin`. */
export function checkGrant(grant: unknown): string {
  if (typeof grant !== 'string' || parseGrant(grant) === null) {
    throw new HubError('bad_request', 'a grant is "<module>.<role>", "<module>.<permission>" or "hub.admin"');
  }
  return grant;
}

/** What a module declares for grants, by module name; null/undefined for no such module (or no manifest). */
export type DeclaredOf = (module: string) => ModulePermissions | null | undefined;

/**
 * A grant to be given must name something its module declares: `hub.admin`, or
 * `<module>.<role>` / `<module>.<permission>` of a module whose manifest declares it. Else
 * HubError bad_request naming the module's declared roles and permissions (taking a grant
 * away needs no such check: a module may have gone since).
 */
export function checkGrantDeclared(grant: string, declaredOf: DeclaredOf): string {
  if (grant === HUB_ADMIN) return grant;
  const p = parseGrant(grant);
  if (!p) return checkGrant(grant);
  const d = declaredOf(p.module);
  if (!d) throw new HubError('bad_request', `no module named ${p.module} (or its module.json is broken): a grant is "<module>.<role>", "<module>.<permission>" or "hub.admin"`, { module: p.module });
  if (Object.hasOwn(d.roles, p.name) || Object.hasOwn(d.permissions, p.name)) return grant;
  const roles = Object.keys(d.roles).sort();
  const permissions = Object.keys(d.permissions).sort();
  const list = (xs: string[]) => (xs.length ? xs.join(', ') : 'none');
  throw new HubError('bad_request', `module ${p.module} declares no role or permission "${p.name}": roles ${list(roles)}; permissions ${list(permissions)}`, { module: p.module, roles, permissions });
}

export class IdentityStore {
  constructor(private readonly pool: pg.Pool) {}

  /** Runs fn in a transaction that also bumps the generation and notifies, so caches drop. */
  private async revoking<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    const c = await this.pool.connect();
    try {
      await c.query('BEGIN');
      const out = await fn(c);
      await c.query('UPDATE hub_identity_generation SET generation = generation + 1');
      await c.query(`SELECT pg_notify('${IDENTITY_CHANNEL}', '')`);
      await c.query('COMMIT');
      return out;
    } catch (e) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw e;
    } finally {
      c.release();
    }
  }

  /** The current generation (a number only kernels write). */
  async generation(): Promise<string> {
    const { rows } = await this.pool.query<{ generation: string }>('SELECT generation FROM hub_identity_generation');
    return rows[0]?.generation ?? '0';
  }

  async userCount(): Promise<number> {
    const { rows } = await this.pool.query<{ n: string }>('SELECT count(*) AS n FROM hub_users');
    return Number(rows[0]!.n);
  }

  /**
   * Creates a user with a password (argon2id) and grants. Throws `conflict` (409) when the
   * name is taken. Returns the new id.
   */
  async createUser(username: string, password: string | null, grants: string[], by: string): Promise<number> {
    const hash = password === null ? null : await hashPassword(password);
    try {
      const { rows } = await this.pool.query<{ id: string }>(
        `WITH u AS (INSERT INTO hub_users (username, password_hash) VALUES ($1, $2) RETURNING id),
              g AS (INSERT INTO hub_grants (user_id, grant_name, granted_by) SELECT u.id, x, $4 FROM u, unnest($3::text[]) x)
         SELECT id FROM u`,
        [username, hash, grants, by],
      );
      return Number(rows[0]!.id);
    } catch (e) {
      if ((e as { code?: string }).code === '23505') throw new HubError('conflict', `a user named ${username} exists already`);
      throw e;
    }
  }

  /**
   * The first start's admin: creates `admin` with `hub.admin` when there are no users yet
   * (under a transaction-level advisory lock-free insert: the UNIQUE name decides between
   * kernels starting together). True when this call created it.
   */
  async createFirstAdmin(password: string): Promise<boolean> {
    const hash = await hashPassword(password);
    const { rows } = await this.pool.query<{ id: string }>(
      `WITH u AS (INSERT INTO hub_users (username, password_hash)
                  SELECT 'admin', $1 WHERE NOT EXISTS (SELECT 1 FROM hub_users)
                  ON CONFLICT (username) DO NOTHING RETURNING id),
            g AS (INSERT INTO hub_grants (user_id, grant_name, granted_by) SELECT id, '${HUB_ADMIN}', 'first start' FROM u)
       SELECT id FROM u`,
      [hash],
    );
    return rows.length > 0;
  }

  /** Sets a user's password and ends all their sessions. Throws `not_found` for an unknown user. */
  async setPassword(username: string, password: string): Promise<void> {
    const hash = await hashPassword(password);
    await this.revoking(async (c) => {
      const { rows } = await c.query<{ id: string }>('UPDATE hub_users SET password_hash = $2 WHERE username = $1 RETURNING id', [username, hash]);
      if (rows.length === 0) throw new HubError('not_found', `no user named ${username}`);
      await c.query('UPDATE hub_sessions SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL', [rows[0]!.id]);
    });
  }

  /** The user id when the password matches; null otherwise (same cost either way). */
  async checkPassword(username: string, password: string): Promise<number | null> {
    const { rows } = await this.pool.query<{ id: string; password_hash: string | null }>(
      'SELECT id, password_hash FROM hub_users WHERE username = $1',
      [username],
    );
    const row = rows[0];
    const ok = await verifyPassword(row?.password_hash ?? null, password);
    return ok && row ? Number(row.id) : null;
  }

  /** A user by OIDC subject, created (no grants) on first sign-in. Never touches grants. */
  async userForSubject(subject: string, preferredName: string): Promise<number> {
    const found = await this.pool.query<{ id: string }>('SELECT id FROM hub_users WHERE oidc_subject = $1', [subject]);
    if (found.rows[0]) return Number(found.rows[0].id);
    let name = preferredName.toLowerCase().replace(/[^a-z0-9_.-]/g, '').slice(0, 30);
    if (!USERNAME_RE.test(name)) name = `user${randomBytes(3).toString('hex')}`;
    for (let i = 0; i < 5; i++) {
      const candidate = i === 0 ? name : `${name}-${randomBytes(2).toString('hex')}`;
      const { rows } = await this.pool.query<{ id: string }>(
        `INSERT INTO hub_users (username, oidc_subject) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING id`,
        [candidate, subject],
      );
      if (rows[0]) return Number(rows[0].id);
      const again = await this.pool.query<{ id: string }>('SELECT id FROM hub_users WHERE oidc_subject = $1', [subject]);
      if (again.rows[0]) return Number(again.rows[0].id);
    }
    throw new HubError('conflict', `could not find a free user name for ${preferredName}`);
  }

  /** Every user with grants, by name. */
  async listUsers(): Promise<{ id: number; username: string; grants: string[]; created_at: string; sso: boolean }[]> {
    const { rows } = await this.pool.query<{ id: string; username: string; grants: string[]; created_at: Date; sso: boolean }>(
      `SELECT u.id, u.username, u.created_at, u.oidc_subject IS NOT NULL AS sso,
              coalesce(array_agg(g.grant_name ORDER BY g.grant_name) FILTER (WHERE g.grant_name IS NOT NULL), '{}') AS grants
       FROM hub_users u LEFT JOIN hub_grants g ON g.user_id = u.id GROUP BY u.id ORDER BY u.username`,
    );
    return rows.map((r) => ({ id: Number(r.id), username: r.username, grants: r.grants, created_at: r.created_at.toISOString(), sso: r.sso }));
  }

  /** Adds a grant; true when it was new. Throws `not_found` for an unknown user. */
  async grant(username: string, grant: string, by: string): Promise<boolean> {
    return this.revoking(async (c) => {
      const u = await c.query<{ id: string }>('SELECT id FROM hub_users WHERE username = $1', [username]);
      if (!u.rows[0]) throw new HubError('not_found', `no user named ${username}`);
      const { rowCount } = await c.query(
        'INSERT INTO hub_grants (user_id, grant_name, granted_by) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING',
        [u.rows[0].id, grant, by],
      );
      return (rowCount ?? 0) > 0;
    });
  }

  /** Removes a grant; true when it was there. Throws `not_found` for an unknown user. */
  async revoke(username: string, grant: string): Promise<boolean> {
    return this.revoking(async (c) => {
      const u = await c.query<{ id: string }>('SELECT id FROM hub_users WHERE username = $1', [username]);
      if (!u.rows[0]) throw new HubError('not_found', `no user named ${username}`);
      const { rowCount } = await c.query('DELETE FROM hub_grants WHERE user_id = $1 AND grant_name = $2', [u.rows[0].id, grant]);
      return (rowCount ?? 0) > 0;
    });
  }

  /** A new session for a user: the random id (shown to the browser once) and its expiry. */
  async createSession(userId: number): Promise<{ id: string; expires: Date }> {
    const id = randomBytes(32).toString('base64url');
    const expires = new Date(Date.now() + SESSION_TTL_MS);
    await this.pool.query('INSERT INTO hub_sessions (id_hash, user_id, expires_at) VALUES ($1, $2, $3)', [secretDigest(id), userId, expires]);
    return { id, expires };
  }

  /** Ends a session (sign-out) on every kernel. */
  async endSession(id: string): Promise<void> {
    await this.revoking((c) => c.query('UPDATE hub_sessions SET revoked_at = now() WHERE id_hash = $1 AND revoked_at IS NULL', [secretDigest(id)]));
  }

  /** The identity behind a live session id, or null. */
  async sessionIdentity(id: string): Promise<Identity | null> {
    const { rows } = await this.pool.query<{ id: string; username: string; grants: string[]; expires_at: Date }>(
      `SELECT u.id, u.username, s.expires_at, coalesce(array(SELECT grant_name FROM hub_grants g WHERE g.user_id = u.id ORDER BY 1), '{}') AS grants
       FROM hub_sessions s JOIN hub_users u ON u.id = s.user_id
       WHERE s.id_hash = $1 AND s.revoked_at IS NULL AND s.expires_at > now()`,
      [secretDigest(id)],
    );
    const r = rows[0];
    return r ? { id: Number(r.id), username: r.username, grants: r.grants, via: 'session', expiresAt: r.expires_at.getTime() } : null;
  }

  /** A new dashboard session (admin origin): the random id, shown to the browser once. */
  async createAdminSession(ttlMs: number): Promise<string> {
    const id = randomBytes(32).toString('base64url');
    await this.pool.query('INSERT INTO hub_admin_sessions (id_hash, expires_at) VALUES ($1, $2)', [secretDigest(id), new Date(Date.now() + ttlMs)]);
    return id;
  }

  /** True while a dashboard session is live (not expired, not ended). */
  async adminSessionLive(id: string): Promise<boolean> {
    const { rows } = await this.pool.query('SELECT 1 FROM hub_admin_sessions WHERE id_hash = $1 AND revoked_at IS NULL AND expires_at > now()', [secretDigest(id)]);
    return rows.length > 0;
  }

  /** Ends a dashboard session on every kernel. */
  async endAdminSession(id: string): Promise<void> {
    await this.revoking((c) => c.query('UPDATE hub_admin_sessions SET revoked_at = now() WHERE id_hash = $1 AND revoked_at IS NULL', [secretDigest(id)]));
  }

  /** Records an OpenID Connect sign-in in progress (its state stored as a hash) for `ttlMs`. */
  async startOidcFlow(state: string, verifier: string, nonce: string, next: string, ttlMs: number): Promise<void> {
    await this.pool.query('DELETE FROM hub_oidc_flows WHERE expires_at < now()');
    await this.pool.query('INSERT INTO hub_oidc_flows (state_hash, verifier, nonce, next, expires_at) VALUES ($1, $2, $3, $4, $5)', [
      secretDigest(state), verifier, nonce, next, new Date(Date.now() + ttlMs),
    ]);
  }

  /** Takes (deletes and returns) a live OpenID Connect flow by its state; null when unknown, used or expired. */
  async takeOidcFlow(state: string): Promise<{ verifier: string; nonce: string; next: string } | null> {
    const { rows } = await this.pool.query<{ verifier: string; nonce: string; next: string }>(
      'DELETE FROM hub_oidc_flows WHERE state_hash = $1 AND expires_at > now() RETURNING verifier, nonce, next',
      [secretDigest(state)],
    );
    return rows[0] ?? null;
  }

  /** The identity of a user id (for /me after sign-in), or null. */
  async userIdentity(userId: number, via: Identity['via']): Promise<Identity | null> {
    const { rows } = await this.pool.query<{ id: string; username: string; grants: string[] }>(
      `SELECT u.id, u.username, coalesce(array(SELECT grant_name FROM hub_grants g WHERE g.user_id = u.id ORDER BY 1), '{}') AS grants
       FROM hub_users u WHERE u.id = $1`,
      [userId],
    );
    const r = rows[0];
    return r ? { id: Number(r.id), username: r.username, grants: r.grants, via } : null;
  }

  /**
   * A new personal API token: `bmc_pat_` + 43 base64url characters (256 bits), returned
   * once; only its SHA-256 is kept. `days` 1..MAX_TOKEN_DAYS.
   */
  async createToken(userId: number, name: string, days: number): Promise<{ token: string; id: number; expires_at: string }> {
    const token = TOKEN_PREFIX + randomBytes(32).toString('base64url');
    const expires = new Date(Date.now() + days * 86_400_000);
    const { rows } = await this.pool.query<{ id: string }>(
      'INSERT INTO hub_api_tokens (user_id, name, token_hash, expires_at) VALUES ($1, $2, $3, $4) RETURNING id',
      [userId, name, secretDigest(token), expires],
    );
    return { token, id: Number(rows[0]!.id), expires_at: expires.toISOString() };
  }

  /** The identity behind a live token (with the token's id for last-used), or null. */
  async tokenIdentity(token: string): Promise<(Identity & { tokenId: number }) | null> {
    const { rows } = await this.pool.query<{ id: string; username: string; grants: string[]; token_id: string; expires_at: Date }>(
      `SELECT u.id, u.username, t.id AS token_id, t.expires_at,
              coalesce(array(SELECT grant_name FROM hub_grants g WHERE g.user_id = u.id ORDER BY 1), '{}') AS grants
       FROM hub_api_tokens t JOIN hub_users u ON u.id = t.user_id
       WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND t.expires_at > now()`,
      [secretDigest(token)],
    );
    const r = rows[0];
    return r ? { id: Number(r.id), username: r.username, grants: r.grants, via: 'token', tokenId: Number(r.token_id), expiresAt: r.expires_at.getTime() } : null;
  }

  /** Stamps tokens' last-used time (called in batches, off the request path). */
  async touchTokens(ids: number[]): Promise<void> {
    if (ids.length) await this.pool.query('UPDATE hub_api_tokens SET last_used_at = now() WHERE id = ANY($1::bigint[])', [ids]);
  }

  /** A user's tokens (never the token itself). */
  async listTokens(userId: number): Promise<{ id: number; name: string; created_at: string; expires_at: string; last_used_at: string | null; revoked: boolean }[]> {
    const { rows } = await this.pool.query<{ id: string; name: string; created_at: Date; expires_at: Date; last_used_at: Date | null; revoked_at: Date | null }>(
      'SELECT id, name, created_at, expires_at, last_used_at, revoked_at FROM hub_api_tokens WHERE user_id = $1 ORDER BY id',
      [userId],
    );
    return rows.map((r) => ({
      id: Number(r.id), name: r.name, created_at: r.created_at.toISOString(), expires_at: r.expires_at.toISOString(),
      last_used_at: r.last_used_at?.toISOString() ?? null, revoked: r.revoked_at !== null,
    }));
  }

  /** Revokes one of a user's tokens; true when it was live. */
  async revokeToken(userId: number, tokenId: number): Promise<boolean> {
    return this.revoking(async (c) => {
      const { rowCount } = await c.query('UPDATE hub_api_tokens SET revoked_at = now() WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL', [tokenId, userId]);
      return (rowCount ?? 0) > 0;
    });
  }
}

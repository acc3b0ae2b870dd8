// Wires the identity pieces for one kernel: the store (tables), the cache with its revocation
// listener, the audit trail, the gateway's permission wall, and the first admin user.
// Without a database (HUB_DATABASE=off) only the admin credential identifies anyone.
import { createHash } from 'node:crypto';
import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../shared/logger.js';
import type { Database } from './database.js';
import { AuditTrail } from './identity-audit.js';
import { IdentityCache } from './identity-cache.js';
import { createIdentityGate, type IdentityGate } from './identity-gate.js';
import { randomPassword } from './identity-passwords.js';
import { IdentityStore } from './identity-store.js';
import { SignInLimiter } from './auth-rate-limit.js';
import type { AdminSessionBackend } from './admin-session.js';

export interface IdentityService {
  store: IdentityStore | null;
  cache: IdentityCache | null;
  audit: AuditTrail;
  gate: IdentityGate;
  limiter: SignInLimiter;
  /** SHA-256 of the admin token. */
  adminDigest: Buffer;
  close(): Promise<void>;
}

/** The file holding the first admin's password (mode 0600), written on a first start only. */
export const INITIAL_PASSWORD_FILE = 'initial-admin-password';

/**
 * Sets identity up: with a database, creates `admin` (grant hub.admin) when there are no users
 * and writes its random password to HUB_DATA_DIR/initial-admin-password (0600), then listens
 * for revocation hints. `secretOf` gives a module's kernel secret.
 */
/**
 * A data folder can meet a second empty database (DATABASE_URL set, unset or changed): the
 * password file of the first must not be overwritten, or going back leaves no way in.
 * Renames an existing file to `<file>.<ISO time>` (mode kept) and returns that path; null
 * when there was none.
 */
async function keepPreviousPassword(file: string): Promise<string | null> {
  const kept = `${file}.${new Date().toISOString().replace(/[:.]/g, '-')}`;
  try {
    await rename(file, kept);
    return kept;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

export async function createIdentity(db: Database | null, adminToken: string, dataDir: string, log: Logger, secretOf: (name: string) => string): Promise<IdentityService> {
  const adminDigest = createHash('sha256').update(adminToken).digest();
  const store = db ? new IdentityStore(db.pool) : null;
  const cache = store ? new IdentityCache(store, log) : null;
  const audit = new AuditTrail(db?.pool ?? null, log);
  if (store && db && cache) {
    if ((await store.userCount()) === 0) {
      const password = randomPassword();
      if (await store.createFirstAdmin(password)) {
        const file = join(dataDir, INITIAL_PASSWORD_FILE);
        const kept = await keepPreviousPassword(file);
        await writeFile(file, password + '\n', { mode: 0o600 });
        log.info(`🔑 First start: user "admin" created; its password is in ${file} (mode 0600). Sign in at /login and change it with: hubctl user passwd admin`);
        if (kept) log.warn(`🔑 ${file} held the first admin password of another database (this data folder ran on a different DATABASE_URL or embedded database before); it is kept in ${kept}`);
        audit.record({ actor: 'hub', action: 'user.create', target: 'admin', result: 'ok', detail: { first_start: true } });
      }
    }
    await cache.listen(db);
  }
  const gate = createIdentityGate({ cache, adminDigest, secretOf, audit });
  return {
    store, cache, audit, gate, adminDigest, limiter: new SignInLimiter(),
    async close() {
      await audit.flushNow();
      await cache?.close();
    },
  };
}

/** Dashboard sessions in hub_admin_sessions, looked up through the identity cache (revocation within a second). */
export function adminSessionBackend(store: IdentityStore, cache: IdentityCache): AdminSessionBackend {
  return {
    create: (ttlMs) => store.createAdminSession(ttlMs),
    live: (id) => cache.adminSession(id),
    end: async (id) => {
      await store.endAdminSession(id);
      cache.clear();
    },
  };
}
